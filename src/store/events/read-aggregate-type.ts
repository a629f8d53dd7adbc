import type { Queryable } from '../database.ts';
import type { StoredEvent } from '../event-store.ts';
import { COLUMNS, toEvent, type EventRow } from './rows.ts';

/** Every stream of one aggregate type, stream by stream, in version order (rebuilds). */
export async function readAggregateType(
  db: Queryable,
  type: string,
  after: { readonly id: string; readonly version: number },
  limit: number,
): Promise<StoredEvent[]> {
  const { rows } = await db.query<EventRow>(
    `SELECT ${COLUMNS} FROM events
     WHERE aggregate_type = $1 AND (aggregate_id, version) > ($2::uuid, $3::int)
     ORDER BY aggregate_id, version LIMIT $4`,
    [type, after.id, after.version, limit],
  );
  return rows.map(toEvent);
}
