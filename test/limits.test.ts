import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getIntrospectionQuery } from 'graphql';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { startTestApp, type TestApp } from './support/app.ts';
import { DEFINITION } from './support/definitions.ts';
import { sse } from './support/sse.ts';
import { wsClient } from './support/ws.ts';
import { hashApiKey } from '../src/domain/identity/api-keys.ts';
import { PersistedOperations } from '../src/runtime/persisted-operations.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ maxBodyBytes: 64 * 1024 });
});
afterAll(() => app.close());

const BOMBS: Record<string, string> = {
  depth: `{ me { ${'a { b { '.repeat(8)} id ${'} } '.repeat(8)} } }`,
  aliases: `mutation { ${Array.from({ length: 40 }, (_, i) => `w${i}: createWorkflow(input: { name: "bomb ${i}", definition: ${DEFINITION} }) { id }`).join(' ')} }`,
  tokens: `{ me { ${Array.from({ length: 2500 }, () => 'id').join(' ')} } }`,
  // 100 workflows x 100 events each, twice over: within every other limit, far past the cost.
  cost: `{ workflows(first: 100) { edges { node { a: latestEvents(first: 100) { actor { id name role } } b: latestEvents(first: 100) { actor { id name role } } } } } }`,
};

/** The same document over graphql-ws: the first error it gets. */
async function overWebSocket(query: string): Promise<{ code?: string; closed?: number }> {
  let closed: number | undefined;
  const client = wsClient(app.url, app.keys.editor, { on: { closed: (event) => (closed = (event as CloseEvent).code) } });
  try {
    const result = await client.iterate({ query }).next();
    return { code: result.value?.errors?.[0]?.extensions?.code };
  } catch (error) {
    const errors = error as { extensions?: { code?: string } }[] | { code?: number };
    if (Array.isArray(errors)) return { code: errors[0]?.extensions?.code };
    return { closed: closed ?? (errors as { code?: number }).code };
  } finally {
    await client.dispose();
  }
}

describe('document limits, the same on HTTP, SSE and WebSocket', () => {
  it.each(Object.entries(BOMBS))('refuses a %s bomb with QUERY_TOO_COMPLEX and writes nothing', async (_kind, query) => {
    const before = await app.database.snapshot();
    const http = await app.gql(query);
    expect(http.errors?.[0]?.extensions.code, JSON.stringify(http.errors)).toBe('QUERY_TOO_COMPLEX');
    const first = await sse(app.url, query, {}, { authorization: `Bearer ${app.keys.editor}` }).next();
    const sseErrors = first.value?.data?.errors ?? JSON.parse(first.value?.data?.body ?? '{}').errors;
    expect(sseErrors?.[0]?.extensions.code).toBe('QUERY_TOO_COMPLEX');
    expect((await overWebSocket(query)).code).toBe('QUERY_TOO_COMPLEX');
    expect(await app.database.snapshot()).toEqual(before);
    expect((await app.gql('{ me { id } }')).data!.me.id).toBe(app.userIds.editor);
  });

  it('lets ordinary documents through, and the introspection query codegen and GraphiQL send', async () => {
    const { data, errors } = await app.gql(getIntrospectionQuery());
    expect(errors).toBeUndefined();
    expect(data!.__schema.types.length).toBeGreaterThan(20);
    const page = await app.gql(
      '{ workflows(first: 100) { edges { node { id name createdBy { name } latestEvents(first: 5) { type actor { name } } } } } }',
    );
    expect(page.errors).toBeUndefined();
  });
});

