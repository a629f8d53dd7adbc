import type { Queryable } from '../store/database.ts';
import type { WorkflowState } from '../domain/workflows/workflow.ts';

/** Writes a workflow's state to the workflows read model (inline, in the append's transaction). */
export async function projectWorkflow(tx: Queryable, state: WorkflowState): Promise<void> {
  if (state === null) return;
  await tx.query(
    `INSERT INTO workflows (id, name, description, definition, status, version, created_at, updated_at, created_by, workspace_id)
     VALUES ($1, $2, $3, $4, $5::"WorkflowStatus", $6, $7, $8, $9, $10)
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
    ],
  );
}
