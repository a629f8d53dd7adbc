import { randomUUID } from 'node:crypto';
import { fold } from '../domain/aggregate.ts';
import {
  decide,
  evolve,
  EXECUTION,
  executionAggregate,
  type Execution,
  type ExecutionEvent,
  type ProgressEvent,
} from '../domain/executions/execution.ts';
import type { Budget } from '../domain/workspaces/limits.ts';
import { projectExecution } from '../app/execution-projection.ts';
import type { EventMetadata, EventStreams } from '../store/event-store.ts';
import { jsonSize } from '../domain/json-size.ts';

/** An event decided and applied to the runner's view, with its data as JSON (measured once). */
interface Decided {
  readonly event: ExecutionEvent;
  readonly json: string;
  readonly bytes: number;
}

interface Pending {
  readonly events: readonly Decided[];
  resolve(): void;
  reject(error: unknown): void;
}

/** The execution ran through one of its budgets: it has ended FAILED, and its runner must stop. */
export class BudgetExhausted extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'BudgetExhausted';
  }
}

/** One append holds at most this many events and this much data: a long backlog goes in several, none holding the event loop long. */
const MAX_BATCH_EVENTS = 256;
const MAX_BATCH_BYTES = 4 * 1024 * 1024;

const TERMINAL: ReadonlySet<string> = new Set(['ExecutionSucceeded', 'ExecutionFailed', 'ExecutionTimedOut']);

/**
 * A runner's writes to one execution's stream. Each event is checked by the aggregate's
 * decide and applied to the runner's view at once; appends then go in order, each with the
 * version last stored and fenced by the runner's lease, so a cancel or another process
 * taking over makes the append fail instead of interleaving. Events recorded while an append
 * is under way go together in the next one (up to a batch's bound): a step's end and the next
 * step's start commit together, as do parallel branches' events. After a failed append the
 * journal refuses everything: the runner must stop.
 *
 * It also keeps the execution to its budget: the step, event and byte counts it may reach, and
 * its conditions' time. The event that would pass one is not written; ExecutionFailed with
 * BudgetExceeded is, and the journal then refuses everything else (BudgetExhausted).
 */
export class Journal {
  readonly #store: EventStreams;
  readonly #leaseOwner: string;
  readonly #metadata: EventMetadata;
  readonly #budget: Budget;
  /** As stored. */
  #durable: Execution;
  /** As stored, plus what is recorded but not yet stored. */
  #state: Execution;
  /** Event data of the stream, stored or recorded. */
  #bytes: number;
  #pending: Pending[] = [];
  #flushing: Promise<void> | null = null;
  #soon: NodeJS.Immediate | null = null;
  #broken: unknown = null;
  /** Set once the execution has run through its budget: the one event still to store is its end. */
  #exhausted: BudgetExhausted | null = null;
  readonly #onExhausted: () => void;

  constructor(
    store: EventStreams,
    state: Execution,
    leaseOwner: string,
    metadata: EventMetadata,
    budget: Budget,
    bytes: number,
    onExhausted: () => void,
  ) {
    this.#store = store;
    this.#durable = state;
    this.#state = state;
    this.#leaseOwner = leaseOwner;
    this.#metadata = metadata;
    this.#budget = budget;
    this.#bytes = bytes;
    this.#onExhausted = onExhausted;
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
    this.#flushSoon(false);
    return stored;
  }

  /**
   * Records an event without waiting: it is stored with the next awaited record, or at the end
   * of this turn of the event loop. Throws at once when the journal has stopped.
   */
  note(event: ProgressEvent): void {
    // Its failure stops the journal; the next record reports it.
    this.#enqueue(event).catch(() => {});
    this.#flushSoon(true);
  }

