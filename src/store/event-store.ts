import type pg from 'pg';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FoldableEvent } from '../domain/aggregate.ts';
import { AppError, VersionConflictError, type ExpectedVersion } from '../domain/errors.ts';
import { Conditions } from './conditions.ts';
import type { Database, Queryable } from './database.ts';
import { EVENTS_CHANNEL } from './notifications.ts';
import { AmbiguousCommitError, isUnavailable, unavailable } from './unavailable.ts';

/** Waits before each new try of an append whose COMMIT went unanswered: about three seconds in all. */
const AMBIGUOUS_RETRY_MS = [100, 300, 1000, 2000];

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
export const spentBytes = (events: readonly Pick<StoredEvent, 'dataBytes'>[]): number => events.reduce((sum, event) => sum + event.dataBytes, 0);

/**
 * `SELECT columns <from> ORDER BY order LIMIT limit`, cut after `maxBytes` of event data when a
 * bound is given (a parameter's placeholder). The running sum is a window over the same order,
 * which PostgreSQL computes as it walks the index, so the LIMIT still ends the walk.
 */
function pageStatement(columns: string, from: string, order: string, limit: string, maxBytes: string | undefined): string {
  if (maxBytes === undefined) return `SELECT ${columns} ${from} ORDER BY ${order} LIMIT ${limit}`;
  return `SELECT * FROM (SELECT ${columns}, row_number() OVER w AS ordinal, sum(data_bytes) OVER w - data_bytes AS bytes_before ${from}
      WINDOW w AS (ORDER BY ${order} ROWS UNBOUNDED PRECEDING) ORDER BY ${order} LIMIT ${limit}) page
    WHERE bytes_before <= ${maxBytes} ORDER BY ordinal`;
}

// The xid is read as text under another name: an alias named transaction_id would make
// ORDER BY transaction_id sort text, not xid8.
const COLUMNS = `global_position, transaction_id::text AS xid, event_id, workspace_id, aggregate_type, aggregate_id,
  version, event_type, data, data_bytes, metadata, created_at, encode(hash, 'hex') AS hash`;

interface EventRow {
  global_position: string;
  xid: string;
  event_id: string;
  workspace_id: string;
  aggregate_type: string;
  aggregate_id: string;
  version: number;
  event_type: string;
  data: unknown;
  data_bytes: number;
  metadata: EventMetadata;
  created_at: Date;
  hash: string;
}

function toEvent(row: EventRow): StoredEvent {
  return {
    globalPosition: BigInt(row.global_position),
    transactionId: BigInt(row.xid),
    eventId: row.event_id,
    workspaceId: row.workspace_id,
    aggregateType: row.aggregate_type,
    aggregateId: row.aggregate_id,
    version: row.version,
    type: row.event_type,
    data: row.data,
    dataBytes: row.data_bytes,
    metadata: row.metadata,
    createdAt: row.created_at,
    hash: row.hash,
  };
}

/**
 * Claims the next versions of a stream, checking the expected version atomically: the
 * statement row-locks the stream, so of two writers expecting the same version, the second
 * waits, then matches no row and gets a conflict. A stream of another workspace never matches.
 */
function claimStatement(expected: Claim): string {
  return expected === 'NEW'
    ? `INSERT INTO streams (aggregate_type, aggregate_id, workspace_id, version, bytes) VALUES ($1, $2, $6, $3, $7)
      ON CONFLICT DO NOTHING RETURNING version`
    : `UPDATE streams SET version = version + $3, bytes = bytes + $7
      WHERE aggregate_type = $1 AND aggregate_id = $2 AND workspace_id = $6 AND version = $8 RETURNING version`;
}

/**
 * The append in one statement: claim the versions, wake the live-log listeners of every
 * process (NOTIFY is delivered at commit, and only wakes them: they read the table), chain
 * each new event's hash to the one before it, insert. The previous hash is read in the
 * statement's snapshot; that is the stream's last event, because the claim only succeeds
 * for a writer that expected the version that snapshot shows.
 */
