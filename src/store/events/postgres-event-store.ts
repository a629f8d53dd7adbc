import type { Database, Queryable } from '../database.ts';
import type {
  AppendOptions,
  AuditFilter,
  ChainScope,
  EventStore,
  LogFilter,
  LogPosition,
  NewEvent,
  StoredEvent,
  StreamId,
  StreamRange,
} from '../event-store.ts';
import { appendToStream } from './append-to-stream.ts';
import { readAggregateType } from './read-aggregate-type.ts';
import { readAudit } from './read-audit.ts';
import { findByEventIds, latestOfStreams, readStreams } from './read-batches.ts';
import { logHead, readLog } from './read-log.ts';
import { readFoldable, readStream, streamVersion, versionAt } from './read-stream.ts';
import { verifyChain } from './verify-chain.ts';

/** The event store on PostgreSQL: each operation is a file of this folder, on the process's pool. */
export class PostgresEventStore implements EventStore {
  readonly #db: Database;
  readonly #onCommitted: ((events: readonly StoredEvent[]) => void) | undefined;

  /** `onCommitted` hears of each append once it has committed, before the append resolves. */
  constructor(db: Database, onCommitted?: (events: readonly StoredEvent[]) => void) {
    this.#db = db;
    this.#onCommitted = onCommitted;
  }

  async append(stream: StreamId, events: readonly NewEvent[], options: AppendOptions) {
    const result = await appendToStream(this.#db, stream, events, options);
    // Stored already, too: a first try whose COMMIT went unanswered was never heard of.
    this.#onCommitted?.(result.events);
    return result;
  }

  readStream(stream: StreamId, range?: StreamRange) {
    return readStream(this.#db.pool, stream, range);
  }

  readFoldable(stream: StreamId, range?: StreamRange) {
    return readFoldable(this.#db.pool, stream, range);
  }

  findByEventIds(eventIds: readonly string[]) {
    return findByEventIds(this.#db.pool, eventIds);
  }

  streamVersion(stream: StreamId, db: Queryable = this.#db.pool) {
    return streamVersion(db, stream);
  }

  versionAt(stream: StreamId, at: Date) {
    return versionAt(this.#db.pool, stream, at);
  }

  readLog(after: LogPosition, limit: number, filter?: LogFilter, maxBytes?: number) {
    return readLog(this.#db.pool, after, limit, filter, maxBytes);
  }

  logHead() {
    return logHead(this.#db.pool);
  }

  readAudit(filter: AuditFilter, limit: number, maxBytes?: number) {
    return readAudit(this.#db.pool, filter, limit, maxBytes);
  }

  readAggregateType(type: string, after: { readonly id: string; readonly version: number }, limit: number, db: Queryable = this.#db.pool) {
    return readAggregateType(db, type, after, limit);
  }

  readStreams(workspaceId: string, type: string, ids: readonly string[], maxBytes: number) {
    return readStreams(this.#db.pool, workspaceId, type, ids, maxBytes);
  }

  latestOfStreams(workspaceId: string, type: string, ids: readonly string[], count: number, maxBytes: number) {
    return latestOfStreams(this.#db.pool, workspaceId, type, ids, count, maxBytes);
  }

  verifyChain(scope: ChainScope) {
    return verifyChain(this.#db.pool, scope);
  }
}
