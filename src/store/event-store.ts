import type pg from 'pg';
import type { FoldableEvent } from '../domain/aggregate.ts';
import type { ExpectedVersion } from '../domain/errors.ts';
import type { Queryable } from './database.ts';
import type { ReadModelRow } from './read-model-row.ts';

export interface StreamId {
  readonly type: string;
  readonly id: string;
  /** When set, a stream of another workspace reads as empty: what every request's reads pass. */
  readonly workspaceId?: string | undefined;
}

export interface NewEvent {
  readonly eventId: string;
  readonly type: string;
  readonly data: unknown;
  /** data as JSON, when the caller has it already (it measured it). */
  readonly json?: string | undefined;
}

export interface EventMetadata {
  /** The workspace the stream belongs to: an append to another workspace's stream conflicts. */
  readonly workspaceId: string;
  readonly actorId: string | null;
  readonly requestId: string;
  readonly correlationId: string;
  readonly causationId: string | null;
}

export interface StoredEvent {
  readonly globalPosition: bigint;
  /** The id (xid8) of the transaction that wrote it: with globalPosition, the log's order. */
  readonly transactionId: bigint;
  readonly eventId: string;
  readonly workspaceId: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly version: number;
  readonly type: string;
  readonly data: unknown;
  /** The size of data as JSON, in bytes. */
  readonly dataBytes: number;
  readonly metadata: EventMetadata;
  readonly createdAt: Date;
  /** Hex SHA-256 over this event and the previous one's hash in its stream (the audit chain). */
  readonly hash: string;
}

export interface AppendResult {
  readonly events: readonly StoredEvent[];
  /** The stream's version after the append. */
  readonly version: number;
  /** True when every event id was stored already: nothing was written. */
  readonly alreadyStored: boolean;
}

export interface AppendOptions {
  readonly expectedVersion: ExpectedVersion;
  readonly metadata: EventMetadata;
  /** Runs inside the append's transaction (inline projections): both commit or neither. */
  readonly onAppended?: (tx: pg.PoolClient, events: readonly StoredEvent[]) => Promise<void>;
  /**
   * A read model's row that the append's own statement writes (an inline projection in one
   * round trip): both commit or neither. Only with an expected version that is a number or
   * NO_STREAM, and without onAppended.
   */
  readonly row?: ReadModelRow | undefined;
}

/** A position in the global log: (transaction id, global position). */
export interface LogPosition {
  readonly transactionId: bigint;
  readonly globalPosition: bigint;
}

/** Where an audit chain breaks: the first event whose stored hash is not the one recomputed. */
export interface ChainBreak {
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly version: number;
  /** null when events at the end of the stream are missing (the stream's version is ahead). */
  readonly eventId: string | null;
  readonly reason: 'HASH_MISMATCH' | 'VERSION_GAP' | 'MISSING_EVENTS';
}

export interface ChainReport {
  readonly eventsChecked: number;
  readonly brokenStreams: number;
  /** The first break in log order (for one stream: in version order); null when intact. */
  readonly firstBreak: ChainBreak | null;
}

export interface ChainScope {
  readonly workspaceId: string;
  readonly aggregateType?: string | undefined;
  readonly aggregateId?: string | undefined;
}

/** The log's order. */
// Without arithmetic: a bigint difference is an allocation, and this runs per subscriber per event.
export const comparePositions = (a: LogPosition, b: LogPosition): number =>
  a.transactionId !== b.transactionId
    ? a.transactionId < b.transactionId
      ? -1
      : 1
    : a.globalPosition === b.globalPosition
      ? 0
      : a.globalPosition < b.globalPosition
        ? -1
        : 1;

export const LOG_START: LogPosition = { transactionId: 0n, globalPosition: 0n };

export interface LogFilter {
  /** Unset only for the process's own readers (the shared live tail); every request sets it. */
  readonly workspaceId?: string | undefined;
  readonly aggregateType?: string | undefined;
  readonly aggregateId?: string | undefined;
  readonly types?: readonly string[] | undefined;
  /** Only events at or before this position. */
  readonly upTo?: LogPosition | undefined;
}

