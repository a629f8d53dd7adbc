import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin } from '../src/ops/admin.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { createWorkflow, ended, execute, run } from './support/executions.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ executionPollIntervalMs: 50 });
});
afterAll(() => app.close());

const gql: TestApp['gql'] = (...args) => app.gql(...args);

/** The execution's events, in order: what a budget's end must leave nothing after. */
async function stream(id: string) {
  const { rows } = await app.database.db.pool.query(
    'SELECT event_type AS type, data, data_bytes FROM events WHERE aggregate_id = $1 ORDER BY version',
    [id],
  );
  return rows as { type: string; data: any; data_bytes: number }[];
}

/** Ended FAILED with BudgetExceeded as its last event, and nothing written after, a moment later. */
async function exhausted(id: string, what: RegExp) {
  const execution = await ended(gql, id);
  expect(execution).toMatchObject({ status: 'FAILED', error: { name: 'BudgetExceeded' } });
  expect(execution.error.message).toMatch(what);
  const events = await stream(id);
  await new Promise((resolve) => setTimeout(resolve, 300));
  expect(await stream(id)).toHaveLength(events.length);
  expect(events.at(-1)!.type).toBe('ExecutionFailed');
  return events;
}

const withLimits = async (limits: Record<string, number>) => app.services.limits.set(app.workspaceId, limits);

/** A map over the input's list of a transform per item: its size is not known until it runs. */
const MAP = {
  startAt: 'Each',
  nodes: {
    Each: {
      type: 'map',
      itemsPath: '$.items',
      maxConcurrency: 5,
      iterator: { startAt: 'Echo', nodes: { Echo: { type: 'task', action: 'transform', input: { at: '$' }, end: true } } },
      end: true,
    },
  },
};

