import { AppError } from '../domain/errors.ts';

/**
 * Open subscriptions per API key, and per workspace (whose admin may make many keys), in this
 * process, on every transport. A subscription holds its slots until it ends, however it ends
 * (the client leaves, the socket drops, the stream is done), so a key cannot pile up
 * subscriptions by reconnecting.
 */
export class SubscriptionQuota {
  readonly #maxPerKey: number;
  readonly #maxPerWorkspace: number;
  readonly #open = new Map<string, number>();

  constructor(maxPerKey: number, maxPerWorkspace: number) {
    this.#maxPerKey = maxPerKey;
    this.#maxPerWorkspace = maxPerWorkspace;
  }

  /**
   * Starts a subscription in one of the key's and the workspace's slots, or refuses with
   * TOO_MANY_SUBSCRIPTIONS. `start` is given the function that frees the slots, for the stream
   * to call when it ends (so that no wrapper sits between the stream and its transport on
   * every message).
   */
  hold<T>(key: string, workspaceId: string, start: (onEnd: () => void) => AsyncIterableIterator<T>): AsyncIterableIterator<T> {
    const slots = [`key:${key}`, `workspace:${workspaceId}`];
    for (const [slot, max, whose] of [
      [slots[0]!, this.#maxPerKey, 'this API key'],
      [slots[1]!, this.#maxPerWorkspace, 'this workspace'],
    ] as const) {
      const open = this.#open.get(slot) ?? 0;
      if (open >= max)
        throw new AppError('TOO_MANY_SUBSCRIPTIONS', `${whose} has ${open} subscriptions open, the most it may have`, { limit: max });
    }
    for (const slot of slots) this.#open.set(slot, (this.#open.get(slot) ?? 0) + 1);
    let holding = true;
    const release = () => {
      if (!holding) return;
      holding = false;
      for (const slot of slots) {
        const left = this.#open.get(slot)! - 1;
        if (left === 0) this.#open.delete(slot);
        else this.#open.set(slot, left);
      }
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
    return this.#open.get(`key:${key}`) ?? 0;
  }
}
