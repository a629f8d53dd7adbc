import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { wsClient } from './support/ws.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { startHttpTarget, type HttpTarget } from './support/http-target.ts';
import { EXECUTION_FIELDS, createWorkflow, ended, execute, run } from './support/executions.ts';
import { mapOf } from './support/definitions.ts';

let app: TestApp;
let target: HttpTarget;
beforeAll(async () => {
  // The HTTP target listens on loopback: only a host HTTP_ALLOWED_HOSTS names may be local.
  app = await startTestApp({ executionPollIntervalMs: 50, breakerFailures: 1000, httpAllowedHosts: ['127.0.0.1'] });
  target = await startHttpTarget();
});
afterAll(async () => {
  await app.close();
  await target.close();
});

const gql: TestApp['gql'] = (...args) => app.gql(...args);
const call = (path: string, extra: Record<string, unknown> = {}) => ({
  type: 'task',
  action: 'http.request',
  input: { url: `${target.url}${path}` },
  ...extra,
});

async function count(table: string): Promise<number> {
  const { rows } = await app.database.db.pool.query(`SELECT count(*)::int AS n FROM ${table}`);
  return rows[0].n;
}

async function eventTypes(id: string): Promise<string[]> {
  const { rows } = await app.database.db.pool.query('SELECT event_type FROM events WHERE aggregate_id = $1 ORDER BY version', [id]);
  return rows.map((row) => row.event_type);
}

describe('the lifecycle', () => {
  it('create, get, update, execute, delete, verify', async () => {
    const first = {
      startAt: 'Shape',
      nodes: { Shape: { type: 'task', action: 'transform', input: { v: 'one', who: '$.name' }, resultPath: '$.out', end: true } },
    };
    const workflow = await createWorkflow(gql, first);
    const got = await gql('query($id: ID!) { workflow(id: $id) { id version } }', { id: workflow.id });
    expect(got.data!.workflow).toEqual({ id: workflow.id, version: 1 });

    const second = { startAt: 'Shape', nodes: { Shape: { ...first.nodes.Shape, input: { v: 'two', who: '$.name' } } } };
    const updated = await gql('mutation($input: UpdateWorkflowInput!) { updateWorkflow(input: $input) { version } }', {
      input: { id: workflow.id, expectedVersion: 1, definition: second },
    });
    expect(updated.data!.updateWorkflow.version).toBe(2);

    const execution = await ended(gql, (await execute(gql, workflow.id, { name: 'Ada' })).id);
    expect(execution).toMatchObject({
      status: 'SUCCEEDED',
      workflowVersion: 2,
      input: { name: 'Ada' },
      output: { name: 'Ada', out: { v: 'two', who: 'Ada' } },
    });
    expect(execution.steps).toMatchObject([
      { id: 'Shape#1', node: 'Shape', attempt: 1, status: 'SUCCEEDED', output: { v: 'two', who: 'Ada' } },
    ]);
    expect(await eventTypes(execution.id)).toEqual(['ExecutionStarted', 'StepStarted', 'StepSucceeded', 'ExecutionSucceeded']);

    const deleted = await gql('mutation($input: DeleteWorkflowInput!) { deleteWorkflow(input: $input) { status } }', {
      input: { id: workflow.id, expectedVersion: 2 },
    });
    expect(deleted.data!.deleteWorkflow.status).toBe('DELETED');
    const refused = await gql('mutation($input: ExecuteWorkflowInput!) { executeWorkflow(input: $input) { id } }', {
      input: { workflowId: workflow.id },
    });
    expect(refused.errors![0]!.extensions.code).toBe('NOT_FOUND');
    const listed = await gql('query($w: ID!) { executions(workflowId: $w) { edges { node { id status workflow { id status } } } } }', {
      w: workflow.id,
    });
    expect(listed.data!.executions.edges).toEqual([
      { node: { id: execution.id, status: 'SUCCEEDED', workflow: { id: workflow.id, status: 'DELETED' } } },
    ]);
  });
});