describe('budgets per execution', () => {
  it('refuses the definition validation can tell is past the step budget: nested maps over literal lists, naming the node', async () => {
    const list = (n: number) => Array.from({ length: n }, (_, i) => i);
    const level = (size: number, inner: unknown) => ({
      startAt: 'Make',
      nodes: {
        Make: { type: 'task', action: 'transform', input: { items: list(size) }, resultPath: '$.made', next: 'Each' },
        Each: { type: 'map', itemsPath: '$.made.items', iterator: inner, end: true },
      },
    });
    const leaf = { startAt: 'Leaf', nodes: { Leaf: { type: 'task', action: 'transform', input: { at: '$' }, end: true } } };
    const before = await app.database.snapshot();
    const refused = await gql('mutation($d: JSON!) { createWorkflow(input: { name: "bomb", definition: $d }) { id } }', {
      d: level(1000, level(1000, level(1000, leaf))),
    });
    expect(refused.errors![0]!.extensions).toMatchObject({
      code: 'BAD_USER_INPUT',
      problems: [expect.objectContaining({ node: 'Each', field: 'itemsPath' })],
    });
    expect(await app.database.snapshot()).toEqual(before);
  });

  it('ends an execution FAILED at its step budget, and writes nothing after', async () => {
    await withLimits({ maxSteps: 30 });
    try {
      const workflow = await createWorkflow(gql, MAP);
      const started = await execute(gql, workflow.id, { items: Array.from({ length: 200 }, (_, i) => i) });
      expect((await stream(started.id))[0]!.data.budget).toMatchObject({ maxSteps: 30 });
      const events = await exhausted(started.id, /ran its 30 steps/);
      expect(events.filter((event) => event.type === 'StepStarted').length).toBeLessThanOrEqual(30);
    } finally {
      await withLimits({});
    }
  });

  it('ends an execution at its event budget, and at its byte budget', async () => {
    await withLimits({ maxEvents: 40 });
    try {
      const workflow = await createWorkflow(gql, MAP);
      const started = await execute(gql, workflow.id, { items: Array.from({ length: 200 }, (_, i) => i) });
      expect((await exhausted(started.id, /wrote its 40 events/)).length).toBeLessThanOrEqual(40);
    } finally {
      await withLimits({});
    }
    await withLimits({ maxBytes: 64 * 1024 });
    try {
      // Each item's output is 1 KB: 200 of them would be 200 KB.
      const padded = structuredClone(MAP);
      padded.nodes.Each.iterator.nodes.Echo.input = { at: '$', padding: '.'.repeat(1024) } as never;
      const workflow = await createWorkflow(gql, padded);
      const started = await execute(gql, workflow.id, { items: Array.from({ length: 200 }, (_, i) => i) });
      const events = await exhausted(started.id, /wrote its 65536 bytes/);
      expect(events.reduce((sum, event) => sum + event.data_bytes, 0)).toBeLessThanOrEqual(64 * 1024 + 1024);
    } finally {
      await withLimits({});
    }
  });

  it('refuses a start whose input alone is more than the byte budget, writing nothing', async () => {
    await withLimits({ maxBytes: 4096 });
    try {
      const workflow = await createWorkflow(gql, MAP);
      const before = await app.database.snapshot();
      const refused = await gql('mutation($w: ID!, $i: JSON) { executeWorkflow(input: { workflowId: $w, input: $i }) { id } }', {
        w: workflow.id,
        i: { blob: 'b'.repeat(8192) },
      });
      expect(refused.errors![0]).toMatchObject({
        message: expect.stringMatching(/budget of 4096 bytes/),
        extensions: { code: 'BAD_USER_INPUT', field: 'input' },
      });
      expect(await app.database.snapshot()).toEqual(before);
    } finally {
      await withLimits({});
    }
  });

  it('ends an execution whose conditions spend their time budget', async () => {
    await withLimits({ maxConditionMs: 40 });
    try {
      const costly = 'data.words.all(w, w.size() > 0 && (w + w + w + w).size() > 3)';
      const workflow = await createWorkflow(gql, {
        startAt: 'Check',
        nodes: {
          Check: { type: 'choice', maxVisits: 1000, cases: [{ condition: costly, next: 'Again' }], default: 'Done' },
          Again: { type: 'task', action: 'transform', input: { words: '$.words' }, resultPath: '$', next: 'Check' },
          Done: { type: 'succeed' },
        },
      });
      const started = await execute(gql, workflow.id, { words: Array.from({ length: 20_000 }, (_, i) => `word${i}`) });
      await exhausted(started.id, /spent its 40 ms on conditions/);
    } finally {
      await withLimits({});
    }
  });

  it("gives an execution whose definition sets no timeoutMs the workspace's deadline", async () => {
    await withLimits({ timeoutMs: 1000 });
    try {
      const execution = await run(gql, { startAt: 'Pause', nodes: { Pause: { type: 'wait', ms: 3000, end: true } } });
      expect(execution).toMatchObject({ status: 'TIMED_OUT', error: { name: 'Timeout' } });
      expect(execution.error.message).toMatch(/1000 ms/);
    } finally {
      await withLimits({});
    }
  });

  it('records a large step input once, as its size: retries of a task that gets all the data copy nothing', async () => {
    const data = { blob: 'b'.repeat(200 * 1024) };
    const execution = await run(
      gql,
      {
        startAt: 'Call',
        nodes: {
          Call: { type: 'task', action: 'http.request', retry: [{ errors: ['InvalidInput'], maxAttempts: 5, intervalMs: 0 }], end: true },
        },
      },
      data,
    );
    expect(execution).toMatchObject({ status: 'FAILED', error: { name: 'InvalidInput' } });
    const steps = (await gql('query($id: ID!) { execution(id: $id) { steps { attempt input omittedInputBytes } } }', { id: execution.id }))
      .data!.execution.steps;
    expect(steps).toEqual([{ attempt: 5, input: null, omittedInputBytes: expect.any(Number) }]);
    expect(steps[0].omittedInputBytes).toBeGreaterThan(200 * 1024);
    const started = (await stream(execution.id)).filter((event) => event.type === 'StepStarted');
    expect(started).toHaveLength(5);
    expect(started.reduce((sum, event) => sum + event.data_bytes, 0)).toBeLessThan(2048);
  });

  it('fails a task whose input reads the same large data thousands of times (InputTooLarge) before it starts, never building its text', async () => {
    // 4,000 paths to one 200 KB string: 800 MB as JSON, past what a string can hold.
    const input = Object.fromEntries(Array.from({ length: 4000 }, (_, i) => [`a${i}`, '$.s']));
    const execution = await run(
      gql,
      { startAt: 'Boom', nodes: { Boom: { type: 'task', action: 'transform', input, end: true } } },
      { s: 'x'.repeat(200_000) },
    );
    expect(execution).toMatchObject({ status: 'FAILED', error: { name: 'InputTooLarge', node: 'Boom' }, steps: [] });
    expect(execution.error.message).toBe('Boom: the input is more than 1048576 bytes');
    // A transform that gives the shared data back as its output, under the input bound but far over the output's as text.
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`a${i}`, '$.s']));
    const echoed = await run(
      gql,
      { startAt: 'Echo', nodes: { Echo: { type: 'task', action: 'transform', input: many, end: true } } },
      { s: 'y'.repeat(20_000) },
    );
    expect(echoed).toMatchObject({ status: 'SUCCEEDED', steps: [{ input: null }] });
    const { data } = await gql('query($id: ID!) { execution(id: $id) { steps { omittedInputBytes } } }', { id: echoed.id });
    expect(data!.execution.steps[0].omittedInputBytes).toBe(
      Buffer.byteLength(JSON.stringify(many).replaceAll('"$.s"', JSON.stringify('y'.repeat(20_000)))),
    );
  });

  it("bounds the log action's fields like its message", async () => {
    const execution = await run(
      gql,
      { startAt: 'Say', nodes: { Say: { type: 'task', action: 'log', input: { message: 'hi', fields: { big: '$.s' } }, end: true } } },
      { s: 'z'.repeat(9000) },
    );
    expect(execution).toMatchObject({ status: 'FAILED', error: { name: 'InvalidInput' } });
    expect(execution.error.message).toMatch(/at most 8192 bytes as JSON/);
  });
});

