import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { startEmbeddedPostgres, type EmbeddedServer } from '../../src/store/embedded-postgres.ts';
import { applyMigrations } from '../../src/store/migrations.ts';
import { freePort } from './ports.ts';

/** How PostgreSQL is taken away: a fast shutdown (SIGINT), an immediate one (SIGQUIT), or its postmaster killed (SIGKILL). */
export type Outage = 'fast' | 'immediate' | 'kill';

/**
 * A PostgreSQL of a test's own, which it may stop, kill and start again (the shared test
 * server must stay up for the other files). Its data survives a restart, as a real one's does.
 */
export interface PostgresServer {
  readonly url: string;
  readonly port: number;
  /** Takes the server away and resolves once it no longer accepts connections. */
  takeDown(how: Outage): Promise<void>;
  /** Starts it again on the same data and port. */
  bringUp(): Promise<void>;
  remove(): Promise<void>;
}

export async function startPostgresServer(): Promise<PostgresServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'flowledger-fault-'));
  chmodSync(dataDir, 0o755);
  const port = await freePort();
  let server: EmbeddedServer | null = await startEmbeddedPostgres(dataDir, port, { restart: false });
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query('CREATE DATABASE flowledger');
  await admin.end();
  const url = server.url.replace(/\/postgres$/, '/flowledger');
  await applyMigrations(url);
  const postmaster = () => Number(readFileSync(join(dataDir, 'pg', 'postmaster.pid'), 'utf8').split('\n')[0]);
  const accepts = async () => {
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    client.on('error', () => {});
    try {
      await client.connect();
      return true;
    } catch {
      return false;
    } finally {
      await client.end().catch(() => {});
    }
  };
  const until = async (condition: () => Promise<boolean>, what: string) => {
    for (let waited = 0; !(await condition()); waited += 100) {
      if (waited > 30_000) throw new Error(`PostgreSQL ${what} within 30 s`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  };
  /** Whether a process of the old server still runs: a new postmaster refuses the data while one does. */
  const running = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  let last = postmaster();
  return {
    url,
    port,
    async takeDown(how) {
      last = postmaster();
      process.kill(last, { fast: 'SIGINT', immediate: 'SIGQUIT', kill: 'SIGKILL' }[how]);
      await until(async () => !(await accepts()), 'did not go away');
      server = null;
    },
    async bringUp() {
      // Backends of a killed postmaster leave once they notice it is gone.
      await until(async () => !running(last), 'left processes behind');
      for (let attempt = 0; ; attempt += 1) {
        try {
          server = await startEmbeddedPostgres(dataDir, port, { restart: false });
          break;
        } catch (error) {
          if (attempt >= 20) throw error;
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
      await until(accepts, 'did not come back');
    },
    async remove() {
      await server?.stop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