function appendStatement(expected: Claim): string {
  return `WITH RECURSIVE claim AS (${claimStatement(expected)}),
      wake AS (SELECT pg_notify('${EVENTS_CHANNEL}', ${expected === 'NEW' ? `$1 || '${NEW_STREAM}'` : '$1'}) AS sent),
      batch AS (SELECT e.value, e.ordinality::int AS n FROM jsonb_array_elements($5::jsonb) WITH ORDINALITY AS e),
      chain AS (
        SELECT 0 AS n, claim.version - $3 AS version, NULL::uuid AS event_id, NULL::text AS event_type,
          NULL::jsonb AS data, NULL::int AS bytes, NULL::timestamptz(3) AS created_at,
          (SELECT hash FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND version = claim.version - $3) AS hash
        FROM claim
        UNION ALL
        SELECT b.n, c.version + 1, (b.value->>'eventId')::uuid, b.value->>'type', b.value->'data', (b.value->>'bytes')::int, now.at,
          flowledger_event_hash(c.hash, (b.value->>'eventId')::uuid, $6, $1, $2, c.version + 1, b.value->>'type',
            b.value->'data', $4::jsonb, now.at)
        FROM chain c JOIN batch b ON b.n = c.n + 1, LATERAL (SELECT clock_timestamp()::timestamptz(3) AS at) now
      )
    INSERT INTO events (event_id, workspace_id, aggregate_type, aggregate_id, version, event_type, data, data_bytes, metadata, actor_id, created_at, hash)
    SELECT chain.event_id, $6, $1, $2, chain.version, chain.event_type, chain.data, chain.bytes, $4::jsonb,
      ($4::jsonb->>'actorId')::uuid, chain.created_at, chain.hash
    FROM chain, wake WHERE chain.n > 0
    ORDER BY chain.n
    RETURNING ${COLUMNS}`;
}

/** Appended to a notification's aggregate type when the append began a stream: an execution's start is new work for engines, its progress is not. */
export const NEW_STREAM = ':new';

/** How an append takes its versions: a new stream, or the next versions after a known one. */
type Claim = 'NEW' | number;

const UNIQUE_VIOLATION = '23505';

export class EventStore {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /**
   * Appends events to one stream in one transaction. Re-sending event ids that are all
   * stored already writes nothing and returns the stored events (idempotent retries), with
   * the stream they are in.
   */
  async append(stream: StreamId, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
    if (events.length === 0) throw new Error('append needs at least one event');
    // A COMMIT whose answer was lost may have committed: the same events are sent again. If
    // they were stored, the retry finds them by their ids (alreadyStored); if not, it stores them.
    let ambiguous = false;
    for (let attempt = 0; ; attempt += 1) {
      try {
        return await this.#appendOnce(stream, events, options);
      } catch (error) {
        if (!(error instanceof AmbiguousCommitError) && !(ambiguous && isUnavailable(error))) throw error;
        ambiguous = true;
        if (attempt >= AMBIGUOUS_RETRY_MS.length) throw unavailable(true);
        await sleep(AMBIGUOUS_RETRY_MS[attempt]);
      }
    }
  }

