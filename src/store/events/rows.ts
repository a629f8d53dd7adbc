import type { EventMetadata, StoredEvent } from '../event-store.ts';

/**
 * `SELECT columns <from> ORDER BY order LIMIT limit`, cut after `maxBytes` of event data when a
 * bound is given (a parameter's placeholder). The running sum is a window over the same order,
 * which PostgreSQL computes as it walks the index, so the LIMIT still ends the walk.
 */
export function pageStatement(columns: string, from: string, order: string, limit: string, maxBytes: string | undefined): string {
  if (maxBytes === undefined) return `SELECT ${columns} ${from} ORDER BY ${order} LIMIT ${limit}`;
  return `SELECT * FROM (SELECT ${columns}, row_number() OVER w AS ordinal, sum(data_bytes) OVER w - data_bytes AS bytes_before ${from}
      WINDOW w AS (ORDER BY ${order} ROWS UNBOUNDED PRECEDING) ORDER BY ${order} LIMIT ${limit}) page
    WHERE bytes_before <= ${maxBytes} ORDER BY ordinal`;
}

// The xid is read as text under another name: an alias named transaction_id would make
// ORDER BY transaction_id sort text, not xid8.
export const COLUMNS = `global_position, transaction_id::text AS xid, event_id, workspace_id, aggregate_type, aggregate_id,
  version, event_type, data, data_bytes, metadata, created_at, encode(hash, 'hex') AS hash`;

export interface EventRow {
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

export function toEvent(row: EventRow): StoredEvent {
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