describe("a workspace's limits", () => {
  it('are set by an operator (set-limits), shown to its admins, and apply to the executions started after', async () => {
    const cli = async (args: string[]) => {
      let out = '';
      let err = '';
      const code = await admin(
        args,
        { DATABASE_URL: app.database.url, NODE_ENV: 'test' },
        { out: (line) => (out += line), err: (line) => (err += line) },
      );
      return { code, out, err };
    };
    const set = await cli(['set-limits', '--workspace', app.workspaceId, '--limits', '{"maxSteps": 7, "maxActiveExecutions": 3}']);
    expect(set.code, set.err).toBe(0);
    expect(JSON.parse(set.out).limits).toMatchObject({ maxSteps: 7, maxActiveExecutions: 3, maxWorkflows: 100_000 });
    for (const [limits, message] of [
      ['{"maxSteps": 0}', /maxSteps must be an integer from 1/],
      ['{"maxSpeed": 1}', /maxSpeed is not a limit/],
      ['[1]', /must be a JSON object/],
    ] as const) {
      const refused = await cli(['set-limits', '--workspace', app.workspaceId, '--limits', limits]);
      expect(refused.code).toBe(1);
      expect(refused.err).toMatch(message);
    }
    expect((await cli(['set-limits', '--workspace', app.workspaceId, '--limits', 'nope'])).code).toBe(2);
    // Another process's cached limits are as old as a few seconds at most; this one's are cleared by the change.
    await withLimits({ maxSteps: 7, maxActiveExecutions: 3 });
    try {
      const shown = await gql('{ systemStatus { limits { maxSteps maxActiveExecutions maxEvents } } }', {}, app.keys.admin);
      expect(shown.data!.systemStatus.limits).toEqual({ maxSteps: 7, maxActiveExecutions: 3, maxEvents: 50_000 });
      const workflow = await createWorkflow(gql, MAP);
      const started = await execute(gql, workflow.id, { items: Array.from({ length: 20 }, (_, i) => i) });
      await exhausted(started.id, /ran its 7 steps/);
    } finally {
      await withLimits({});
    }
  });
});