describe('body and message size', () => {
  /** A create of about 70 KB, over the test server's body limit. */
  const OVERSIZED = `mutation { createWorkflow(input: { name: "${'x'.repeat(70 * 1024)}", definition: ${DEFINITION} }) { id } }`;
  const raw = (body: string, headers: Record<string, string | number>) =>
    new Promise<{ status: number; body: any }>((resolve, reject) => {
      const url = new URL(app.url);
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          path: url.pathname,
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${app.keys.editor}`, ...headers },
        },
        (res) => {
          let text = '';
          res.on('data', (chunk) => (text += chunk));
          res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
        },
      );
      req.on('error', reject);
      req.end(body);
    });

  it('refuses a body over the limit (413) and one of unknown length (411), writing nothing', async () => {
    const before = await app.database.snapshot();
    const big = JSON.stringify({ query: OVERSIZED });
    const tooLarge = await raw(big, { 'content-length': Buffer.byteLength(big) });
    expect(tooLarge).toMatchObject({ status: 413, body: { errors: [{ extensions: { code: 'PAYLOAD_TOO_LARGE' } }] } });
    const chunked = await raw(JSON.stringify({ query: '{ me { id } }' }), { 'transfer-encoding': 'chunked' });
    expect(chunked).toMatchObject({ status: 411, body: { errors: [{ extensions: { code: 'LENGTH_REQUIRED' } }] } });
    expect(await app.database.snapshot()).toEqual(before);
  });

  it('a body longer than its Content-Length, or chunked beside one, never reaches the server whole (the Node parser, which the body limit relies on), writing nothing', async () => {
    const before = await app.database.snapshot();
    const big = JSON.stringify({ query: OVERSIZED });
    const { host, pathname } = new URL(app.url);
    const exchange = (head: string, body: string) =>
      new Promise<string>((resolve) => {
        const socket = connect(Number(host.split(':')[1]), '127.0.0.1', () =>
          socket.end(`POST ${pathname} HTTP/1.1\r\nHost: ${host}\r\nContent-Type: application/json\r\n${head}\r\n${body}`),
        );
        let text = '';
        socket.on('data', (chunk) => (text += chunk));
        // The server may reset the connection while the rest is still being sent: what it answered counts.
        socket.on('error', () => undefined);
        socket.on('close', () => resolve(text));
      });
    // Both headers: Node's parser refuses the request before it reaches the server's code.
    const both = await exchange(
      `Content-Length: 20\r\nTransfer-Encoding: chunked\r\n`,
      `${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`,
    );
    expect(both).toMatch(/^HTTP\/1\.1 400 /);
    // A short Content-Length: only that much is the body (not JSON, so refused); the rest is no request.
    const short = await exchange(`Content-Length: 20\r\n`, big);
    expect(short).toMatch(/^HTTP\/1\.1 400 /);
    expect(short).not.toContain('"createWorkflow"');
    expect(await app.database.snapshot()).toEqual(before);
  });

  it('closes a WebSocket that sends a message over the limit (1009), writing nothing, with a log line and not an internal error', async () => {
    const before = await app.database.snapshot();
    const printed = vi.spyOn(console, 'error');
    // Caught, not printed: the test's output stays clean.
    const logged = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      const outcome = await overWebSocket(OVERSIZED);
      expect(outcome.closed).toBe(1009);
      expect(printed).not.toHaveBeenCalled();
      expect(logged.mock.calls.map(([line]) => JSON.parse(String(line)))).toContainEqual(
        expect.objectContaining({ level: 'warn', message: expect.stringContaining('over the size limit') }),
      );
    } finally {
      printed.mockRestore();
      logged.mockRestore();
    }
    expect(await app.database.snapshot()).toEqual(before);
  });
});

describe('requests per key, and introspection', () => {
  it('refuses a key past its rate with 429 and Retry-After, on HTTP and WebSocket, then lets it through again', async () => {
    const limited = await startTestApp({ rateLimitPerSecond: 5 });
    try {
      const responses = await Promise.all(
        Array.from({ length: 12 }, () =>
          limited.gql(`mutation { createWorkflow(input: { name: "rate", definition: ${DEFINITION} }) { id } }`),
        ),
      );
      const refused = responses.filter((response) => response.status === 429);
      expect(refused.length).toBeGreaterThanOrEqual(7);
      expect(refused[0]!.errors![0]!.extensions.code).toBe('RATE_LIMITED');
      expect(Number(refused[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      const { rows } = await limited.database.db.pool.query('SELECT count(*)::int AS n FROM workflows');
      expect(rows[0].n).toBe(12 - refused.length);

      const client = wsClient(limited.url, limited.keys.viewer);
      try {
        const codes = await Promise.all(
          Array.from({ length: 10 }, async () => {
            try {
              const result = await client.iterate({ query: '{ me { id } }' }).next();
              return result.value?.errors?.[0]?.extensions?.code ?? 'OK';
            } catch (errors) {
              return (errors as { extensions?: { code?: string } }[])[0]?.extensions?.code;
            }
          }),
        );
        expect(codes).toContain('RATE_LIMITED');
        expect(codes).toContain('OK');
      } finally {
        await client.dispose();
      }
      await new Promise((resolve) => setTimeout(resolve, 1100));
      expect((await limited.gql('{ me { id } }')).status).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it('can be closed to introspection, on every transport', async () => {
    const closed = await startTestApp({ introspection: false });
    try {
      const http = await closed.gql('{ __schema { types { name } } }');
      expect(http.errors?.[0]?.message).toMatch(/introspection/i);
      expect(http.errors?.[0]?.extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
      const first = await sse(closed.url, '{ __schema { types { name } } }', {}, { authorization: `Bearer ${closed.keys.editor}` }).next();
      expect(JSON.stringify(first.value?.data)).toMatch(/introspection/i);
      expect((await closed.gql('{ me { id } }')).data!.me.id).toBe(closed.userIds.editor);
    } finally {
      await closed.close();
    }
  });
});

describe('subscriptions per key', () => {
  it('refuses a key past its open subscriptions, on WebSocket and SSE alike, and frees a slot when one ends', async () => {
    const capped = await startTestApp({ maxSubscriptionsPerKey: 2 });
    const client = wsClient(capped.url, capped.keys.viewer);
    const query = 'subscription { events(types: ["Nothing"]) { cursor } }';
    try {
      const open = [client.iterate({ query }), client.iterate({ query })];
      for (const subscription of open) await subscription.next();
      const third = await client
        .iterate({ query })
        .next()
        .catch((errors) => ({ value: { errors } }));
      expect(third.value.errors[0].extensions.code).toBe('TOO_MANY_SUBSCRIPTIONS');
      const overSse = await sse(capped.url, query, {}, { authorization: `Bearer ${capped.keys.viewer}` }).next();
      expect(JSON.stringify(overSse.value)).toMatch(/TOO_MANY_SUBSCRIPTIONS/);
      // Another key has slots of its own.
      const other = await sse(capped.url, query, {}, { authorization: `Bearer ${capped.keys.editor}` }).next();
      expect(JSON.stringify(other.value)).not.toMatch(/TOO_MANY_SUBSCRIPTIONS/);

      await open[0]!.return!();
      let again: any;
      do {
        again = await client
          .iterate({ query })
          .next()
          .catch((errors) => ({ value: { errors } }));
      } while (again.value.errors);
      expect(again.value.data.events.cursor).toBeTruthy();
    } finally {
      await client.dispose();
      await capped.close();
    }
  });
});

describe('browsers', () => {
  it('sends security headers; answers CORS only for allowed origins; refuses WebSockets from other origins', async () => {
    const guarded = await startTestApp({ allowedOrigins: ['https://dash.example'] });
    try {
      const answer = await guarded.gql('{ me { id } }');
      expect(answer.headers.get('x-content-type-options')).toBe('nosniff');
      expect(answer.headers.get('x-frame-options')).toBe('DENY');
      expect(answer.headers.get('content-security-policy')).toMatch(/default-src 'none'/);

      const preflight = (origin: string) =>
        fetch(guarded.url, {
          method: 'OPTIONS',
          headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
        });
      expect((await preflight('https://dash.example')).headers.get('access-control-allow-origin')).toBe('https://dash.example');
      // Another origin is not allowed: the header never names it, nor says "*".
      expect((await preflight('https://evil.example')).headers.get('access-control-allow-origin')).not.toMatch(/evil|\*/);

      const open = (origin?: string) =>
        new Promise<number | 'open'>((resolve) => {
          const socket = new WebSocket(guarded.url.replace('http', 'ws'), 'graphql-transport-ws', origin ? { origin } : {});
          socket.on('open', () => {
            socket.close();
            resolve('open');
          });
          socket.on('unexpected-response', (_request, response) => resolve(response.statusCode!));
          socket.on('error', () => {});
        });
      expect(await open('https://evil.example')).toBe(403);
      expect(await open('https://dash.example')).toBe('open');
      expect(await open()).toBe('open');
    } finally {
      await guarded.close();
    }
  });
});

describe('subscription slots', () => {
  it('are given back when a subscription over HTTP is refused for not accepting an event stream (406)', async () => {
    const before = app.services.live.stats().subscriptions;
    const response = await fetch(app.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', authorization: `Bearer ${app.keys.viewer}` },
      body: JSON.stringify({ query: 'subscription { events { cursor } }' }),
    });
    expect(response.status).toBe(406);
    await response.body?.cancel();
    while (app.services.live.stats().subscriptions > before) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(app.services.subscriptionQuota.openFor(hashApiKey(app.keys.viewer))).toBe(0);
  });
});

describe('persisted operations', () => {
  it('run alone when configured: by hash on HTTP, SSE and WebSocket; any other document is refused', async () => {
    const me = '{ me { id } }';
    const live = 'subscription { events(types: ["Nothing"]) { cursor caughtUp } }';
    const hash = (text: string) => createHash('sha256').update(text).digest('hex');
    const directory = mkdtempSync(join(tmpdir(), 'persisted-'));
    const file = join(directory, 'operations.json');
    writeFileSync(file, JSON.stringify({ [hash(me)]: me, [hash(live)]: live }));
    const locked = await startTestApp({ persistedOperationsFile: file });
    const byHash = (text: string) => ({ persistedQuery: { version: 1, sha256Hash: hash(text) } });
    const post = (body: unknown) =>
      locked
        .post(JSON.stringify(body), { authorization: `Bearer ${locked.keys.editor}` })
        .then((response) => response.json() as Promise<any>);
    try {
      const before = await locked.database.snapshot();
      expect((await post({ extensions: byHash(me) })).data.me.id).toBe(locked.userIds.editor);
      expect((await post({ query: me })).errors[0].extensions.code).toBe('PERSISTED_QUERY_ONLY');
      expect(
        (await post({ query: `mutation { createWorkflow(input: { name: "x", definition: ${DEFINITION} }) { id } }` })).errors[0].extensions
          .code,
      ).toBe('PERSISTED_QUERY_ONLY');
      expect(
        (await post({ extensions: { persistedQuery: { version: 1, sha256Hash: hash('{ me { name } }') } } })).errors[0].extensions.code,
      ).toBe('PERSISTED_QUERY_NOT_FOUND');

      const response = await fetch(locked.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'text/event-stream', authorization: `Bearer ${locked.keys.viewer}` },
        body: JSON.stringify({ extensions: byHash(live) }),
      });
      const reader = response.body!.getReader();
      const { value } = await reader.read();
      expect(new TextDecoder().decode(value)).toMatch(/"caughtUp":true/);
      await reader.cancel();

      const client = wsClient(locked.url, locked.keys.viewer);
      try {
        const refused = await client
          .iterate({ query: me })
          .next()
          .catch((errors) => ({ value: { errors } }));
        expect(refused.value.errors[0].extensions.code).toBe('PERSISTED_QUERY_ONLY');
        const allowed = await client.iterate({ query: '', extensions: byHash(me) }).next();
        expect(allowed.value!.data!.me).toEqual({ id: locked.userIds.viewer });
      } finally {
        await client.dispose();
      }
      expect(await locked.database.snapshot()).toEqual(before);
    } finally {
      await locked.close();
      rmSync(directory, { recursive: true, force: true });
    }
  });

  it('refuses to start with a hash that is not the SHA-256 of its document', () => {
    expect(() => new PersistedOperations({ ['0'.repeat(64)]: '{ me { id } }' })).toThrow(/not the SHA-256/);
  });
});
