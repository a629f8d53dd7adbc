import { setTimeout as sleep } from 'node:timers/promises';
import { fold } from '../domain/aggregate.ts';
import { VersionConflictError } from '../domain/errors.ts';
import { EXECUTION, executionAggregate, isFinished, type Execution } from '../domain/executions/execution.ts';
import type { Budget } from '../domain/workspaces/limits.ts';
import { LeaseLostError } from '../app/execution-projection.ts';
import { spentBytes, type EventStreams } from '../store/event-store.ts';
import type { Claimed } from '../store/job-queue.ts';
import { BudgetExhausted, Journal } from './journal.ts';
import { runExecution, type Runtime } from './interpreter.ts';

/** Why a run was stopped: each leaves the execution as it is, except the deadline (and the budget, which ended it). */
export class Stop extends Error {
  readonly why: 'deadline' | 'lease lost' | 'shutdown' | 'cancelled' | 'parked' | 'budget';

  constructor(why: Stop['why']) {
    super(why);
    this.why = why;
  }
}

/** What a run needs of its engine: the work it shares with every other run, and where it may set itself aside. */
export interface RunContext {
  readonly store: EventStreams;
  readonly owner: string;
  readonly defaultBudget: Budget;
  /** Waits longer than this set the execution aside (park) rather than hold a slot. */
  readonly parkAfterMs: number;
  readonly maxOutputBytes: number;
  readonly maxInputBytes: number;
  /** Runs since the last wait that may fail by an error of the service's, and takeovers, before the execution ends FAILED. */
  readonly maxFailedRuns: number;
  readonly maxTakeovers: number;
  act(
    execution: Execution,
    action: string,
    input: unknown,
    timeoutMs: number | undefined,
    signal: AbortSignal,
    step: string,
  ): Promise<unknown>;
  timer(action: string, input: unknown): number | null;
  /** Waits for the workspace's turn to start a step, having written `writtenBytes` since its last one. */
  paceStep(workspaceId: string, writtenBytes: number, signal: AbortSignal): Promise<void>;
  evaluate(workspaceId: string, condition: string, data: unknown): Promise<{ holds: boolean; ms: number }>;
  /** Gives the execution back until `until`; false when its lease was lost meanwhile. */
  park(executionId: string, until: Date): Promise<boolean>;
  log(level: 'info' | 'error', message: string, fields: Record<string, unknown>): void;
}

/** How a run ended, for the engine's counts. */
export interface RunOutcome {
  readonly workspaceId: string;
  readonly stored: Execution;
  readonly stopped: unknown;
  /** The error of the service's that ended the run (not the workflow's): the execution is still to run. */
  readonly failure?: unknown;
}

/**
 * What a run is doing: work under way (actions, conditions, appends) and waits. When it only
 * waits, and each of its waits has longer than `parkAfterMs` left, it is quiet: its process
 * may set it aside until the first of them is due, instead of holding a slot for a day.
 */
class Activity {
  #busy = 0;
  readonly #waits = new Set<{ until: number }>();
  #check: NodeJS.Immediate | null = null;
  readonly #parkAfterMs: number;
  readonly #onQuiet: (until: number) => void;

  constructor(parkAfterMs: number, onQuiet: (until: number) => void) {
    this.#parkAfterMs = parkAfterMs;
    this.#onQuiet = onQuiet;
  }

  busy<T>(work: Promise<T>): Promise<T> {
    this.#busy += 1;
    return work.finally(() => {
      this.#busy -= 1;
      this.#soon();
    });
  }

  async wait(until: number, signal: AbortSignal): Promise<void> {
    const wait = { until };
    this.#waits.add(wait);
    this.#soon();
    try {
      await sleep(Math.max(0, until - Date.now()), undefined, { signal });
    } finally {
      this.#waits.delete(wait);
    }
  }

