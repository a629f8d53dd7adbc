import type { Attributes } from '@opentelemetry/api';
import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { Execution } from '../domain/executions/execution.ts';
import type { Budget, WorkspaceLimits } from '../domain/workspaces/limits.ts';
import { Pace } from '../app/pace.ts';
import type { EventStreams } from '../store/event-store.ts';
import type { Claimed, JobQueue, Waiting } from '../store/job-queue.ts';
import { isUnavailable } from '../store/unavailable.ts';
import { ACTIONS } from './actions/index.ts';
import { isTimer, parseInput } from './actions/action.ts';
import { OutboundPolicy } from './actions/outbound.ts';
import { Breakers, type BreakerOptions, type BreakerState } from './breakers.ts';
import { Conditions } from './conditions.ts';
import { runClaimed, Stop, type RunContext } from './execution-run.ts';
import { runStep, type StepTools } from './step-action.ts';
import { FairLimit } from './fair-limit.ts';

export interface EngineOptions {
  /** Executions this process runs at once, and of one workspace. */
  readonly maxExecutions: number;
  readonly maxExecutionsPerWorkspace: number;
  /** Actions this process runs at once, over all its executions, and of one workspace. */
  readonly maxStepsInFlight: number;
  readonly maxStepsPerWorkspace: number;
  readonly leaseMs: number;
  /** Runs since its last wait that may end in an error of the service's before the execution ends FAILED (RunFailed). */
  readonly maxFailedRuns: number;
  /** Takeovers from processes that stopped while running it before the execution ends FAILED (TooManyTakeovers). */
  readonly maxTakeovers: number;
  /** How often it looks for work besides being poked. */
  readonly pollIntervalMs: number;
  /** A task's timeout when its node sets none. */
  readonly defaultStepTimeoutMs: number;
  readonly conditionTimeoutMs: number;
  /** Worker threads for conditions. */
  readonly conditionWorkers: number;
  /** An action's result larger than this as JSON fails the step (OutputTooLarge). */
  readonly maxOutputBytes: number;
  /** A task's action input larger than this as JSON fails the step before it starts (InputTooLarge). */
  readonly maxInputBytes: number;
  /** A wait or retry delay longer than this gives the execution's slot back until it is due. */
  readonly parkAfterMs: number;
  /** The budget of executions started before budgets were recorded with them. */
  readonly defaultBudget: Budget;
  /** A workspace's limits: its steps per second, here. */
  readonly limitsOf: (workspaceId: string) => Promise<WorkspaceLimits>;
  readonly breakers: BreakerOptions;
  /** Hosts (host or host:port) http.request may call, local addresses included; empty: any public host. */
  readonly allowedHosts: readonly string[];
  readonly log: (level: 'info' | 'error', message: string, fields: Record<string, unknown>) => void;
  /** Runs are traces of their own, their steps spans of them; absent: no tracing. */
  readonly trace?: Traced;
}

/** Runs `work` as a span, a trace's first with `root`. */
export type Traced = <T>(name: string, attributes: Attributes, work: () => Promise<T>, root?: boolean) => Promise<T>;
const untraced: Traced = (_name, _attributes, work) => work();

