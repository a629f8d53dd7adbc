import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testConfig, startTestApp, type TestApp } from './support/app.ts';
import { startServer } from '../src/runtime/server.ts';
import { startServices } from '../src/runtime/services.ts';
import { openDatabase } from '../src/store/database.ts';
import { sse } from './support/sse.ts';
import { wsClient } from './support/ws.ts';

const LIST = '{ workflows(first: 20) { edges { node { id name version } } } }';
const GET = 'query($id: ID!) { workflow(id: $id) { id name version } }';
const CREATE = `mutation($name: String!) { createWorkflow(input: { name: $name, definition: { startAt: "Done", nodes: { Done: { type: "succeed" } } } }) { id version } }`;
const UPDATE =
  'mutation($id: ID!, $v: Int!, $name: String!) { updateWorkflow(input: { id: $id, expectedVersion: $v, name: $name }) { id version } }';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(async () => app?.close());

/** A POST as a client sends it, with what the cache said. */
async function read(query: string, variables: Record<string, unknown> = {}, key = app.keys.editor, headers: Record<string, string> = {}) {
  const response = await app.post(JSON.stringify({ query, variables }), { authorization: `Bearer ${key}`, ...headers });
  const text = await response.text();
  return {
    status: response.status,
    cache: response.headers.get('flowledger-cache'),
    etag: response.headers.get('etag'),
    text,
    body: text ? JSON.parse(text) : null,
    headers: response.headers,
  };
}

const create = async (name: string, key = app.keys.editor) =>
  (await app.gql(CREATE, { name }, key)).data!.createWorkflow as { id: string; version: number };
const names = (answer: { body: any }) => answer.body.data.workflows.edges.map((edge: any) => edge.node.name);

