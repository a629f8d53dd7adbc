import { readFileSync } from 'node:fs';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { schema } from '../src/graphql/schema/index.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { definition } from './support/definitions.ts';
import { sse } from './support/sse.ts';
import { ROUTES } from '../src/rest/routes/index.ts';
import { wsClient } from './support/ws.ts';

const ROLES = ['anonymous', 'viewer', 'editor', 'admin'] as const;
type Role = (typeof ROLES)[number];
type Outcome = 'ok' | string;

/** docs/security.md's tables: operation (or REST route) -> the roles that may run it. */
function tableOfDocs(rows = /^\| (Query|Mutation|Subscription)\./): Map<string, Set<Role>> {
  const lines = readFileSync(new URL('../docs/security.md', import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => rows.test(line));
  return new Map(
    lines.map((line) => {
      const [operation, ...cells] = line
        .split('|')
        .slice(1, -1)
        .map((cell) => cell.trim());
      return [operation!, new Set(ROLES.filter((_, i) => cells[i] === 'yes'))];
    }),
  );
}

let app: TestApp;
let shared: { workflowId: string; executionId: string };
const CREATE = 'mutation($d: JSON!) { createWorkflow(input: { name: "roles", definition: $d }) { id } }';
const freshWorkflow = async () => (await app.gql(CREATE, { d: definition() }, app.keys.admin)).data!.createWorkflow.id as string;
const freshExecution = async () =>
  (await app.gql('mutation($w: ID!) { executeWorkflow(input: { workflowId: $w }) { id } }', { w: shared.workflowId }, app.keys.admin)).data!
    .executeWorkflow.id as string;

/** One call of each operation, with what it needs made fresh for it (by an admin, over HTTP). */
const OPERATIONS: Record<string, { document: string; variables?: () => Promise<Record<string, unknown>> }> = {
  'Query.me': { document: '{ me { id } }' },
  'Query.workflow': { document: 'query($id: ID!) { workflow(id: $id) { id } }', variables: async () => ({ id: shared.workflowId }) },
  'Query.workflows': { document: '{ workflows(first: 2) { edges { node { id } } } }' },
  'Query.execution': { document: 'query($id: ID!) { execution(id: $id) { id } }', variables: async () => ({ id: shared.executionId }) },
  'Query.executions': { document: '{ executions(first: 2) { edges { node { id } } } }' },
  'Query.events': {
    document: 'query($id: ID!) { events(aggregateType: WORKFLOW, aggregateId: $id) { edges { node { id } } } }',
    variables: async () => ({ id: shared.workflowId }),
  },
  'Query.eventLog': { document: '{ eventLog(first: 2) { edges { cursor } } }' },
  'Query.replay': {
    document: 'query($id: ID!) { replay(aggregateType: WORKFLOW, aggregateId: $id) { version } }',
    variables: async () => ({ id: shared.workflowId }),
  },
  'Query.auditLog': { document: '{ auditLog(first: 2) { edges { cursor } } }' },
  'Query.verifyAuditTrail': {
    document: 'query($id: ID!) { verifyAuditTrail(aggregateType: WORKFLOW, aggregateId: $id) { intact } }',
    variables: async () => ({ id: shared.workflowId }),
  },
  'Query.systemStatus': { document: '{ systemStatus { engine { active } } }' },
  'Mutation.createWorkflow': { document: CREATE, variables: async () => ({ d: definition() }) },
  'Mutation.updateWorkflow': {
    document: 'mutation($id: ID!) { updateWorkflow(input: { id: $id, expectedVersion: 1, name: "renamed" }) { version } }',
    variables: async () => ({ id: await freshWorkflow() }),
  },
  'Mutation.deleteWorkflow': {
    document: 'mutation($id: ID!) { deleteWorkflow(input: { id: $id, expectedVersion: 1 }) { status } }',
    variables: async () => ({ id: await freshWorkflow() }),
  },
  'Mutation.executeWorkflow': {
    document: 'mutation($w: ID!) { executeWorkflow(input: { workflowId: $w }) { id } }',
    variables: async () => ({ w: shared.workflowId }),
  },
  'Mutation.cancelExecution': {
    document: 'mutation($id: ID!) { cancelExecution(input: { id: $id }) { status } }',
    variables: async () => ({ id: await freshExecution() }),
  },
  'Mutation.createUser': { document: 'mutation { createUser(input: { name: "new", role: VIEWER }) { userId } }' },
  'Mutation.issueApiKey': {
    document: 'mutation($u: ID!) { issueApiKey(userId: $u) { keyId } }',
    variables: async () => ({ u: app.userIds.viewer }),
  },
  'Mutation.revokeApiKey': {
    document: 'mutation($k: ID!) { revokeApiKey(keyId: $k) }',
    variables: async () => ({ k: (await app.services.identity.issueKey(app.userIds.viewer)).keyId }),
  },
  'Subscription.events': { document: 'subscription { events { caughtUp } }' },
  'Subscription.executionUpdated': {
    document: 'subscription($id: ID!) { executionUpdated(id: $id) { status } }',
    variables: async () => ({ id: shared.executionId }),
  },
};

const codeOf = (result: { data?: unknown; errors?: { extensions?: { code?: string } }[] }): Outcome =>
  result.errors ? (result.errors[0]!.extensions?.code ?? 'NO_CODE') : result.data ? 'ok' : 'NO_DATA';

const credential = (role: Role) => (role === 'anonymous' ? null : app.keys[role]);

const TRANSPORTS = {
  async http(role: Role, query: string, variables: Record<string, unknown>): Promise<Outcome> {
    const response = await app.gql(query, variables, credential(role));
    const outcome = codeOf(response);
    if (outcome === 'UNAUTHENTICATED') expect(response.status).toBe(401);
    return outcome;
  },
  async sse(role: Role, query: string, variables: Record<string, unknown>): Promise<Outcome> {
    const abort = new AbortController();
    const key = credential(role);
    const stream = sse(app.url, query, variables, key ? { authorization: `Bearer ${key}` } : {}, abort.signal);
    try {
      const first = (await stream.next()).value!;
      if (first.event === 'http-error') return first.data.status === 401 ? 'UNAUTHENTICATED' : `HTTP ${first.data.status}`;
      return codeOf(first.data);
    } finally {
      abort.abort();
    }
  },
  async ws(role: Role, query: string, variables: Record<string, unknown>): Promise<Outcome> {
    const subscription = clients[role].iterate({ query, variables });
    try {
      return codeOf((await subscription.next()).value as never);
    } catch (error) {
      // A connection without a valid credential is closed with 4403 before any operation.
      return (error as { code?: number }).code === 4403 ? 'UNAUTHENTICATED' : `closed ${(error as { code?: number }).code}`;
    } finally {
      await subscription.return?.();
    }
  },
};

let clients: Record<Role, Client>;
beforeAll(async () => {
  // Executions stay PENDING: cancelling and following them needs no engine.
  app = await startTestApp({ runExecutions: false, rateLimitPerSecond: 0 });
  clients = Object.fromEntries(ROLES.map((role) => [role, wsClient(app.url, credential(role) ?? '', { lazy: true })])) as Record<
    Role,
    Client
  >;
  const workflowId = await freshWorkflow();
  shared = { workflowId, executionId: '' };
  shared.executionId = await freshExecution();
});
afterAll(async () => {
  await Promise.all(Object.values(clients).map((client) => client.dispose()));
  await app.close();
});

describe('the role table of docs/security.md', () => {
  const table = tableOfDocs();

  it('lists every operation of the schema, and nothing else', () => {
    const operations = [schema.getQueryType()!, schema.getMutationType()!, schema.getSubscriptionType()!].flatMap((type) =>
      Object.keys(type.getFields()).map((field) => `${type.name}.${field}`),
    );
    expect([...table.keys()].sort()).toEqual(operations.sort());
    expect(Object.keys(OPERATIONS).sort()).toEqual(operations.sort());
  });

  for (const [transport, call] of Object.entries(TRANSPORTS)) {
    it(`holds on ${transport} for every operation and role, and a refusal writes nothing`, async () => {
      const mismatches: string[] = [];
      for (const [operation, allowed] of table) {
        if (transport === 'http' && operation.startsWith('Subscription.')) continue;
        const { document, variables } = OPERATIONS[operation]!;
        for (const role of ROLES) {
          const vars = (await variables?.()) ?? {};
          const expected = allowed.has(role) ? 'ok' : role === 'anonymous' ? 'UNAUTHENTICATED' : 'FORBIDDEN';
          // Only a refusal must leave the database as it was.
          const before = expected === 'ok' ? undefined : await app.database.snapshot();
          const outcome = await call(role, document, vars);
          if (outcome !== expected) mismatches.push(`${operation} as ${role}: ${outcome}, expected ${expected}`);
          if (before && JSON.stringify(await app.database.snapshot()) !== JSON.stringify(before)) {
            mismatches.push(`${operation} as ${role}: refused but wrote`);
          }
        }
      }
      expect(mismatches).toEqual([]);
    });
  }
});

/** One request of each REST route, with what it needs made fresh for it (by an admin, over GraphQL). */
const REST_REQUESTS: Record<string, () => Promise<{ path: string; body?: unknown; headers?: Record<string, string> }>> = {
  'GET /api/agent-builder/workflows': async () => ({ path: '/api/agent-builder/workflows?limit=2' }),
  'GET /api/agent-builder/workflows/{id}': async () => ({ path: `/api/agent-builder/workflows/${shared.workflowId}` }),
  'POST /api/agent-builder/workflows': async () => ({
    path: '/api/agent-builder/workflows',
    body: { name: 'rest roles', definition: definition() },
  }),
  'PUT /api/agent-builder/workflows/{id}': async () => ({
    path: `/api/agent-builder/workflows/${await freshWorkflow()}`,
    body: { name: 'replaced', description: '', definition: definition() },
    headers: { 'if-match': '"1"' },
  }),
  'PATCH /api/agent-builder/workflows/{id}': async () => ({
    path: `/api/agent-builder/workflows/${await freshWorkflow()}`,
    body: { name: 'renamed' },
    headers: { 'if-match': '"1"' },
  }),
  'DELETE /api/agent-builder/workflows/{id}': async () => ({
    path: `/api/agent-builder/workflows/${await freshWorkflow()}`,
    headers: { 'if-match': '"1"' },
  }),
  'POST /api/agent-builder/workflows/{id}/execute': async () => ({
    path: `/api/agent-builder/workflows/${shared.workflowId}/execute`,
    body: {},
  }),
  'GET /api/agent-builder/executions': async () => ({ path: '/api/agent-builder/executions?limit=2' }),
  'GET /api/agent-builder/executions/{id}': async () => ({ path: `/api/agent-builder/executions/${shared.executionId}` }),
  'POST /api/agent-builder/executions/{id}/cancel': async () => ({
    path: `/api/agent-builder/executions/${await freshExecution()}/cancel`,
    body: {},
  }),
  'GET /api/events/aggregate/{aggregate_id}': async () => ({ path: `/api/events/aggregate/${shared.workflowId}?aggregate_type=Workflow` }),
  'GET /api/events/replay/{aggregate_id}': async () => ({ path: `/api/events/replay/${shared.workflowId}?aggregate_type=Workflow` }),
  'GET /api/events/audit': async () => ({ path: '/api/events/audit?limit=2' }),
  'GET /api/events/stream': async () => ({ path: '/api/events/stream' }),
};

describe('the REST route table of docs/security.md', () => {
  const table = tableOfDocs(/^\| (GET|POST|PUT|PATCH|DELETE) \//);

  it('lists every route the server serves, and nothing else', () => {
    const routes = [...ROUTES.map((route) => `${route.method} ${route.path}`), 'GET /api/events/stream'];
    expect([...table.keys()].sort()).toEqual(routes.sort());
    expect(Object.keys(REST_REQUESTS).sort()).toEqual(routes.sort());
  });

  it('holds for every route and role, and a refusal writes nothing', async () => {
    const mismatches: string[] = [];
    for (const [route, allowed] of table) {
      const method = route.split(' ')[0]!;
      for (const role of ROLES) {
        const { path, body, headers } = await REST_REQUESTS[route]!();
        const expected = allowed.has(role) ? 'ok' : role === 'anonymous' ? 401 : 403;
        const before = expected === 'ok' ? undefined : await app.database.snapshot();
        const abort = new AbortController();
        const key = credential(role);
        const response = await fetch(new URL(path, app.url), {
          method,
          headers: {
            ...(key ? { authorization: `Bearer ${key}` } : {}),
            ...(body ? { 'content-type': 'application/json' } : {}),
            ...headers,
          },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal: abort.signal,
        });
        abort.abort();
        const outcome = response.status < 300 ? 'ok' : response.status;
        if (outcome !== expected) mismatches.push(`${route} as ${role}: ${outcome}, expected ${expected}`);
        if (before && JSON.stringify(await app.database.snapshot()) !== JSON.stringify(before))
          mismatches.push(`${route} as ${role}: refused but wrote`);
      }
    }
    expect(mismatches).toEqual([]);
  });
});
