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

  /**
   * Starts a subscription in one of the key's slots, or refuses with TOO_MANY_SUBSCRIPTIONS.
   * `start` is given the function that frees the slot, for the stream to call when it ends
   * (so that no wrapper sits between the stream and its transport on every message).
   */
  hold<T>(key: string, start: (onEnd: () => void) => AsyncIterableIterator<T>): AsyncIterableIterator<T> {
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
    try {
      return start(release);
    } catch (error) {
      release();
      throw error;
    }
  }

  /** Open subscriptions of one key. */
  openFor(key: string): number {
    return this.#open.get(key) ?? 0;
  }
}