export interface AuditFilter {
  readonly workspaceId: string;
  readonly actorId?: string | undefined;
  readonly type?: string | undefined;
  readonly aggregateType?: string | undefined;
  readonly from?: Date | undefined;
  readonly to?: Date | undefined;
  /** Newest first: only events below this global position. */
  readonly before?: bigint | undefined;
}

export interface StreamRange {
  readonly fromVersion?: number | undefined;
  readonly toVersion?: number | undefined;
  readonly limit?: number | undefined;
  /** See ByteBound. */
  readonly maxBytes?: number | undefined;
}

/**
 * A read of events that must not hold more than `maxBytes` of event data ends at the event that
 * passes it (that one included, so a reader can tell, with spentBytes, and can always move on).
 * The cut is made in the statement, from each event's stored size: what is not read is never
 * in memory.
 */
export const spentBytes = (events: readonly Pick<StoredEvent, 'dataBytes'>[]): number =>
  events.reduce((sum, event) => sum + event.dataBytes, 0);

/**
 * Appended to a notification's aggregate type when the append began a stream: an execution's
 * start is new work for engines, its progress is not.
 */
export const NEW_STREAM = ':new';

/** A stream's events as folding needs them, with their sizes. */
export type FoldableStored = FoldableEvent & Pick<StoredEvent, 'dataBytes'>;

/**
 * Streams one at a time: what command handling and an execution's journal need, and all they
 * may use, so that they can be run against a store of another kind (one in memory, in specs).
 */
export interface EventStreams {
  /**
   * Appends events to one stream in one transaction, with the expected version checked.
   * Re-sending event ids that are all stored already writes nothing and returns the stored
   * events (idempotent retries), with the stream they are in.
   */
  append(stream: StreamId, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult>;
  /** One stream in version order. */
  readStream(stream: StreamId, range?: StreamRange): Promise<StoredEvent[]>;
  /** One stream as folding needs it: without metadata, hashes and positions. */
  readFoldable(stream: StreamId, range?: StreamRange): Promise<FoldableStored[]>;
  /** The events of these ids, stream by stream in version order. */
  findByEventIds(eventIds: readonly string[]): Promise<StoredEvent[]>;
}

/** The global log, in commit order: what the live log reads. */
export interface EventLog {
  /**
   * The log after a position, in (transaction id, global position) order: only events of
   * transactions older than every transaction still open, so that one committed later always
   * sorts after what a reader has seen.
   */
  readLog(after: LogPosition, limit: number, filter?: LogFilter, maxBytes?: number): Promise<StoredEvent[]>;
  /** The position a reader that wants only new events starts from. */
  logHead(): Promise<LogPosition>;
}

/** Every operation of the event store, one file each under store/events/. */
export interface EventStore extends EventStreams, EventLog {
  /** The stream's current version; 0 when it has no events. */
  streamVersion(stream: StreamId, db?: Queryable): Promise<number>;
  /** The stream's version as of an instant: that of its last event recorded at or before it (0 if none). */
  versionAt(stream: StreamId, at: Date): Promise<number>;
  /** Newest first, for audit reads. */
  readAudit(filter: AuditFilter, limit: number, maxBytes?: number): Promise<StoredEvent[]>;
  /** Every stream of one aggregate type, stream by stream, in version order (rebuilds). */
  readAggregateType(
    type: string,
    after: { readonly id: string; readonly version: number },
    limit: number,
    db?: Queryable,
  ): Promise<StoredEvent[]>;
  /** Whole streams of one type in one workspace, in one statement (no N+1), up to maxBytes of data. */
  readStreams(workspaceId: string, type: string, ids: readonly string[], maxBytes: number): Promise<StoredEvent[]>;
  /** The latest `count` events of each stream of one workspace, in one statement, up to maxBytes of data. */
  latestOfStreams(workspaceId: string, type: string, ids: readonly string[], count: number, maxBytes: number): Promise<StoredEvent[]>;
  /** Recomputes the hash chain of one stream, or of a workspace's streams, and reports the first break. */
  verifyChain(scope: ChainScope): Promise<ChainReport>;
}
