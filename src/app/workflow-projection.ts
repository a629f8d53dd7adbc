import { quotaExceeded } from '../domain/errors.ts';
import type { Queryable } from '../store/database.ts';
import type { WorkflowState } from '../domain/workflows/workflow.ts';

/**
 * Writes a workflow's state to the workflows read model (inline, in the append's transaction).
 * A new workflow is written only while its workspace has fewer than `quota` (QUOTA_EXCEEDED,
 * and the append rolls back): counted in the same statement, so creations in flight at the
 * same moment may pass the quota by as many as they are, never more.
 */
export async function projectWorkflow(tx: Queryable, state: WorkflowState, quota = Infinity): Promise<void> {
  if (state === null) return;
  const { rowCount } = await tx.query(
    `INSERT INTO workflows (id, name, description, definition, status, version, created_at, updated_at, created_by, workspace_id)
     SELECT $1, $2, $3, $4, $5::"WorkflowStatus", $6, $7, $8, $9, $10
     WHERE $11::float8 = 'Infinity' OR (SELECT count(*) FROM workflows WHERE workspace_id = $10 AND status = 'ACTIVE') < $11::float8
     ON CONFLICT (id) DO UPDATE SET name = EXCLUDED.name, description = EXCLUDED.description,
       definition = EXCLUDED.definition, status = EXCLUDED.status, version = EXCLUDED.version,
       updated_at = EXCLUDED.updated_at`,
    [
      state.id,
      state.name,
      state.description,
      JSON.stringify(state.definition),
      state.status,
      state.version,
      state.createdAt,
      state.updatedAt,
      state.createdById,
      state.workspaceId,
      quota,
    ],
  );
  if (rowCount === 0) throw quotaExceeded('maxWorkflows', 'workflows', quota);
}