export interface EngineStats {
  readonly active: number;
  readonly queued: number;
  /** Executions set aside until a wait ends: they hold no slot meanwhile. */
  readonly parked: number;
  /** How long the queued execution due the longest has waited for a process (an alert when it grows). */
  readonly oldestQueuedSeconds: number;
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

interface Running {
  readonly stop: AbortController;
  readonly done: Promise<void>;
  readonly workspaceId: string;
  renewedAt: number;
}

/**
 * Runs executions in this process: claims them from the job queue up to its limit (workspaces
 * taking turns, none past its share), keeps their leases, and runs each (execution-run.ts).
 * Actions share the process's step slots fairly between workspaces, and conditions its
 * condition workers. Any number of processes (servers and `npm run worker`) can run engines
 * on one database.
 */
export class Engine {
  readonly owner = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  readonly #store: EventStreams;
  readonly #jobs: JobQueue;
  readonly #options: EngineOptions;
  readonly #breakers: Breakers;
  readonly #conditions: Conditions;
  readonly #outbound: OutboundPolicy;
  readonly #tools: StepTools;
  readonly #trace: Traced;
  readonly #steps: FairLimit;
  /** Each workspace's steps per second (maxStepsPerSecond): past it, its steps wait. */
  readonly #stepPace = new Pace('steps per second (maxStepsPerSecond)', Infinity);
  /** Each workspace's event data written per second (maxWriteBytesPerSecond): past it, its next steps wait. */
  readonly #writePace = new Pace('bytes written per second (maxWriteBytesPerSecond)', Infinity);
  /** Each workspace's condition time per second (maxConditionMsPerSecond): past it, its choices wait. */
  readonly #conditionPace = new Pace('condition time per second (maxConditionMsPerSecond)', Infinity);
  readonly #context: RunContext;
  #renewing = false;
  #renewSent = 0;
  readonly #running = new Map<string, Running>();
  /** Runs ended, by workspace: a workspace's admin sees only its own. */
  readonly #counts = new Map<string, Ended>();
  #waiting: Waiting = { queued: 0, parked: 0, oldestQueuedSeconds: 0 };
  #timers: NodeJS.Timeout[] = [];
  /** When parked executions fall due: a claim is tried then, not at the next poll. */
  readonly #dueTimers = new Set<NodeJS.Timeout>();
  #filling: Promise<void> | null = null;
  #wakeTimer: NodeJS.Timeout | null = null;
  #fillAgain = false;
  #stopped = false;

  constructor(store: EventStreams, jobs: JobQueue, options: EngineOptions) {
    this.#store = store;
    this.#jobs = jobs;
    this.#options = options;
    this.#breakers = new Breakers(options.breakers);
    this.#conditions = new Conditions(options.conditionTimeoutMs, options.conditionWorkers);
    this.#outbound = new OutboundPolicy(options.allowedHosts);
    this.#tools = { breakers: this.#breakers, outbound: this.#outbound, maxOutputBytes: options.maxOutputBytes, log: options.log };
    this.#trace = options.trace ?? untraced;
    this.#steps = new FairLimit(options.maxStepsInFlight, options.maxStepsPerWorkspace);
    this.#context = this.#runContext();
  }