describe('what is stored', () => {
  it("stores one append per step: a step's end goes with the next one's start", async () => {
    const shape = (next: string | undefined) => ({
      type: 'task',
      action: 'transform',
      input: { a: 1 },
      ...(next ? { next } : { end: true }),
    });
    const execution = await run(gql, { startAt: 'A', nodes: { A: shape('B'), B: shape('C'), C: shape(undefined) } });
    const { rows } = await app.database.db.pool.query(
      `SELECT transaction_id::text AS tx, array_agg(event_type ORDER BY version) AS types FROM events WHERE aggregate_id = $1 GROUP BY transaction_id ORDER BY min(version)`,
      [execution.id],
    );
    expect(rows.map((row) => row.types)).toEqual([
      ['ExecutionStarted'],
      ['StepStarted'],
      ['StepSucceeded', 'StepStarted'],
      ['StepSucceeded', 'StepStarted'],
      ['StepSucceeded', 'ExecutionSucceeded'],
    ]);
  });

  it('fails a step whose result the store cannot hold, instead of failing every append after it', async () => {
    target.reply(() => ({ body: { text: 'a\u0000b' } }));
    const execution = await run(gql, { startAt: 'Get', nodes: { Get: call('/nul', { resultPath: '$.r', end: true }) } });
    expect(execution).toMatchObject({ status: 'FAILED', error: { name: 'InvalidOutput' } });
    expect(target.calls('/nul')).toBe(1);
  });
});

describe('conditions', () => {
  it('takes each branch of a choice for the input that selects it', async () => {
    const workflow = await createWorkflow(gql, {
      startAt: 'Route',
      nodes: {
        Route: {
          type: 'choice',
          cases: [
            { condition: 'data.total > 100 && data.items.size() > 0', next: 'Big' },
            { condition: 'data.total > 0', next: 'Small' },
          ],
          default: 'Empty',
        },
        Big: { type: 'succeed', outputPath: '$.total' },
        Small: { type: 'task', action: 'transform', input: { size: 'small' }, resultPath: '$', end: true },
        Empty: { type: 'fail', error: 'EmptyOrder', cause: 'nothing to do' },
      },
    });
    const outcome = async (input: unknown) => ended(gql, (await execute(gql, workflow.id, input)).id);
    expect(await outcome({ total: 150, items: [1] })).toMatchObject({ status: 'SUCCEEDED', output: 150 });
    expect(await outcome({ total: 150, items: [] })).toMatchObject({ status: 'SUCCEEDED', output: { size: 'small' } });
    expect(await outcome({ total: 0, items: [] })).toMatchObject({
      status: 'FAILED',
      error: { name: 'EmptyOrder', message: 'nothing to do' },
    });

    const big = await outcome({ total: 101, items: ['a'] });
    const { rows } = await app.database.db.pool.query(`SELECT data FROM events WHERE aggregate_id = $1 AND event_type = 'ChoiceTaken'`, [
      big.id,
    ]);
    // With the time its conditions took, which counts against the execution's budget.
    expect(rows.map((row) => row.data)).toEqual([
      { step: 'Route#1', node: 'Route', case: 0, next: 'Big', conditionMs: expect.any(Number) },
    ]);
  });

  it('fails the execution with ConditionError when the data does not fit a condition', async () => {
    const execution = await run(gql, {
      startAt: 'Route',
      nodes: {
        Route: { type: 'choice', cases: [{ condition: 'data.missing > 1', next: 'Done' }], default: 'Done' },
        Done: { type: 'succeed' },
      },
    });
    expect(execution).toMatchObject({ status: 'FAILED', error: { name: 'ConditionError' } });
    expect(execution.error.message).toMatch(/missing/);
  });
});

describe('loops', () => {
  it('runs a back-edge loop over HTTP until its condition lets go (maxVisits: the interpreter spec)', async () => {
    const loop = (path: string, maxVisits: number) => ({
      startAt: 'Poll',
      nodes: {
        Poll: call(path, { resultPath: '$.poll', next: 'Check' }),
        Check: { type: 'choice', maxVisits, cases: [{ condition: 'data.poll.body.call < 4', next: 'Poll' }], default: 'Done' },
        Done: { type: 'succeed', outputPath: '$.poll.body.call' },
      },
    });
    target.reply((path, n) => ({ body: { call: n } }));
    const finished = await run(gql, loop('/loop-ok', 10));
    expect(finished).toMatchObject({ status: 'SUCCEEDED', output: 4 });
    expect(target.calls('/loop-ok')).toBe(4);
    expect(finished.steps.map((step: { id: string }) => step.id)).toEqual(['Poll#1', 'Poll#2', 'Poll#3', 'Poll#4']);
  });
});

