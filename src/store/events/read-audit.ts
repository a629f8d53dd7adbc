import type { Queryable } from '../database.ts';
import { Conditions } from '../conditions.ts';
import type { AuditFilter, StoredEvent } from '../event-store.ts';
import { COLUMNS, pageStatement, toEvent, type EventRow } from './rows.ts';

/** Newest first, for audit reads. */
export async function readAudit(db: Queryable, filter: AuditFilter, limit: number, maxBytes?: number): Promise<StoredEvent[]> {
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
  const { rows } = await db.query<EventRow>(
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
