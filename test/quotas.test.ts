import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { DEFINITION } from './support/definitions.ts';
import { createWorkflow, ended, execute } from './support/executions.ts';
import { wsClient } from './support/ws.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({
    executionPollIntervalMs: 50,
    rateLimitPerSecond: 40,
    rateLimitPerWorkspacePerSecond: 20,
    maxSubscriptionsPerKey: 3,
    maxSubscriptionsPerWorkspace: 4,
  });
});
afterAll(() => app.close());

const gql: TestApp['gql'] = (...args) => app.gql(...args);
const CREATE = `mutation($n: String!) { createWorkflow(input: { name: $n, definition: ${DEFINITION} }) { id version } }`;
const codeOf = (response: { errors?: { extensions: Record<string, unknown> }[] | undefined }) => response.errors?.[0]?.extensions;

describe('quotas per workspace', () => {
  it('holds at most maxWorkflows workflows: one more is QUOTA_EXCEEDED and writes nothing, a delete makes room', async () => {
    const tenant = await app.createWorkspace('workflow quota');
    await app.services.limits.set(tenant.workspaceId, { maxWorkflows: 3 });
    const as = (query: string, variables: Record<string, unknown>) => app.gql(query, variables, tenant.keys.editor);
    const made = [];
    for (let n = 0; n < 3; n += 1) made.push((await as(CREATE, { n: `w${n}` })).data!.createWorkflow);
    const before = await app.database.snapshot();
    expect(codeOf(await as(CREATE, { n: 'one too many' }))).toEqual({ code: 'QUOTA_EXCEEDED', quota: 'maxWorkflows', limit: 3 });
    expect(await app.database.snapshot()).toEqual(before);
    // Another workspace is not counted against it.
    expect(codeOf(await gql(CREATE, { n: 'elsewhere' }))).toBeUndefined();
    await as('mutation($id: ID!) { deleteWorkflow(input: { id: $id, expectedVersion: 1 }) { status } }', { id: made[0].id });
    expect(codeOf(await as(CREATE, { n: 'room again' }))).toBeUndefined();
  });

  it('has at most maxActiveExecutions under way: one more start is QUOTA_EXCEEDED and writes nothing, an end makes room', async () => {
    const tenant = await app.createWorkspace('execution quota');
    await app.services.limits.set(tenant.workspaceId, { maxActiveExecutions: 2 });
    const as: TestApp['gql'] = (query, variables) => app.gql(query, variables, tenant.keys.editor);
    const workflow = await createWorkflow(as, { startAt: 'Pause', nodes: { Pause: { type: 'wait', ms: 600_000, end: true } } });
    const running = [await execute(as, workflow.id), await execute(as, workflow.id)];
    // Both are waiting (their step started, and parked), so that nothing else writes meanwhile.
    for (const execution of running) {
      for (;;) {
        const { rows } = await app.database.db.pool.query('SELECT not_before FROM execution_jobs WHERE execution_id = $1', [execution.id]);
        if (rows[0]?.not_before) break;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    }
    const before = await app.database.snapshot();
    const refused = await as('mutation($w: ID!) { executeWorkflow(input: { workflowId: $w }) { id } }', { w: workflow.id });
    expect(codeOf(refused)).toEqual({ code: 'QUOTA_EXCEEDED', quota: 'maxActiveExecutions', limit: 2 });
    expect(refused.errors![0]!.message).toBe('this workspace has 2 executions under way, the most its quota allows');
    expect(await app.database.snapshot()).toEqual(before);
    await as('mutation($id: ID!) { cancelExecution(input: { id: $id }) { status } }', { id: running[0].id });
    const third = await execute(as, workflow.id);
    for (const execution of [running[1], third])
      await as('mutation($id: ID!) { cancelExecution(input: { id: $id }) { status } }', { id: execution.id });
  });
});

describe('rate and subscriptions per workspace, whatever its number of keys', () => {
  it("counts every key of a workspace against the workspace's rate, and spreads what it lets through over the second", async () => {
    const tenant = await app.createWorkspace('many keys');
    const keys = [tenant.keys.viewer, tenant.keys.editor, tenant.keys.admin];
    const began = performance.now();
    const results = await Promise.all(keys.flatMap((key) => Array.from({ length: 30 }, () => app.gql('{ me { id } }', {}, key))));
    const elapsed = performance.now() - began;
    const limited = results.filter((result) => codeOf(result)?.code === 'RATE_LIMITED');
    const admitted = results.length - limited.length;
    // 90 requests at once, 30 a key (under the key's 40), 20 a second for the workspace: a tenth
    // of a second's worth goes at once, the others wait their turn for up to a second. However
    // slowly they arrive, what went through was spread at the workspace's rate.
    expect(limited.length).toBeGreaterThanOrEqual(20);
    expect(admitted).toBeGreaterThanOrEqual(20);
    expect(elapsed).toBeGreaterThan(((admitted - 2) / 20) * 1000 - 100);
    expect(limited[0]!.errors![0]!.message).toMatch(/this workspace has used its operations per second/);
    expect(codeOf(await app.gql('{ me { id } }', {}, app.keys.viewer))).toBeUndefined();
  });

  it("counts every key of a workspace against the workspace's open subscriptions", async () => {
    const tenant = await app.createWorkspace('many subscribers');
    const clients = [wsClient(app.url, tenant.keys.viewer), wsClient(app.url, tenant.keys.editor)];
    try {
      const open = [];
      for (const [index, client] of [0, 0, 1, 1].map((i) => [i, clients[i]!] as const)) {
        const iterator = client.iterate({ query: 'subscription { events { caughtUp } }' });
        expect((await iterator.next()).value.data.events.caughtUp, `subscription of key ${index}`).toBe(true);
        open.push(iterator);
      }
      const fifth = await clients[1]!.iterate({ query: 'subscription { events { caughtUp } }' }).next();
      expect(fifth.value.errors[0]).toMatchObject({
        message: 'this workspace has 4 subscriptions open, the most it may have',
        extensions: { code: 'TOO_MANY_SUBSCRIPTIONS', limit: 4 },
      });
      await open[0]!.return!();
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await clients[1]!.iterate({ query: 'subscription { events { caughtUp } }' }).next()).value.data.events.caughtUp).toBe(true);
    } finally {
      await Promise.all(clients.map((client) => client.dispose()));
    }
  });
});

