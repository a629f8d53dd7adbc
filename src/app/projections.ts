import { fold, type Aggregate, type DomainEvent } from '../domain/aggregate.ts';
import { executionAggregate } from '../domain/executions/execution.ts';
import { workflowAggregate } from '../domain/workflows/workflow.ts';
import type { Database, Queryable } from '../store/database.ts';
import type { EventStore, StoredEvent } from '../store/event-store.ts';
import { projectExecution } from './execution-projection.ts';
import { projectWorkflow } from './workflow-projection.ts';

interface ReadModel {
  readonly table: string;
  readonly aggregate: Aggregate<unknown, never, DomainEvent>;
  readonly project: (tx: Queryable, state: never) => Promise<void>;
}

/** Every read model, in the order they are written (executions refer to workflows). */
const READ_MODELS: readonly ReadModel[] = [
  { table: 'workflows', aggregate: workflowAggregate as never, project: projectWorkflow },
  { table: 'executions', aggregate: executionAggregate as never, project: projectExecution },
];

const BATCH = 5000;

/**
 * Rebuilds every read model from the events, in one transaction: readers see the old tables
 * or the new ones, never half of each. Returns how many rows each table holds now.
 */
export async function rebuildReadModels(db: Database, store: EventStore): Promise<Record<string, number>> {
  return db.transaction(async (tx) => {
    const tables = READ_MODELS.map((model) => model.table);
    await tx.query(`LOCK TABLE ${tables.join(', ')} IN EXCLUSIVE MODE`);
    for (const table of [...tables].reverse()) await tx.query(`DELETE FROM ${table}`);
    const written: Record<string, number> = {};
    for (const { table, aggregate, project } of READ_MODELS) {
      written[table] = 0;
      let pending: StoredEvent[] = [];
      const flush = async () => {
        if (pending.length === 0) return;
        await project(tx, fold(aggregate, pending) as never);
        written[table] = (written[table] ?? 0) + 1;
        pending = [];
      };
      for (let after = { id: '00000000-0000-0000-0000-000000000000', version: 0 }; ;) {
        const batch = await store.readAggregateType(aggregate.type, after, BATCH, tx);
        for (const event of batch) {
          if (pending.length > 0 && pending[0]!.aggregateId !== event.aggregateId) await flush();
          pending.push(event);
        }
        const last = batch.at(-1);
        if (!last || batch.length < BATCH) break;
        after = { id: last.aggregateId, version: last.version };
      }
      await flush();
    }
    return written;
  });
}