describe('the response cache', () => {
  it('answers a repeated query from memory, with an ETag, and 304 to a client that has it', async () => {
    await create('first');
    const timed = async () => {
      const text = await (await fetch(app.url.replace('/graphql', '/metrics'))).text();
      return Number(
        /flowledger_graphql_request_duration_seconds_count\{[^}]*operation="Query.workflows"[^}]*\} (\d+)/.exec(text)?.[1] ?? 0,
      );
    };
    const miss = await read(LIST);
    const before = await timed();
    const hit = await read(LIST);
    // A hit is timed like any request.
    expect(await timed()).toBe(before + 1);
    expect([miss.cache, hit.cache]).toEqual(['miss', 'hit']);
    expect(hit.text).toBe(miss.text);
    expect(hit.etag).toBe(miss.etag);
    expect(hit.headers.get('x-request-id')).not.toBe(miss.headers.get('x-request-id'));
    expect(hit.headers.get('content-security-policy')).toBe(miss.headers.get('content-security-policy'));
    const unchanged = await read(LIST, {}, app.keys.editor, { 'if-none-match': hit.etag! });
    expect(unchanged.status).toBe(304);
    expect(unchanged.text).toBe('');
  });

  it("drops a workspace's lists when one of its workflows is created, and keeps its gets", async () => {
    const kept = await create('kept');
    await read(GET, { id: kept.id });
    await read(LIST);
    const added = await create('added');
    const list = await read(LIST);
    expect(list.cache).toBe('miss');
    expect(names(list)).toContain('added');
    expect((await read(GET, { id: kept.id })).cache).toBe('hit');
    expect((await read(GET, { id: added.id })).cache).toBe('miss');
  });

  it('drops the get of a workflow named in capitals, as its events name it in lower case', async () => {
    const workflow = await create('shouted');
    const loud = workflow.id.toUpperCase();
    expect((await read(GET, { id: loud })).body.data.workflow.name).toBe('shouted');
    await app.gql(UPDATE, { id: workflow.id, v: 1, name: 'whispered' });
    expect((await read(GET, { id: loud })).body.data.workflow.name).toBe('whispered');
  });

  it('drops the get of a workflow that changed, before the mutation answers', async () => {
    const workflow = await create('before');
    expect((await read(GET, { id: workflow.id })).body.data.workflow.name).toBe('before');
    await app.gql(UPDATE, { id: workflow.id, v: 1, name: 'after' });
    const after = await read(GET, { id: workflow.id });
    expect(after.cache).toBe('miss');
    expect(after.body.data.workflow).toMatchObject({ name: 'after', version: 2 });
  });

  it("keeps one workspace's entries when another writes, and never answers one workspace or user with another's", async () => {
    const other = await app.createWorkspace('cache-other');
    await read(LIST);
    const before = await read(LIST);
    await create('elsewhere', other.keys.editor);
    expect((await read(LIST)).cache).toBe('hit');
    const theirs = await read(LIST, {}, other.keys.editor);
    expect(theirs.cache).toBe('miss');
    expect(names(theirs)).toEqual(['elsewhere']);
    // The same workspace, another user and role: an entry of its own.
    const viewer = await read(LIST, {}, app.keys.viewer);
    expect(viewer.cache).toBe('miss');
    expect(viewer.text).toBe(before.text);
  });

  it('authenticates every request, hit or not: a revoked key is refused although its answer is kept', async () => {
    const { apiKey, keyId } = await app.services.identity.createUser(app.workspaceId, 'leaving', 'VIEWER');
    expect((await read(LIST, {}, apiKey)).status).toBe(200);
    expect((await read(LIST, {}, apiKey)).cache).toBe('hit');
    await app.services.identity.revokeKey(keyId);
    await new Promise((resolve) => setTimeout(resolve, app.services.config.authCacheTtlMs + 100));
    const refused = await read(LIST, {}, apiKey);
    expect(refused.status).toBe(401);
    expect(refused.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  });

  it('runs identical queries under way once, and never shares a mutation', async () => {
    const stats = () => app.services.responseCache!.stats();
    const before = stats();
    const query = '{ workflows(first: 7) { edges { node { id } } } }';
    const answers = await Promise.all(Array.from({ length: 20 }, () => read(query)));
    expect(new Set(answers.map((answer) => answer.text)).size).toBe(1);
    expect(stats().misses - before.misses).toBe(1);
    expect(stats().shared - before.shared + (stats().hits - before.hits)).toBe(19);
    const created = await Promise.all(Array.from({ length: 5 }, () => app.gql(CREATE, { name: 'twin' })));
    expect(new Set(created.map((answer) => answer.data!.createWorkflow.id)).size).toBe(5);
  });

  it('follows an execution as the engine runs it: its kept answer is dropped by each step the engine stores', async () => {
    const workflow = await app.gql(
      `mutation { createWorkflow(input: { name: "napper", definition: { startAt: "Nap", nodes: { Nap: { type: "task", action: "sleep", input: { ms: 300 }, end: true } } } }) { id } }`,
    );
    const started = await app.gql('mutation($w: ID!) { executeWorkflow(input: { workflowId: $w }) { id } }', {
      w: workflow.data!.createWorkflow.id,
    });
    const query = 'query($id: ID!) { execution(id: $id) { status steps { status } } }';
    const id = started.data!.executeWorkflow.id;
    const seen = new Set<string>();
    for (let tries = 0; tries < 200 && !seen.has('SUCCEEDED'); tries++) {
      seen.add((await read(query, { id })).body.data.execution.status);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(seen.has('SUCCEEDED')).toBe(true);
    const last = await read(query, { id });
    expect(last.body.data.execution).toEqual({ status: 'SUCCEEDED', steps: [{ status: 'SUCCEEDED' }] });
    expect((await read(query, { id })).cache).toBe('hit');
  });

  it('leaves GET requests to Yoga, uncached', async () => {
    const url = `${app.url}?query=${encodeURIComponent(LIST)}`;
    const get = await fetch(url, { headers: { authorization: `Bearer ${app.keys.editor}` } });
    expect(get.status).toBe(200);
    expect(get.headers.get('flowledger-cache')).toBeNull();
  });

  it('keeps a replay to a version the stream has passed through later writes', async () => {
    const workflow = await create('replayed');
    await app.gql(UPDATE, { id: workflow.id, v: 1, name: 'replayed 2' });
    const replay = 'query($id: ID!) { replay(aggregateType: WORKFLOW, aggregateId: $id, toVersion: 1) { version state } }';
    await read(replay, { id: workflow.id });
    await app.gql(UPDATE, { id: workflow.id, v: 2, name: 'replayed 3' });
    const again = await read(replay, { id: workflow.id });
    expect(again.cache).toBe('hit');
    expect(again.body.data.replay).toMatchObject({ version: 1, state: { name: 'replayed' } });
    const head = 'query($id: ID!) { replay(aggregateType: WORKFLOW, aggregateId: $id) { version } }';
    await read(head, { id: workflow.id });
    await app.gql(UPDATE, { id: workflow.id, v: 3, name: 'replayed 4' });
    expect((await read(head, { id: workflow.id })).body.data.replay.version).toBe(4);
  });

  it('keeps no answer that reads users, holds an error, or comes from systemStatus', async () => {
    for (const query of [
      '{ me { id name } }',
      '{ workflows(first: 1) { edges { node { createdBy { name } } } } }',
      '{ systemStatus { liveLog { subscriptions } } }',
      '{ workflows(first: 1000) { edges { node { id } } } }',
    ]) {
      await read(query);
      expect([query, (await read(query)).cache]).toEqual([query, 'miss']);
    }
  });
});