describe('rates per workspace, kept by pacing', () => {
  const MAP = {
    startAt: 'Each',
    nodes: {
      Each: {
        type: 'map',
        itemsPath: '$.items',
        maxConcurrency: 10,
        iterator: { startAt: 'Echo', nodes: { Echo: { type: 'task', action: 'transform', input: { at: '$' }, end: true } } },
        end: true,
      },
    },
  };

  it("paces a workspace's steps at maxStepsPerSecond; another workspace's execution is not held behind them", async () => {
    const tenant = await app.createWorkspace('paced steps');
    await app.services.limits.set(tenant.workspaceId, { maxStepsPerSecond: 10 });
    const as: TestApp['gql'] = (query, variables) => app.gql(query, variables, tenant.keys.editor);
    const items = { items: Array.from({ length: 40 }, (_, i) => i) };
    const began = performance.now();
    const paced = await execute(as, (await createWorkflow(as, MAP)).id, items);
    const other = await ended(gql, (await execute(gql, (await createWorkflow(gql, MAP)).id, items)).id);
    expect(other.status).toBe('SUCCEEDED');
    const { data } = await as('query($id: ID!) { execution(id: $id) { status } }', { id: paced.id });
    expect(data!.execution.status, 'the paced execution, as the other ended').toBe('RUNNING');
    expect((await ended(as, paced.id)).status).toBe('SUCCEEDED');
    // Forty steps past the first second's ten, at ten a second: three seconds at the least.
    expect(performance.now() - began).toBeGreaterThan(2900);
  });

  it("paces a workspace's heavy reads at maxReadBytesPerSecond: a read that would wait too long is RATE_LIMITED, and others read on", async () => {
    const tenant = await app.createWorkspace('paced reads');
    await app.services.limits.set(tenant.workspaceId, { maxReadBytesPerSecond: 1024 });
    const as: TestApp['gql'] = (query, variables) => app.gql(query, variables, tenant.keys.editor);
    const definition = { startAt: 'Done', nodes: { Done: { type: 'succeed' } }, metadata: { padding: 'p'.repeat(30 * 1024) } };
    const workflow = await createWorkflow(as, definition);
    const REPLAY = 'query($id: ID!) { replay(aggregateType: WORKFLOW, aggregateId: $id) { version state } }';
    // The first read is within the rate; what it brought (30 KB at 1 KB a second) is waited for by the next.
    expect((await as(REPLAY, { id: workflow.id })).errors).toBeUndefined();
    const refused = await as(REPLAY, { id: workflow.id });
    expect(codeOf(refused)).toMatchObject({ code: 'RATE_LIMITED' });
    expect(codeOf(refused)!.retryAfterSeconds).toBeGreaterThan(20);
    expect(refused.errors![0]!.message).toMatch(/read rate \(maxReadBytesPerSecond\)/);
    const events = await as(
      'query($id: ID!) { events(aggregateType: WORKFLOW, aggregateId: $id, first: 10) { edges { node { data } } } }',
      { id: workflow.id },
    );
    expect(codeOf(events)).toMatchObject({ code: 'RATE_LIMITED' });
    // Another workspace reads as before.
    const mine = await createWorkflow(gql, definition);
    expect((await gql(REPLAY, { id: mine.id })).errors).toBeUndefined();
    expect((await gql(REPLAY, { id: mine.id })).errors).toBeUndefined();
  });

  it('charges every read of event data to that rate, whether or not the answer holds it: folds, steps, latest events, subscriptions', async () => {
    /** A workspace at 1 KB a second, with a workflow and an execution of 30 KB of events each. */
    const paced = async (name: string) => {
      const tenant = await app.createWorkspace(name);
      const as: TestApp['gql'] = (query, variables) => app.gql(query, variables, tenant.keys.editor);
      const workflow = await createWorkflow(as, {
        startAt: 'Done',
        nodes: { Done: { type: 'succeed' } },
        metadata: { padding: 'p'.repeat(30 * 1024) },
      });
      const execution = await ended(as, (await execute(as, workflow.id, { padding: 'q'.repeat(30 * 1024) })).id);
      await app.services.limits.set(tenant.workspaceId, { maxReadBytesPerSecond: 1024 });
      return { tenant, as, workflow, execution };
    };
    const spentBy = async (first: string, then: string) => {
      const { tenant, as, workflow, execution } = await paced(`paced ${randomUUID()}`);
      const variables = { w: workflow.id, e: execution.id };
      expect((await as(first, variables)).errors, first).toBeUndefined();
      expect(codeOf(await as(then, variables)), `${then} after ${first}`).toMatchObject({ code: 'RATE_LIMITED' });
      return { tenant, variables };
    };
    const NEXT = 'query($w: ID!) { events(aggregateType: WORKFLOW, aggregateId: $w, first: 1) { edges { cursor } } }';
    // A replay's fold reads the stream even when only its version is asked for.
    await spentBy('query($w: ID!) { replay(aggregateType: WORKFLOW, aggregateId: $w) { version } }', NEXT);
    // Steps are folded from the execution's events: counting them reads them.
    await spentBy('query($e: ID!) { execution(id: $e) { stepCount } }', 'query($e: ID!) { execution(id: $e) { stepCount } }');
    await spentBy(
      'query($w: ID!) { workflow(id: $w) { latestEvents(first: 1) { type } } }',
      'query($w: ID!) { workflow(id: $w) { latestEvents(first: 1) { type } } }',
    );
    // A subscription of the execution starts with a replay of it: refused the same way, as its payload.
    const { tenant, variables } = await spentBy('query($e: ID!) { execution(id: $e) { stepCount } }', NEXT);
    const client = wsClient(app.url, tenant.keys.viewer);
    try {
      const first = await client
        .iterate({ query: 'subscription($e: ID!) { executionUpdated(id: $e) { version } }', variables: { e: variables.e } })
        .next();
      expect(first.value.errors[0].extensions.code).toBe('RATE_LIMITED');
    } finally {
      await client.dispose();
    }
  });

  it("charges what a workspace's subscriptions are sent to the same rate", async () => {
    const tenant = await app.createWorkspace('paced payloads');
    await app.services.limits.set(tenant.workspaceId, { maxReadBytesPerSecond: 1024 });
    const client = wsClient(app.url, tenant.keys.viewer);
    try {
      const live = client.iterate({ query: 'subscription { events(types: ["WorkflowCreated"]) { event { data } } }' });
      expect((await live.next()).value.data.events.event).toBeNull(); // caught up
      await createWorkflow((query, variables) => app.gql(query, variables, tenant.keys.editor), {
        startAt: 'Done',
        nodes: { Done: { type: 'succeed' } },
        metadata: { padding: 'p'.repeat(30 * 1024) },
      });
      expect(JSON.stringify((await live.next()).value.data.events.event.data).length).toBeGreaterThan(30 * 1024);
      const read = await app.gql('{ eventLog(first: 1) { edges { cursor } } }', {}, tenant.keys.viewer);
      expect(codeOf(read)).toMatchObject({ code: 'RATE_LIMITED' });
    } finally {
      await client.dispose();
    }
  });
});
