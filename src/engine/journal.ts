import { randomUUID } from 'node:crypto';
import { fold } from '../domain/aggregate.ts';
import { decide, evolve, EXECUTION, executionAggregate, type Execution, type ExecutionEvent, type ProgressEvent } from '../domain/executions/execution.ts';
import { projectExecution } from '../app/execution-projection.ts';
import type { EventMetadata, EventStore } from '../store/event-store.ts';

interface Pending {
  readonly events: readonly ExecutionEvent[];
  resolve(): void;
  reject(error: unknown): void;
}

/**
 * A runner's writes to one execution's stream. Each event is checked by the aggregate's
 * decide and applied to the runner's view at once; appends then go in order, each with the
 * version last stored and fenced by the runner's lease, so a cancel or another process
 * taking over makes the append fail instead of interleaving. Events recorded while an append
 * is under way go together in the next one: a step's end and the next step's start commit
 * together, as do parallel branches' events. After a failed append the journal refuses
 * everything: the runner must stop.
 */
export class Journal {
  readonly #store: EventStore;
  readonly #leaseOwner: string;
  readonly #metadata: EventMetadata;
  /** As stored. */
  #durable: Execution;
  /** As stored, plus what is recorded but not yet stored. */
  #state: Execution;
  #pending: Pending[] = [];
  #flushing = false;
  #soon: NodeJS.Immediate | null = null;
  #broken: unknown = null;

  constructor(store: EventStore, state: Execution, leaseOwner: string, metadata: EventMetadata) {
    this.#store = store;
    this.#durable = state;
    this.#state = state;
    this.#leaseOwner = leaseOwner;
    this.#metadata = metadata;
  }

  state(): Execution {
    return this.#state;
  }

  /** The execution as stored: what has surely happened. */
  stored(): Execution {
    return this.#durable;
  }

  /** Resolves once the event is stored, with everything recorded before it. */
  record(event: ProgressEvent): Promise<void> {
    let stored: Promise<void>;
    try {
      stored = this.#enqueue(event);
    } catch (error) {
      return Promise.reject(error);
    }
    if (!this.#flushing) void this.#flush();
    return stored;
  }

  /**
   * Records an event without waiting: it is stored with the next awaited record, or at the end
   * of this turn of the event loop. Throws at once when the journal has stopped.
   */
  note(event: ProgressEvent): void {
    // Its failure stops the journal; the next record reports it.
    this.#enqueue(event).catch(() => {});
    this.#soon ??= setImmediate(() => {
      this.#soon = null;
      if (!this.#flushing) void this.#flush();
    });
  }

  #enqueue(event: ProgressEvent): Promise<void> {
    if (this.#broken) throw this.#broken;
    let events: ExecutionEvent[];
    try {
      events = decide({ kind: 'progress', event }, this.#state);
    } catch (error) {
      // A runner asking for what the execution refuses is lost: it stops here.
      this.#broken = error;
      throw error;
    }
    for (const next of events) {
      this.#state = evolve(this.#state, next, { version: this.#state.version + 1, createdAt: new Date(), metadata: this.#metadata })!;
    }
    return new Promise((resolve, reject) => this.#pending.push({ events, resolve, reject }));
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    while (this.#pending.length > 0 && !this.#broken) {
      const batch = this.#pending.splice(0);
      const base = this.#durable;
      try {
        await this.#store.append(
          { type: EXECUTION, id: base.id },
          batch.flatMap((entry) => entry.events).map((event) => ({ eventId: randomUUID(), type: event.type, data: event.data })),
          {
            expectedVersion: base.version,
            metadata: this.#metadata,
            onAppended: async (tx, stored) => {
              this.#durable = fold(executionAggregate, stored, base) as Execution;
              await projectExecution(tx, this.#durable, this.#leaseOwner);
            },
          },
        );
        for (const entry of batch) entry.resolve();
        // Caught up: the view takes the stored timestamps and versions.
        if (this.#pending.length === 0) this.#state = this.#durable;
      } catch (error) {
        this.#durable = base;
        this.#broken = error;
        for (const entry of [...batch, ...this.#pending.splice(0)]) entry.reject(error);
      }
    }
    this.#flushing = false;
  }
}