describe('errors, retries and timeouts', () => {
  it('retries a failing step and succeeds', async () => {
    target.reply((path, n) => (n <= 2 ? { status: 503 } : { body: { ok: n } }));
    const execution = await run(gql, {
      startAt: 'Flaky',
      nodes: {
        Flaky: call('/flaky', {
          retry: [{ errors: ['HttpError'], maxAttempts: 3, intervalMs: 20, backoffRate: 2 }],
          resultPath: '$.r',
          end: true,
        }),
      },
    });
    expect(execution).toMatchObject({ status: 'SUCCEEDED', output: { r: { status: 200, body: { ok: 3 } } } });
    expect(execution.steps).toMatchObject([{ id: 'Flaky#1', attempt: 3, status: 'SUCCEEDED' }]);
    expect(target.calls('/flaky')).toBe(3);
    const { rows } = await app.database.db.pool.query(
      `SELECT data FROM events WHERE aggregate_id = $1 AND event_type = 'StepRetryScheduled' ORDER BY version`,
      [execution.id],
    );
    expect(rows.map((row) => [row.data.attempt, row.data.delayMs])).toEqual([
      [2, 20],
      [3, 40],
    ]);
  });

  it('takes the catch path when retries are spent', async () => {
    target.reply(() => ({ status: 500 }));
    const execution = await run(gql, {
      startAt: 'Down',
      nodes: {
        Down: call('/down', {
          retry: [{ errors: ['*'], maxAttempts: 2, intervalMs: 1 }],
          catch: [{ errors: ['HttpError'], resultPath: '$.failure', next: 'Recover' }],
          next: 'Unreached',
        }),
        Recover: { type: 'succeed', outputPath: '$.failure' },
        Unreached: { type: 'fail', error: 'Unreachable' },
      },
    });
    expect(execution).toMatchObject({ status: 'SUCCEEDED', output: { name: 'HttpError' } });
    expect(execution.steps).toMatchObject([{ id: 'Down#1', attempt: 2, status: 'FAILED', error: { name: 'HttpError' } }]);
    expect(target.calls('/down')).toBe(2);
  });

  it('fails the execution with an uncaught error', async () => {
    const execution = await run(
      gql,
      {
        startAt: 'Boom',
        nodes: {
          Boom: {
            type: 'task',
            action: 'fail',
            input: { error: 'PaymentDeclined', message: '$.why' },
            catch: [{ errors: ['Other'], next: 'Done' }],
            next: 'Done',
          },
          Done: { type: 'succeed' },
        },
      },
      { why: 'card expired' },
    );
    expect(execution).toMatchObject({ status: 'FAILED', error: { name: 'PaymentDeclined', message: 'card expired' } });
    expect(execution.steps).toMatchObject([{ status: 'FAILED', error: { name: 'PaymentDeclined', message: 'card expired' } }]);
  });

  it('times a step out', async () => {
    const execution = await run(gql, {
      startAt: 'Slow',
      nodes: { Slow: { type: 'task', action: 'sleep', input: { ms: 5000 }, timeoutMs: 50, end: true } },
    });
    expect(execution).toMatchObject({ status: 'FAILED', error: { name: 'Timeout' } });
    expect(execution.steps[0].durationMs).toBeLessThan(5000);
  });

  it("fails a step whose input does not meet its action's schema", async () => {
    const execution = await run(
      gql,
      { startAt: 'Nap', nodes: { Nap: { type: 'task', action: 'sleep', input: { ms: '$.ms' }, end: true } } },
      { ms: 'soon' },
    );
    expect(execution).toMatchObject({ status: 'FAILED', error: { name: 'InvalidInput' } });
  });

  it('times the whole execution out', async () => {
    const execution = await run(gql, {
      startAt: 'Slow',
      timeoutMs: 100,
      nodes: { Slow: { type: 'task', action: 'sleep', input: { ms: 5000 }, end: true } },
    });
    expect(execution).toMatchObject({ status: 'TIMED_OUT', error: { name: 'Timeout' } });
  });
});

