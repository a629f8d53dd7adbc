import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../config.ts';
import type { IssuedKey } from '../app/identity.ts';
import { IdentityService } from '../app/identity.ts';
import { openDatabase } from '../store/database.ts';
import { applyMigrations } from '../store/migrations.ts';
import { resolveDatabase } from './database-url.ts';
import { describeError, log } from './log.ts';

/** What the first start on an empty database prints: the only time the admin's key is shown. */
export function announceBootstrap(issued: IssuedKey | null): void {
  if (!issued) return;
  process.stdout.write(
    `First start: a workspace "default" (${issued.workspaceId}) and its admin were created. The admin's API key, shown only now:\n${issued.apiKey}\n`,
  );
}

/**
 * CLUSTER_WORKERS > 1: this process prepares the database once (the embedded server,
 * migrations, the first admin), then runs that many server processes on its port (node:cluster
 * shares it) and restarts any that dies. They share the database, and with it executions
 * (leases) and live events (LISTEN/NOTIFY), as separate servers do. SIGINT or SIGTERM stops
 * them, then the database.
 */
export async function runPrimary(config: Config): Promise<void> {
  const target = await resolveDatabase(config);
  await applyMigrations(target.url);
  const db = openDatabase(target.url, 1);
  try {
    announceBootstrap(await new IdentityService(db, config.authCacheTtlMs).bootstrapAdmin());
  } finally {
    await db.close();
  }
  let stopping = false;
  const env = { DATABASE_URL: target.url, CLUSTER_WORKERS: '1' };
  const fork = (): Worker =>
    cluster.fork(env).on('exit', (code, signal) => {
      if (stopping) return;
      log('error', 'a server process died; starting another', { code, signal });
      fork();
    });
  for (let i = 0; i < config.clusterWorkers; i += 1) fork();
  log('info', 'cluster started', { workers: config.clusterWorkers, embeddedDatabase: !config.databaseUrl });

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.removeAllListeners(signal);
    process.on(signal, () => {
      if (stopping) return;
      stopping = true;
      log('info', 'shutting down the cluster', { signal });
      const workers = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined);
      const exits = workers.map((worker) => new Promise((resolve) => worker.once('exit', resolve)));
      for (const worker of workers) worker.process.kill('SIGTERM');
      void Promise.all(exits)
        .then(() => target.release())
        .then(
          () => process.exit(0),
          (error: unknown) => {
            log('error', 'unclean shutdown', describeError(error));
            process.exit(1);
          },
        );
    });
  }
}