  start(): void {
    const every = (ms: number, work: () => Promise<unknown>) => {
      const timer = setInterval(() => void work().catch((error) => this.#failed('engine housekeeping failed', error)), ms);
      timer.unref();
      this.#timers.push(timer);
    };
    every(this.#options.pollIntervalMs, async () => {
      this.poke();
      this.#waiting = await this.#jobs.waiting();
    });
    every(Math.max(25, Math.floor(this.#options.leaseMs / 8)), () => this.#renew());
    this.poke();
  }

  /** Logs a failure, but for the database's absence: that is said once, by the database watch, not every poll. */
  #failed(message: string, error: unknown, fields: Record<string, unknown> = {}): void {
    if (!isUnavailable(error)) this.#options.log('error', message, { ...fields, error: String(error) });
  }

  /** Looks for claimable executions now (after one was started, or on a wake-up). */
  poke(): void {
    if (this.#stopped) return;
    if (this.#filling) {
      this.#fillAgain = true;
      return;
    }
    this.#filling = this.#fill()
      .catch((error) => this.#failed('claiming executions failed', error))
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
    return this.#stats(this.#running.size, this.#waiting, ended, undefined);
  }

  /**
   * One workspace's part of the figures: its runs, its waiting executions and its circuit
   * breakers. Steps in flight and the limits are the process's capacity, shared by all.
   */
  async statsOf(workspaceId: string): Promise<EngineStats> {
    const active = [...this.#running.values()].filter((run) => run.workspaceId === workspaceId).length;
    return this.#stats(active, await this.#jobs.waiting(workspaceId), this.#counts.get(workspaceId) ?? noneEnded(), workspaceId);
  }

  #stats(active: number, waiting: Waiting, ended: Ended, workspaceId: string | undefined): EngineStats {
    return {
      active,
      ...waiting,
      ...ended,
      stepsInFlight: this.#steps.active,
      stepsQueued: this.#steps.pending,
      maxExecutions: this.#options.maxExecutions,
      maxStepsInFlight: this.#options.maxStepsInFlight,
      breakers: this.#breakers.states(workspaceId),
    };
  }

  /** Stops claiming, stops the runs, and gives their leases back for another process. */
  async stop(): Promise<void> {
    this.#stopped = true;
    for (const timer of this.#timers.splice(0)) clearInterval(timer);
    for (const timer of this.#dueTimers) clearTimeout(timer);
    clearTimeout(this.#wakeTimer ?? undefined);
    await this.#filling;
    const runs = [...this.#running];
    for (const [, run] of runs) run.stop.abort(new Stop('shutdown'));
    await Promise.allSettled(runs.map(([, run]) => run.done));
    await this.#jobs
      .release(
        this.owner,
        runs.map(([id]) => id),
      )
      .catch(() => {});
    await this.#conditions.close();
    await this.#outbound.close();
  }

  async #fill(): Promise<void> {
    const room = this.#options.maxExecutions - this.#running.size;
    if (room <= 0 || this.#stopped) return;
    const held = new Map<string, number>();
    for (const run of this.#running.values()) held.set(run.workspaceId, (held.get(run.workspaceId) ?? 0) + 1);
    // A run whose lease ran out (renewals failing) is still ours until it has stopped: never
    // claimed again alongside itself.
    const claimed = await this.#jobs.claim(this.owner, room, this.#options.leaseMs, {
      running: [...this.#running.keys()],
      held,
      share: this.#options.maxExecutionsPerWorkspace,
    });
    for (const job of claimed) {
      const stop = new AbortController();
      // The claim's statement started before it took the lease: its lease runs from then at the latest.
      const claimedAt = Date.now();
      const done = this.#run(job, stop).finally(() => {
        this.#running.delete(job.id);
        this.poke();
      });
      this.#running.set(job.id, { stop, done, workspaceId: job.workspaceId, renewedAt: claimedAt });
    }
  }

  /**
   * Renews the leases every third of one, and first stops every run whose lease may be about to
   * run out, whatever the renewal in flight: a lease runs leaseMs from when its last renewal was
   * sent at the latest, and a run stops at three quarters of that, checked every eighth, so it
   * has stopped before any other process can take its execution over (a stalled database, or
   * renewals that hang, included).
   */
  async #renew(): Promise<void> {
    const now = Date.now();
    for (const run of this.#running.values())
      if (now - run.renewedAt > this.#options.leaseMs * 0.75) run.stop.abort(new Stop('lease lost'));
    if (this.#renewing || now - this.#renewSent < this.#options.leaseMs / 3) return;
    const ids = [...this.#running.keys()];
    const sentAt = (this.#renewSent = now);
    this.#renewing = true;
    let held: Set<string>;
    try {
      held = await this.#jobs.renew(this.owner, ids, this.#options.leaseMs);
    } finally {
      this.#renewing = false;
    }
    for (const id of ids) {
      const run = this.#running.get(id);
      if (!run) continue;
      if (held.has(id)) run.renewedAt = Math.max(run.renewedAt, sentAt);
      else run.stop.abort(new Stop('lease lost'));
    }
  }

  async #run(job: Claimed, stop: AbortController): Promise<void> {
    // A run is not part of whichever request woke the engine: its trace is its own, named by the execution.
    const outcome = await this.#trace(
      'execution run',
      { 'flowledger.execution.id': job.id, 'flowledger.workspace.id': job.workspaceId },
      () => runClaimed(this.#context, job, stop),
      true,
    ).catch((failure: unknown) => ({
      failure,
      workspaceId: job.workspaceId,
      stored: null,
      stopped: undefined,
    }));
    if (outcome?.stored) this.#count(outcome.workspaceId, outcome.stored, outcome.stopped);
    if (outcome?.failure !== undefined) await this.#setBack(job, outcome.failure);
  }

  /**
   * A run ended in an error of the service's (a bug; the database lost mid-run): the execution
   * is claimed again after a delay that doubles with each such run, and counted, so that one
   * that fails every time ends (RunFailed) rather than loop. With the database unreachable
   * nothing can be counted: the lease stays this process's, which takes it up again once the
   * database is back.
   */
  async #setBack(job: Claimed, failure: unknown): Promise<void> {
    const message = failure instanceof Error ? `${failure.name}: ${failure.message}` : String(failure);
    this.#failed('an execution run failed', failure, { executionId: job.id });
    await this.#jobs.setBack(job.id, this.owner, Math.min(30_000, 500 * 2 ** job.failures), message).catch(() => {});
  }

  #count(workspaceId: string, state: Execution, stopped: unknown): void {
    let counts = this.#counts.get(workspaceId);
    if (!counts) this.#counts.set(workspaceId, (counts = noneEnded()));
    if (stopped instanceof Stop && stopped.why === 'cancelled') counts.cancelled += 1;
    else if (state.status === 'SUCCEEDED') counts.succeeded += 1;
    else if (state.status === 'FAILED') counts.failed += 1;
    else if (state.status === 'CANCELLED') counts.cancelled += 1;
    else if (state.status === 'TIMED_OUT') counts.timedOut += 1;
  }

  /** What every run shares: the store, the step slots and rates, the conditions, and parking. */
  #runContext(): RunContext {
    return {
      store: this.#store,
      owner: this.owner,
      defaultBudget: this.#options.defaultBudget,
      parkAfterMs: this.#options.parkAfterMs,
      maxOutputBytes: this.#options.maxOutputBytes,
      maxInputBytes: this.#options.maxInputBytes,
      maxFailedRuns: this.#options.maxFailedRuns,
      maxTakeovers: this.#options.maxTakeovers,
      act: (execution, name, input, timeoutMs, signal, step) =>
        this.#steps.run(
          execution.workspaceId,
          () =>
            this.#trace(`step ${name}`, { 'flowledger.execution.id': execution.id, 'flowledger.step': step }, () =>
              runStep(this.#tools, execution, name, input, timeoutMs ?? this.#options.defaultStepTimeoutMs, signal, step),
            ),
          signal,
        ),
      paceStep: async (workspaceId, writtenBytes, signal) => {
        const { maxStepsPerSecond, maxWriteBytesPerSecond } = await this.#options.limitsOf(workspaceId);
        this.#writePace.charge(workspaceId, writtenBytes, maxWriteBytesPerSecond);
        await this.#writePace.turn(workspaceId, maxWriteBytesPerSecond);
        await this.#stepPace.take(workspaceId, 1, maxStepsPerSecond, signal);
      },
      timer: (name, input) => {
        const entry = ACTIONS.get(name);
        return entry && isTimer(entry) ? entry.delayMs(parseInput(entry, input)) : null;
      },
      evaluate: async (workspaceId, condition, data) => {
        const { maxConditionMsPerSecond } = await this.#options.limitsOf(workspaceId);
        await this.#conditionPace.turn(workspaceId, maxConditionMsPerSecond);
        const evaluated = await this.#conditions.evaluate(workspaceId, condition, data);
        this.#conditionPace.charge(workspaceId, evaluated.ms, maxConditionMsPerSecond);
        return evaluated;
      },
      park: async (executionId, until) => {
        const parked = await this.#jobs.park(executionId, this.owner, until);
        if (parked) this.#dueAt(until);
        return parked;
      },
      log: (level, message, fields) => this.#options.log(level, message, fields),
    };
  }

  /** Tries a claim when a parked execution falls due, rather than at the next poll. */
  #dueAt(until: Date): void {
    const timer = setTimeout(
      () => {
        this.#dueTimers.delete(timer);
        this.poke();
      },
      Math.max(0, until.getTime() - Date.now()),
    );
    timer.unref();
    this.#dueTimers.add(timer);
  }
}
