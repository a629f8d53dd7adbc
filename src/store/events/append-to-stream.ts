import { setTimeout as sleep } from 'node:timers/promises';
import { AppError, VersionConflictError, type ExpectedVersion } from '../../domain/errors.ts';
import type { Database, Queryable } from '../database.ts';
import { NEW_STREAM, type AppendOptions, type AppendResult, type NewEvent, type StreamId } from '../event-store.ts';
import { EVENTS_CHANNEL, THIS_PROCESS } from '../notifications.ts';
import { AmbiguousCommitError, isUnavailable, unavailable } from '../unavailable.ts';
import { findByEventIds } from './read-batches.ts';
import { streamVersion } from './read-stream.ts';
import { COLUMNS, toEvent, type EventRow } from './rows.ts';
import { upsertRowStatement, type ReadModelRow } from '../read-model-row.ts';

/** Waits before each new try of an append whose COMMIT went unanswered: about three seconds in all. */
const AMBIGUOUS_RETRY_MS = [100, 300, 1000, 2000];
/** A try with less time left than this is not begun. */
const MIN_TRY_MS = 200;

/** How an append takes its versions: a new stream, or the next versions after a known one. */
type Claim = 'NEW' | number;

const UNIQUE_VIOLATION = '23505';

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

/** How the append's own statement writes a read model's row: its times are those of the events stored. */
function rowStatement(row: ReadModelRow, param: string): string {
  const at = { first: 'first_event.created_at', last: 'last_event.created_at' };
  return upsertRowStatement(row, param, {
    expressions: Object.fromEntries(Object.entries(row.eventTimes).map(([column, which]) => [column, at[which]])),
    // No event stored (the claim failed), no row.
    from: ', (SELECT created_at FROM chain WHERE n = 1) first_event, (SELECT created_at FROM chain WHERE n = $3) last_event',
  });
}

/**
 * The append in one statement: claim the versions, wake the live-log listeners of every
 * process (NOTIFY is delivered at commit, and only wakes them: they read the table), chain
 * each new event's hash to the one before it, insert, and write the read model's row if one
 * is given. The previous hash is read in the statement's snapshot; that is the stream's last
 * event, because the claim only succeeds for a writer that expected the version that snapshot shows.
 */
function appendStatement(expected: Claim, row: ReadModelRow | undefined): string {
  const rowParam = `$${expected === 'NEW' ? 8 : 9}`;
  return `WITH RECURSIVE claim AS (${claimStatement(expected)}),
      wake AS (SELECT pg_notify('${EVENTS_CHANNEL}', $1 || '${expected === 'NEW' ? NEW_STREAM : ''}@${THIS_PROCESS}') AS sent),
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
      )${
        row
          ? `,
      projected AS (${rowStatement(row, rowParam)})`
          : ''
      }
    INSERT INTO events (event_id, workspace_id, aggregate_type, aggregate_id, version, event_type, data, data_bytes, metadata, actor_id, created_at, hash)
    SELECT chain.event_id, $6, $1, $2, chain.version, chain.event_type, chain.data, chain.bytes, $4::jsonb,
      ($4::jsonb->>'actorId')::uuid, chain.created_at, chain.hash
    FROM chain, wake WHERE chain.n > 0
    ORDER BY chain.n
    RETURNING ${COLUMNS}`;
}

/** The name a connection prepares a variant of the append statement under. */
const statementNameOf = (expected: Claim, row: ReadModelRow | undefined) =>
  `${expected === 'NEW' ? 'append-new-stream' : 'append-next'}${row ? `+${row.table}` : ''}`;

/**
 * Appends events to one stream in one transaction (EventStreams.append). A COMMIT whose answer
 * was lost with its connection may have committed: the same events are sent again, after a
 * pause. If they were stored, the retry finds them by their ids; if not, it stores them. The
 * retries end within the time one try may take (a connection's, then a statement's), so a
 * database that stalls costs a caller no more than that before it is told UNAVAILABLE.
 */
export async function appendToStream(
  db: Database,
  stream: StreamId,
  events: readonly NewEvent[],
  options: AppendOptions,
): Promise<AppendResult> {
  if (events.length === 0) throw new Error('append needs at least one event');
  const deadline = performance.now() + db.tryTimeoutMs;
  let ambiguous = false;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await appendOnce(db, stream, events, options, ambiguous ? deadline - performance.now() : undefined);
    } catch (error) {
      if (!(error instanceof AmbiguousCommitError) && !(ambiguous && isUnavailable(error))) throw error;
      ambiguous = true;
      const pause = AMBIGUOUS_RETRY_MS[attempt];
      if (pause === undefined || performance.now() + pause + MIN_TRY_MS > deadline) throw unavailable(true);
      await sleep(pause);
    }
  }
}