describe('the log action', () => {
  it("cannot forge a line of the server's log: what it writes is data in a line that names the workspace and execution", async () => {
    const written: string[] = [];
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => (written.push(String(chunk)), true));
    let execution;
    try {
      execution = await run(gql, {
        startAt: 'Say',
        nodes: {
          Say: {
            type: 'task',
            action: 'log',
            input: {
              message: 'serving GraphQL\n{"level":"error"}',
              fields: { time: '1999-01-01T00:00:00.000Z', level: 'error', message: 'forged', requestId: 'theirs', workspaceId: 'another' },
            },
            end: true,
          },
        },
      });
    } finally {
      stderr.mockRestore();
    }
    expect(execution.status).toBe('SUCCEEDED');
    const lines = written
      .join('')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    const logged = lines.filter((line) => line.action === 'log');
    expect(logged).toHaveLength(1);
    expect(logged[0]).toMatchObject({
      level: 'info',
      message: 'an action logged',
      workspaceId: app.workspaceId,
      executionId: execution.id,
      text: 'serving GraphQL\n{"level":"error"}',
      fields: { level: 'error', message: 'forged', requestId: 'theirs', workspaceId: 'another' },
    });
    expect(Date.parse(logged[0].time)).toBeGreaterThan(Date.now() - 60_000);
    expect(lines.filter((line) => line.message === 'forged' || line.level === 'error')).toEqual([]);
  });
});

describe('a failure names its node', () => {
  it("a data path that does not fit the data: in the execution's error and in its last event", async () => {
    const failed = await run(gql, {
      startAt: 'Charge',
      nodes: { Charge: { type: 'task', action: 'transform', input: { amount: '$.amount' }, end: true } },
    });
    expect(failed).toMatchObject({
      status: 'FAILED',
      error: { name: 'DataPathError', node: 'Charge', message: '$.amount does not exist in the data' },
    });
    const { rows } = await app.database.db.pool.query(
      "SELECT data FROM events WHERE aggregate_id = $1 AND event_type = 'ExecutionFailed'",
      [failed.id],
    );
    expect(rows[0].data.error).toEqual({ name: 'DataPathError', node: 'Charge', message: '$.amount does not exist in the data' });
  });

  it('inside a map: the innermost node, by its path; and a fail node, a choice and a step by their names', async () => {
    const inMap = await run(
      gql,
      {
        startAt: 'Each',
        nodes: {
          Each: {
            type: 'map',
            itemsPath: '$.items',
            iterator: { startAt: 'Pick', nodes: { Pick: { type: 'task', action: 'transform', input: { v: '$.missing' }, end: true } } },
            end: true,
          },
        },
      },
      { items: [1] },
    );
    expect(inMap.error).toMatchObject({ name: 'DataPathError', node: 'Each#1[0]/Pick' });
    expect(inMap.steps).toMatchObject([{ node: 'Each', status: 'FAILED', error: { name: 'DataPathError', node: 'Each#1[0]/Pick' } }]);
    const failNode = await run(gql, { startAt: 'Stop', nodes: { Stop: { type: 'fail', error: 'Refused' } } });
    expect(failNode.error).toEqual({ name: 'Refused', message: 'Refused', node: 'Stop' });
    const step = await run(gql, {
      startAt: 'Boom',
      nodes: { Boom: { type: 'task', action: 'fail', input: { error: 'Boom' }, end: true } },
    });
    expect(step.error).toEqual({ name: 'Boom', message: 'Boom', node: 'Boom' });
    expect(step.steps[0].error).toEqual({ name: 'Boom', message: 'Boom', node: null });
  });
});

