import type { Config } from '../config.ts';
import { CommandHandler } from '../app/command-handler.ts';
import { History } from '../app/history.ts';
import { IdentityService } from '../app/identity.ts';
import { LiveLog } from '../app/live-log.ts';
import { WorkflowService } from '../app/workflows.ts';
import type { Database } from '../store/database.ts';
import { EventStore } from '../store/event-store.ts';
import { AppendNotifications } from '../store/notifications.ts';
import { createBulkhead, type Bulkhead, type BulkheadStats } from './bulkhead.ts';

/** Everything a request may use, built once per process from the config and the database. */
export interface Services {
  readonly config: Config;
  readonly db: Database;
  readonly store: EventStore;
  readonly workflows: WorkflowService;
  readonly identity: IdentityService;
  readonly history: History;
  readonly live: LiveLog;
  readonly notifications: AppendNotifications;
  readonly heavyReads: Bulkhead & { stats(): BulkheadStats };
  /** Stops the live log and its listener; the database stays open. */
  stop(): Promise<void>;
}

export async function startServices(config: Config, db: Database): Promise<Services> {
  const store = new EventStore(db);
  const heavyReads = createBulkhead(config.heavyReadConcurrency, config.heavyReadQueue);
  const live = new LiveLog(store, {
    batchSize: config.liveBatchSize,
    bufferLimit: config.liveBufferLimit,
    pollIntervalMs: config.livePollIntervalMs,
    catchUpConcurrency: config.heavyReadConcurrency,
  });
  await live.start();
  const notifications = new AppendNotifications(db.connectionString, () => live.wake());
  await notifications.start();
  return {
    config,
    db,
    store,
    workflows: new WorkflowService(new CommandHandler(store), { maxDefinitionBytes: config.maxDefinitionBytes }),
    identity: new IdentityService(db, config.authCacheTtlMs),
    history: new History(store, heavyReads),
    live,
    notifications,
    heavyReads,
    async stop() {
      await notifications.stop();
      await live.stop();
    },
  };
}
