import { AppError } from '../domain/errors.ts';

/**
 * Open subscriptions per API key, in this process, on every transport. A subscription holds
 * its slot until it ends, however it ends (the client leaves, the socket drops, the stream is
 * done), so a key cannot pile up subscriptions by reconnecting.
 */
export class SubscriptionQuota {
  readonly #max: number;
  readonly #open = new Map<string, number>();

  constructor(max: number) {
    this.#max = max;
  }

  /** Holds a slot for `iterator` until it ends; refuses with TOO_MANY_SUBSCRIPTIONS when the key has none left. */
  hold<T>(key: string, start: () => AsyncIterableIterator<T>): AsyncIterableIterator<T> {
    const open = this.#open.get(key) ?? 0;
    if (open >= this.#max) {
      throw new AppError('TOO_MANY_SUBSCRIPTIONS', `this API key has ${open} subscriptions open, the most it may have`, { limit: this.#max });
    }
    this.#open.set(key, open + 1);
    let holding = true;
    const release = () => {
      if (!holding) return;
      holding = false;
      const left = this.#open.get(key)! - 1;
      if (left === 0) this.#open.delete(key);
      else this.#open.set(key, left);
    };
    let iterator: AsyncIterableIterator<T>;
    try {
      iterator = start();
    } catch (error) {
      release();
      throw error;
    }
    const held: AsyncIterableIterator<T> = {
      async next() {
        try {
          const step = await iterator.next();
          if (step.done) release();
          return step;
        } catch (error) {
          // No transport calls return() after a failed next().
          release();
          throw error;
        }
      },
      async return() {
        release();
        return (await iterator.return?.()) ?? { done: true, value: undefined };
      },
      [Symbol.asyncIterator]: () => held,
    };
    return held;
  }

  /** Open subscriptions of one key. */
  openFor(key: string): number {
    return this.#open.get(key) ?? 0;
  }
}