describe('map, parallel and wait', () => {
  it('runs a map over 20 items with never more than maxConcurrency 3 in flight', async () => {
    const concurrency = await startHttpTarget();
    try {
      concurrency.reply((path) => ({ delayMs: 30, body: { item: Number(path.slice(1)) } }));
      const execution = await run(
        gql,
        mapOf(
          {
            startAt: 'Get',
            nodes: {
              Get: { type: 'task', action: 'http.request', input: { url: '$.url' }, resultPath: '$.got', next: 'Pick' },
              Pick: { type: 'succeed', outputPath: '$.got.body.item' },
            },
          },
          { maxConcurrency: 3, resultPath: '$.results' },
        ),
        { items: Array.from({ length: 20 }, (_, i) => ({ url: `${concurrency.url}/${i}` })) },
      );
      expect(execution.status).toBe('SUCCEEDED');
      expect(execution.output.results).toEqual(Array.from({ length: 20 }, (_, i) => i));
      expect(concurrency.maxInFlight).toBe(3);
      const types = await eventTypes(execution.id);
      expect(types.filter((type) => type === 'MapIterationStarted')).toHaveLength(20);
      expect(types.filter((type) => type === 'MapIterationCompleted')).toHaveLength(20);
      expect(execution.steps.map((step: { id: string }) => step.id)).toContain('Each#1[19]/Get#1');
    } finally {
      await concurrency.close();
    }
  });

  it('runs parallel branches on the same data and collects their outputs in order', async () => {
    const branch = (value: string) => ({
      startAt: 'Set',
      nodes: { Set: { type: 'task', action: 'transform', input: { value, from: '$.seed' }, resultPath: '$', end: true } },
    });
    const execution = await run(
      gql,
      {
        startAt: 'Both',
        nodes: { Both: { type: 'parallel', branches: [branch('a'), branch('b')], resultPath: '$.both', end: true } },
      },
      { seed: 7 },
    );
    expect(execution).toMatchObject({
      status: 'SUCCEEDED',
      output: {
        seed: 7,
        both: [
          { value: 'a', from: 7 },
          { value: 'b', from: 7 },
        ],
      },
    });
    expect(execution.steps.map((step: { id: string }) => step.id).sort()).toEqual(['Both#1', 'Both#1(0)/Set#1', 'Both#1(1)/Set#1']);
  });

  it('waits', async () => {
    const execution = await run(gql, { startAt: 'Pause', nodes: { Pause: { type: 'wait', ms: 100, end: true } } });
    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.steps[0].durationMs).toBeGreaterThanOrEqual(90);
  });
});

describe('starting and cancelling', () => {
  const SLEEPY = { startAt: 'Nap', nodes: { Nap: { type: 'task', action: 'sleep', input: { ms: 30_000 }, end: true } } };

  it('returns the same execution for the same idempotency key, and starts no second one', async () => {
    const workflow = await createWorkflow(gql, { startAt: 'Done', nodes: { Done: { type: 'succeed' } } });
    const [a, b] = await Promise.all([execute(gql, workflow.id, { n: 1 }, 'key-1'), execute(gql, workflow.id, { n: 1 }, 'key-1')]);
    expect(a.id).toBe(b.id);
    const again = await execute(gql, workflow.id, { n: 1 }, 'key-1');
    expect(again.id).toBe(a.id);
    const { rows } = await app.database.db.pool.query('SELECT count(*)::int AS n FROM executions WHERE workflow_id = $1', [workflow.id]);
    expect(rows[0].n).toBe(1);
  });

  it('cancels an execution that appends all the time, without a version conflict', async () => {
    const workflow = await createWorkflow(gql, {
      startAt: 'Each',
      nodes: {
        Each: {
          type: 'map',
          itemsPath: '$.items',
          iterator: { startAt: 'Shape', nodes: { Shape: { type: 'task', action: 'transform', input: { v: '$' }, end: true } } },
          end: true,
        },
      },
    });
    const started = await execute(gql, workflow.id, { items: Array.from({ length: 1000 }, (_, i) => i) });
    while ((await eventTypes(started.id)).length < 50) await new Promise((resolve) => setTimeout(resolve, 5));
    const cancelled = await gql('mutation($id: ID!) { cancelExecution(input: { id: $id }) { status } }', { id: started.id });
    expect(cancelled.errors).toBeUndefined();
    expect(cancelled.data!.cancelExecution.status).toBe('CANCELLED');
    expect((await ended(gql, started.id)).status).toBe('CANCELLED');
  });

  it('cancels a running execution: its step is stopped and it ends CANCELLED; a second cancel is refused', async () => {
    const workflow = await createWorkflow(gql, SLEEPY);
    const started = await execute(gql, workflow.id);
    for (let execution = started; execution.steps.length === 0;) {
      execution = (await gql(`query($id: ID!) { execution(id: $id) { ${EXECUTION_FIELDS} } }`, { id: started.id })).data!.execution;
    }
    const CANCEL = 'mutation($input: CancelExecutionInput!) { cancelExecution(input: $input) { status error { name message } } }';
    const cancelled = await gql(CANCEL, { input: { id: started.id, reason: 'changed my mind' } });
    expect(cancelled.data!.cancelExecution).toEqual({ status: 'CANCELLED', error: { name: 'Cancelled', message: 'changed my mind' } });
    const after = await ended(gql, started.id);
    expect(after.status).toBe('CANCELLED');
    expect(await count(`execution_jobs WHERE execution_id = '${started.id}'`)).toBe(0);
    // Nothing written after the cancel: the stopped step's failure was not recorded.
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await eventTypes(started.id)).at(-1)).toBe('ExecutionCancelled');
    expect(app.services.engine!.stats().active).toBe(0);

    const again = await gql(CANCEL, { input: { id: started.id } });
    expect(again.errors![0]!.extensions).toMatchObject({ code: 'EXECUTION_FINISHED', status: 'CANCELLED' });
  });

  it('refuses bad starts with a code, writing nothing', async () => {
    const workflow = await createWorkflow(gql, { startAt: 'Done', nodes: { Done: { type: 'succeed' } } });
    const before = await app.database.snapshot();
    const EXECUTE = 'mutation($input: ExecuteWorkflowInput!) { executeWorkflow(input: $input) { id } }';
    const code = async (input: unknown, key = app.keys.editor) => (await app.gql(EXECUTE, { input }, key)).errors?.[0]?.extensions.code;
    expect(await code({ workflowId: '00000000-0000-4000-8000-000000000000' })).toBe('NOT_FOUND');
    expect(await code({ workflowId: 'not-a-uuid' })).toBe('NOT_FOUND');
    expect(await code({ workflowId: workflow.id, input: [1, 2] })).toBe('BAD_USER_INPUT');
    expect(await code({ workflowId: workflow.id, input: 'text' })).toBe('BAD_USER_INPUT');
    expect(await code({ workflowId: workflow.id, input: { big: 'x'.repeat(300 * 1024) } })).toBe('BAD_USER_INPUT');
    expect(await code({ workflowId: workflow.id, input: { nul: 'a\u0000b' } })).toBe('BAD_USER_INPUT');
    expect(await code({ workflowId: workflow.id }, app.keys.viewer)).toBe('FORBIDDEN');
    const cancel = await gql('mutation { cancelExecution(input: { id: "00000000-0000-4000-8000-000000000000" }) { id } }');
    expect(cancel.errors![0]!.extensions.code).toBe('NOT_FOUND');
    expect(await app.database.snapshot()).toEqual(before);
  });
});

