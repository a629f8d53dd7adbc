import { setTimeout as sleep } from 'node:timers/promises';
import { AppError, VersionConflictError, type ExpectedVersion } from '../../domain/errors.ts';
import type { Database, Queryable } from '../database.ts';
import { NEW_STREAM, type AppendOptions, type AppendResult, type NewEvent, type StreamId } from '../event-store.ts';
import { EVENTS_CHANNEL, THIS_PROCESS } from '../notifications.ts';
import { AmbiguousCommitError, isUnavailable, unavailable } from '../unavailable.ts';
import { findByEventIds } from './read-batches.ts';
import { streamVersion } from './read-stream.ts';
import { COLUMNS, toEvent, type EventRow } from './rows.ts';

/** Waits before each new try of an append whose COMMIT went unanswered: about three seconds in all. */
const AMBIGUOUS_RETRY_MS = [100, 300, 1000, 2000];

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

/**
 * The append in one statement: claim the versions, wake the live-log listeners of every
 * process (NOTIFY is delivered at commit, and only wakes them: they read the table), chain
 * each new event's hash to the one before it, insert. The previous hash is read in the
 * statement's snapshot; that is the stream's last event, because the claim only succeeds
 * for a writer that expected the version that snapshot shows.
 */
function appendStatement(expected: Claim): string {
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
      )
    INSERT INTO events (event_id, workspace_id, aggregate_type, aggregate_id, version, event_type, data, data_bytes, metadata, actor_id, created_at, hash)
    SELECT chain.event_id, $6, $1, $2, chain.version, chain.event_type, chain.data, chain.bytes, $4::jsonb,
      ($4::jsonb->>'actorId')::uuid, chain.created_at, chain.hash
    FROM chain, wake WHERE chain.n > 0
    ORDER BY chain.n
    RETURNING ${COLUMNS}`;
}

/**
 * Appends events to one stream in one transaction (EventStreams.append). A COMMIT whose answer
 * was lost with its connection may have committed: the same events are sent again, after a
 * pause. If they were stored, the retry finds them by their ids; if not, it stores them.
 */
export async function appendToStream(
  db: Database,
  stream: StreamId,
  events: readonly NewEvent[],
  options: AppendOptions,
): Promise<AppendResult> {
  if (events.length === 0) throw new Error('append needs at least one event');
  let ambiguous = false;
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await appendOnce(db, stream, events, options);
    } catch (error) {
      if (!(error instanceof AmbiguousCommitError) && !(ambiguous && isUnavailable(error))) throw error;
      ambiguous = true;
      if (attempt >= AMBIGUOUS_RETRY_MS.length) throw unavailable(true);
      await sleep(AMBIGUOUS_RETRY_MS[attempt]);
    }
  }
}

async function appendOnce(db: Database, stream: StreamId, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
  const { expectedVersion, metadata } = options;
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
  try {
    return await db.transaction(async (tx) => {
      const claim = await claimable(tx, own, expectedVersion);
      if (claim !== 'NEW') params.push(claim);
      // Named, so each connection plans it once: planning it (and the hash function's body)
      // on every append cost more than the append itself (docs/benchmarks.md).
      const { rows } = await tx.query<EventRow>({
        name: claim === 'NEW' ? 'append-new-stream' : 'append-next',
        text: appendStatement(claim),
        values: params,
      });
      if (rows.length === 0) throw new VersionConflictError(expectedVersion, await streamVersion(tx, own));
      const stored = rows.map(toEvent).sort((a, b) => a.version - b.version);
      await options.onAppended?.(tx, stored);
      return { events: stored, version: stored.at(-1)!.version, alreadyStored: false };
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

/**
 * How an append claims its versions. ANY and STREAM_EXISTS lock the stream first (ANY
 * creating it empty if need be, so that racing first writers queue on it) and append after
 * the version they find: the append's snapshot then holds the stream's last event.
 */
async function claimable(tx: Queryable, stream: StreamId, expected: ExpectedVersion): Promise<Claim> {
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
