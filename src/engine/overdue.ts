import { hostname } from 'node:os';
import type { Budget } from '../domain/workspaces/limits.ts';
import type { EventStreams } from '../store/event-store.ts';
import type { JobQueue } from '../store/job-queue.ts';
import { isUnavailable } from '../store/unavailable.ts';
import { openJournal } from './execution-run.ts';

export interface OverdueOptions {
  readonly intervalMs: number;
  readonly leaseMs: number;
  readonly defaultBudget: Budget;
  readonly log: (level: 'info' | 'error', message: string, fields: Record<string, unknown>) => void;
}

/**
 * Ends TIMED_OUT the executions past their deadline that no process holds: nothing runs
 * executions (every process has RUN_EXECUTIONS=false, and no worker runs), or the process
 * that ran one died and none took it over. Every process sweeps, every `intervalMs`, so an
 * execution never waits past its deadline unseen.
 */
export class OverdueSweeper {
  readonly owner = `sweeper:${hostname()}:${process.pid}`;
  readonly #store: EventStreams;
  readonly #jobs: JobQueue;
  readonly #options: OverdueOptions;
  #timer: NodeJS.Timeout | undefined;
  #sweeping: Promise<number> | undefined;

  constructor(store: EventStreams, jobs: JobQueue, options: OverdueOptions) {
    this.#store = store;
    this.#jobs = jobs;
    this.#options = options;
  }

  start(): void {
    this.#timer = setInterval(() => void this.sweep(), this.#options.intervalMs).unref();
  }

  /** Times out what is overdue now; how many it ended. */
  sweep(): Promise<number> {
    return (this.#sweeping ??= this.#sweepAll()
      .catch((error: unknown) => {
        if (!isUnavailable(error)) this.#options.log('error', 'timing out overdue executions failed', { error: String(error) });
        return 0;
      })
      .finally(() => (this.#sweeping = undefined)));
  }

  async #sweepAll(): Promise<number> {
    let ended = 0;
    for (const id of await this.#jobs.claimOverdue(this.owner, 100, this.#options.leaseMs)) {
      const opened = await openJournal(this.#store, this.owner, id, this.#options.defaultBudget, () => {});
      if (!opened) continue;
      const timeoutMs = opened.state.definition.timeoutMs ?? opened.budget.timeoutMs;
      await opened.journal.record({
        type: 'ExecutionTimedOut',
        data: {
          error: { name: 'Timeout', message: `the execution did not end within its ${timeoutMs} ms, and no process was running it` },
        },
      });
      ended += 1;
    }
    return ended;
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#sweeping;
  }
}