describe('consistency tokens', () => {
  it("a mutation's answer carries its log position, in a header and in extensions, on HTTP, SSE and WebSocket", async () => {
    const response = await app.post(JSON.stringify({ query: CREATE, variables: { name: 'token' } }), {
      authorization: `Bearer ${app.keys.editor}`,
    });
    const body = await response.json();
    expect(body.extensions.position).toMatch(/\S+/);
    expect(response.headers.get('flowledger-position')).toBe(body.extensions.position);
    const log = await app.gql('query($id: ID!) { events(aggregateType: WORKFLOW, aggregateId: $id) { edges { node { logCursor } } } }', {
      id: body.data.createWorkflow.id,
    });
    expect(log.data!.events.edges[0].node.logCursor).toBe(body.extensions.position);

    const client = wsClient(app.url, app.keys.editor);
    const overWs = await new Promise<any>((resolve, reject) => {
      client.subscribe({ query: CREATE, variables: { name: 'ws token' } }, { next: resolve, error: reject, complete: () => {} });
    });
    await client.dispose();
    expect(overWs.extensions.position).toMatch(/\S+/);

    const stream = sse(app.url, CREATE, { name: 'sse token' }, { authorization: `Bearer ${app.keys.editor}` });
    const overSse = (await stream.next()).value!.data;
    await stream.return(undefined);
    expect(overSse.extensions.position).toMatch(/\S+/);
    // Reads write nothing, so carry none.
    expect((await read(LIST)).body.extensions?.position).toBeUndefined();
  });

  it('a read presenting one waits for the log to reach it; a token that is not ours is refused', async () => {
    const response = await app.post(JSON.stringify({ query: CREATE, variables: { name: 'awaited' } }), {
      authorization: `Bearer ${app.keys.editor}`,
    });
    const token = response.headers.get('flowledger-position')!;
    const list = await read(LIST, {}, app.keys.editor, { 'flowledger-read-after': token });
    expect(names(list)).toContain('awaited');
    const bad = await read(LIST, {}, app.keys.editor, { 'flowledger-read-after': 'nonsense' });
    expect(bad.status).toBe(400);
    expect(bad.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    // With a document Yoga refuses before it asks who is calling, too: the process stays up.
    const invalid = await read('{ workflows(first: 1) { nope } }', {}, app.keys.editor, { 'flowledger-read-after': 'nonsense' });
    expect(invalid.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    expect((await read(LIST)).status).toBe(200);
  });
});

describe('a second process', () => {
  it('serves what it kept until its log brings the write; a read with the token waits for that, or asks the database', async () => {
    const db = openDatabase(app.database.url, { poolSize: 4 });
    const services = await startServices(testConfig({ readAfterTimeoutMs: 300 }), db);
    const server = await startServer(services, 0, '127.0.0.1');
    const at = (headers: Record<string, string> = {}) =>
      fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${app.keys.editor}`, ...headers },
        body: JSON.stringify({ query: LIST }),
      }).then(async (response) => ({ cache: response.headers.get('flowledger-cache'), names: names({ body: await response.json() }) }));
    try {
      await at();
      // This process's tail stops reading: the other process's write does not reach it.
      const store = services.store;
      const readLog = store.readLog.bind(store);
      let open!: () => void;
      const opened = new Promise<void>((resolve) => (open = resolve));
      store.readLog = async (...args) => {
        await opened;
        return readLog(...args);
      };
      const response = await app.post(JSON.stringify({ query: CREATE, variables: { name: 'far away' } }), {
        authorization: `Bearer ${app.keys.editor}`,
      });
      const token = response.headers.get('flowledger-position')!;
      const stale = await at();
      expect(stale.cache).toBe('hit');
      expect(stale.names).not.toContain('far away');
      // Past READ_AFTER_TIMEOUT_MS the read is answered from the database, and not kept.
      const asked = await at({ 'flowledger-read-after': token });
      expect(asked.cache).toBeNull();
      expect(asked.names).toContain('far away');
      expect((await at()).cache).toBe('hit');
      // With the tail reading again, a read with the token waits for it, and then the cache holds the write.
      const waiting = at({ 'flowledger-read-after': token });
      open();
      services.live.wake();
      expect((await waiting).names).toContain('far away');
      expect((await at()).names).toContain('far away');
    } finally {
      await server.close();
      await services.stop();
      await db.close();
    }
  });
});
