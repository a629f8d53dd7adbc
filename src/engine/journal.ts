import { randomUUID } from 'node:crypto';
import { fold } from '../domain/aggregate.ts';
import { decide, evolve, EXECUTION, executionAggregate, type Execution, type ExecutionEvent, type ProgressEvent } from '../domain/executions/execution.ts';
import { projectExecution } from '../app/execution-projection.ts';
import type { EventMetadata, EventStore } from '../store/event-store.ts';

interface Pending {
  readonly event: ProgressEvent;
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * A runner's writes to one execution's stream. Events are checked by the aggregate's decide,
 * then appended with the version this runner last saw and fenced by its lease, so a cancel
 * or another process taking over makes the append fail instead of interleaving. Events
 * recorded while an append is under way (parallel branches) go together in the next one.
 * After a failed append the journal refuses everything: the runner must stop.
 */
export class Journal {
  readonly #store: EventStore;
  readonly #leaseOwner: string;
  readonly #metadata: EventMetadata;
  #state: Execution;
  #pending: Pending[] = [];
  #flushing = false;
  #broken: unknown = null;

  constructor(store: EventStore, state: Execution, leaseOwner: string, metadata: EventMetadata) {
    this.#store = store;
    this.#state = state;
    this.#leaseOwner = leaseOwner;
    this.#metadata = metadata;
  }

  state(): Execution {
    return this.#state;
  }

  record(event: ProgressEvent): Promise<void> {
    if (this.#broken) return Promise.reject(this.#broken);
    return new Promise((resolve, reject) => {
      this.#pending.push({ event, resolve, reject });
      if (!this.#flushing) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    while (this.#pending.length > 0 && !this.#broken) {
      const batch = this.#pending.splice(0);
      const accepted: Pending[] = [];
      const events: ExecutionEvent[] = [];
      let next: Execution = this.#state;
      for (const entry of batch) {
        try {
          for (const event of decide({ kind: 'progress', event: entry.event }, next)) {
            events.push(event);
            next = evolve(next, event, { version: next.version + 1, createdAt: new Date(), metadata: this.#metadata })!;
          }
          accepted.push(entry);
        } catch (error) {
          entry.reject(error);
        }
      }
      if (events.length === 0) continue;
      const before = this.#state;
      try {
        await this.#store.append(
          { type: EXECUTION, id: before.id },
          events.map((event) => ({ eventId: randomUUID(), type: event.type, data: event.data })),
          {
            expectedVersion: before.version,
            metadata: this.#metadata,
            onAppended: async (tx, stored) => {
              this.#state = fold(executionAggregate, stored, before) as Execution;
              await projectExecution(tx, this.#state, this.#leaseOwner);
            },
          },
        );
        for (const entry of accepted) entry.resolve();
      } catch (error) {
        this.#state = before;
        this.#broken = error;
        for (const entry of [...accepted, ...this.#pending.splice(0)]) entry.reject(error);
      }
    }
    this.#flushing = false;
  }
}
