import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { definition } from './support/definitions.ts';
import { createWorkflow, ended, execute } from './support/executions.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());

const VERIFY = `query($type: AggregateType!, $id: ID!) {
  verifyAuditTrail(aggregateType: $type, aggregateId: $id) { intact eventsChecked firstBreak { aggregateId version eventId reason } }
}`;
const verify = async (id: string, type = 'WORKFLOW') => {
  const { data, errors } = await app.gql(VERIFY, { type, id }, app.keys.admin);
  expect(errors).toBeUndefined();
  return data!.verifyAuditTrail;
};
const sql = (text: string, values: unknown[]) => app.database.db.pool.query(text, values);

/** A workflow with `updates` updates after its creation: versions 1 to updates + 1. */
async function workflowWithHistory(updates: number): Promise<string> {
  const { id } = await createWorkflow(app.gql, definition());
  for (let v = 1; v <= updates; v += 1) {
    const { errors } = await app.gql(
      'mutation($id: ID!, $v: Int!, $d: String!) { updateWorkflow(input: { id: $id, expectedVersion: $v, description: $d }) { id } }',
      { id, v, d: `v${v + 1}` },
    );
    expect(errors).toBeUndefined();
  }
  return id;
}

describe('the audit chain', () => {
  it('links each event to the one before it in its stream, and Event.hash shows it', async () => {
    const id = await workflowWithHistory(2);
    const { data } = await app.gql(
      'query($id: ID!) { events(aggregateType: WORKFLOW, aggregateId: $id) { edges { node { version hash } } } }',
      { id },
    );
    const hashes = data!.events.edges.map((edge: { node: { hash: string } }) => edge.node.hash);
    expect(hashes).toHaveLength(3);
    expect(new Set(hashes).size).toBe(3);
    for (const hash of hashes) expect(hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await verify(id)).toEqual({ intact: true, eventsChecked: 3, firstBreak: null });
  });

  it('points at exactly the event edited with SQL, and at the next one when its hash was forged too', async () => {
    const id = await workflowWithHistory(4);
    const third = (await sql('SELECT event_id FROM events WHERE aggregate_id = $1 AND version = 3', [id])).rows[0].event_id;
    await sql(`UPDATE events SET data = jsonb_set(data, '{description}', '"forged"') WHERE aggregate_id = $1 AND version = 3`, [id]);
    expect(await verify(id)).toEqual({
      intact: false,
      eventsChecked: 5,
      firstBreak: { aggregateId: id, version: 3, eventId: third, reason: 'HASH_MISMATCH' },
    });
    // Whoever also recomputes the edited event's own hash still breaks the link to the next one.
    await sql(
      `UPDATE events e SET hash = flowledger_event_hash(p.hash, e.event_id, e.workspace_id, e.aggregate_type, e.aggregate_id,
         e.version, e.event_type, e.data, e.metadata, e.created_at)
       FROM events p WHERE e.aggregate_id = $1 AND e.version = 3 AND p.aggregate_id = $1 AND p.version = 2`,
      [id],
    );
    expect((await verify(id)).firstBreak).toMatchObject({ version: 4, reason: 'HASH_MISMATCH' });
  });

  it('notices an event taken out of the middle, an event taken off the end, a changed actor and a changed timestamp', async () => {
    const middle = await workflowWithHistory(3);
    await sql('DELETE FROM events WHERE aggregate_id = $1 AND version = 2', [middle]);
    expect((await verify(middle)).firstBreak).toMatchObject({ version: 3, reason: 'VERSION_GAP' });
    const end = await workflowWithHistory(3);
    await sql('DELETE FROM events WHERE aggregate_id = $1 AND version = 4', [end]);
    expect((await verify(end)).firstBreak).toEqual({ aggregateId: end, version: 4, eventId: null, reason: 'MISSING_EVENTS' });
    const reattributed = await workflowWithHistory(1);
    await sql('UPDATE events SET actor_id = $2 WHERE aggregate_id = $1 AND version = 2', [reattributed, app.userIds.viewer]);
    expect((await verify(reattributed)).firstBreak).toMatchObject({ version: 2, reason: 'HASH_MISMATCH' });
    const moved = await workflowWithHistory(1);
    await sql(`UPDATE events SET created_at = created_at - interval '1 day' WHERE aggregate_id = $1 AND version = 1`, [moved]);
    expect((await verify(moved)).firstBreak).toMatchObject({ version: 1, reason: 'HASH_MISMATCH' });
  });

  it('holds over an execution (the engine appends many events at a time) and over racing appends', async () => {
    const workflow = await createWorkflow(app.gql, {
      startAt: 'Each',
      nodes: {
        Each: {
          type: 'map',
          itemsPath: '$.items',
          maxConcurrency: 3,
          iterator: { startAt: 'Echo', nodes: { Echo: { type: 'task', action: 'transform', input: { n: 1 }, end: true } } },
          end: true,
        },
      },
    });
    const execution = await ended(app.gql, (await execute(app.gql, workflow.id, { items: [1, 2, 3, 4, 5, 6] })).id);
    expect(execution.status).toBe('SUCCEEDED');
    const report = await verify(execution.id, 'EXECUTION');
    expect(report).toMatchObject({ intact: true, firstBreak: null });
    expect(report.eventsChecked).toBeGreaterThan(10);

    // Twenty writers appending to one stream at once, at whatever version they find.
    const stream = { type: 'Workflow', id: randomUUID() };
    const metadata = { workspaceId: app.workspaceId, actorId: null, requestId: 'race', correlationId: 'race', causationId: null };
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        app.services.store.append(
          stream,
          [
            { eventId: randomUUID(), type: 'Raced', data: { i } },
            { eventId: randomUUID(), type: 'Raced', data: { i, second: true } },
          ],
          {
            expectedVersion: 'ANY',
            metadata,
          },
        ),
      ),
    );
    expect(await app.services.store.verifyChain({ workspaceId: app.workspaceId, aggregateId: stream.id })).toEqual({
      eventsChecked: 40,
      brokenStreams: 0,
      firstBreak: null,
    });
  });

  it('is for admins, and refuses unknown aggregates', async () => {
    const id = await workflowWithHistory(0);
    const asEditor = await app.gql(VERIFY, { type: 'WORKFLOW', id }, app.keys.editor);
    expect(asEditor.errors![0]!.extensions.code).toBe('FORBIDDEN');
    const unknown = await app.gql(VERIFY, { type: 'WORKFLOW', id: randomUUID() }, app.keys.admin);
    expect(unknown.errors![0]!.extensions.code).toBe('NOT_FOUND');
    const malformed = await app.gql(VERIFY, { type: 'WORKFLOW', id: 'x' }, app.keys.admin);
    expect(malformed.errors![0]!.extensions.code).toBe('NOT_FOUND');
  });
});