  async #appendOnce(stream: StreamId, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
    const { expectedVersion, metadata } = options;
    // Each event's data is serialized once, which also measures it.
    let bytes = 0;
    const batch = events.map(({ eventId, type, data, json: given }) => {
      const json = given ?? JSON.stringify(data ?? null);
      const size = Buffer.byteLength(json);
      bytes += size;
      return `{"eventId":${JSON.stringify(eventId)},"type":${JSON.stringify(type)},"bytes":${size},"data":${json}}`;
    });
    const params: unknown[] = [stream.type, stream.id, events.length, JSON.stringify(metadata), `[${batch.join(',')}]`, metadata.workspaceId, bytes];
    const own = { ...stream, workspaceId: metadata.workspaceId };
    try {
      return await this.#db.transaction(async (tx) => {
        const claim = await this.#claimable(tx, own, expectedVersion);
        if (claim !== 'NEW') params.push(claim);
        // Named, so each connection plans it once: planning it (and the hash function's body)
        // on every append cost more than the append itself (docs/benchmarks.md).
        const { rows } = await tx.query<EventRow>({
          name: claim === 'NEW' ? 'append-new-stream' : 'append-next',
          text: appendStatement(claim),
          values: params,
        });
        if (rows.length === 0) throw await this.#conflict(tx, own, expectedVersion);
        const stored = rows.map(toEvent).sort((a, b) => a.version - b.version);
        await options.onAppended?.(tx, stored);
        return { events: stored, version: stored.at(-1)!.version, alreadyStored: false };
      });
    } catch (error) {
      const duplicate =
        (error as { code?: string }).code === UNIQUE_VIOLATION ||
        error instanceof VersionConflictError;
      if (!duplicate) throw error;
      const previous = await this.findByEventIds(events.map((event) => event.eventId));
      if (previous.length === 0) throw error;
      // The whole batch, in one stream: that stream may not be this one (a retried create
      // draws a new id), so callers that care compare it.
      if (previous.length !== events.length || previous.some((e) => e.aggregateId !== previous[0]!.aggregateId)) {
        throw new AppError('IDEMPOTENCY_KEY_REUSED', 'some of these event ids are stored already, but not all of them in one stream');
      }
      return { events: previous, version: previous.at(-1)!.version, alreadyStored: true };
    }
  }

  /**
   * How an append claims its versions. ANY and STREAM_EXISTS lock the stream first (ANY
   * creating it empty if need be, so that racing first writers queue on it) and append after
   * the version they find: the append's snapshot then holds the stream's last event.
   */
  async #claimable(tx: Queryable, stream: StreamId, expected: ExpectedVersion): Promise<Claim> {
    if (expected !== 'ANY' && expected !== 'STREAM_EXISTS') return expected === 'NO_STREAM' || expected === 0 ? 'NEW' : expected;
    const key = [stream.type, stream.id, stream.workspaceId];
    if (expected === 'ANY') {
      await tx.query(
        'INSERT INTO streams (aggregate_type, aggregate_id, workspace_id, version) VALUES ($1, $2, $3, 0) ON CONFLICT DO NOTHING',
        key,
      );
    }
    const { rows } = await tx.query<{ version: number }>(
      'SELECT version FROM streams WHERE aggregate_type = $1 AND aggregate_id = $2 AND workspace_id = $3 FOR UPDATE',
      key,
    );
    if (!rows[0] || (expected === 'STREAM_EXISTS' && rows[0].version === 0)) throw new VersionConflictError(expected, 0);
    return rows[0].version;
  }

  async #conflict(tx: Queryable, stream: StreamId, expected: ExpectedVersion): Promise<VersionConflictError> {
    return new VersionConflictError(expected, await this.streamVersion(stream, tx));
  }

  /** The stream's current version; 0 when it has no events. */
  async streamVersion(stream: StreamId, db: Queryable = this.#db.pool): Promise<number> {
    const { rows } = await db.query<{ version: number }>(
      'SELECT version FROM streams WHERE aggregate_type = $1 AND aggregate_id = $2 AND ($3::uuid IS NULL OR workspace_id = $3)',
      [stream.type, stream.id, stream.workspaceId ?? null],
    );
    return rows[0]?.version ?? 0;
  }

  /** The stream's version as of an instant: that of its last event recorded at or before it (0 if none). */
  async versionAt(stream: StreamId, at: Date): Promise<number> {
    // Newest first: a recent instant is found after a few rows, not the whole stream.
    const { rows } = await this.#db.pool.query<{ version: number }>(
      `SELECT version FROM events
       WHERE aggregate_type = $1 AND aggregate_id = $2 AND created_at <= $3 AND ($4::uuid IS NULL OR workspace_id = $4)
       ORDER BY version DESC LIMIT 1`,
      [stream.type, stream.id, at, stream.workspaceId ?? null],
    );
    return rows[0]?.version ?? 0;
  }

  async findByEventIds(eventIds: readonly string[]): Promise<StoredEvent[]> {
    const { rows } = await this.#db.pool.query<EventRow>(
      `SELECT ${COLUMNS} FROM events WHERE event_id = ANY($1::uuid[]) ORDER BY aggregate_id, version`,
      [eventIds],
    );
    return rows.map(toEvent);
  }

  /** One stream in version order. */
  async readStream(stream: StreamId, range: StreamRange = {}): Promise<StoredEvent[]> {
    return (await this.#streamRows<EventRow>(COLUMNS, stream, range)).map(toEvent);
  }

  /**
   * A stream's events as folding needs them: type, data and envelope, without the metadata
   * JSON, hash and positions, which made a 10,000-event replay read take twice as long.
   */
  async readFoldable(stream: StreamId, range: StreamRange = {}): Promise<(FoldableEvent & Pick<StoredEvent, 'dataBytes'>)[]> {
    const rows = await this.#streamRows<{ version: number; event_type: string; data: unknown; data_bytes: number; actor_id: string | null; workspace_id: string; created_at: Date }>(
      'version, event_type, data, data_bytes, actor_id, workspace_id, created_at',
      stream,
      range,
    );
    return rows.map((row) => ({
      version: row.version,
      type: row.event_type,
      data: row.data,
      dataBytes: row.data_bytes,
      createdAt: row.created_at,
      metadata: { actorId: row.actor_id, workspaceId: row.workspace_id },
    }));
  }

  async #streamRows<Row extends pg.QueryResultRow>(columns: string, stream: StreamId, range: StreamRange): Promise<Row[]> {
    const params = [stream.type, stream.id, range.fromVersion ?? 1, range.toVersion ?? null, range.limit ?? null, stream.workspaceId ?? null];
    if (range.maxBytes !== undefined) params.push(range.maxBytes);
    const { rows } = await this.#db.pool.query<Row>(
      pageStatement(
        columns,
        `FROM events WHERE aggregate_type = $1 AND aggregate_id = $2 AND version >= $3
           AND ($4::int IS NULL OR version <= $4) AND ($6::uuid IS NULL OR workspace_id = $6)`,
        'version',
        '$5',
        range.maxBytes === undefined ? undefined : '$7',
      ),
      params,
    );
    return rows;
  }

  /**
   * The global log after a position, in (transaction id, global position) order. Only rows
   * of transactions older than every transaction still open are read, so an event that an
   * open transaction commits later always sorts after what a reader has already seen.
   */
  async readLog(after: LogPosition, limit: number, filter: LogFilter = {}, maxBytes?: number): Promise<StoredEvent[]> {
    const query = new Conditions([after.transactionId.toString(), after.globalPosition.toString(), limit]);
    // A workspace's log must be read from the index that leads with the workspace. With
    // `workspace_id = $n` the planner drops the column from the ORDER BY (it is constant) and
    // may walk the global order instead, past every other workspace's events, betting that
    // the LIMIT ends the walk early: a new workspace on a large log then reads all of it.
    // `= ANY(one-element array)` keeps the column in the ORDER BY, which only that index gives.
    const order: string[] = [];
    if (filter.workspaceId !== undefined) {
      query.add('workspace_id = ANY(?::uuid[])', [filter.workspaceId]);
      order.push('workspace_id');
      if (filter.aggregateType !== undefined) order.push('aggregate_type');
    }
    if (filter.aggregateType !== undefined) query.add('aggregate_type = ?', filter.aggregateType);
    if (filter.aggregateId !== undefined) query.add('aggregate_id = ?::uuid', filter.aggregateId);
    if (filter.types !== undefined) query.add('event_type = ANY(?::text[])', filter.types);
    if (filter.upTo !== undefined) {
      query.add('(transaction_id, global_position) <= (?::text::xid8, ?::bigint)', filter.upTo.transactionId.toString(), filter.upTo.globalPosition.toString());
    }
    const bound = maxBytes === undefined ? undefined : `$${query.params.push(maxBytes)}`;
    const { rows } = await this.#db.pool.query<EventRow>(
      pageStatement(
        COLUMNS,
        `FROM events WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
           AND (transaction_id, global_position) > ($1::text::xid8, $2::bigint) ${query.where}`,
        [...order, 'transaction_id', 'global_position'].join(', '),
        '$3',
        bound,
      ),
      query.params,
    );
    return rows.map(toEvent);
  }

  /** The position a reader that wants only new events starts from. */
  async logHead(): Promise<LogPosition> {
    const { rows } = await this.#db.pool.query<{ xid: string; global_position: string }>(
      `SELECT transaction_id::text AS xid, global_position FROM events
       WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
       ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
    );
    const row = rows[0];
    return row
      ? { transactionId: BigInt(row.xid), globalPosition: BigInt(row.global_position) }
      : LOG_START;
  }

  /** Newest first, for audit reads. */
  async readAudit(filter: AuditFilter, limit: number, maxBytes?: number): Promise<StoredEvent[]> {
    const query = new Conditions([[filter.workspaceId], limit]);
    // As in readLog: the workspace as = ANY(array), and an ORDER BY that names the index that
    // serves the filter (actor, or workspace and event type, or workspace), so that newest
    // first is a walk down that index, not down the global one past other workspaces.
    const order = filter.actorId !== undefined ? ['actor_id'] : filter.type !== undefined ? ['workspace_id', 'event_type'] : ['workspace_id'];
    if (filter.actorId !== undefined) query.add('actor_id = ?::uuid', filter.actorId);
    if (filter.type !== undefined) query.add('event_type = ?', filter.type);
    if (filter.aggregateType !== undefined) query.add('aggregate_type = ?', filter.aggregateType);
    if (filter.from !== undefined) query.add('created_at >= ?::timestamptz', filter.from);
    if (filter.to !== undefined) query.add('created_at < ?::timestamptz', filter.to);
    if (filter.before !== undefined) query.add('global_position < ?::bigint', filter.before.toString());
    const bound = maxBytes === undefined ? undefined : `$${query.params.push(maxBytes)}`;
    const { rows } = await this.#db.pool.query<EventRow>(
      pageStatement(
        COLUMNS,
        `FROM events WHERE workspace_id = ANY($1::uuid[]) ${query.where}`,
        [...order, 'global_position'].map((column) => `${column} DESC`).join(', '),
        '$2',
        bound,
      ),
      query.params,
    );
    return rows.map(toEvent);
  }

  /** Every stream of one aggregate type, stream by stream, in version order (rebuilds). */
  async readAggregateType(
    type: string,
    after: { readonly id: string; readonly version: number },
    limit: number,
    db: Queryable = this.#db.pool,
  ): Promise<StoredEvent[]> {
    const { rows } = await db.query<EventRow>(
      `SELECT ${COLUMNS} FROM events
       WHERE aggregate_type = $1 AND (aggregate_id, version) > ($2::uuid, $3::int)
       ORDER BY aggregate_id, version LIMIT $4`,
      [type, after.id, after.version, limit],
    );
    return rows.map(toEvent);
  }

  /** Whole streams of one type in one workspace, stream by stream, in one statement (no N+1), up to maxBytes of data. */
  async readStreams(workspaceId: string, type: string, ids: readonly string[], maxBytes: number): Promise<StoredEvent[]> {
    const { rows } = await this.#db.pool.query<EventRow>(
      pageStatement(COLUMNS, 'FROM events WHERE aggregate_type = $1 AND aggregate_id = ANY($2::uuid[]) AND workspace_id = $3', 'aggregate_id, version', 'ALL', '$4'),
      [type, ids, workspaceId, maxBytes],
    );
    return rows.map(toEvent);
  }

  /** The latest `count` events of each stream of one workspace, in one statement (no N+1), up to maxBytes of data. */
  async latestOfStreams(workspaceId: string, type: string, ids: readonly string[], count: number, maxBytes: number): Promise<StoredEvent[]> {
    const { rows } = await this.#db.pool.query<EventRow>(
      pageStatement(
        'e.*',
        `FROM unnest($2::uuid[]) WITH ORDINALITY AS s(id, place)
         CROSS JOIN LATERAL (
           SELECT ${COLUMNS} FROM events
           WHERE aggregate_type = $1 AND aggregate_id = s.id AND workspace_id = $4 ORDER BY version DESC LIMIT $3
         ) e`,
        's.place, e.version DESC',
        'ALL',
        '$5',
      ),
      [type, ids, count, workspaceId, maxBytes],
    );
    return rows.map(toEvent);
  }

  /**
   * Recomputes the hash chain of one stream, or of every stream of a workspace, in the
   * database (the append wrote it there with the same function), and reports the first break.
   */
  async verifyChain(scope: ChainScope): Promise<ChainReport> {
    const { rows } = await this.#db.pool.query<{
      events: string;
      broken: string;
      first: ChainBreak | null;
    }>(
      `WITH checked AS (
         SELECT global_position, event_id, aggregate_type, aggregate_id, version, hash, actor_id, metadata,
           lag(version) OVER w AS previous_version,
           flowledger_event_hash(lag(hash) OVER w, event_id, workspace_id, aggregate_type, aggregate_id, version,
             event_type, data, metadata, created_at) AS expected
         FROM events
         WHERE workspace_id = $1 AND ($2::text IS NULL OR aggregate_type = $2) AND ($3::uuid IS NULL OR aggregate_id = $3)
         WINDOW w AS (PARTITION BY aggregate_type, aggregate_id ORDER BY version)
       ), breaks AS (
         SELECT aggregate_type, aggregate_id, version, event_id, global_position,
           CASE WHEN version <> coalesce(previous_version, 0) + 1 THEN 'VERSION_GAP' ELSE 'HASH_MISMATCH' END AS reason
         FROM checked
         WHERE version <> coalesce(previous_version, 0) + 1 OR hash IS DISTINCT FROM expected
           OR actor_id IS DISTINCT FROM (metadata->>'actorId')::uuid
         UNION ALL
         SELECT s.aggregate_type, s.aggregate_id, coalesce(max(e.version), 0) + 1, NULL, NULL, 'MISSING_EVENTS'
         FROM streams s LEFT JOIN events e ON e.aggregate_type = s.aggregate_type AND e.aggregate_id = s.aggregate_id
         WHERE s.workspace_id = $1 AND ($2::text IS NULL OR s.aggregate_type = $2) AND ($3::uuid IS NULL OR s.aggregate_id = $3)
         GROUP BY s.aggregate_type, s.aggregate_id, s.version HAVING s.version > coalesce(max(e.version), 0)
       )
       SELECT (SELECT count(*) FROM checked) AS events,
         (SELECT count(DISTINCT (aggregate_type, aggregate_id)) FROM breaks) AS broken,
         (SELECT json_build_object('aggregateType', aggregate_type, 'aggregateId', aggregate_id, 'version', version,
            'eventId', event_id, 'reason', reason)
          FROM breaks ORDER BY global_position NULLS LAST, version LIMIT 1) AS first`,
      [scope.workspaceId, scope.aggregateType ?? null, scope.aggregateId ?? null],
    );
    const row = rows[0]!;
    return { eventsChecked: Number(row.events), brokenStreams: Number(row.broken), firstBreak: row.first };
  }
}
