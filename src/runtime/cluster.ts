import cluster, { type Worker } from 'node:cluster';
import type { Config } from '../config.ts';
import { IdentityService } from '../app/identity.ts';
import { relayClusterScrapes } from '../ops/cluster-metrics.ts';
import { openDatabase } from '../store/database.ts';
import { applyMigrations } from '../store/migrations.ts';
import { resolveDatabase } from './database-url.ts';
import { announceBootstrap, exitOnSignals } from './app.ts';
import { log } from './log.ts';

const STABLE_MS = 30_000;
const QUICK_DEATHS = 5;
const MAX_BACKOFF_MS = 10_000;
const STOP_TIMEOUT_MS = 30_000;

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
  const db = openDatabase(target.url, { poolSize: 1 });
  try {
    announceBootstrap(await new IdentityService(db, config.authCacheTtlMs).bootstrapAdmin());
  } finally {
    await db.close();
  }
  let stopping = false;
  const env = { DATABASE_URL: target.url, CLUSTER_WORKERS: '1' };
  // Processes that die soon after they start are a crash loop, not bad luck: each is replaced
  // after a growing delay, and past QUICK_DEATHS in a row the whole cluster exits non-zero,
  // so that its supervisor sees it.
  let quickDeaths = 0;
  // Each process has a slot, 1 to CLUSTER_WORKERS, that its replacement takes over: /metrics labels its series with it.
  const slots = new Map<Worker, number>();
  relayClusterScrapes((worker) => slots.get(worker), config.clusterWorkers);
  const fork = (slot: number): Worker => {
    const started = Date.now();
    const worker = cluster.fork(env);
    slots.set(worker, slot);
    return worker.on('exit', (code, signal) => {
      slots.delete(worker);
      if (stopping) return;
      quickDeaths = Date.now() - started < STABLE_MS ? quickDeaths + 1 : 0;
      if (quickDeaths > QUICK_DEATHS) {
        log('error', 'server processes keep dying at start; stopping the cluster', { code, signal });
        exitCode = 1;
        process.kill(process.pid, 'SIGTERM');
        return;
      }
      const delay = quickDeaths === 0 ? 0 : Math.min(MAX_BACKOFF_MS, 100 * 2 ** quickDeaths);
      log('error', 'a server process died; starting another', { code, signal, delayMs: delay });
      setTimeout(() => fork(slot), delay);
    });
  };
  let exitCode = 0;
  for (let slot = 1; slot <= config.clusterWorkers; slot += 1) fork(slot);
  log('info', 'cluster started', { workers: config.clusterWorkers, embeddedDatabase: !config.databaseUrl });

  exitOnSignals('shutting down the cluster', async () => {
    stopping = true;
    const workers = Object.values(cluster.workers ?? {}).filter((worker): worker is Worker => worker !== undefined);
    const exits = workers.map((worker) => new Promise((resolve) => worker.once('exit', resolve)));
    for (const worker of workers) worker.process.kill('SIGTERM');
    // A process that does not stop in time is killed: the database must still be stopped.
    const kill = setTimeout(() => workers.forEach((worker) => worker.process.kill('SIGKILL')), STOP_TIMEOUT_MS);
    await Promise.all(exits);
    clearTimeout(kill);
    await target.release();
    return exitCode;
  });
}
