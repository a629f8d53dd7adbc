import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { wsClient } from './support/ws.ts';

// One request must not take the server's memory: every list is paged, and an answer holds at
// most MAX_RESPONSE_BYTES of data, cut where it is read. Here the budget is 1 MiB.
const BUDGET = 1024 * 1024;

let app: TestApp;
let executionId: string;
beforeAll(async () => {
  app = await startTestApp({ maxResponseBytes: BUDGET });
  // A long execution with large events: 120 of 40 KB, about 4.8 MB in all.
  executionId = randomUUID();
  const metadata = { workspaceId: app.workspaceId, actorId: app.userIds.editor, requestId: 'big', correlationId: 'big', causationId: null };
  const workflow = { id: randomUUID(), version: 1, definition: { startAt: 'Done', nodes: { Done: { type: 'succeed' } } } };
  await app.services.store.append(
    { type: 'Execution', id: executionId },
    [
      {
        eventId: randomUUID(),
        type: 'ExecutionStarted',
        data: { id: executionId, workflowId: workflow.id, workflowVersion: 1, definition: workflow.definition, input: {} },
      },
    ],
    { expectedVersion: 'NO_STREAM', metadata },
  );
  for (let n = 0; n < 120; n += 20) {
    const events = Array.from({ length: 20 }, (_, i) => ({
      eventId: randomUUID(),
      type: 'StepStarted',
      data: { step: `Big#${n + i + 1}`, node: 'Big', attempt: 1, input: { padding: 'x'.repeat(40 * 1024) } },
    }));
    await app.services.store.append({ type: 'Execution', id: executionId }, events, { expectedVersion: n + 1, metadata });
  }
});
afterAll(() => app.close());

const aliases = (count: number, selection: string) =>
  `query($id: ID!) { ${Array.from({ length: count }, (_, i) => `a${i}: replay(aggregateType: EXECUTION, aggregateId: $id) { ${selection} }`).join(' ')} }`;

/** What an answer says when it would hold too much: one error with the code, no data, never a 500. */
function tooLarge(response: { status: number; data: unknown; errors?: { extensions: Record<string, any> }[] }) {
  expect(response.status).toBe(200);
  expect(response.data).toBeNull();
  expect(response.errors).toEqual([expect.objectContaining({ extensions: { code: 'RESPONSE_TOO_LARGE', limit: BUDGET } })]);
}

describe('an answer past its byte budget', () => {
  it('a dozen aliases of one large replay with its events is RESPONSE_TOO_LARGE, and the heap stays near its size', async () => {
    globalThis.gc?.();
    const before = process.memoryUsage().heapUsed;
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().heapUsed)), 5);
    try {
      const response = await app.gql(
        aliases(12, 'version events(first: 100) { edges { node { data } } }'),
        { id: executionId },
        app.keys.viewer,
      );
      tooLarge(response);
    } finally {
      clearInterval(sampler);
    }
    // Each alias reads at most one budget's worth of events (and the one past it): far from 12 x 4.8 MB.
    expect(peak - before).toBeLessThan(40 * 1024 * 1024);
  });

  it('within the budget, the same replay answers, a page at a time', async () => {
    const { data, errors } = await app.gql(
      aliases(1, 'version events(first: 10) { totalCount edges { node { version } } pageInfo { hasNextPage } }'),
      { id: executionId },
      app.keys.viewer,
    );
    expect(errors).toBeUndefined();
    expect(data!.a0).toMatchObject({ version: 121, events: { totalCount: 121, pageInfo: { hasNextPage: true } } });
    expect(data!.a0.events.edges).toHaveLength(10);
  });

  it("the log, an aggregate's events and the audit log are cut where they are read", async () => {
    const queries: [string, Record<string, unknown>, string][] = [
      ['{ eventLog(first: 100) { edges { node { data } } } }', {}, app.keys.viewer],
      [
        'query($id: ID!) { events(aggregateType: EXECUTION, aggregateId: $id, first: 100) { edges { node { data } } } }',
        { id: executionId },
        app.keys.viewer,
      ],
      ['{ auditLog(first: 100) { edges { node { data } } } }', {}, app.keys.admin],
    ];
    for (const [query, variables, key] of queries) tooLarge(await app.gql(query, variables, key));
  });

  it('a page of workflows with large definitions, and of executions with large outputs', async () => {
    const definition = { startAt: 'Done', nodes: { Done: { type: 'succeed' } }, metadata: { padding: 'y'.repeat(60 * 1024) } };
    for (let n = 0; n < 20; n += 1) {
      const created = await app.gql('mutation($d: JSON!) { createWorkflow(input: { name: "large", definition: $d }) { id } }', {
        d: definition,
      });
      expect(created.errors).toBeUndefined();
    }
    tooLarge(await app.gql('{ workflows(first: 100, filter: { nameContains: "large" }) { edges { node { definition } } } }'));
    const names = await app.gql('{ workflows(first: 100, filter: { nameContains: "large" }) { totalCount edges { node { name } } } }');
    expect(names.data!.workflows.totalCount).toBe(20);

    await app.database.db.pool.query(
      `INSERT INTO executions (id, workflow_id, workflow_version, status, input, output, version, created_at, updated_at, created_by, workspace_id, input_bytes, output_bytes)
       SELECT gen_random_uuid(), w.id, 1, 'SUCCEEDED', '{}', $2::jsonb, 1, now(), now(), w.created_by, w.workspace_id, 2, octet_length($2::text)
       FROM workflows w WHERE w.workspace_id = $1 AND w.name = 'large'`,
      [app.workspaceId, JSON.stringify({ padding: 'z'.repeat(80 * 1024) })],
    );
    tooLarge(await app.gql('{ executions(first: 100, status: SUCCEEDED) { edges { node { output } } } }'));
    const light = await app.gql('{ executions(first: 100, status: SUCCEEDED) { edges { node { id status input } } } }');
    expect(light.errors).toBeUndefined();
    expect(light.data!.executions.edges).toHaveLength(20);
  });

  it("a live event larger than the budget is that payload's error; the subscription goes on", async () => {
    const client = wsClient(app.url, app.keys.viewer);
    try {
      const items = client.iterate({ query: 'subscription { events(types: ["Huge", "Small"]) { event { type data } } }' });
      expect((await items.next()).value.data.events.event).toBeNull();
      const metadata = { workspaceId: app.workspaceId, actorId: null, requestId: 'r', correlationId: 'c', causationId: null };
      for (const [type, size] of [
        ['Huge', BUDGET + 10],
        ['Small', 10],
      ] as const) {
        await app.services.store.append(
          { type: 'Workflow', id: randomUUID() },
          [{ eventId: randomUUID(), type, data: { padding: 'h'.repeat(size) } }],
          {
            expectedVersion: 'ANY',
            metadata,
          },
        );
      }
      const huge = (await items.next()).value;
      expect(huge.errors).toEqual([expect.objectContaining({ extensions: { code: 'RESPONSE_TOO_LARGE', limit: BUDGET } })]);
      expect((await items.next()).value.data.events.event.type).toBe('Small');
    } finally {
      await client.dispose();
    }
  });
});
