import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { printOpenApi } from '../src/rest/api.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { definition } from './support/definitions.ts';
import { restClient, type Rest } from './support/rest.ts';

let app: TestApp;
let rest: Rest;
const WORKFLOWS = '/api/agent-builder/workflows';
const problemOf = (answer: { status: number; headers: Headers; body: any }) => ({
  status: answer.status,
  type: answer.headers.get('content-type'),
  code: answer.body.code,
});

beforeAll(async () => {
  app = await startTestApp({ rateLimitPerSecond: 0 });
  rest = restClient(app.url, app.keys.editor);
});
afterAll(() => app.close());

async function created(name = 'rest') {
  const answer = await rest('POST', WORKFLOWS, { body: { name, definition: definition() } });
  expect(answer.status).toBe(201);
  return answer.body as { id: string; version: number };
}

describe('the workflow routes', () => {
  it('create, get, change, replace and delete, with the version as ETag and If-Match', async () => {
    const made = await rest('POST', WORKFLOWS, { body: { name: 'crud', description: 'first', definition: definition() } });
    expect(made.status).toBe(201);
    expect(made.headers.get('location')).toBe(`${WORKFLOWS}/${made.body.id}`);
    expect(made.headers.get('etag')).toBe('"1"');
    expect(made.headers.get('flowledger-position')).toBeTruthy();
    const path = `${WORKFLOWS}/${made.body.id}`;
    const got = await rest('GET', path);
    expect(got).toMatchObject({
      status: 200,
      body: { id: made.body.id, name: 'crud', description: 'first', version: 1, status: 'ACTIVE' },
    });
    expect(got.headers.get('etag')).toBe('"1"');
    expect((await rest('GET', path, { headers: { 'if-none-match': '"1"' } })).status).toBe(304);

    const changed = await rest('PATCH', path, { body: { description: 'second' }, headers: { 'if-match': '"1"' } });
    expect(changed).toMatchObject({ status: 200, body: { name: 'crud', description: 'second', version: 2 } });
    expect(changed.headers.get('etag')).toBe('"2"');
    expect((await rest('GET', path, { headers: { 'if-none-match': '"1"' } })).status).toBe(200);

    const replaced = await rest('PUT', path, {
      body: { name: 'crud v3', description: '', definition: definition() },
      headers: { 'if-match': '2' },
    });
    expect(replaced).toMatchObject({ status: 200, body: { name: 'crud v3', version: 3 } });
    const deleted = await rest('DELETE', path, { headers: { 'if-match': '"3"' } });
    expect(deleted).toMatchObject({ status: 200, body: { status: 'DELETED', version: 4 } });
    expect(problemOf(await rest('GET', path))).toEqual({ status: 404, type: 'application/problem+json', code: 'NOT_FOUND' });
    // The same events GraphQL sees.
    const events = await app.gql('query($id: ID!) { events(aggregateType: WORKFLOW, aggregateId: $id) { totalCount } }', {
      id: made.body.id,
    });
    expect(events.data!.events.totalCount).toBe(4);
  });

  it('lists a page at a time, filtered, and the cursor resumes where it stopped', async () => {
    const names = ['page-a', 'page-b', 'page-c'];
    for (const name of names) await created(name);
    const first = await rest('GET', `${WORKFLOWS}?limit=2&name_contains=PAGE-`);
    expect(first.status).toBe(200);
    expect(first.body.items.map((item: { name: string }) => item.name)).toEqual(['page-c', 'page-b']);
    const second = await rest('GET', `${WORKFLOWS}?limit=2&name_contains=page-&after=${encodeURIComponent(first.body.nextCursor)}`);
    expect(second.body).toMatchObject({ items: [{ name: 'page-a' }], nextCursor: null });
  });

  it('refuses a stale version (412), a missing one (428) and a malformed one (400), writing nothing', async () => {
    const { id } = await created('stale');
    const path = `${WORKFLOWS}/${id}`;
    await rest('PATCH', path, { body: { name: 'moved' }, headers: { 'if-match': '"1"' } });
    const before = await app.database.snapshot();
    const stale = await rest('PATCH', path, { body: { name: 'late' }, headers: { 'if-match': '"1"' } });
    expect(problemOf(stale)).toEqual({ status: 412, type: 'application/problem+json', code: 'VERSION_CONFLICT' });
    expect(stale.body).toMatchObject({ type: 'urn:flowledger:problem:VERSION_CONFLICT', title: 'Precondition Failed', status: 412 });
    expect(problemOf(await rest('DELETE', path))).toMatchObject({ status: 428, code: 'PRECONDITION_REQUIRED' });
    expect(problemOf(await rest('PUT', path, { body: { name: 'x', description: '', definition: definition() } }))).toMatchObject({
      status: 428,
    });
    expect(problemOf(await rest('PATCH', path, { body: { name: 'x' }, headers: { 'if-match': 'W/"abc"' } }))).toMatchObject({
      status: 400,
    });
    expect(await app.database.snapshot()).toEqual(before);
  });

  it('answers a retry with the same Idempotency-Key with the first workflow, and creates no other', async () => {
    const before = await app.database.snapshot();
    const send = () =>
      rest('POST', WORKFLOWS, { body: { name: 'once', definition: definition() }, headers: { 'idempotency-key': 'create-once' } });
    const [a, b] = [await send(), await send()];
    expect(a.status).toBe(201);
    expect(b.body.id).toBe(a.body.id);
    expect(Number((await app.database.snapshot()).workflows)).toBe(Number(before.workflows) + 1);
  });

  it('refuses bad input with a stable code and the status that fits, writing nothing', async () => {
    const { id } = await created('target');
    const before = await app.database.snapshot();
    const cases: [string, ReturnType<Rest>, number, string][] = [
      ['malformed JSON', rest('POST', WORKFLOWS, { raw: '{"name": ' }), 400, 'BAD_USER_INPUT'],
      ['a wrong type', rest('POST', WORKFLOWS, { body: { name: 7, definition: definition() } }), 400, 'BAD_USER_INPUT'],
      ['a missing field', rest('POST', WORKFLOWS, { body: { definition: definition() } }), 400, 'BAD_USER_INPUT'],
      ['an unknown field', rest('POST', WORKFLOWS, { body: { name: 'x', definition: definition(), owner: 'me' } }), 400, 'BAD_USER_INPUT'],
      [
        'an invalid definition',
        rest('POST', WORKFLOWS, { body: { name: 'x', definition: { startAt: 'Nowhere', nodes: {} } } }),
        422,
        'BAD_USER_INPUT',
      ],
      ['a page too large', rest('GET', `${WORKFLOWS}?limit=1000`), 400, 'BAD_USER_INPUT'],
      ['an unknown parameter', rest('GET', `${WORKFLOWS}?sort=name`), 400, 'BAD_USER_INPUT'],
      ['a parameter twice', rest('GET', `${WORKFLOWS}?limit=1&limit=2`), 400, 'BAD_USER_INPUT'],
      ['a text body', rest('POST', WORKFLOWS, { raw: 'name=x', headers: { 'content-type': 'text/plain' } }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
      [
        'a text body on PATCH',
        rest('PATCH', `${WORKFLOWS}/${id}`, { raw: 'x', headers: { 'content-type': 'text/plain', 'if-match': '"1"' } }),
        415,
        'UNSUPPORTED_MEDIA_TYPE',
      ],
      [
        'a body too large',
        rest('POST', WORKFLOWS, { body: { name: 'x'.repeat(2_000_000), definition: definition() } }),
        413,
        'PAYLOAD_TOO_LARGE',
      ],
      ['no credential', rest('GET', WORKFLOWS, { key: null }), 401, 'UNAUTHENTICATED'],
      ['an unknown key', rest('GET', WORKFLOWS, { key: 'flk_unknown' }), 401, 'UNAUTHENTICATED'],
      [
        'a viewer writing',
        rest('POST', WORKFLOWS, { key: app.keys.viewer, body: { name: 'x', definition: definition() } }),
        403,
        'FORBIDDEN',
      ],
      ['an unknown id', rest('GET', `${WORKFLOWS}/0193a4f2-7c1e-7d2a-9b41-5f0e8c6d2a10`), 404, 'NOT_FOUND'],
      ['a malformed id', rest('PATCH', `${WORKFLOWS}/nope`, { body: { name: 'x' }, headers: { 'if-match': '"1"' } }), 404, 'NOT_FOUND'],
      ['an unknown path', rest('GET', '/api/agent-builder/nothing'), 404, 'NOT_FOUND'],
      ['a method the path has not', rest('DELETE', WORKFLOWS), 405, 'METHOD_NOT_ALLOWED'],
      ['an Idempotency-Key where none is taken', rest('GET', WORKFLOWS, { headers: { 'idempotency-key': 'k' } }), 400, 'BAD_USER_INPUT'],
    ];
    for (const [name, answer, status, code] of cases) {
      const got = await answer;
      expect([name, got.status, got.body.code, got.headers.get('content-type')]).toEqual([name, status, code, 'application/problem+json']);
      expect(got.body.detail, name).toEqual(expect.any(String));
    }
    expect((await rest('GET', WORKFLOWS, { key: null })).headers.get('www-authenticate')).toBe('Bearer');
    expect((await rest('DELETE', WORKFLOWS)).headers.get('allow')).toBe('GET, POST');
    expect(await app.database.snapshot()).toEqual(before);
  });
});

describe('the event routes', () => {
  it("one aggregate's events in the old spelling, from a version; replay to a version and to an instant", async () => {
    const { id } = await created('history');
    await rest('PATCH', `${WORKFLOWS}/${id}`, { body: { name: 'history 2' }, headers: { 'if-match': '"1"' } });
    await rest('PATCH', `${WORKFLOWS}/${id}`, { body: { name: 'history 3' }, headers: { 'if-match': '"2"' } });
    const all = await rest('GET', `/api/events/aggregate/${id}?aggregate_type=Workflow&from_version=0`);
    expect(all.body.items.map((event: { version: number; type: string }) => [event.version, event.type])).toEqual([
      [1, 'WorkflowCreated'],
      [2, 'WorkflowUpdated'],
      [3, 'WorkflowUpdated'],
    ]);
    expect(all.body.totalCount).toBe(3);
    const later = await rest('GET', `/api/events/aggregate/${id}?aggregate_type=WORKFLOW&from_version=2&limit=1`);
    expect(later.body.items.map((event: { version: number }) => event.version)).toEqual([2]);
    expect(later.body.nextCursor).toEqual(expect.any(String));

    const two = await rest('GET', `/api/events/replay/${id}?aggregate_type=Workflow&to_version=2`);
    expect(two.body).toMatchObject({ aggregateType: 'WORKFLOW', aggregateId: id, version: 2, state: { name: 'history 2' } });
    const graphql = await app.gql('query($id: ID!) { replay(aggregateType: WORKFLOW, aggregateId: $id, toVersion: 2) { state } }', { id });
    expect(two.body.state).toEqual(graphql.data!.replay.state);
    const at = all.body.items[0].createdAt as string;
    const then = await rest('GET', `/api/events/replay/${id}?aggregate_type=Workflow&at=${encodeURIComponent(at)}`);
    expect(then.body).toMatchObject({ version: 1, state: { name: 'history' } });
    expect(problemOf(await rest('GET', `/api/events/replay/${id}?aggregate_type=Process`))).toMatchObject({ status: 400 });
    expect(problemOf(await rest('GET', `/api/events/replay/${id}?aggregate_type=Workflow&at=yesterday`))).toMatchObject({ status: 400 });
  });

  it('the audit log for admins, filtered by user, type and time; 403 for others', async () => {
    const since = new Date(Date.now() - 1000).toISOString();
    await created('audited');
    const path = `/api/events/audit?user_id=${app.userIds.editor}&event_type=WorkflowCreated&from_date=${encodeURIComponent(since)}&limit=100`;
    const audit = await rest('GET', path, { key: app.keys.admin });
    expect(audit.status).toBe(200);
    expect(audit.body.items.length).toBeGreaterThan(0);
    expect(new Set(audit.body.items.map((event: { type: string }) => event.type))).toEqual(new Set(['WorkflowCreated']));
    expect(new Set(audit.body.items.map((event: { metadata: { actorId: string } }) => event.metadata.actorId))).toEqual(
      new Set([app.userIds.editor]),
    );
    const none = await rest('GET', `/api/events/audit?to_date=${encodeURIComponent(since)}&from_date=${encodeURIComponent(since)}`, {
      key: app.keys.admin,
    });
    expect(none.body.items).toEqual([]);
    expect(problemOf(await rest('GET', path))).toMatchObject({ status: 403, code: 'FORBIDDEN' });
  });
});

describe('the execution routes', () => {
  it('runs a workflow (202, Location), and its steps read as GraphQL reads them once it ends', async () => {
    const { id } = await created('run');
    const started = await rest('POST', `${WORKFLOWS}/${id}/execute`, {
      body: { input: { n: 1 } },
      headers: { 'idempotency-key': 'run-1' },
    });
    expect(started.status).toBe(202);
    expect(started.headers.get('location')).toBe(`/api/agent-builder/executions/${started.body.id}`);
    let execution = started.body;
    for (let i = 0; i < 100 && !['SUCCEEDED', 'FAILED'].includes(execution.status); i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      execution = (await rest('GET', started.headers.get('location')!)).body;
    }
    expect(execution.status).toBe('SUCCEEDED');
    const graphql = await app.gql('query($id: ID!) { execution(id: $id) { status stepCount steps { id node attempt status } } }', {
      id: execution.id,
    });
    expect(
      execution.steps.map(({ id: step, node, attempt, status }: Record<string, unknown>) => ({ id: step, node, attempt, status })),
    ).toEqual(graphql.data!.execution.steps);
    const again = await rest('POST', `${WORKFLOWS}/${id}/execute`, { body: { input: { n: 1 } }, headers: { 'idempotency-key': 'run-1' } });
    expect(again.body.id).toBe(started.body.id);
    const listed = await rest('GET', `/api/agent-builder/executions?workflow_id=${id}&status=SUCCEEDED`);
    expect(listed.body.items.map((item: { id: string }) => item.id)).toEqual([started.body.id]);
    expect(problemOf(await rest('POST', `/api/agent-builder/executions/${execution.id}/cancel`, { body: {} }))).toMatchObject({
      status: 409,
      code: 'EXECUTION_FINISHED',
    });
  });
});

describe('the OpenAPI document', () => {
  it('is served at /api/openapi.json, and openapi.json in the repository is the same (npm run schema:print writes both)', async () => {
    const served = await fetch(new URL('/api/openapi.json', app.url));
    const text = await served.text();
    expect(text).toBe(printOpenApi());
    expect(readFileSync(new URL('../openapi.json', import.meta.url), 'utf8')).toBe(text);
  });

  it("describes every route the server answers, and each one's refusals", () => {
    const document = JSON.parse(printOpenApi());
    expect(document.openapi).toBe('3.1.0');
    const operations = Object.entries(document.paths).flatMap(([path, methods]) =>
      Object.entries(methods as Record<string, { responses: Record<string, unknown> }>).map(([method, operation]) => ({
        path,
        method,
        operation,
      })),
    );
    expect(operations.length).toBe(14);
    for (const { path, method, operation } of operations) {
      expect(Object.keys(operation.responses), `${method} ${path}`).toContain('401');
    }
  });
});
