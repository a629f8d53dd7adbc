import { Worker } from 'node:worker_threads';
import { ActionError } from './actions/action-error.ts';
import { FairLimit } from './fair-limit.ts';

export interface Evaluated {
  readonly holds: boolean;
  readonly ms: number;
}

/**
 * Evaluates conditions in worker threads under a time limit. Validation bounds an
 * expression's size and refuses nested comprehensions; this bounds what is left (a long
 * list walked with costly string work): past the limit the worker is terminated and
 * replaced, and the choice fails with ConditionTimeout.
 *
 * `workers` threads are shared fairly between workspaces: one workspace uses at most half of
 * them, and workspaces with conditions waiting take turns, so costly conditions of one never
 * queue another's behind them. What each execution may spend is its budget's (the journal's).
 */
export class Conditions {
  readonly #timeoutMs: number;
  readonly #limit: FairLimit;
  /** Workers ready and free; every worker alive, to end them all. */
  readonly #idle: Worker[] = [];
  readonly #alive = new Set<Worker>();

  constructor(timeoutMs: number, workers: number) {
    this.#timeoutMs = timeoutMs;
    this.#limit = new FairLimit(workers, Math.max(1, Math.floor(workers / 2)));
  }

  /** Whether the condition holds, and how long a worker took to say (waiting for one aside). */
  evaluate(workspaceId: string, expression: string, data: unknown): Promise<Evaluated> {
    return this.#limit.run(workspaceId, () => this.#evaluate(expression, data));
  }

  /** A worker whose module has loaded, so that start-up time never counts against a condition. */
  #start(): Promise<Worker> {
    const worker = new Worker(new URL('./condition-worker.ts', import.meta.url));
    worker.unref();
    this.#alive.add(worker);
    worker.once('exit', () => this.#alive.delete(worker));
    return new Promise((resolve, reject) => {
      worker.once('message', () => resolve(worker));
      worker.once('error', reject);
    });
  }

  async #evaluate(expression: string, data: unknown): Promise<Evaluated> {
    const worker = this.#idle.pop() ?? (await this.#start());
    const started = performance.now();
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
      };
      const onMessage = (message: { value?: boolean; error?: string }) => {
        done();
        this.#idle.push(worker);
        if (message.error === undefined) resolve({ holds: message.value!, ms: performance.now() - started });
        else reject(new ActionError('ConditionError', `${expression}: ${message.error}`));
      };
      const onError = (error: Error) => {
        done();
        void worker.terminate();
        reject(error);
      };
      const timer = setTimeout(() => {
        done();
        void worker.terminate();
        reject(new ActionError('ConditionTimeout', `${expression}: took longer than ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.postMessage({ expression, data });
    });
  }

  async close(): Promise<void> {
    this.#idle.length = 0;
    await Promise.all([...this.#alive].map((worker) => worker.terminate()));
  }
}
