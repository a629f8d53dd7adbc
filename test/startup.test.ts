import { mkdtempSync, chmodSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config.ts';
import { startApp } from '../src/runtime/app.ts';
import { createEmptyDatabase, createTestDatabase } from './support/database.ts';
import { freePort } from './support/ports.ts';
import { createServer } from 'node:net';
import { npmRun, startServerProcess } from './support/processes.ts';
import { DEFINITION } from './support/definitions.ts';

const ME = '{ me { name role } }';

/** Who the key stands for, asked of a server started in this process. */
async function me(url: string, key: string) {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify({ query: ME }),
  });
  return ((await response.json()) as any).data?.me;
}

describe('npm start', () => {
  const cleanups: (() => Promise<void>)[] = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
  });

  it('prints an admin key once on an empty database, serves with it, and stops cleanly on SIGTERM and SIGINT', async () => {
    const database = await createEmptyDatabase();
    cleanups.push(() => database.drop());
    const env = { DATABASE_URL: database.url };

    const first = await startServerProcess(env, { firstStart: true });
    const key = first.adminKey;
    expect(key).toBeDefined();
    expect((await first.gql(ME)).data!.me).toEqual({ name: 'admin', role: 'ADMIN' });
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = await startServerProcess(env);
    expect(second.output()).not.toMatch(/flk_/);
    expect((await second.gql(ME, {}, key)).data!.me).toEqual({ name: 'admin', role: 'ADMIN' });
    second.child.kill('SIGINT');
    expect(await second.exited).toBe(0);
  });

  it('logs JSON lines and nothing else, whatever it is asked', async () => {
    const database = await createEmptyDatabase();
    cleanups.push(() => database.drop());
    const server = await startServerProcess(
      { DATABASE_URL: database.url, NODE_ENV: 'development', LOG_REQUESTS: 'true' },
      { firstStart: true },
    );
    const created = await server.gql(`mutation { createWorkflow(input: { name: "Logged", definition: ${DEFINITION} }) { id } }`);
    const id = created.data!.createWorkflow.id;
    for (const query of [
      `{ workflow(id: "${id}") { name createdBy { name } } }`,
      '{ workflows(first: 5) { edges { node { createdBy { name } latestEvents { type } } } } }',
      `{ executions(first: 5) { edges { node { id } } } }`,
      '{ me { name } }',
      '{ nope }',
      '{ workflow(id: 1 }',
    ]) {
      await server.gql(query);
    }
    await server.gql('{ me { name } }', {}, 'flk_unknown');
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    const lines = server.stderr().trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(8);
    for (const line of lines) expect(() => JSON.parse(line), line).not.toThrow();
    expect(lines.filter((line) => JSON.parse(line).level !== 'info')).toEqual([]);
    expect(lines.map((line) => JSON.parse(line).message)).not.toContain('a Prisma query was built but not used');
    const version = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).version;
    expect(lines.map((line) => JSON.parse(line)).find((line) => line.message === 'serving GraphQL')).toMatchObject({ version });
  });

  it('stops what it started when starting fails (port taken)', async () => {
    const database = await createTestDatabase(1);
    cleanups.push(() => database.drop());
    const taken = await startApp({ ...loadConfig({ NODE_ENV: 'test', DATABASE_URL: database.url }), port: 0, host: '127.0.0.1' });
    cleanups.push(() => taken.stop());
    const port = Number(new URL(taken.url!).port);
    const config = { ...loadConfig({ NODE_ENV: 'test', DATABASE_URL: database.url }), port, host: '127.0.0.1' };
    await expect(startApp(config)).rejects.toThrow(/EADDRINUSE/);
    const { rows } = await database.db.pool.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'flowledger-listener'`,
    );
    expect(rows[0].n).toBe(1);
  });

  it("says that the embedded PostgreSQL's port is taken, and names EMBEDDED_PG_PORT, in a JSON log line", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'flowledger-taken-'));
    chmodSync(dataDir, 0o755);
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    // Another checkout's PostgreSQL, as far as this one can tell: something listens on the port.
    const squatter = createServer((socket) => socket.destroy());
    const port = await freePort();
    await new Promise<void>((resolve) => squatter.listen(port, '127.0.0.1', resolve));
    cleanups.push(() => new Promise((resolve) => squatter.close(() => resolve())));
    const started = await npmRun('start', [], {
      DATA_DIR: dataDir,
      EMBEDDED_PG_PORT: String(port),
      PORT: String(await freePort()),
      DATABASE_URL: '',
    });
    expect(started.code).toBe(1);
    const lines = started.stderr
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(lines.at(-1)).toMatchObject({
      level: 'error',
      message: 'could not start',
      error: expect.stringMatching(new RegExp(`port ${port}.* is in use.*EMBEDDED_PG_PORT`)),
    });
  });

  it('says so when its embedded PostgreSQL dies, answers UNAVAILABLE meanwhile, starts it again and goes on with the data kept', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'flowledger-dies-'));
    chmodSync(dataDir, 0o755);
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const server = await startServerProcess(
      { DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()), DATABASE_URL: '' },
      { firstStart: true },
    );
    cleanups.push(async () => {
      server.child.kill('SIGKILL');
      await server.exited;
    });
    const created = await server.gql(`mutation { createWorkflow(input: { name: "kept", definition: ${DEFINITION} }) { id } }`);
    const id = created.data.createWorkflow.id;
    const postmaster = () => Number(readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
    const logged = async (message: string) => {
      for (let waited = 0; !server.stderr().includes(`"message":"${message}`); waited += 50) {
        if (waited > 30_000) throw new Error(`not logged: ${message}\n${server.stderr()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      return server
        .stderr()
        .split('\n')
        .map((line) => (line ? JSON.parse(line) : {}))
        .find((line) => line.message?.startsWith(message));
    };

    const dead = postmaster();
    process.kill(dead, 'SIGKILL');
    expect(await logged('the embedded PostgreSQL stopped by itself')).toMatchObject({ level: 'error', signal: 'SIGKILL' });
    const meanwhile = await server.gql('{ me { name } }');
    expect(meanwhile.errors?.[0]?.extensions?.code).toBe('UNAVAILABLE');
    const back = await logged('the embedded PostgreSQL runs again');
    expect(back).toMatchObject({ level: 'info', attempts: expect.any(Number), downMs: expect.any(Number) });
    console.log(JSON.stringify({ embeddedDownMs: back.downMs, attempts: back.attempts }));
    expect(postmaster()).not.toBe(dead);
    let answer = await server.gql('query($id: ID!) { workflow(id: $id) { name } }', { id });
    for (let tries = 0; answer.errors && tries < 100; tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      answer = await server.gql('query($id: ID!) { workflow(id: $id) { name } }', { id });
    }
    expect(answer).toEqual({ data: { workflow: { name: 'kept' } } });

    // Stopped as usual, it takes its PostgreSQL down with it.
    const restarted = postmaster();
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    expect(() => process.kill(restarted, 0)).toThrow();
  });

  it('without DATABASE_URL starts an embedded PostgreSQL that keeps its data across restarts', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'flowledger-start-'));
    chmodSync(dataDir, 0o755);
    cleanups.push(async () => rmSync(dataDir, { recursive: true, force: true }));
    const config = {
      ...loadConfig({ NODE_ENV: 'test', DATA_DIR: dataDir, EMBEDDED_PG_PORT: String(await freePort()) }),
      port: 0,
      host: '127.0.0.1',
    };
    expect(config.databaseUrl).toBeUndefined();

    const first = await startApp(config);
    const key = first.bootstrapAdmin!.apiKey;
    expect(await me(first.url!, key)).toEqual({ name: 'admin', role: 'ADMIN' });
    await first.stop();

    const second = await startApp(config);
    expect(second.bootstrapAdmin).toBeNull();
    expect(await me(second.url!, key)).toEqual({ name: 'admin', role: 'ADMIN' });
    await second.stop();
  });
});