  /** Resolves once everything recorded so far is stored, or could not be (the journal has stopped then). */
  async settle(): Promise<void> {
    clearImmediate(this.#soon ?? undefined);
    this.#soon = null;
    while ((this.#pending.length > 0 && !this.#broken) || this.#flushing) await (this.#flushing ?? this.#flush());
  }

  #flushSoon(later: boolean): void {
    if (this.#flushing) return;
    if (!later) {
      void this.#flush();
      return;
    }
    this.#soon ??= setImmediate(() => {
      this.#soon = null;
      if (!this.#flushing) void this.#flush();
    });
  }

  #enqueue(event: ProgressEvent): Promise<void> {
    if (this.#broken) throw this.#broken;
    if (this.#exhausted) throw this.#exhausted;
    let events: ExecutionEvent[];
    try {
      events = decide({ kind: 'progress', event }, this.#state);
    } catch (error) {
      // A runner asking for what the execution refuses is lost: it stops here.
      this.#broken = error;
      throw error;
    }
    // Each event is weighed before it is written out, no further than the budget left: the
    // text of one past it is never built.
    const left = this.#budget.maxBytes - this.#bytes;
    if (events.some((next) => jsonSize(next.data ?? null, left) > left))
      return this.#exhaust(`wrote its ${this.#budget.maxBytes} bytes of event data`);
    const decided = events.map((next) => {
      const json = JSON.stringify(next.data ?? null);
      return { event: next, json, bytes: Buffer.byteLength(json) };
    });
    const passed = this.#passes(decided);
    if (passed) return this.#exhaust(passed);
    return this.#apply(decided);
  }

  /** Which budget these events would pass, if any. The execution's end is never refused for its count. */
  #passes(decided: readonly Decided[]): string | undefined {
    const budget = this.#budget;
    const state = this.#state;
    const ends = decided.some(({ event }) => TERMINAL.has(event.type));
    const bytes = decided.reduce((sum, entry) => sum + entry.bytes, 0);
    if (decided.some(({ event }) => event.type === 'StepStarted') && state.stepsStarted >= budget.maxSteps)
      return `ran its ${budget.maxSteps} steps`;
    // One event is kept for the end.
    if (!ends && state.version + decided.length >= budget.maxEvents) return `wrote its ${budget.maxEvents} events`;
    if (this.#bytes + bytes > budget.maxBytes) return `wrote its ${budget.maxBytes} bytes of event data`;
    const choiceMs = decided.reduce((sum, { event }) => sum + (event.type === 'ChoiceTaken' ? (event.data.conditionMs ?? 0) : 0), 0);
    if (state.conditionMs + choiceMs > budget.maxConditionMs) return `spent its ${budget.maxConditionMs} ms on conditions`;
    return undefined;
  }

  /** Ends the execution FAILED with BudgetExceeded, in place of what would have passed the budget, and stops the runner. */
  #exhaust(what: string): Promise<void> {
    const message = `the execution ${what}, all its budget allows`;
    const end = decide(
      { kind: 'progress', event: { type: 'ExecutionFailed', data: { error: { name: 'BudgetExceeded', message } } } },
      this.#state,
    );
    const json = JSON.stringify(end[0]!.data);
    void this.#apply([{ event: end[0]!, json, bytes: Buffer.byteLength(json) }]).catch(() => {});
    this.#exhausted = new BudgetExhausted(message);
    this.#flushSoon(false);
    this.#onExhausted();
    return Promise.reject(this.#exhausted);
  }

  /** Bytes of event data the execution has written, and decided to write, in all. */
  get bytes(): number {
    return this.#bytes;
  }

  #apply(decided: readonly Decided[]): Promise<void> {
    for (const { event, bytes } of decided) {
      this.#state = evolve(this.#state, event, { version: this.#state.version + 1, createdAt: new Date(), metadata: this.#metadata })!;
      this.#bytes += bytes;
    }
    return new Promise((resolve, reject) => this.#pending.push({ events: decided, resolve, reject }));
  }

  /** The pending entries of the next append: at least one, then as many as fit a batch. */
  #nextBatch(): Pending[] {
    let events = 0;
    let bytes = 0;
    let count = 0;
    for (const entry of this.#pending) {
      events += entry.events.length;
      bytes += entry.events.reduce((sum, decided) => sum + decided.bytes, 0);
      if (count > 0 && (events > MAX_BATCH_EVENTS || bytes > MAX_BATCH_BYTES)) break;
      count += 1;
    }
    return this.#pending.splice(0, count);
  }

  #flush(): Promise<void> {
    return (this.#flushing ??= this.#flushAll().finally(() => {
      this.#flushing = null;
      // A record made as the last append's callers resumed found this flush still under way.
      if (this.#pending.length > 0 && !this.#broken) void this.#flush();
    }));
  }

  async #flushAll(): Promise<void> {
    while (this.#pending.length > 0 && !this.#broken) {
      const batch = this.#nextBatch();
      const base = this.#durable;
      try {
        await this.#store.append(
          { type: EXECUTION, id: base.id },
          batch
            .flatMap((entry) => entry.events)
            .map(({ event, json }) => ({ eventId: randomUUID(), type: event.type, data: event.data, json })),
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
  }
}
