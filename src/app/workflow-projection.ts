import type { Database, Queryable } from '../store/database.ts';
import { fold } from '../domain/aggregate.ts';
import { WORKFLOW, workflowAggregate, type WorkflowState } from '../domain/workflows/workflow.ts';
import type { EventStore, StoredEvent } from '../store/event-store.ts';

/** Writes a workflow's state to the workflows read model (inline, in the append's transaction). */
export async function projectWorkflow(tx: Queryable, state: WorkflowState): Promise<void> {
  if (state === null) return;
  await tx.query(
    `INSERT INTO workflows (id, name, description, definition, status, version, created_at, updated_at, created_by)
     VALUES ($1, $2, $3, $4, $5::"WorkflowStatus", $6, $7, $8, $9)
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
    ],
  );
}

const BATCH = 5000;

/**
 * Rebuilds the workflows table from the events, in one transaction: readers see the old
 * table or the new one, never half of each. Returns how many workflows it wrote.
 */
export async function rebuildWorkflows(db: Database, store: EventStore): Promise<number> {
  return db.transaction(async (tx) => {
    await tx.query('LOCK TABLE workflows IN EXCLUSIVE MODE');
    await tx.query('DELETE FROM workflows');
    let written = 0;
    let pending: StoredEvent[] = [];
    const flush = async () => {
      if (pending.length === 0) return;
      await projectWorkflow(tx, fold(workflowAggregate, pending));
      written += 1;
      pending = [];
    };
    for (let after = { id: '00000000-0000-0000-0000-000000000000', version: 0 }; ; ) {
      const batch = await store.readAggregateType(WORKFLOW, after, BATCH, tx);
      for (const event of batch) {
        if (pending.length > 0 && pending[0]!.aggregateId !== event.aggregateId) await flush();
        pending.push(event);
      }
      const last = batch.at(-1);
      if (!last || batch.length < BATCH) break;
      after = { id: last.aggregateId, version: last.version };
    }
    await flush();
    return written;
  });
}
