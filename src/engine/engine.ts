import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import pLimit from 'p-limit';
import { TaskCancelledError, TimeoutStrategy, timeout } from 'cockatiel';
import { fold } from '../domain/aggregate.ts';
import { VersionConflictError, refuseNul } from '../domain/errors.ts';
import { LeaseLostError } from '../app/execution-projection.ts';
import { EXECUTION, executionAggregate, isFinished, type Execution } from '../domain/executions/execution.ts';
import type { EventStore } from '../store/event-store.ts';
import type { JobQueue } from '../store/job-queue.ts';
import { ACTIONS } from './actions/index.ts';
import { ActionError, runAction } from './actions/action.ts';
import { Breakers, type BreakerOptions, type BreakerState } from './breakers.ts';
import { Conditions } from './conditions.ts';
import { Journal } from './journal.ts';
import { OutboundPolicy } from './actions/outbound.ts';
import { runExecution, type Runtime } from './interpreter.ts';

export interface EngineOptions {
  /** Executions this process runs at once. */
  readonly maxExecutions: number;
  /** Actions this process runs at once, over all its executions. */
  readonly maxStepsInFlight: number;
  readonly leaseMs: number;
  /** How often it looks for work besides being poked. */
  readonly pollIntervalMs: number;
  /** A task's timeout when its node sets none. */
  readonly defaultStepTimeoutMs: number;
  readonly conditionTimeoutMs: number;
  /** An action's result larger than this as JSON fails the step (OutputTooLarge). */
  readonly maxOutputBytes: number;
  readonly breakers: BreakerOptions;
  /** Hosts (host or host:port) http.request may call, local addresses included; empty: any public host. */
  readonly allowedHosts: readonly string[];
  readonly log: (level: 'info' | 'error', message: string, fields: Record<string, unknown>) => void;
}

export interface EngineStats {
  readonly active: number;
  readonly queued: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly cancelled: number;
  readonly timedOut: number;
  readonly stepsInFlight: number;
  readonly stepsQueued: number;
  readonly maxExecutions: number;
  readonly maxStepsInFlight: number;
  readonly breakers: { host: string; state: BreakerState }[];
}

/** Runs ended, by how. */
type Ended = { -readonly [K in 'succeeded' | 'failed' | 'cancelled' | 'timedOut']: EngineStats[K] };
const noneEnded = (): Ended => ({ succeeded: 0, failed: 0, cancelled: 0, timedOut: 0 });

/** Why a run was stopped: each leaves the execution as it is, except the deadline. */
class Stop extends Error {
  readonly why: 'deadline' | 'lease lost' | 'shutdown' | 'cancelled';

  constructor(why: Stop['why']) {
    super(why);
    this.why = why;
  }
}

/**
 * Runs executions in this process: claims them from the job queue up to its limit, keeps
 * their leases, and runs each through the interpreter with a journal. Any number of
 * processes (servers and `npm run worker`) can run engines on one database.
 */
export class Engine {
  readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  readonly #store: EventStore;
  readonly #jobs: JobQueue;
  readonly #options: EngineOptions;
  readonly #breakers: Breakers;
  readonly #conditions: Conditions;
  readonly #outbound: OutboundPolicy;
  readonly #steps: ReturnType<typeof pLimit>;
  /** Runs by execution id; a run's workspace is known once its history is read. */
  readonly #running = new Map<string, { stop: AbortController; done: Promise<void>; renewedAt: number; workspaceId?: string }>();
  /** Runs ended, by workspace: a workspace's admin sees only its own. */
  readonly #counts = new Map<string, Ended>();
  #queued = 0;
  #timers: NodeJS.Timeout[] = [];
  #filling: Promise<void> | null = null;
  #wakeTimer: NodeJS.Timeout | null = null;
  #fillAgain = false;
  #stopped = false;

  constructor(store: EventStore, jobs: JobQueue, options: EngineOptions) {
    this.#store = store;
    this.#jobs = jobs;
    this.#options = options;
    this.#breakers = new Breakers(options.breakers);
    this.#conditions = new Conditions(options.conditionTimeoutMs);
    this.#outbound = new OutboundPolicy(options.allowedHosts);
    this.#steps = pLimit(options.maxStepsInFlight);
  }

