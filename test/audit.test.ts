import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';

let app: TestApp;
let workflows: string[] = [];
let middle: string;

const CREATE =
  'mutation($name: String!) { createWorkflow(input: { name: $name, definition: { startAt: "Done", nodes: { Done: { type: "succeed" } } } }) { id } }';
const RENAME = 'mutation($id: ID!, $name: String!) { updateWorkflow(input: { id: $id, expectedVersion: 1, name: $name }) { id } }';
const AUDIT = `query($userId: ID, $eventType: String, $aggregateType: AggregateType, $from: DateTime, $to: DateTime, $first: Int, $after: String) {
  auditLog(userId: $userId, eventType: $eventType, aggregateType: $aggregateType, from: $from, to: $to, first: $first, after: $after) {
    edges { cursor node { type aggregateId globalPosition createdAt actor { name } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const pause = () => new Promise((resolve) => setTimeout(resolve, 5));

beforeAll(async () => {
  app = await startTestApp();
  // editor creates two, admin creates one; then a pause marks the middle of time; then renames.
  for (const [name, key] of [
    ['e1', app.keys.editor],
    ['e2', app.keys.editor],
    ['a1', app.keys.admin],
  ] as const) {
    const { data } = await app.gql(CREATE, { name }, key);
    workflows.push(data!.createWorkflow.id);
  }
  await pause();
  middle = new Date().toISOString();
  await pause();
  await app.gql(RENAME, { id: workflows[0], name: 'e1b' }, app.keys.editor);
  await app.gql(RENAME, { id: workflows[2], name: 'a1b' }, app.keys.admin);
});
afterAll(() => app.close());

async function audit(variables: Record<string, unknown>) {
  const { data, errors } = await app.gql(AUDIT, variables, app.keys.admin);
  expect(errors).toBeUndefined();
  return data!.auditLog;
}

describe('auditLog', () => {
  it('lists everything newest first', async () => {
    const { edges } = await audit({ first: 100 });
    const positions = edges.map((e: any) => BigInt(e.node.globalPosition));
    expect(positions).toEqual([...positions].sort((a, b) => (a > b ? -1 : 1)));
    expect(edges.map((e: any) => e.node.type)).toEqual([
      'WorkflowUpdated',
      'WorkflowUpdated',
      'WorkflowCreated',
      'WorkflowCreated',
      'WorkflowCreated',
    ]);
  });

  it('filters by user, event type, aggregate type and time range', async () => {
    const byEditor = await audit({ userId: app.userIds.editor });
    expect(byEditor.edges.map((e: any) => [e.node.type, e.node.actor.name])).toEqual([
      ['WorkflowUpdated', 'editor'],
      ['WorkflowCreated', 'editor'],
      ['WorkflowCreated', 'editor'],
    ]);
    const adminUpdates = await audit({ userId: app.userIds.admin, eventType: 'WorkflowUpdated' });
    expect(adminUpdates.edges.map((e: any) => e.node.aggregateId)).toEqual([workflows[2]]);
    expect((await audit({ aggregateType: 'WORKFLOW' })).edges).toHaveLength(5);
    const before = await audit({ to: middle });
    expect(before.edges.map((e: any) => e.node.type)).toEqual(['WorkflowCreated', 'WorkflowCreated', 'WorkflowCreated']);
    const after = await audit({ from: middle });
    expect(after.edges.map((e: any) => e.node.type)).toEqual(['WorkflowUpdated', 'WorkflowUpdated']);
    const window = await audit({ from: middle, to: middle });
    expect(window.edges).toEqual([]);
    expect((await audit({ eventType: 'NoSuchEvent' })).edges).toEqual([]);
  });

  it('pages with cursors, with no event twice or missed', async () => {
    const all = (await audit({ first: 100 })).edges.map((e: any) => e.node.globalPosition);
    const seen: string[] = [];
    let after: string | null = null;
    for (;;) {
      const page: any = await audit({ first: 2, after });
      seen.push(...page.edges.map((e: any) => e.node.globalPosition));
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
    expect(seen).toEqual(all);
    const filtered = await audit({ userId: app.userIds.editor, first: 1 });
    const next = await audit({ userId: app.userIds.editor, first: 5, after: filtered.pageInfo.endCursor });
    expect(next.edges.map((e: any) => e.node.actor.name)).toEqual(['editor', 'editor']);
  });
});
