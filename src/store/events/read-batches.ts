import type { Queryable } from '../database.ts';
import type { StoredEvent } from '../event-store.ts';
import { COLUMNS, pageStatement, toEvent, type EventRow } from './rows.ts';

export async function findByEventIds(db: Queryable, eventIds: readonly string[]): Promise<StoredEvent[]> {
  const { rows } = await db.query<EventRow>(
    `SELECT ${COLUMNS} FROM events WHERE event_id = ANY($1::uuid[]) ORDER BY aggregate_id, version`,
    [eventIds],
  );
  return rows.map(toEvent);
}

/** Whole streams of one type in one workspace, stream by stream, in one statement (no N+1), up to maxBytes of data. */
export async function readStreams(
  db: Queryable,
  workspaceId: string,
  type: string,
  ids: readonly string[],
  maxBytes: number,
): Promise<StoredEvent[]> {
  const { rows } = await db.query<EventRow>(
    pageStatement(
      COLUMNS,
      'FROM events WHERE aggregate_type = $1 AND aggregate_id = ANY($2::uuid[]) AND workspace_id = $3',
      'aggregate_id, version',
      'ALL',
      '$4',
    ),
    [type, ids, workspaceId, maxBytes],
  );
  return rows.map(toEvent);
}

/** The latest `count` events of each stream of one workspace, in one statement (no N+1), up to maxBytes of data. */
export async function latestOfStreams(
  db: Queryable,
  workspaceId: string,
  type: string,
  ids: readonly string[],
  count: number,
  maxBytes: number,
): Promise<StoredEvent[]> {
  const { rows } = await db.query<EventRow>(
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