  /** Looks once every branch of the walk has settled into what it awaits (after this turn's microtasks). */
  #soon(): void {
    if (this.#check || this.#waits.size === 0) return;
    this.#check = setImmediate(() => {
      this.#check = null;
      if (this.#busy > 0 || this.#waits.size === 0) return;
      const first = Math.min(...[...this.#waits].map((wait) => wait.until));
      if (first - Date.now() > this.#parkAfterMs) this.#onQuiet(first);
    });
  }

  stop(): void {
    clearImmediate(this.#check ?? undefined);
  }
}

/**
 * The journal of a claimed execution that has not ended, with its state and budget: what its
 * runner (or whoever ends it) writes through, fenced by `owner`'s lease. null when it has ended.
 */
export async function openJournal(store: EventStreams, owner: string, id: string, defaultBudget: Budget, onExhausted: () => void) {
  const history = await store.readStream({ type: EXECUTION, id });
  const state = fold(executionAggregate, history);
  if (state === null || isFinished(state)) return null;
  const budget = state.budget ?? defaultBudget;
  const metadata = {
    workspaceId: state.workspaceId,
    actorId: null,
    requestId: `engine:${owner}`,
    correlationId: history[0]!.metadata.correlationId,
    causationId: history[0]!.eventId,
  };
  return { state, budget, journal: new Journal(store, state, owner, metadata, budget, spentBytes(history), onExhausted) };
}

/**
 * Runs one claimed execution from its history to its end, or until it is stopped: its deadline
 * (the definition's timeoutMs, else its budget's), a cancel, a lost lease, the budget, a
 * shutdown, or a park. Returns what it stored, for the counts.
 */
export async function runClaimed(context: RunContext, job: Claimed, stop: AbortController): Promise<RunOutcome | null> {
  const { id } = job;
  const opened = await openJournal(context.store, context.owner, id, context.defaultBudget, () => stop.abort(new Stop('budget')));
  if (!opened) return null;
  const { state, budget, journal } = opened;
  // Retried past its bounds, an execution ends rather than loop: what failed is said in its error.
  const exhausted =
    job.failures >= context.maxFailedRuns
      ? {
          name: 'RunFailed',
          message: `its runs failed ${job.failures} times since it last waited, by errors of the service's, not of the workflow; the last: ${job.lastFailure}`,
        }
      : job.takeovers >= context.maxTakeovers
        ? { name: 'TooManyTakeovers', message: `it was taken over ${job.takeovers} times from processes that stopped while they ran it` }
        : null;
  if (exhausted) {
    await journal.record({ type: 'ExecutionFailed', data: { error: exhausted } });
    return { workspaceId: state.workspaceId, stored: journal.stored(), stopped: undefined };
  }
  const timeoutMs = state.definition.timeoutMs ?? budget.timeoutMs;
  const deadline = setTimeout(() => stop.abort(new Stop('deadline')), Math.max(0, state.createdAt.getTime() + timeoutMs - Date.now()));
  const activity = new Activity(context.parkAfterMs, (until) => void park(until));
  const park = async (until: number) => {
    // Everything recorded is stored first: nothing of this run is written after its lease is given back.
    await journal.settle();
    if (stop.signal.aborted) return;
    const parked = await context.park(id, new Date(until)).catch(() => false);
    stop.abort(new Stop(parked ? 'parked' : 'lease lost'));
  };
  let charged = journal.bytes;
  /** Each step waits for its turn in the workspace's steps and bytes written per second before it is recorded. */
  const paced = async () => {
    const written = journal.bytes - charged;
    charged = journal.bytes;
    await context.paceStep(state.workspaceId, written, stop.signal);
  };
  const runtime: Runtime = {
    state: () => journal.state(),
    record: (event) => activity.busy(event.type === 'StepStarted' ? paced().then(() => journal.record(event)) : journal.record(event)),
    note: (event) => journal.note(event),
    act: (name, input, timeoutMs, signal, step) => activity.busy(context.act(journal.state(), name, input, timeoutMs, signal, step)),
    timer: (name, input) => context.timer(name, input),
    pause: (until, signal) => activity.wait(until, signal),
    evaluate: (condition, data) => activity.busy(context.evaluate(state.workspaceId, condition, data)),
    maxOutputBytes: context.maxOutputBytes,
    maxInputBytes: context.maxInputBytes,
    now: Date.now,
    random: Math.random,
  };
  let failure: unknown;
  try {
    await runExecution(runtime, stop.signal);
  } catch (error) {
    const reason = stop.signal.reason;
    if (reason instanceof Stop && reason.why === 'deadline') {
      await journal
        .record({
          type: 'ExecutionTimedOut',
          data: { error: { name: 'Timeout', message: `the execution ran longer than its ${timeoutMs} ms` } },
        })
        .catch(() => {});
    } else if (
      !(reason instanceof Stop) &&
      !(error instanceof LeaseLostError) &&
      !(error instanceof VersionConflictError) &&
      !(error instanceof BudgetExhausted)
    ) {
      failure = error;
    }
    // A lost lease or a conflict: a cancel, or another process, has the execution now.
  } finally {
    clearTimeout(deadline);
    activity.stop();
    // A budget's end, or what was noted before a stop, is stored before the run lets go.
    await journal.settle();
  }
  return { workspaceId: state.workspaceId, stored: journal.stored(), stopped: stop.signal.reason, failure };
}
