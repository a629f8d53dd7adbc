import type { Queryable } from '../database.ts';
import type { ChainBreak, ChainReport, ChainScope } from '../event-store.ts';

/**
 * Recomputes the hash chain of one stream, or of every stream of a workspace, in the
 * database (the append wrote it there with the same function), and reports the first break.
 */
export async function verifyChain(db: Queryable, scope: ChainScope): Promise<ChainReport> {
  const { rows } = await db.query<{
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
