import type { Queryable } from '../database.ts';
import { Conditions } from '../conditions.ts';
import { LOG_START, type LogFilter, type LogPosition, type StoredEvent } from '../event-store.ts';
import { COLUMNS, pageStatement, toEvent, type EventRow } from './rows.ts';

/**
 * The global log after a position, in (transaction id, global position) order. Only rows
 * of transactions older than every transaction still open are read, so an event that an
 * open transaction commits later always sorts after what a reader has already seen.
 */
export async function readLog(
  db: Queryable,
  after: LogPosition,
  limit: number,
  filter: LogFilter = {},
  maxBytes?: number,
): Promise<StoredEvent[]> {
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
    query.add(
      '(transaction_id, global_position) <= (?::text::xid8, ?::bigint)',
      filter.upTo.transactionId.toString(),
      filter.upTo.globalPosition.toString(),
    );
  }
  const bound = maxBytes === undefined ? undefined : `$${query.params.push(maxBytes)}`;
  const { rows } = await db.query<EventRow>(
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
export async function logHead(db: Queryable): Promise<LogPosition> {
  const { rows } = await db.query<{ xid: string; global_position: string }>(
    `SELECT transaction_id::text AS xid, global_position FROM events
     WHERE transaction_id < pg_snapshot_xmin(pg_current_snapshot())
     ORDER BY transaction_id DESC, global_position DESC LIMIT 1`,
  );
  const row = rows[0];
  return row ? { transactionId: BigInt(row.xid), globalPosition: BigInt(row.global_position) } : LOG_START;
}