  start(): void {
    const every = (ms: number, work: () => Promise<unknown>) => {
      const timer = setInterval(() => void work().catch((error) => this.#options.log('error', 'engine housekeeping failed', { error: String(error) })), ms);
      timer.unref();
      this.#timers.push(timer);
    };
    every(this.#options.pollIntervalMs, async () => {
      this.poke();
      this.#queued = await this.#jobs.waiting();
    });
    every(Math.max(50, Math.floor(this.#options.leaseMs / 3)), () => this.#renew());
    this.poke();
  }

  /** Looks for claimable executions now (after one was started, or on a wake-up). */
  poke(): void {
    if (this.#stopped) return;
    if (this.#filling) {
      this.#fillAgain = true;
      return;
    }
    this.#filling = this.#fill()
      .catch((error) => this.#options.log('error', 'claiming executions failed', { error: String(error) }))
      .finally(() => {
        this.#filling = null;
        if (this.#fillAgain) {
          this.#fillAgain = false;
          this.poke();
        }
      });
  }

  /** A database wake-up (some append somewhere): coalesced, as most appends bring no new work. */
  wake(): void {
    this.#wakeTimer ??= setTimeout(() => {
      this.#wakeTimer = null;
      this.poke();
    }, 20);
  }

  /** Stops a local run at once (its execution was cancelled here); other processes see it at their next renewal. */
  interrupt(executionId: string): void {
    this.#running.get(executionId)?.stop.abort(new Stop('cancelled'));
  }

  /** The process's figures, over every workspace. */
  stats(): EngineStats {
    const ended = noneEnded();
    for (const counts of this.#counts.values()) for (const key of Object.keys(ended) as (keyof Ended)[]) ended[key] += counts[key];
    return this.#stats(this.#running.size, this.#queued, ended, undefined);
  }

  /**
   * One workspace's part of the figures: its runs, its waiting executions and its circuit
   * breakers. Steps in flight and the limits are the process's capacity, shared by all.
   */
  async statsOf(workspaceId: string): Promise<EngineStats> {
    const active = [...this.#running.values()].filter((run) => run.workspaceId === workspaceId).length;
    return this.#stats(active, await this.#jobs.waiting(workspaceId), this.#counts.get(workspaceId) ?? noneEnded(), workspaceId);
  }

  #stats(active: number, queued: number, ended: Ended, workspaceId: string | undefined): EngineStats {
    return {
      active,
      queued,
      ...ended,
      stepsInFlight: this.#steps.activeCount,
      stepsQueued: this.#steps.pendingCount,
      maxExecutions: this.#options.maxExecutions,
      maxStepsInFlight: this.#options.maxStepsInFlight,
      breakers: this.#breakers.states(workspaceId),
    };
  }

  /** Stops claiming, stops the runs, and gives their leases back for another process. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers.splice(0)) clearInterval(timer);
    clearTimeout(this.#wakeTimer ?? undefined);
    await this.#filling;
    const runs = [...this.#running];
    for (const [, run] of runs) run.stop.abort(new Stop('shutdown'));
    await Promise.allSettled(runs.map(([, run]) => run.done));
    await this.#jobs.release(this.owner, runs.map(([id]) => id)).catch(() => {});
    await this.#conditions.close();
    await this.#outbound.close();
  }

  async #fill(): Promise<void> {
    const room = this.#options.maxExecutions - this.#running.size;
    if (room <= 0 || this.#stopped) return;
    // A run whose lease ran out (renewals failing) is still ours until it has stopped: never
    // claimed again alongside itself.
    for (const id of await this.#jobs.claim(this.owner, room, this.#options.leaseMs, [...this.#running.keys()])) {
      const stop = new AbortController();
      const done = this.#run(id, stop).finally(() => {
        this.#running.delete(id);
        this.poke();
      });
      this.#running.set(id, { stop, done, renewedAt: Date.now() });
    }
  }

  async #renew(): Promise<void> {
    const ids = [...this.#running.keys()];
    let held: Set<string>;
    try {
      held = await this.#jobs.renew(this.owner, ids, this.#options.leaseMs);
    } catch (error) {
      // Without renewals, leases run out and other processes take the executions over:
      // stop every run that has gone a whole lease unrenewed rather than run alongside them.
      for (const run of this.#running.values()) if (Date.now() - run.renewedAt > this.#options.leaseMs) run.stop.abort(new Stop('lease lost'));
      throw error;
    }
    const now = Date.now();
    for (const id of ids) {
      const run = this.#running.get(id);
      if (!run) continue;
      if (held.has(id)) run.renewedAt = now;
      else run.stop.abort(new Stop('lease lost'));
    }
  }

  async #run(id: string, stop: AbortController): Promise<void> {
    let deadline: NodeJS.Timeout | undefined;
    let journal: Journal | undefined;
    let workspaceId: string | undefined;
    try {
      const history = await this.#store.readStream({ type: EXECUTION, id });
      const state = fold(executionAggregate, history);
      if (state === null || isFinished(state)) return;
      workspaceId = state.workspaceId;
      // Set just after #run started, before its first read returned.
      this.#running.get(id)!.workspaceId = workspaceId;
      const started = history[0]!.metadata;
      journal = new Journal(this.#store, state, this.owner, {
        workspaceId: state.workspaceId,
        actorId: null,
        requestId: `engine:${this.owner}`,
        correlationId: started.correlationId,
        causationId: history[0]!.eventId,
      });
      if (state.definition.timeoutMs !== undefined) {
        const left = state.createdAt.getTime() + state.definition.timeoutMs - Date.now();
        deadline = setTimeout(() => stop.abort(new Stop('deadline')), Math.max(0, left));
      }
      await runExecution(this.#runtime(journal), stop.signal);
    } catch (error) {
      const reason = stop.signal.reason;
      if (reason instanceof Stop && reason.why === 'deadline' && journal) {
        const { timeoutMs } = journal.state().definition;
        await journal
          .record({ type: 'ExecutionTimedOut', data: { error: { name: 'Timeout', message: `the execution ran longer than its timeoutMs of ${timeoutMs}` } } })
          .catch(() => {});
      } else if (!(reason instanceof Stop) && !(error instanceof LeaseLostError) && !(error instanceof VersionConflictError)) {
        // Left to its lease: another claim runs it again from its history.
        this.#options.log('error', 'an execution run failed', { executionId: id, error: String(error) });
      }
      // A lost lease or a conflict: a cancel, or another process, has the execution now.
    } finally {
      clearTimeout(deadline);
      if (workspaceId !== undefined) this.#count(workspaceId, journal?.stored(), stop.signal.reason);
    }
  }

  #count(workspaceId: string, state: Execution | undefined, stopped: unknown): void {
    let counts = this.#counts.get(workspaceId);
    if (!counts) this.#counts.set(workspaceId, (counts = noneEnded()));
    const status = state?.status;
    if (stopped instanceof Stop && stopped.why === 'cancelled') counts.cancelled += 1;
    else if (status === 'SUCCEEDED') counts.succeeded += 1;
    else if (status === 'FAILED') counts.failed += 1;
    else if (status === 'CANCELLED') counts.cancelled += 1;
    else if (status === 'TIMED_OUT') counts.timedOut += 1;
  }

  #runtime(journal: Journal): Runtime {
    return {
      state: () => journal.state(),
      record: (event) => journal.record(event),
      note: (event) => journal.note(event),
      act: (name, input, timeoutMs, signal) =>
        this.#steps(() =>
          this.#act(journal.state(), name, input, timeoutMs ?? this.#options.defaultStepTimeoutMs, signal),
        ),
      evaluate: (condition, data) => this.#conditions.evaluate(condition, data),
      maxOutputBytes: this.#options.maxOutputBytes,
      now: Date.now,
      random: Math.random,
    };
  }

  async #act({ workspaceId, id: executionId }: Execution, name: string, input: unknown, timeoutMs: number, signal: AbortSignal): Promise<unknown> {
    const action = ACTIONS.get(name);
    if (!action) throw new ActionError('UnknownAction', `no action is registered as ${name}`);
    let output: unknown;
    try {
      output = await timeout(timeoutMs, TimeoutStrategy.Aggressive).execute(
        ({ signal: stepSignal }) =>
          runAction(action, input, {
            signal: stepSignal,
            cancelled: signal,
            breakers: this.#breakers.of(workspaceId),
            outbound: this.#outbound,
            // What a definition writes is data in a line of ours, never the line's own fields.
            log: (text, fields) => this.#options.log('info', 'an action logged', { workspaceId, executionId, action: name, text, fields }),
          }),
        signal,
      );
    } catch (error) {
      if (error instanceof TaskCancelledError && !signal.aborted) throw new ActionError('Timeout', `${name} took longer than ${timeoutMs} ms`);
      throw error;
    }
    const json = JSON.stringify(output ?? null);
    if (Buffer.byteLength(json) > this.#options.maxOutputBytes) {
      throw new ActionError('OutputTooLarge', `${name} returned more than ${this.#options.maxOutputBytes} bytes`);
    }
    const stored = JSON.parse(json);
    // What the store would refuse fails the step, rather than every append after it.
    try {
      refuseNul(stored, 'output');
    } catch (error) {
      throw new ActionError('InvalidOutput', `${name}: ${(error as Error).message}`);
    }
    return stored;
  }
}
