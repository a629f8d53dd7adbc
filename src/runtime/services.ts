import type { Config } from '../config.ts';
import { CommandHandler } from '../app/command-handler.ts';
import { History } from '../app/history.ts';
import { IdentityService } from '../app/identity.ts';
import { WorkflowService } from '../app/workflows.ts';
import type { Database } from '../store/database.ts';
import { EventStore } from '../store/event-store.ts';
import { createBulkhead, type Bulkhead, type BulkheadStats } from './bulkhead.ts';

/** Everything a request may use, built once per process from the config and the database. */
export interface Services {
  readonly config: Config;
  readonly db: Database;
  readonly store: EventStore;
  readonly workflows: WorkflowService;
  readonly identity: IdentityService;
  readonly history: History;
  readonly heavyReads: Bulkhead & { stats(): BulkheadStats };
}

export function createServices(config: Config, db: Database): Services {
  const store = new EventStore(db);
  const heavyReads = createBulkhead(config.heavyReadConcurrency, config.heavyReadQueue);
  return {
    config,
    db,
    store,
    workflows: new WorkflowService(new CommandHandler(store), { maxDefinitionBytes: config.maxDefinitionBytes }),
    identity: new IdentityService(db, config.authCacheTtlMs),
    history: new History(store, heavyReads),
    heavyReads,
  };
}
