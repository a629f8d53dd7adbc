import { Worker } from 'node:worker_threads';
import { ActionError } from './actions/action.ts';

/**
 * Evaluates conditions in a worker thread under a time limit. Validation bounds an
 * expression's size and refuses nested comprehensions; this bounds what is left (a long
 * list walked with costly string work): past the limit the worker is terminated and
 * replaced, and the choice fails with ConditionTimeout.
 */
export class Conditions {
  readonly #timeoutMs: number;
  /** Ready once its module has loaded, so start-up time never counts against a condition. */
  #worker: Promise<Worker> | null = null;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(timeoutMs: number) {
    this.#timeoutMs = timeoutMs;
  }

  evaluate(expression: string, data: unknown): Promise<boolean> {
    const result = this.#queue.then(() => this.#evaluate(expression, data));
    this.#queue = result.catch(() => {});
    return result;
  }

  #start(): Promise<Worker> {
    const worker = new Worker(new URL('./condition-worker.ts', import.meta.url));
    worker.unref();
    return new Promise((resolve, reject) => {
      worker.once('message', () => resolve(worker));
      worker.once('error', reject);
    });
  }

  async #evaluate(expression: string, data: unknown): Promise<boolean> {
    const worker = await (this.#worker ??= this.#start()).catch((error: unknown) => {
      // A start that failed is not kept: the next condition tries again.
      this.#worker = null;
      throw error;
    });
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        worker.off('message', onMessage);
        worker.off('error', onError);
      };
      const onMessage = (message: { value?: boolean; error?: string }) => {
        done();
        if (message.error === undefined) resolve(message.value!);
        else reject(new ActionError('ConditionError', `${expression}: ${message.error}`));
      };
      const onError = (error: Error) => {
        done();
        this.#worker = null;
        reject(error);
      };
      const timer = setTimeout(() => {
        done();
        this.#worker = null;
        void worker.terminate();
        reject(new ActionError('ConditionTimeout', `${expression}: took longer than ${this.#timeoutMs} ms`));
      }, this.#timeoutMs);
      worker.on('message', onMessage);
      worker.on('error', onError);
      worker.postMessage({ expression, data });
    });
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = null;
    await (await worker?.catch(() => null))?.terminate();
  }
}