describe('executions in the log', () => {
  it('replays an execution to any version and lists its events', async () => {
    const execution = await run(gql, {
      startAt: 'A',
      nodes: {
        A: { type: 'task', action: 'transform', input: { a: 1 }, resultPath: '$.a', next: 'B' },
        B: { type: 'task', action: 'transform', input: { b: 2 }, resultPath: '$.b', end: true },
      },
    });
    const replay = await gql(
      'query($id: ID!, $v: Int) { replay(aggregateType: EXECUTION, aggregateId: $id, toVersion: $v) { version state } }',
      { id: execution.id, v: 3 },
    );
    expect(replay.data!.replay.version).toBe(3);
    expect(replay.data!.replay.state).toMatchObject({ status: 'RUNNING', steps: { 'A#1': { status: 'SUCCEEDED' } } });
    expect(Object.keys(replay.data!.replay.state.steps)).toEqual(['A#1']);
    const events = await gql('query($id: ID!) { events(aggregateType: EXECUTION, aggregateId: $id) { edges { node { type version } } } }', {
      id: execution.id,
    });
    expect(events.data!.events.edges.map((edge: any) => edge.node.type)).toEqual([
      'ExecutionStarted',
      'StepStarted',
      'StepSucceeded',
      'StepStarted',
      'StepSucceeded',
      'ExecutionSucceeded',
    ]);
  });

  it("lists a workflow's executions newest first, forwards and backwards, by status", async () => {
    const workflow = await createWorkflow(gql, { startAt: 'Done', nodes: { Done: { type: 'succeed' } } });
    const ids: string[] = [];
    for (let n = 0; n < 3; n += 1) ids.unshift((await ended(gql, (await execute(gql, workflow.id)).id)).id);
    const page = async (args: string) => {
      const { data, errors } = await gql(
        `query($w: ID!) { executions(workflowId: $w, ${args}) { edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }`,
        { w: workflow.id },
      );
      expect(errors).toBeUndefined();
      return { ids: data!.executions.edges.map((edge: any) => edge.node.id), info: data!.executions.pageInfo };
    };
    const first = await page('first: 2');
    expect(first).toMatchObject({ ids: ids.slice(0, 2), info: { hasNextPage: true, hasPreviousPage: false } });
    const rest = await page(`first: 2, after: "${first.info.endCursor}"`);
    expect(rest).toMatchObject({ ids: ids.slice(2), info: { hasNextPage: false, hasPreviousPage: true } });
    const back = await page(`last: 1, before: "${rest.info.startCursor}"`);
    expect(back).toMatchObject({ ids: [ids[1]], info: { hasNextPage: true, hasPreviousPage: true } });
    expect((await page('status: FAILED')).ids).toEqual([]);
    expect((await page('status: SUCCEEDED, last: 5')).ids).toEqual(ids);
  });

  it('streams an execution as it changes over graphql-ws, ending with it', async () => {
    const workflow = await createWorkflow(gql, {
      startAt: 'Pause',
      nodes: {
        Pause: { type: 'wait', ms: 200, next: 'Shape' },
        Shape: { type: 'task', action: 'transform', input: { done: true }, end: true },
      },
    });
    const started = await execute(gql, workflow.id);
    const client = wsClient(app.url, app.keys.viewer);
    try {
      const seen: { status: string; version: number }[] = [];
      for await (const result of client.iterate({
        query: 'subscription($id: ID!) { executionUpdated(id: $id) { status version } }',
        variables: { id: started.id },
      })) {
        expect(result.errors).toBeUndefined();
        seen.push(result.data!.executionUpdated as never);
      }
      expect(seen.at(-1)).toMatchObject({ status: 'SUCCEEDED' });
      expect(seen.length).toBeGreaterThan(1);
      const versions = seen.map((item) => item.version);
      expect(versions).toEqual([...versions].sort((a, b) => a - b));
    } finally {
      await client.dispose();
    }
  });

  it('lets go of an executionUpdated subscription the client leaves, and refuses an unknown id with NOT_FOUND', async () => {
    const workflow = await createWorkflow(gql, { startAt: 'Pause', nodes: { Pause: { type: 'wait', ms: 60_000, end: true } } });
    const waiting = await execute(gql, workflow.id);
    const before = app.services.live.stats().subscriptions;
    const client = wsClient(app.url, app.keys.viewer);
    const query = 'subscription($id: ID!) { executionUpdated(id: $id) { id status } }';
    try {
      for (let i = 0; i < 20; i += 1) {
        const updates = client.iterate({ query, variables: { id: waiting.id } });
        expect((await updates.next()).value.data.executionUpdated.id).toBe(waiting.id);
        await updates.return!();
      }
      while (app.services.live.stats().subscriptions > before) await new Promise((resolve) => setTimeout(resolve, 10));
      const unknown = await client.iterate({ query, variables: { id: '00000000-0000-4000-8000-000000000000' } }).next();
      expect(unknown.value.errors[0].extensions.code).toBe('NOT_FOUND');
    } finally {
      await client.dispose();
      await gql('mutation($id: ID!) { cancelExecution(input: { id: $id }) { id } }', { id: waiting.id });
    }
  });

  it('reports the engine in systemStatus, to admins only', async () => {
    const QUERY =
      '{ systemStatus { engine { active queued succeeded failed stepsInFlight maxExecutions maxStepsInFlight circuitBreakers { host state } } } }';
    // A run leaves the active count just after its last event is stored.
    let { data } = await app.gql(QUERY, {}, app.keys.admin);
    while (data!.systemStatus.engine.active > 0) ({ data } = await app.gql(QUERY, {}, app.keys.admin));
    expect(data!.systemStatus.engine).toMatchObject({ active: 0, maxExecutions: 50, maxStepsInFlight: 100 });
    expect(data!.systemStatus.engine.succeeded).toBeGreaterThan(5);
    expect(data!.systemStatus.engine.failed).toBeGreaterThan(3);
    expect(data!.systemStatus.engine.circuitBreakers).toContainEqual({ host: new URL(target.url).host, state: 'CLOSED' });
    expect((await app.gql(QUERY, {}, app.keys.editor)).errors![0]!.extensions.code).toBe('FORBIDDEN');
  });
});
