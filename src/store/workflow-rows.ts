import type { Workflow } from '../generated/prisma/client.ts';
import { Conditions, statementName } from './conditions.ts';
import type { Database } from './database.ts';

/** Which of a workspace's active workflows a read is about. */
export interface WorkflowQuery {
  readonly workspaceId: string;
  readonly nameContains?: string | undefined;
  readonly createdById?: string | undefined;
}

/** A page of the workflows read model, newest first; `take` < 0 pages backwards from `cursor`. */
export interface WorkflowPageQuery extends WorkflowQuery {
  readonly take: number;
  /** An id: the page starts after it (or ends before it, backwards). */
  readonly cursor?: string | undefined;
}

interface Row {
  id: string;
  workspace_id: string;
  name: string;
  description: string;
  definition: Workflow['definition'];
  status: Workflow['status'];
  version: number;
  created_at: Date;
  updated_at: Date;
  created_by: string;
}

const COLUMNS = 'id, workspace_id, name, description, definition, status, version, created_at, updated_at, created_by';

const toWorkflow = (row: Row): Workflow => ({
  id: row.id,
  workspaceId: row.workspace_id,
  name: row.name,
  description: row.description,
  definition: row.definition,
  status: row.status,
  version: row.version,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
  createdById: row.created_by,
});

/** `%`, `_` and `\` match themselves in a LIKE pattern only escaped. */
const escapeLike = (text: string) => text.replace(/[\\%_]/g, (char) => `\\${char}`);

/**
 * The active workflows of a workspace, read with plain SQL: the API's busiest reads, where
 * Prisma's own cost per query was the largest part of a request's (docs/benchmarks.md). Rows
 * have Prisma's shape, so the GraphQL types built on the Prisma model serve them unchanged.
 * Each distinct statement is named, so that a connection plans it once.
 */
export class WorkflowRows {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /** An active workflow of the workspace; null for a deleted one, another workspace's, or none. */
  async visible(workspaceId: string, id: string): Promise<Workflow | null> {
    const { rows } = await this.#db.pool.query<Row>({
      name: 'workflow-visible',
      text: `SELECT ${COLUMNS} FROM workflows WHERE id = $1 AND workspace_id = $2 AND status = 'ACTIVE'`,
      values: [id, workspaceId],
    });
    return rows[0] ? toWorkflow(rows[0]) : null;
  }

  /** Rows in the order Prisma gives for `orderBy: { id: 'desc' }` with this take and cursor. */
  async page(query: WorkflowPageQuery): Promise<Workflow[]> {
    const backward = query.take < 0;
    const conditions = filtered(query, [query.workspaceId, Math.abs(query.take)]);
    if (query.cursor !== undefined) conditions.add(backward ? 'id > ?' : 'id < ?', query.cursor);
    const text = `SELECT ${COLUMNS} FROM workflows WHERE workspace_id = $1 AND status = 'ACTIVE'${conditions.where} ORDER BY id ${backward ? 'ASC' : 'DESC'} LIMIT $2`;
    const { rows } = await this.#db.pool.query<Row>({ name: statementName('workflows-page', text), text, values: conditions.params });
    const workflows = rows.map(toWorkflow);
    return backward ? workflows.reverse() : workflows;
  }

  /** How many rows a query matches (an index-only walk of the workspace's active workflows). */
  async count(query: WorkflowQuery): Promise<number> {
    const conditions = filtered(query, [query.workspaceId]);
    const text = `SELECT count(*)::int AS n FROM workflows WHERE workspace_id = $1 AND status = 'ACTIVE'${conditions.where}`;
    const { rows } = await this.#db.pool.query<{ n: number }>({
      name: statementName('workflows-count', text),
      text,
      values: conditions.params,
    });
    return rows[0]!.n;
  }
}

/** The filter's conditions, after the parameters given. */
function filtered(query: WorkflowQuery, params: unknown[]): Conditions {
  const conditions = new Conditions(params);
  if (query.nameContains) conditions.add("name ILIKE '%' || ? || '%'", escapeLike(query.nameContains));
  if (query.createdById !== undefined) conditions.add('created_by = ?', query.createdById);
  return conditions;
}
