import { randomUUID } from 'node:crypto';
import { fold } from '../src/domain/aggregate.ts';
import { workflowAggregate } from '../src/domain/workflows/workflow.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { definition } from './support/definitions.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());

const CREATE = `mutation($input: CreateWorkflowInput!) {
  createWorkflow(input: $input) { id name description definition status version createdAt updatedAt createdBy { id name } }
}`;
const UPDATE = `mutation($input: UpdateWorkflowInput!) { updateWorkflow(input: $input) { id name definition version status } }`;
const DELETE = `mutation($input: DeleteWorkflowInput!) { deleteWorkflow(input: $input) { id status version } }`;
const EVENTS = `query($id: ID!, $from: Int, $first: Int, $after: String) {
  events(aggregateType: WORKFLOW, aggregateId: $id, fromVersion: $from, first: $first, after: $after) {
    edges { cursor node { id type version data aggregateId aggregateType globalPosition createdAt
      metadata { actorId requestId correlationId causationId } actor { id name } } }
    pageInfo { hasNextPage hasPreviousPage endCursor }
  }
}`;
const REPLAY = `query($id: ID!, $v: Int, $at: DateTime) {
  replay(aggregateType: WORKFLOW, aggregateId: $id, toVersion: $v, at: $at) { version state events(first: 100) { totalCount edges { node { version type } } } }
}`;

async function create(name = 'Onboarding', content: unknown = definition()) {
  const { data, errors } = await app.gql(CREATE, { input: { name, definition: content } });
  expect(errors).toBeUndefined();
  return data!.createWorkflow;
}

