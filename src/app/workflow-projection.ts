import { quotaExceeded } from '../domain/errors.ts';
import type { Queryable } from '../store/database.ts';
import { upsertRowStatement, type ReadModelRow } from '../store/read-model-row.ts';
import type { WorkflowState } from '../domain/workflows/workflow.ts';

/** A workflow's state as its row of the workflows read model. */
export function workflowRow(state: NonNullable<WorkflowState>): ReadModelRow {
  return {
    table: 'workflows',
    values: {
      id: state.id,
      name: state.name,
      description: state.description,
      definition: state.definition,
      status: state.status,
      version: state.version,
      created_at: state.createdAt,
      updated_at: state.updatedAt,
      created_by: state.createdById,
      workspace_id: state.workspaceId,
    },
    insertOnly: ['created_at', 'created_by', 'workspace_id'],
    eventTimes: { created_at: 'first', updated_at: 'last' },
  };
}

const QUOTA_CHECK = `$2::float8 = 'Infinity' OR (SELECT count(*) FROM workflows WHERE workspace_id = r.workspace_id AND status = 'ACTIVE') < $2::float8`;

/**
 * Writes a workflow's state to the workflows read model in the append's transaction (rebuilds,
 * and creates near the quota). A new workflow is written only while its workspace has fewer
 * than `quota` (QUOTA_EXCEEDED, and the append rolls back): counted in the same statement, so
 * creations in flight at the same moment may pass the quota by as many as they are, never more.
 */
export async function projectWorkflow(tx: Queryable, state: WorkflowState, quota = Infinity): Promise<void> {
  if (state === null) return;
  const row = workflowRow(state);
  const { rowCount } = await tx.query(upsertRowStatement(row, '$1', { where: QUOTA_CHECK }), [JSON.stringify(row.values), quota]);
  if (rowCount === 0) throw quotaExceeded('maxWorkflows', 'workflows', quota);
}
