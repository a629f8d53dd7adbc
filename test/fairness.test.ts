import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { createWorkflow, ended, execute } from './support/executions.ts';
import { startHttpTarget, type HttpTarget } from './support/http-target.ts';

// One workspace's load must not hold another's work back: it gets its share of a process's
// execution slots, step slots and condition workers, and a wait holds none of them. These
// tests check order (the other workspace's work ends first), not timings.

let app: TestApp;
let target: HttpTarget;
let other: Awaited<ReturnType<TestApp['createWorkspace']>>;
beforeAll(async () => {
  app = await startTestApp({
    executionPollIntervalMs: 50,
    maxRunningExecutions: 4,
    maxRunningExecutionsPerWorkspace: 2,
    maxStepsInFlight: 6,
    maxStepsInFlightPerWorkspace: 3,
    conditionWorkers: 2,
    conditionTimeoutMs: 2000,
    waitParkMs: 300,
    httpAllowedHosts: ['127.0.0.1'],
  });
  target = await startHttpTarget();
  target.reply((path) => (path.startsWith('/slow') ? { delayMs: 1500 } : {}));
  other = await app.createWorkspace('the other tenant');
});
afterAll(async () => {
  await app.close();
  await target.close();
});

const busy: TestApp['gql'] = (...args) => app.gql(...args);
const quiet: TestApp['gql'] = (query, variables, key = other.keys.editor) => app.gql(query, variables, key);

/** The other workspace's one-step execution, from its start to its end. */
async function oneStep() {
  const workflow = await createWorkflow(quiet, {
    startAt: 'One',
    nodes: { One: { type: 'task', action: 'transform', input: { ok: true }, end: true } },
  });
  return ended(quiet, (await execute(quiet, workflow.id)).id);
}

const endedAt = (execution: { id: string }, gql: TestApp['gql']) =>
  ended(gql, execution.id).then((done) => Date.parse(done.steps.at(-1)?.endedAt ?? 0));

