import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { definition, DEFINITION } from './support/definitions.ts';

let app: TestApp;
let workflowId: string;
beforeAll(async () => {
  app = await startTestApp({ maxDefinitionBytes: 1024 });
  const { data } = await app.gql(`mutation { createWorkflow(input: { name: "Target", definition: ${DEFINITION} }) { id } }`);
  workflowId = data!.createWorkflow.id;
});
afterAll(() => app.close());

const UPDATE = 'mutation($input: UpdateWorkflowInput!) { updateWorkflow(input: $input) { id version } }';
const CREATE = 'mutation($input: CreateWorkflowInput!) { createWorkflow(input: $input) { id } }';

/** Sends a request that must fail with `code` and leave every table as it was. */
async function refused(
  code: string,
  request: () => Promise<{ status: number; errors?: { message: string; extensions: Record<string, any> }[] }>,
  status?: number,
) {
  const before = await app.database.snapshot();
  const response = await request();
  expect(response.errors?.[0]?.extensions.code, JSON.stringify(response.errors)).toBe(code);
  expect(response.errors![0]!.message.length).toBeGreaterThan(5);
  if (status !== undefined) expect(response.status).toBe(status);
  expect(await app.database.snapshot()).toEqual(before);
  return response.errors![0]!;
}

async function raw(body: string, headers: Record<string, string> = {}) {
  const response = await app.post(body, { authorization: `Bearer ${app.keys.editor}`, ...headers });
  const json = (await response.json()) as { errors?: { message: string; extensions: Record<string, any> }[] };
  return { status: response.status, errors: json.errors };
}

