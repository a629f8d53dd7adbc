import { afterAll, describe, expect, it } from 'vitest';
import { createEmptyDatabase } from './support/database.ts';
import { expectWholeStreams } from './support/fault-load.ts';
import { startHttpTarget } from './support/http-target.ts';
import { startProcess, startServerProcess } from './support/processes.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const between = (low: number, high: number) => low + Math.floor(Math.random() * (high - low));

const EXECUTIONS = 200;
const HTTP_STEPS = 5;
const KILLS = 12;
// Short leases, so that a killed process's executions are taken over within the test; few
// executions at once per process, so that each kill finds runs in the middle of their steps.
const ENV = {
  EXECUTION_LEASE_MS: '1500',
  EXECUTION_POLL_INTERVAL_MS: '100',
  MAX_RUNNING_EXECUTIONS: '20',
  HTTP_ALLOWED_HOSTS: '127.0.0.1',
  WORKSPACE_MAX_STEPS_PER_SECOND: '1000',
};

interface Runner {
  readonly name: string;
  kill(): Promise<void>;
}

describe('server and worker processes killed again and again under 200 executions', () => {
  it('every execution ends, each step keeps one idempotency key across takeovers, and a target deduplicating on it sees each step once', async () => {
    const database = await createEmptyDatabase(2);
    cleanups.push(() => database.drop());
    const target = await startHttpTarget();
    cleanups.push(() => target.close());
    target.reply(() => ({ delayMs: between(100, 700) }));
    const env = { ...ENV, DATABASE_URL: database.url };

    const first = await startServerProcess(env, { firstStart: true });
    const definition = {
      startAt: 'Call0',
      nodes: Object.fromEntries(
        Array.from({ length: HTTP_STEPS }, (_, i) => [
          `Call${i}`,
          {
            type: 'task',
            action: 'http.request',
            input: { url: `${target.url}/call`, method: 'POST', body: { step: i } },
            resultPath: `$.r${i}`,
            ...(i === HTTP_STEPS - 1 ? { end: true } : { next: `Call${i + 1}` }),
          },
        ]),
      ),
    };
    const created = await first.gql('mutation($d: JSON!) { createWorkflow(input: { name: "kills", definition: $d }) { id } }', {
      d: definition,
    });
    const workflowId = created.data.createWorkflow.id;

    // The server, and two workers as `npm run worker` starts them, each killed and started again in turn.
    let server = first;
    const serverRunner: Runner = {
      name: 'server',
      async kill() {
        server.child.kill('SIGKILL');
        await server.exited;
        server = await startServerProcess(env);
      },
    };
    const worker = async () => {
      const started = await startProcess('npm', ['run', '--silent', 'worker'], env, /running executions/, { group: true });
      return { ...started, kill: () => process.kill(-started.child.pid!, 'SIGKILL') };
    };
    const workers = [await worker(), await worker()];
    const workerRunners: Runner[] = workers.map((_, i) => ({
      name: `worker ${i}`,
      async kill() {
        workers[i]!.kill();
        await workers[i]!.exited;
        workers[i] = await worker();
      },
    }));
    cleanups.push(async () => {
      server.child.kill('SIGKILL');
      await server.exited;
      for (const running of workers) {
        if (running.child.exitCode === null) running.kill();
        await running.exited;
      }
    });

    for (let i = 0; i < EXECUTIONS; i += 10) {
      const started = await Promise.all(
        Array.from({ length: 10 }, () =>
          server.gql('mutation($w: ID!) { executeWorkflow(input: { workflowId: $w }) { id } }', { w: workflowId }),
        ),
      );
      for (const answer of started) expect(answer.errors).toBeUndefined();
    }
    const unfinished = async () =>
      (await database.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM executions WHERE ended_at IS NULL')).rows[0]!.n;

    const runners = [serverRunner, ...workerRunners];
    const kills: string[] = [];
    while (kills.length < KILLS && (await unfinished()) > 0) {
      await sleep(between(300, 1200));
      const victim = runners[between(0, runners.length)]!;
      kills.push(victim.name);
      await victim.kill();
    }

    const deadline = Date.now() + 120_000;
    while ((await unfinished()) > 0 && Date.now() < deadline) await sleep(200);
    const { rows: statuses } = await database.db.pool.query('SELECT status, count(*)::int AS n FROM executions GROUP BY status');
    expect(statuses).toEqual([{ status: 'SUCCEEDED', n: EXECUTIONS }]);
    expect((await database.db.pool.query('SELECT count(*)::int AS n FROM execution_jobs')).rows[0].n).toBe(0);

    const count = async (sql: string) => (await database.db.pool.query<{ n: number }>(sql)).rows[0]!.n;
    const succeededSteps = await count("SELECT count(*)::int AS n FROM events WHERE event_type = 'StepSucceeded'");
    // Steps started again by a takeover: the kills landed in the middle of runs.
    const restarted = await count(
      "SELECT count(*)::int AS n FROM (SELECT aggregate_id, data->>'step' FROM events WHERE event_type = 'StepStarted' GROUP BY 1, 2 HAVING count(*) > 1) again",
    );
    const calls = [...target.byKey.values()];
    const raw = calls.reduce((sum, n) => sum + n, 0);
    console.log(
      `${kills.length} kills (${kills.join(', ')}); ${restarted} steps started again; ${raw} calls for ${target.byKey.size} keys, ${calls.filter((n) => n > 1).length} keys called more than once`,
    );

    expect(kills.length).toBeGreaterThanOrEqual(3);
    expect(restarted).toBeGreaterThan(0);
    expect(succeededSteps).toBe(EXECUTIONS * HTTP_STEPS);
    // One key per step, the same on every attempt and process: deduplicated, each step is one call.
    expect(target.byKey.size).toBe(EXECUTIONS * HTTP_STEPS);
    expect(raw).toBe(target.calls('/call'));
    expect(raw).toBeGreaterThanOrEqual(target.byKey.size);
    await expectWholeStreams(database.db.pool);
  }, 240_000);
});