async function appendOnce(
  db: Database,
  stream: StreamId,
  events: readonly NewEvent[],
  options: AppendOptions,
  timeoutMs: number | undefined,
): Promise<AppendResult> {
  const { expectedVersion, metadata, row } = options;
  // Each event's data is serialized once, which also measures it.
  let bytes = 0;
  const batch = events.map(({ eventId, type, data, json: given }) => {
    const json = given ?? JSON.stringify(data ?? null);
    const size = Buffer.byteLength(json);
    bytes += size;
    return `{"eventId":${JSON.stringify(eventId)},"type":${JSON.stringify(type)},"bytes":${size},"data":${json}}`;
  });
  const params: unknown[] = [
    stream.type,
    stream.id,
    events.length,
    JSON.stringify(metadata),
    `[${batch.join(',')}]`,
    metadata.workspaceId,
    bytes,
  ];
  const own = { ...stream, workspaceId: metadata.workspaceId };
  const stored = (rows: readonly EventRow[]) => rows.map(toEvent).sort((a, b) => a.version - b.version);
  const direct = directClaim(expectedVersion);
  try {
    if (direct !== undefined && !options.onAppended) {
      // Nothing else to do in the transaction: the statement is the transaction.
      if (direct !== 'NEW') params.push(direct);
      if (row) params.push(JSON.stringify(row.values));
      const name = statementNameOf(direct, row);
      const { rows } = await db.write<EventRow>({ name, text: appendStatement(direct, row), values: params }, timeoutMs);
      if (rows.length === 0) throw new VersionConflictError(expectedVersion, await streamVersion(db.pool, own));
      const appended = stored(rows);
      return { events: appended, version: appended.at(-1)!.version, alreadyStored: false };
    }
    if (row) throw new Error('a row is written by the append statement only: with a known expected version and no onAppended');
    return await db.transaction(async (tx) => {
      const claim = await claimable(tx, own, expectedVersion);
      if (claim !== 'NEW') params.push(claim);
      // Named, so each connection plans it once: planning it (and the hash function's body)
      // on every append cost more than the append itself (docs/benchmarks.md).
      const { rows } = await tx.query<EventRow>({
        name: statementNameOf(claim, undefined),
        text: appendStatement(claim, undefined),
        values: params,
      });
      if (rows.length === 0) throw new VersionConflictError(expectedVersion, await streamVersion(tx, own));
      const appended = stored(rows);
      await options.onAppended?.(tx, appended);
      return { events: appended, version: appended.at(-1)!.version, alreadyStored: false };
    });
  } catch (error) {
    const duplicate = (error as { code?: string }).code === UNIQUE_VIOLATION || error instanceof VersionConflictError;
    if (!duplicate) throw error;
    const previous = await findByEventIds(
      db.pool,
      events.map((event) => event.eventId),
    );
    if (previous.length === 0) throw error;
    // The whole batch, in one stream: that stream may not be this one (a retried create
    // draws a new id), so callers that care compare it.
    if (previous.length !== events.length || previous.some((e) => e.aggregateId !== previous[0]!.aggregateId)) {
      throw new AppError('IDEMPOTENCY_KEY_REUSED', 'some of these event ids are stored already, but not all of them in one stream');
    }
    return { events: previous, version: previous.at(-1)!.version, alreadyStored: true };
  }
}

/** The claim of an expected version that names one: a new stream, or the version after a known one. */
function directClaim(expected: ExpectedVersion): Claim | undefined {
  if (expected === 'ANY' || expected === 'STREAM_EXISTS') return undefined;
  return expected === 'NO_STREAM' || expected === 0 ? 'NEW' : expected;
}

/**
 * How an append claims its versions. ANY and STREAM_EXISTS lock the stream first (ANY
 * creating it empty if need be, so that racing first writers queue on it) and append after
 * the version they find: the append's snapshot then holds the stream's last event.
 */
async function claimable(tx: Queryable, stream: StreamId, expected: ExpectedVersion): Promise<Claim> {
  const direct = directClaim(expected);
  if (direct !== undefined) return direct;
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