describe('the workflow lifecycle over HTTP', () => {
  it('creates, reads, updates, lists events, replays, deletes; deleted stays in events and audit', async () => {
    const workflow = await create('Lifecycle', definition({ step: 'one' }));
    expect(workflow).toMatchObject({ name: 'Lifecycle', description: '', version: 1, status: 'ACTIVE' });
    expect(workflow.createdBy).toEqual({ id: app.userIds.editor, name: 'editor' });

    const read = await app.gql('query($id: ID!) { workflow(id: $id) { id name version } }', { id: workflow.id }, app.keys.viewer);
    expect(read.data!.workflow).toEqual({ id: workflow.id, name: 'Lifecycle', version: 1 });

    const updated = await app.gql(UPDATE, {
      input: { id: workflow.id, expectedVersion: 1, name: 'Lifecycle 2', definition: definition({ step: 'two' }) },
    });
    expect(updated.data!.updateWorkflow).toMatchObject({ name: 'Lifecycle 2', version: 2, definition: definition({ step: 'two' }) });

    const events = await app.gql(EVENTS, { id: workflow.id });
    const nodes = events.data!.events.edges.map((edge: any) => edge.node);
    expect(nodes.map((n: any) => [n.version, n.type])).toEqual([
      [1, 'WorkflowCreated'],
      [2, 'WorkflowUpdated'],
    ]);
    expect(nodes[1].data).toEqual({ name: 'Lifecycle 2', definition: definition({ step: 'two' }) });
    expect(nodes[0].actor).toEqual({ id: app.userIds.editor, name: 'editor' });
    expect(nodes[0].metadata.actorId).toBe(app.userIds.editor);

    const replay = await app.gql(REPLAY, { id: workflow.id, v: 1 });
    expect(replay.data!.replay).toMatchObject({ version: 1, state: { name: 'Lifecycle', definition: definition({ step: 'one' }) } });

    const deleted = await app.gql(DELETE, { input: { id: workflow.id, expectedVersion: 2 } });
    expect(deleted.data!.deleteWorkflow).toEqual({ id: workflow.id, status: 'DELETED', version: 3 });

    const gone = await app.gql('query($id: ID!) { workflow(id: $id) { id } }', { id: workflow.id });
    expect(gone.data!.workflow).toBeNull();
    const list = await app.gql('{ workflows(first: 100) { edges { node { id } } } }');
    expect(list.data!.workflows.edges.map((e: any) => e.node.id)).not.toContain(workflow.id);

    const after = await app.gql(EVENTS, { id: workflow.id });
    expect(after.data!.events.edges.map((e: any) => e.node.type)).toEqual(['WorkflowCreated', 'WorkflowUpdated', 'WorkflowDeleted']);
    const finalReplay = await app.gql(REPLAY, { id: workflow.id });
    expect(finalReplay.data!.replay).toMatchObject({ version: 3, state: { status: 'DELETED' } });
    const audit = await app.gql(
      'query($id: ID) { auditLog(userId: $id, first: 100) { edges { node { aggregateId type } } } }',
      { id: app.userIds.editor },
      app.keys.admin,
    );
    expect(audit.data!.auditLog.edges.filter((e: any) => e.node.aggregateId === workflow.id).map((e: any) => e.node.type)).toEqual([
      'WorkflowDeleted',
      'WorkflowUpdated',
      'WorkflowCreated',
    ]);
  });

  it('pages one aggregate from a version with cursors', async () => {
    const workflow = await create('Paged');
    for (let version = 1; version <= 4; version += 1) {
      await app.gql(UPDATE, { input: { id: workflow.id, expectedVersion: version, description: `v${version + 1}` } });
    }
    const first = await app.gql(EVENTS, { id: workflow.id, from: 2, first: 2 });
    expect(first.data!.events.edges.map((e: any) => e.node.version)).toEqual([2, 3]);
    expect(first.data!.events.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const next = await app.gql(EVENTS, { id: workflow.id, first: 2, after: first.data!.events.pageInfo.endCursor });
    expect(next.data!.events.edges.map((e: any) => e.node.version)).toEqual([4, 5]);
    expect(next.data!.events.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
    const count = 'query($id: ID!) { events(aggregateType: WORKFLOW, aggregateId: $id, first: 1) { totalCount } }';
    expect((await app.gql(count, { id: workflow.id })).data!.events.totalCount).toBe(5);
    expect((await app.gql(count, { id: randomUUID() })).data!.events.totalCount).toBe(0);
  });

  it('lists workflows newest first with a filter and cursors', async () => {
    const names = ['Filter alpha', 'Filter beta', 'Filter gamma'];
    const created = [];
    for (const name of names) created.push(await create(name));
    const query = `query($first: Int, $after: String, $filter: WorkflowFilter) {
      workflows(first: $first, after: $after, filter: $filter) { edges { node { name } } pageInfo { hasNextPage endCursor } }
    }`;
    const page = await app.gql(query, { first: 2, filter: { nameContains: 'FILTER' } });
    expect(page.data!.workflows.edges.map((e: any) => e.node.name)).toEqual(['Filter gamma', 'Filter beta']);
    const rest = await app.gql(query, { first: 2, after: page.data!.workflows.pageInfo.endCursor, filter: { nameContains: 'filter' } });
    expect(rest.data!.workflows.edges.map((e: any) => e.node.name)).toEqual(['Filter alpha']);
    const byAdmin = await app.gql(query, { first: 100, filter: { createdById: app.userIds.admin } });
    expect(byAdmin.data!.workflows.edges).toEqual([]);
    const byEditor = await app.gql(query, { first: 100, filter: { createdById: app.userIds.editor, nameContains: 'alpha' } });
    expect(byEditor.data!.workflows.edges.map((e: any) => e.node.name)).toEqual(['Filter alpha']);
    const malformed = await app.gql(query, { first: 100, filter: { createdById: 'nope' } });
    expect(malformed.data!.workflows.edges).toEqual([]);
  });

  it('pages forwards and backwards with Relay cursors, and matches % and _ in names as themselves', async () => {
    const names = ['Leafed 1', 'Leafed 2', 'Leafed 3', 'Leafed 4', 'Leafed 5_%'];
    for (const name of names) await create(name);
    const query = `query($first: Int, $after: String, $last: Int, $before: String) {
      workflows(first: $first, after: $after, last: $last, before: $before, filter: { nameContains: "Leafed" }) {
        edges { cursor node { name } } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    }`;
    const page = async (variables: Record<string, unknown>) => {
      const { data, errors } = await app.gql(query, variables);
      expect(errors).toBeUndefined();
      return { names: data!.workflows.edges.map((e: any) => e.node.name), info: data!.workflows.pageInfo };
    };
    const first = await page({ first: 2 });
    expect(first).toMatchObject({ names: ['Leafed 5_%', 'Leafed 4'], info: { hasNextPage: true, hasPreviousPage: false } });
    const second = await page({ first: 2, after: first.info.endCursor });
    expect(second).toMatchObject({ names: ['Leafed 3', 'Leafed 2'], info: { hasNextPage: true, hasPreviousPage: true } });
    const third = await page({ first: 2, after: second.info.endCursor });
    expect(third).toMatchObject({ names: ['Leafed 1'], info: { hasNextPage: false } });
    const back = await page({ last: 2, before: third.info.startCursor });
    expect(back).toMatchObject({ names: ['Leafed 3', 'Leafed 2'], info: { hasNextPage: true, hasPreviousPage: true } });
    const oldest = await page({ last: 2 });
    expect(oldest).toMatchObject({ names: ['Leafed 2', 'Leafed 1'], info: { hasNextPage: false, hasPreviousPage: true } });
    const counted = await app.gql(
      '{ all: workflows(first: 1, filter: { nameContains: "Leafed" }) { totalCount } none: workflows(filter: { nameContains: "Leafed", createdById: "nobody" }) { totalCount } }',
    );
    expect(counted.data).toEqual({ all: { totalCount: 5 }, none: { totalCount: 0 } });

    const like = async (nameContains: string) =>
      (
        await app.gql('query($n: String) { workflows(first: 100, filter: { nameContains: $n }) { edges { node { name } } } }', {
          n: nameContains,
        })
      ).data!.workflows.edges.map((e: any) => e.node.name);
    expect(await like('5_%')).toEqual(['Leafed 5_%']);
    expect(await like('d _')).toEqual([]);
    for (const cursor of ['GPC:S:not-an-id', `GPC:O:["${(await create('Cursor target')).id}"]`, 'GPC:N:7']) {
      const garbage = await app.gql(query, { first: 2, after: Buffer.from(cursor).toString('base64') });
      expect(garbage.errors?.[0]?.extensions, cursor).toMatchObject({ code: 'BAD_USER_INPUT', field: 'after' });
    }
  });

  /** Another process's write to a workflow's stream, straight to the store. */
  const appendElsewhere = (id: string, expectedVersion: number, event: { type: string; data: unknown }) =>
    app.services.store.append({ type: 'Workflow', id }, [{ eventId: randomUUID(), ...event }], {
      expectedVersion,
      metadata: { workspaceId: app.workspaceId, actorId: app.userIds.admin, requestId: 'r', correlationId: 'c', causationId: null },
    });

  it('decides on what another process appended since this one last wrote the stream', async () => {
    const workflow = await create('Shared');
    const renamed = await app.gql(UPDATE, { input: { id: workflow.id, expectedVersion: 1, name: 'Renamed here' } });
    expect(renamed.data!.updateWorkflow.version).toBe(2);
    await appendElsewhere(workflow.id, 2, { type: 'WorkflowUpdated', data: { description: 'written elsewhere' } });
    const stale = await app.gql(UPDATE, { input: { id: workflow.id, expectedVersion: 2, name: 'Too late' } });
    expect(stale.errors![0]!.extensions).toMatchObject({ code: 'VERSION_CONFLICT', actualVersion: 3 });
    const fresh = await app.gql(UPDATE, { input: { id: workflow.id, expectedVersion: 3, name: 'On top' } });
    expect(fresh.errors).toBeUndefined();
    const replay = await app.gql(REPLAY, { id: workflow.id });
    expect(replay.data!.replay.state).toMatchObject({ name: 'On top', description: 'written elsewhere', version: 4 });
  });

  it('checks a change that changes nothing against the store, not against what this process last wrote', async () => {
    const workflow = await create('Quietly deleted');
    expect(
      (await app.gql(UPDATE, { input: { id: workflow.id, expectedVersion: 1, name: 'Kept here' } })).data!.updateWorkflow.version,
    ).toBe(2);
    // Another process deletes it.
    await appendElsewhere(workflow.id, 2, { type: 'WorkflowDeleted', data: {} });
    // The same name again would change nothing on the state this process kept (version 2).
    const again = await app.gql(UPDATE, { input: { id: workflow.id, expectedVersion: 2, name: 'Kept here' } });
    expect(again.data).toBeNull();
    expect(again.errors![0]!.extensions).toMatchObject({ code: 'NOT_FOUND' });
  });

  it('returns the first result for a retried idempotency key and writes nothing more', async () => {
    const input = { name: 'Idempotent', definition: definition(), idempotencyKey: 'create-42' };
    const first = await app.gql(CREATE, { input });
    const before = await app.database.snapshot();
    const again = await app.gql(CREATE, { input });
    expect(again.data!.createWorkflow.id).toBe(first.data!.createWorkflow.id);
    expect(await app.database.snapshot()).toEqual(before);

    const id = first.data!.createWorkflow.id;
    const update = { id, expectedVersion: 1, name: 'Idempotent 2', idempotencyKey: 'rename-1' };
    const updated = await app.gql(UPDATE, { input: update });
    await app.gql(UPDATE, { input: { id, expectedVersion: 2, name: 'Idempotent 3' } });
    // The retry finds its own first result, as of then, rather than a conflict.
    const retried = await app.gql(UPDATE, { input: update });
    expect(retried.errors).toBeUndefined();
    expect(retried.data!.updateWorkflow).toEqual(updated.data!.updateWorkflow);

    const otherUser = await app.gql(CREATE, { input }, app.keys.admin);
    expect(otherUser.data!.createWorkflow.id).not.toBe(id);
  });

  it('concurrent retries of one keyed create make one workflow, and all get it', async () => {
    const input = { name: 'Raced', definition: definition(), idempotencyKey: 'race-1' };
    const results = await Promise.all(Array.from({ length: 8 }, () => app.gql(CREATE, { input })));
    expect(results.every((r) => r.errors === undefined)).toBe(true);
    expect(new Set(results.map((r) => r.data!.createWorkflow.id)).size).toBe(1);
    const all = await app.gql('{ workflows(first: 100, filter: { nameContains: "Raced" }) { edges { node { id } } } }');
    expect(all.data!.workflows.edges).toHaveLength(1);
  });

  it('an update that changes nothing records nothing', async () => {
    const workflow = await create('Unchanged');
    const before = await app.database.snapshot();
    const result = await app.gql(UPDATE, { input: { id: workflow.id, expectedVersion: 1, name: 'Unchanged' } });
    expect(result.data!.updateWorkflow.version).toBe(1);
    expect(await app.database.snapshot()).toEqual(before);
  });

  it('answers the request id it was given, and records it on the events', async () => {
    const response = await app.post(JSON.stringify({ query: CREATE, variables: { input: { name: 'Traced', definition: definition() } } }), {
      authorization: `Bearer ${app.keys.editor}`,
      'x-request-id': 'trace-123',
      'x-correlation-id': 'flow-9',
    });
    expect(response.headers.get('x-request-id')).toBe('trace-123');
    const { data } = (await response.json()) as any;
    const events = await app.gql(EVENTS, { id: data.createWorkflow.id });
    expect(events.data!.events.edges[0].node.metadata).toMatchObject({ requestId: 'trace-123', correlationId: 'flow-9' });
    const generated = await app.gql('{ me { id } }');
    expect(generated.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe('concurrency', () => {
  it('of 100 concurrent updates with one expected version, exactly one wins', async () => {
    const workflow = await create('Contended');
    const results = await Promise.all(
      Array.from({ length: 100 }, (_, i) => app.gql(UPDATE, { input: { id: workflow.id, expectedVersion: 1, name: `Contender ${i}` } })),
    );
    const winners = results.filter((r) => r.data?.updateWorkflow);
    const conflicts = results.filter((r) => r.errors?.[0]?.extensions.code === 'VERSION_CONFLICT');
    expect(winners).toHaveLength(1);
    expect(conflicts).toHaveLength(99);
    for (const conflict of conflicts) {
      expect(conflict.errors![0]!.extensions).toMatchObject({ expectedVersion: 1, actualVersion: 2 });
    }
    const events = await app.gql(EVENTS, { id: workflow.id });
    expect(events.data!.events.edges.map((e: any) => e.node.version)).toEqual([1, 2]);
    const replay = await app.gql(REPLAY, { id: workflow.id });
    const row = await app.gql('query($id: ID!) { workflow(id: $id) { name version } }', { id: workflow.id });
    expect(row.data!.workflow).toEqual({ name: replay.data!.replay.state.name, version: replay.data!.replay.version });
    expect(row.data!.workflow.name).toBe(winners[0]!.data!.updateWorkflow.name);
  });
});

describe('time travel', () => {
  it('replays exactly the state a workflow had at each version and at each instant', async () => {
    const workflow = await create('Travel v1', definition({ step: 1 }));
    const states = [workflow];
    for (let version = 1; version <= 3; version += 1) {
      await new Promise((resolve) => setTimeout(resolve, 3));
      const { data } = await app.gql(
        `mutation($input: UpdateWorkflowInput!) { updateWorkflow(input: $input) { id name description definition status version createdAt updatedAt createdBy { id name } } }`,
        {
          input: {
            id: workflow.id,
            expectedVersion: version,
            name: `Travel v${version + 1}`,
            definition: definition({ step: version + 1 }),
          },
        },
      );
      states.push(data!.updateWorkflow);
    }
    for (const state of states) {
      const byVersion = await app.gql(REPLAY, { id: workflow.id, v: state.version });
      const byTime = await app.gql(REPLAY, { id: workflow.id, at: state.updatedAt });
      for (const replay of [byVersion, byTime]) {
        expect(replay.data!.replay.version).toBe(state.version);
        expect(replay.data!.replay.state).toMatchObject({
          name: state.name,
          definition: state.definition,
          version: state.version,
          updatedAt: state.updatedAt,
          createdAt: state.createdAt,
        });
        expect(replay.data!.replay.events.edges.map((e: any) => e.node.version)).toEqual(
          Array.from({ length: state.version }, (_, i) => i + 1),
        );
      }
    }
    const before = await app.gql(REPLAY, { id: workflow.id, at: new Date(Date.parse(workflow.createdAt) - 1).toISOString() });
    expect(before.data!.replay).toEqual({ version: 0, state: null, events: { totalCount: 0, edges: [] } });
    const both = await app.gql(REPLAY, { id: workflow.id, v: 3, at: states[1].updatedAt });
    expect(both.data!.replay.version).toBe(2);
    const head = states.at(-1)!.version;
    const ahead = await app.gql(REPLAY, { id: workflow.id, v: head + 96 });
    expect(ahead.errors![0]).toMatchObject({
      message: `toVersion: the stream is at version ${head}, and has no version ${head + 96} yet`,
      extensions: { code: 'BAD_USER_INPUT', field: 'toVersion', streamVersion: head },
    });
    expect((await app.gql(REPLAY, { id: workflow.id, v: head })).data!.replay.version).toBe(head);
  });

  it('replays a long stream from snapshots to exactly the state a full fold gives, at any version', async () => {
    const workflow = await create('Long', definition());
    const stream = { type: 'Workflow', id: workflow.id, workspaceId: app.workspaceId };
    const metadata = {
      workspaceId: app.workspaceId,
      actorId: app.userIds.editor,
      requestId: 'long',
      correlationId: 'long',
      causationId: null,
    };
    for (let version = 1; version < 2600; version += 100) {
      const events = Array.from({ length: 100 }, (_, i) => ({
        eventId: randomUUID(),
        type: 'WorkflowUpdated',
        data: { description: `revision ${version + i + 1}` },
      }));
      await app.services.store.append(stream, events, { expectedVersion: version, metadata });
    }
    const all = await app.services.store.readStream(stream);
    const QUERY = 'query($id: ID!, $v: Int) { replay(aggregateType: WORKFLOW, aggregateId: $id, toVersion: $v) { version state } }';
    // Cold and warm, below, on and above snapshot boundaries, out of order.
    for (const version of [2345, 999, 1000, 1001, 2000, 2345, 2601, 1500, 1, 2600]) {
      const { data, errors } = await app.gql(QUERY, { id: workflow.id, v: version });
      expect(errors).toBeUndefined();
      const folded = JSON.parse(JSON.stringify(fold(workflowAggregate, all.slice(0, version))));
      expect(data!.replay).toEqual({ version, state: folded });
    }
    // The events applied come a page at a time, and end at the version replayed to.
    const PAGE =
      'query($id: ID!, $v: Int, $after: String) { replay(aggregateType: WORKFLOW, aggregateId: $id, toVersion: $v) { events(first: 100, after: $after) { totalCount edges { node { version } } pageInfo { hasNextPage endCursor } } } }';
    const versions: number[] = [];
    for (let after: string | null = null; ;) {
      const { data } = await app.gql(PAGE, { id: workflow.id, v: 2001, after });
      const events: any = data!.replay.events;
      expect(events.totalCount).toBe(2001);
      versions.push(...events.edges.map((e: any) => e.node.version));
      if (!events.pageInfo.hasNextPage) break;
      after = events.pageInfo.endCursor;
    }
    expect(versions).toEqual(Array.from({ length: 2001 }, (_, i) => i + 1));
  });
});
