import type { Aggregate, DomainEvent } from '../domain/aggregate.ts';
import { executionAggregate } from '../domain/executions/execution.ts';
import { workflowAggregate } from '../domain/workflows/workflow.ts';

/** Every aggregate type the store holds, by the name recorded on its events. */
export const AGGREGATES: ReadonlyMap<string, Aggregate<unknown, never, DomainEvent>> = new Map(
  [workflowAggregate, executionAggregate].map((aggregate) => [
    aggregate.type,
    aggregate as unknown as Aggregate<unknown, never, DomainEvent>,
  ]),
);