describe('bad input gets a clear error and writes nothing', () => {
  it('an unknown or malformed workflow id', async () => {
    await refused('NOT_FOUND', () =>
      app.gql(UPDATE, { input: { id: '0190a000-0000-7000-8000-000000000000', expectedVersion: 1, name: 'x' } }),
    );
    await refused('NOT_FOUND', () => app.gql(UPDATE, { input: { id: "'; DROP TABLE events; --", expectedVersion: 1, name: 'x' } }));
    await refused('NOT_FOUND', () =>
      app.gql('mutation($id: ID!) { deleteWorkflow(input: { id: $id, expectedVersion: 1 }) { id } }', { id: 'nope' }),
    );
    await refused('NOT_FOUND', () =>
      app.gql('{ replay(aggregateType: WORKFLOW, aggregateId: "0190a000-0000-7000-8000-000000000000") { version } }'),
    );
  });

  it('a stale expected version, with both versions in the error', async () => {
    const error = await refused('VERSION_CONFLICT', () => app.gql(UPDATE, { input: { id: workflowId, expectedVersion: 7, name: 'x' } }));
    expect(error.extensions).toMatchObject({ expectedVersion: 7, actualVersion: 1 });
  });

  it('a definition that is not an object, or too large', async () => {
    for (const definition of ['a string', [1, 2], 42, null]) {
      const error = await refused('BAD_USER_INPUT', () => app.gql(CREATE, { input: { name: 'Bad', definition } }));
      expect(error.message).toMatch(/definition/);
    }
    const error = await refused('BAD_USER_INPUT', () =>
      app.gql(UPDATE, { input: { id: workflowId, expectedVersion: 1, definition: definition({ big: 'x'.repeat(2000) }) } }),
    );
    expect(error.extensions.field).toBe('definition');
    await refused('BAD_USER_INPUT', () => app.gql(CREATE, { input: { name: '', definition: definition() } }));
    const broken = await refused('BAD_USER_INPUT', () =>
      app.gql(CREATE, {
        input: {
          name: 'Broken',
          definition: { startAt: 'Go', nodes: { Go: { type: 'task', action: 'rm -rf', next: 'Gone' }, Lost: { type: 'succeed' } } },
        },
      }),
    );
    expect(broken.extensions.problems).toEqual([
      { node: 'Go', field: 'next', message: 'must name a node of this graph, got "Gone"' },
      { node: 'Go', field: 'action', message: 'must be a known action, got "rm -rf"' },
      { node: 'Lost', field: 'name', message: 'cannot be reached from Go' },
    ]);
  });

  it.each([
    ['a backtracking regular expression', 'data.s.matches("(a+)+$")'],
    ['a comprehension nested in another', 'data.xs.all(x, data.xs.exists(y, y == x))'],
    ["nesting past the parser's depth limit", `${'('.repeat(40)}true${')'.repeat(40)}`],
    ['a function CEL does not have', 'eval("1") == 1'],
    ['a reach for JavaScript internals', 'data.constructor.constructor("return process")() != null'],
    ['a value that is not true or false', 'data.total + 1'],
    ['not an expression at all', '}}; DROP TABLE events; --'],
  ])('a hostile condition: %s, on create and on update', async (_label, condition) => {
    const hostile = {
      startAt: 'Check',
      nodes: { Check: { type: 'choice', cases: [{ condition, next: 'Done' }], default: 'Done' }, Done: { type: 'succeed' } },
    };
    for (const send of [
      () => app.gql(CREATE, { input: { name: 'Hostile', definition: hostile } }),
      () => app.gql(UPDATE, { input: { id: workflowId, expectedVersion: 1, definition: hostile } }),
    ]) {
      const error = await refused('BAD_USER_INPUT', send);
      expect(error.extensions.problems).toContainEqual(expect.objectContaining({ node: 'Check', field: 'cases[0].condition' }));
    }
  });

  it('a missing, malformed, unknown or revoked key', async () => {
    const query = '{ workflows { edges { node { id } } } }';
    await refused('UNAUTHENTICATED', () => app.gql(query, {}, null), 401);
    await refused('UNAUTHENTICATED', () => raw(JSON.stringify({ query }), { authorization: 'Basic abc' }), 401);
    await refused('UNAUTHENTICATED', () => raw(JSON.stringify({ query }), { authorization: 'Bearer' }), 401);
    await refused('UNAUTHENTICATED', () => app.gql(query, {}, `flk_${'A'.repeat(43)}`), 401);
    await refused('UNAUTHENTICATED', () => app.gql(query, {}, 'not-a-key'), 401);
    const issued = await app.services.identity.createUser(app.workspaceId, 'short-lived', 'EDITOR');
    expect((await app.gql(query, {}, issued.apiKey)).errors).toBeUndefined();
    await app.services.identity.revokeKey(issued.keyId);
    await refused('UNAUTHENTICATED', () => app.gql(CREATE, { input: { name: 'x', definition: definition() } }, issued.apiKey), 401);
    const expired = await app.services.identity.createUser(app.workspaceId, 'expired', 'EDITOR', new Date(Date.now() - 1000));
    await refused('UNAUTHENTICATED', () => app.gql(query, {}, expired.apiKey), 401);
  });

  it('a role that may not do it', async () => {
    await refused('FORBIDDEN', () => app.gql(CREATE, { input: { name: 'x', definition: definition() } }, app.keys.viewer));
    await refused('FORBIDDEN', () => app.gql(UPDATE, { input: { id: workflowId, expectedVersion: 1, name: 'x' } }, app.keys.viewer));
    await refused('FORBIDDEN', () => app.gql('{ auditLog { edges { cursor } } }', {}, app.keys.editor));
    await refused('FORBIDDEN', () => app.gql('mutation { createUser(input: { name: "x", role: ADMIN }) { apiKey } }', {}, app.keys.editor));
  });

  it('malformed GraphQL, unknown fields and wrong variable types', async () => {
    await refused('GRAPHQL_PARSE_FAILED', () => app.gql('mutation { createWorkflow(input: { name: "x" '));
    await refused('GRAPHQL_VALIDATION_FAILED', () => app.gql('mutation { dropEverything }'));
    await refused('GRAPHQL_VALIDATION_FAILED', () => app.gql('mutation { createWorkflow(input: { name: "x" }) { id } }'));
    await refused('BAD_USER_INPUT', () => app.gql(UPDATE, { input: { id: workflowId, expectedVersion: 'one' } }));
    await refused('BAD_USER_INPUT', () =>
      app.gql('query($at: DateTime) { replay(aggregateType: WORKFLOW, aggregateId: "x", at: $at) { version } }', { at: 'yesterday' }),
    );
    await refused('GRAPHQL_VALIDATION_FAILED', () => app.gql('{ replay(aggregateType: SPACESHIP, aggregateId: "x") { version } }'));
  });

  it('malformed request bodies', async () => {
    await refused('BAD_REQUEST', () => raw('{"query": '), 400);
    await refused('BAD_REQUEST', () => raw('{}'));
    await refused('BAD_REQUEST', () => raw('[1, 2]'));
  });

  it('page sizes and cursors out of range', async () => {
    await refused('BAD_USER_INPUT', () => app.gql('{ workflows(first: 101) { edges { cursor } } }'));
    await refused('BAD_USER_INPUT', () => app.gql('{ workflows(first: -1) { edges { cursor } } }'));
    await refused('BAD_USER_INPUT', () => app.gql('{ eventLog(first: 1000) { edges { cursor } } }'));
    await refused('BAD_USER_INPUT', () => app.gql('{ eventLog(after: "garbage") { edges { cursor } } }'));
    await refused('BAD_USER_INPUT', () => app.gql('{ workflows(after: "garbage") { edges { cursor } } }'));
    await refused('BAD_USER_INPUT', () =>
      app.gql('query($id: ID!) { events(aggregateType: WORKFLOW, aggregateId: $id, after: "bG9nOjE6MQ") { edges { cursor } } }', {
        id: workflowId,
      }),
    );
    await refused('BAD_USER_INPUT', () => app.gql('{ auditLog(userId: "nobody") { edges { cursor } } }', {}, app.keys.admin));
    await refused('BAD_USER_INPUT', () =>
      app.gql('query($id: ID!) { replay(aggregateType: WORKFLOW, aggregateId: $id, toVersion: -1) { version } }', { id: workflowId }),
    );
    await refused('BAD_USER_INPUT', () =>
      app.gql('query($t: [String!]) { eventLog(types: $t) { edges { cursor } } }', { t: Array(51).fill('x') }),
    );
  });

  it('a cursor or page argument that is wrong is named, with the same words on every list', async () => {
    const lists = [
      '{ workflows(ARGS) { edges { cursor } } }',
      '{ executions(ARGS) { edges { cursor } } }',
      '{ eventLog(ARGS) { edges { cursor } } }',
    ];
    for (const list of lists) {
      const garbage = await app.gql(list.replace('ARGS', 'after: "garbage"'));
      expect(garbage.errors?.[0], list).toMatchObject({
        message: 'after: is not a cursor this field issued',
        extensions: { code: 'BAD_USER_INPUT', field: 'after' },
      });
    }
    const { data } = await app.gql('{ workflows(first: 1) { edges { cursor } } }');
    const workflowCursor = data!.workflows.edges[0].cursor;
    for (const cursor of [`${workflowCursor}!!`, ` ${workflowCursor}`, workflowCursor.replace(/-/g, '+').replace(/_/g, '/')]) {
      if (cursor === workflowCursor) continue;
      const bent = await app.gql('query($a: String) { workflows(after: $a) { edges { cursor } } }', { a: cursor });
      expect(bent.errors?.[0]?.extensions, cursor).toEqual({ code: 'BAD_USER_INPUT', field: 'after' });
    }
    const elsewhere = await app.gql('query($a: String) { executions(after: $a) { edges { cursor } } }', { a: workflowCursor });
    expect(elsewhere.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'after' });
    for (const list of lists.slice(0, 2)) {
      const before = await app.gql(list.replace('ARGS', 'last: 2, before: "garbage"'));
      expect(before.errors?.[0], list).toMatchObject({
        message: 'before: is not a cursor this field issued',
        extensions: { field: 'before' },
      });
      const both = await app.gql(list.replace('ARGS', 'first: 1, last: 1'));
      expect(both.errors?.[0]?.extensions, list).toEqual({ code: 'BAD_USER_INPUT', field: 'last' });
      const mixed = await app.gql(list.replace('ARGS', 'first: 1, before: "garbage"'));
      expect(mixed.errors?.[0]?.extensions, list).toEqual({ code: 'BAD_USER_INPUT', field: 'before' });
      const tooMany = await app.gql(list.replace('ARGS', 'last: 101'));
      expect(tooMany.errors?.[0]?.extensions, list).toEqual({ code: 'BAD_USER_INPUT', field: 'last' });
    }
  });

  it('cursors out of range, NUL characters and impossible dates', async () => {
    const cursor = (text: string) => Buffer.from(text).toString('base64url');
    await refused('BAD_USER_INPUT', () =>
      app.gql('query($a: String) { eventLog(after: $a) { edges { cursor } } }', { a: cursor('log:1:99999999999999999999') }),
    );
    await refused('BAD_USER_INPUT', () =>
      app.gql('query($a: String) { auditLog(after: $a) { edges { cursor } } }', { a: cursor('audit:9223372036854775808') }, app.keys.admin),
    );
    await refused('BAD_USER_INPUT', () =>
      app.gql('query($id: ID!, $a: String) { events(aggregateType: WORKFLOW, aggregateId: $id, after: $a) { edges { cursor } } }', {
        id: workflowId,
        a: cursor('version:2147483647'),
      }),
    );
    const nul = 'a\u0000b';
    await refused('BAD_USER_INPUT', () => app.gql(CREATE, { input: { name: nul, definition: definition() } }));
    await refused('BAD_USER_INPUT', () => app.gql(CREATE, { input: { name: 'x', description: nul, definition: definition() } }));
    await refused('BAD_USER_INPUT', () => app.gql(CREATE, { input: { name: 'x', definition: definition({ [nul]: 1 }) } }));
    await refused('BAD_USER_INPUT', () => app.gql(CREATE, { input: { name: 'x', definition: definition({ deep: [{ v: nul }] }) } }));
    await refused('BAD_USER_INPUT', () => app.gql('query($t: [String!]) { eventLog(types: $t) { edges { cursor } } }', { t: [nul] }));
    await refused('BAD_USER_INPUT', () =>
      app.gql('query($t: String) { auditLog(eventType: $t) { edges { cursor } } }', { t: nul }, app.keys.admin),
    );
    await refused('BAD_USER_INPUT', () =>
      app.gql('query($n: String) { workflows(filter: { nameContains: $n }) { edges { cursor } } }', { n: nul }),
    );
    await refused('BAD_USER_INPUT', () =>
      app.gql('mutation($n: String!) { createUser(input: { name: $n, role: VIEWER }) { userId } }', { n: nul }, app.keys.admin),
    );
    await refused('BAD_USER_INPUT', () =>
      app.gql('query($id: ID!, $at: DateTime) { replay(aggregateType: WORKFLOW, aggregateId: $id, at: $at) { version } }', {
        id: workflowId,
        at: '-271821-04-20T00:00:00Z',
      }),
    );
  });

  it('an idempotency key used on one workflow, then on another', async () => {
    const other = (await app.gql(CREATE, { input: { name: 'Other', definition: definition() } })).data!.createWorkflow.id;
    await app.gql(UPDATE, { input: { id: workflowId, expectedVersion: 1, description: 'keyed', idempotencyKey: 'shared-key' } });
    const error = await refused('IDEMPOTENCY_KEY_REUSED', () =>
      app.gql(UPDATE, { input: { id: other, expectedVersion: 1, description: 'keyed', idempotencyKey: 'shared-key' } }),
    );
    expect(error.message).toMatch(/another aggregate/);
  });

  it('one idempotency key used for two operations names two different calls', async () => {
    const created = (await app.gql(CREATE, { input: { name: 'Keyed twice', definition: definition() } })).data!.createWorkflow.id;
    const updated = await app.gql(UPDATE, { input: { id: created, expectedVersion: 1, description: 'x', idempotencyKey: 'twice' } });
    expect(updated.data!.updateWorkflow.version).toBe(2);
    const deleted = await app.gql(
      'mutation($id: ID!) { deleteWorkflow(input: { id: $id, expectedVersion: 2, idempotencyKey: "twice" }) { status version } }',
      { id: created },
    );
    expect(deleted.data!.deleteWorkflow).toEqual({ status: 'DELETED', version: 3 });
    const fresh = await app.gql(CREATE, { input: { name: 'Keyed thrice', definition: definition(), idempotencyKey: 'twice' } });
    expect(fresh.data!.createWorkflow.id).not.toBe(created);
  });

  it('still answers a normal query afterwards', async () => {
    const { data } = await app.gql('query($id: ID!) { workflow(id: $id) { name } }', { id: workflowId });
    expect(data!.workflow).toEqual({ name: 'Target' });
  });
});
