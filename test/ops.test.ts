import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readiness } from '../src/ops/health.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { createTestDatabase } from './support/database.ts';
import { startServerProcess } from './support/processes.ts';
import { wsClient } from './support/ws.ts';
import { readFileSync } from 'node:fs';

const packageVersion = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ metricsToken: 'scrape-me' });
});
afterAll(() => app.close());

const get = (path: string, headers: Record<string, string> = {}) => fetch(app.url.replace('/graphql', path), { headers });
/** The value of the sample of `name` with these labels, or undefined. */
const sample = (text: string, series: string) => {
  const [, name, labels = ''] = /^([^{]+)(?:\{(.*)\})?$/.exec(series)!;
  const wanted = labels.split(',').filter(Boolean);
  return text
    .split('\n')
    .find(
      (line) =>
        (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) &&
        wanted.every((label) => line.slice(0, line.lastIndexOf(' ')).includes(label)),
    )
    ?.split(' ')
    .at(-1);
};

describe('/healthz and /readyz', () => {
  it('say the process is up, and ready only with its database reachable and migrated', async () => {
    expect(await (await get('/healthz')).json()).toEqual({ status: 'ok', version: packageVersion });
    const ready = await get('/readyz');
    expect([ready.status, await ready.json()]).toEqual([200, { status: 'ready' }]);

    const { rows } = await app.database.db.pool.query('DELETE FROM _prisma_migrations WHERE migration_name LIKE $1 RETURNING *', [
      '%_workspaces_audit_chain',
    ]);
    try {
      const pending = await get('/readyz');
      expect([pending.status, await pending.json()]).toEqual([503, { status: 'migrations pending', pending: [rows[0].migration_name] }]);
    } finally {
      const columns = Object.keys(rows[0]);
      await app.database.db.pool.query(
        `INSERT INTO _prisma_migrations (${columns.join(', ')}) VALUES (${columns.map((_, i) => `$${i + 1}`).join(', ')})`,
        columns.map((column) => rows[0][column]),
      );
    }
    expect(await readiness('postgres://postgres@127.0.0.1:1/none')).toMatchObject({
      status: 503,
      body: { status: 'database unreachable' },
    });
  });
});

describe('/metrics', () => {
  it('wants its token, then counts requests by root field, errors by code, and live state', async () => {
    expect((await get('/metrics')).status).toBe(401);
    const scrape = async () => {
      const response = await get('/metrics', { authorization: 'Bearer scrape-me' });
      expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
      return response.text();
    };
    const before = await scrape();
    expect(sample(before, `flowledger_build_info{version="${packageVersion}"}`)).toBe('1');
    const count = (text: string, series: string) => Number(sample(text, series) ?? 0);

    for (let i = 0; i < 3; i += 1) await app.gql('{ me { id } }');
    await app.gql('{ workflows(first: 1000) { edges { cursor } } }');
    const client = wsClient(app.url, app.keys.viewer);
    const live = client.iterate({ query: 'subscription { events { caughtUp } }' });
    await live.next();
    const refused = await client.iterate({ query: '{ workflows(first: -1) { edges { cursor } } }' }).next();
    expect(refused.value!.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    // Refused before Yoga, by the body limits: counted all the same.
    expect((await app.post('{ me { id } }', { 'content-type': 'text/plain' })).status).toBe(415);
    try {
      const after = await scrape();
      const me = 'flowledger_graphql_request_duration_seconds_count{operation="Query.me"}';
      expect(count(after, me) - count(before, me)).toBe(3);
      const badInput = 'flowledger_graphql_errors_total{code="BAD_USER_INPUT"}';
      // One over HTTP (first: 1000), one over WebSocket (first: -1).
      expect(count(after, badInput) - count(before, badInput)).toBe(2);
      const unsupported = 'flowledger_graphql_errors_total{code="UNSUPPORTED_MEDIA_TYPE"}';
      expect(count(after, unsupported) - count(before, unsupported)).toBe(1);
      expect(count(after, 'flowledger_live_subscriptions{state="open"}')).toBe(1);
      expect(count(after, 'flowledger_db_pool_connections{state="total"}')).toBeGreaterThan(0);
      expect(sample(after, 'flowledger_executions{state="queued"}')).toMatch(/^\d+$/);
      expect(sample(after, 'flowledger_circuit_breakers{state="OPEN"}')).toBe('0');
      expect(Number(sample(after, 'flowledger_process_resident_memory_bytes'))).toBeGreaterThan(0);
    } finally {
      await live.return!();
      await client.dispose();
    }
  });
});

describe('LOG_REQUESTS', () => {
  it('writes a JSON line per request, with the request id its response carries', async () => {
    const database = await createTestDatabase(1);
    const server = await startServerProcess({ DATABASE_URL: database.url, LOG_REQUESTS: 'true' }, { firstStart: true });
    try {
      const response = await fetch(server.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${server.adminKey}`, 'x-request-id': 'trace-123' },
        body: JSON.stringify({ query: '{ me { id } }' }),
      });
      expect(response.headers.get('x-request-id')).toBe('trace-123');
      await response.text();
      await new Promise((resolve) => setTimeout(resolve, 100));
      const lines = server
        .output()
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line));
      expect(lines).toContainEqual(
        expect.objectContaining({
          level: 'info',
          message: 'request',
          requestId: 'trace-123',
          operation: 'Query.me',
          status: 200,
          durationMs: expect.any(Number),
        }),
      );
    } finally {
      server.child.kill('SIGTERM');
      await server.exited;
      await database.drop();
    }
  });
});