describe('fair shares between workspaces', () => {
  it("a workspace's slow steps take at most its share of the step slots; another's step runs at once", async () => {
    const slow = await createWorkflow(busy, {
      startAt: 'Each',
      nodes: {
        Each: {
          type: 'map',
          itemsPath: '$.items',
          maxConcurrency: 20,
          iterator: {
            startAt: 'Call',
            nodes: { Call: { type: 'task', action: 'http.request', input: { url: `${target.url}/slow/steps` }, end: true } },
          },
          end: true,
        },
      },
    });
    const flood = await execute(busy, slow.id, { items: Array.from({ length: 12 }, (_, i) => i) });
    while (target.calls('/slow/steps') < 3) await new Promise((resolve) => setTimeout(resolve, 20));
    const mine = await oneStep();
    expect(mine.status).toBe('SUCCEEDED');
    // The flood holds three slots for 1.5 s a call: twelve calls end four rounds later.
    const floodEnd = await endedAt(flood, busy);
    expect(Date.parse(mine.steps[0].endedAt)).toBeLessThan(floodEnd - 3000);
    expect(target.maxInFlight).toBeLessThanOrEqual(3);
  });

  it("a workspace's many executions take at most its share of the execution slots", async () => {
    const slow = await createWorkflow(busy, {
      startAt: 'Call',
      nodes: { Call: { type: 'task', action: 'http.request', input: { url: `${target.url}/slow/runs` }, end: true } },
    });
    const flood = [];
    for (let n = 0; n < 8; n += 1) flood.push(await execute(busy, slow.id));
    while (target.calls('/slow/runs') < 2) await new Promise((resolve) => setTimeout(resolve, 20));
    const mine = await oneStep();
    const ends = await Promise.all(flood.map((execution) => endedAt(execution, busy)));
    // Two at a time for the flood: its last ends three rounds after the other workspace's.
    expect(Date.parse(mine.steps[0].endedAt)).toBeLessThan(Math.max(...ends) - 3000);
  });

  it('sleeps and long waits hold no slot: fifty day-long waits park, and another workspace runs', async () => {
    const sleeper = await createWorkflow(busy, {
      startAt: 'Each',
      nodes: {
        Each: {
          type: 'map',
          itemsPath: '$.items',
          maxConcurrency: 100,
          iterator: { startAt: 'Nap', nodes: { Nap: { type: 'task', action: 'sleep', input: { ms: 3_600_000 }, end: true } } },
          end: true,
        },
      },
    });
    const waiter = await createWorkflow(busy, { startAt: 'Pause', nodes: { Pause: { type: 'wait', ms: 86_400_000, end: true } } });
    const naps = await execute(busy, sleeper.id, { items: Array.from({ length: 100 }, (_, i) => i) });
    const waits = [];
    for (let n = 0; n < 50; n += 1) waits.push(await execute(busy, waiter.id));
    const status = '{ systemStatus { engine { active parked stepsInFlight } } }';
    let engine;
    do {
      await new Promise((resolve) => setTimeout(resolve, 100));
      engine = (await busy(status, {}, app.keys.admin)).data!.systemStatus.engine;
    } while (engine.parked < 51);
    expect(engine).toMatchObject({ active: 0, parked: 51, stepsInFlight: 0 });
    expect((await oneStep()).status).toBe('SUCCEEDED');
    const { rows } = await app.database.db.pool.query(
      "SELECT count(*)::int AS n FROM execution_jobs WHERE not_before > now() + interval '30 minutes' AND lease_owner IS NULL",
    );
    expect(rows[0].n).toBe(51);
    for (const execution of [naps, ...waits]) {
      const cancelled = await busy('mutation($id: ID!) { cancelExecution(input: { id: $id }) { status } }', { id: execution.id });
      expect(cancelled.data!.cancelExecution.status).toBe('CANCELLED');
    }
  });

  it('a parked wait is taken up again when it is due, by this process or another, and its step ends as a wait would', async () => {
    const workflow = await createWorkflow(busy, {
      startAt: 'Pause',
      nodes: {
        Pause: { type: 'wait', ms: 1500, next: 'Nap' },
        Nap: { type: 'task', action: 'sleep', input: { ms: 1200 }, next: 'Done' },
        Done: { type: 'succeed' },
      },
    });
    const started = await execute(busy, workflow.id);
    let parkedSeen = 0;
    for (let n = 0; n < 40; n += 1) {
      const { rows } = await app.database.db.pool.query(
        'SELECT not_before FROM execution_jobs WHERE execution_id = $1 AND lease_owner IS NULL',
        [started.id],
      );
      if (rows[0]?.not_before) parkedSeen += 1;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const done = await ended(busy, started.id);
    expect(parkedSeen).toBeGreaterThan(0);
    expect(done).toMatchObject({
      status: 'SUCCEEDED',
      steps: [
        { node: 'Pause', status: 'SUCCEEDED' },
        { node: 'Nap', status: 'SUCCEEDED', output: { sleptMs: 1200 } },
      ],
    });
    expect(done.steps[0].durationMs).toBeGreaterThanOrEqual(1500);
    expect(done.steps[1].durationMs).toBeGreaterThanOrEqual(1200);
  });

  it("a workspace's costly conditions take at most half of the condition workers; another's choice is not queued behind them", async () => {
    const costly = 'data.words.all(w, (w + w + w + w + w + w).size() > 5 && w.startsWith("word"))';
    const heavy = await createWorkflow(busy, {
      startAt: 'Both',
      nodes: {
        Both: {
          type: 'parallel',
          branches: Array.from({ length: 20 }, () => ({
            startAt: 'Check',
            // Each branch ends with a small output, not a copy of the large input.
            nodes: {
              Check: { type: 'choice', cases: [{ condition: costly, next: 'Again' }], default: 'Again' },
              Again: { type: 'choice', cases: [{ condition: costly, next: 'Yes' }], default: 'Yes' },
              Yes: { type: 'task', action: 'transform', input: { ok: true }, resultPath: '$', end: true },
            },
          })),
          end: true,
        },
      },
    });
    const flood = await execute(busy, heavy.id, { words: Array.from({ length: 18_000 }, (_, i) => `word${i}`) });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const light = await createWorkflow(quiet, {
      startAt: 'Check',
      nodes: { Check: { type: 'choice', cases: [{ condition: 'data.n > 1', next: 'Big' }], default: 'Big' }, Big: { type: 'succeed' } },
    });
    const mine = await ended(quiet, (await execute(quiet, light.id, { n: 2 })).id);
    expect(mine.status).toBe('SUCCEEDED');
    // Forty costly evaluations on one worker: the flood is still under way.
    const floodNow = await busy('query($id: ID!) { execution(id: $id) { status } }', { id: flood.id });
    expect(floodNow.data!.execution.status).toBe('RUNNING');
    const floodEnd = await ended(busy, flood.id);
    expect(floodEnd.error).toBeNull();
    expect(floodEnd.status).toBe('SUCCEEDED');
  });
});
