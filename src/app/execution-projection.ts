import { quotaExceeded } from '../domain/errors.ts';
import type { Queryable } from '../store/database.ts';
import { isFinished, type ExecutionState } from '../domain/executions/execution.ts';

/** A runner's write found its lease gone: another process has the execution now, or it ended. */
export class LeaseLostError extends Error {
  constructor(executionId: string) {
    super(`the lease on execution ${executionId} is no longer held by this process`);
    this.name = 'LeaseLostError';
  }
}

/**
 * Writes an execution's summary to the executions read model and keeps its job row, in the
 * append's transaction: an execution that has not ended has a job row, one that has ended
 * has none, and a job knows its execution's deadline. With a lease owner (a runner's writes)
 * it also fences: if that owner no longer holds an unexpired lease on the job, the write
 * matches nothing and the whole append rolls back. Without one
 * (commands, rebuilds) it writes the whole row; a new execution only while its workspace has
 * fewer than `quota` under way (QUOTA_EXCEEDED: counted in the same statement, so starts in
 * flight at the same moment may pass it by as many as they are, never more).
 */
export async function projectExecution(
  tx: Queryable,
  state: ExecutionState,
  leaseOwner: string | null = null,
  quota = Infinity,
): Promise<void> {
  if (state === null) return;
  const json = (value: unknown) => (value === null ? null : JSON.stringify(value));
  const input = JSON.stringify(state.input);
  const output = json(state.output);
  const { rowCount } = await tx.query(
    // A runner's fence locks its job row and wants its lease unexpired: a claim waits for this
    // append to commit or skips the row, so no other process takes the execution over between
    // the check and the commit.
    `WITH fence AS (SELECT 1 FROM execution_jobs WHERE $13::text IS NOT NULL AND execution_id = $1 AND lease_owner = $13 AND lease_expires_at > now() FOR UPDATE)
     INSERT INTO executions (id, workflow_id, workflow_version, status, input, output, error, version, created_at, updated_at, ended_at, created_by, workspace_id, input_bytes, output_bytes)
     SELECT $1, $2, $3, $4::"ExecutionStatus", $5, $6, $7, $8, $9, $10, $11, $12, $14, $15, $16
     WHERE $17::float8 = 'Infinity' OR (SELECT count(*) FROM execution_jobs WHERE workspace_id = $14) < $17::float8
     ON CONFLICT (id) DO UPDATE SET status = EXCLUDED.status, output = EXCLUDED.output, error = EXCLUDED.error,
       version = EXCLUDED.version, updated_at = EXCLUDED.updated_at, ended_at = EXCLUDED.ended_at, output_bytes = EXCLUDED.output_bytes
     WHERE $13::text IS NULL OR EXISTS (SELECT 1 FROM fence)
     RETURNING 1`,
    [
      state.id,
      state.workflowId,
      state.workflowVersion,
      state.status,
      // A runner's write only updates: the input (up to its size limit) is not sent again.
      leaseOwner === null ? input : '{}',
      output,
      json(state.error),
      state.version,
      state.createdAt,
      state.updatedAt,
      state.endedAt,
      state.createdById,
      leaseOwner,
      state.workspaceId,
      Buffer.byteLength(input),
      output === null ? 0 : Buffer.byteLength(output),
      quota,
    ],
  );
  if (rowCount === 0)
    throw leaseOwner === null ? quotaExceeded('maxActiveExecutions', 'executions under way', quota) : new LeaseLostError(state.id);
  if (isFinished(state)) await tx.query('DELETE FROM execution_jobs WHERE execution_id = $1', [state.id]);
  else if (leaseOwner === null) {
    const timeoutMs = state.definition.timeoutMs ?? state.budget?.timeoutMs ?? null;
    await tx.query(
      `INSERT INTO execution_jobs (execution_id, workspace_id, deadline) VALUES ($1, $2, $3::timestamptz + $4 * interval '1 millisecond') ON CONFLICT DO NOTHING`,
      [state.id, state.workspaceId, state.createdAt, timeoutMs],
    );
  }
}
