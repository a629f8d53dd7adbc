interface Waiting {
  start(): void;
  cancel(reason: unknown): void;
}

/**
 * A concurrency limit shared between keys (workspaces): at most `max` tasks run at once, at
 * most `perKey` of one key, and keys with work waiting take turns for each place that frees,
 * so a key that waits is served before a key that has just been, however much the other
 * queued. A task that has not started leaves the queue when its signal aborts.
 */
export class FairLimit {
  readonly #max: number;
  readonly #perKey: number;
  #active = 0;
  readonly #activeOf = new Map<string, number>();
  readonly #queues = new Map<string, Waiting[]>();
  /** When each key with work here was last served: the waiting key served longest ago goes next. */
  readonly #served = new Map<string, number>();
  #turns = 0;

  constructor(max: number, perKey: number) {
    this.#max = max;
    this.#perKey = Math.min(perKey, max);
  }

  get active(): number {
    return this.#active;
  }

  get pending(): number {
    let count = 0;
    for (const queue of this.#queues.values()) count += queue.length;
    return count;
  }

  activeOf(key: string): number {
    return this.#activeOf.get(key) ?? 0;
  }

  pendingOf(key: string): number {
    return this.#queues.get(key)?.length ?? 0;
  }

  /** Whether a task of this key would start at once, rather than wait. */
  hasRoomFor(key: string): boolean {
    return !this.#queues.has(key) && this.#active < this.#max && this.activeOf(key) < this.#perKey;
  }

  run<T>(key: string, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      signal?.throwIfAborted();
      const onAbort = () => entry.cancel(signal!.reason);
      const entry: Waiting = {
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          this.#active += 1;
          this.#activeOf.set(key, this.activeOf(key) + 1);
          this.#served.set(key, (this.#turns += 1));
          work()
            .then(resolve, reject)
            .finally(() => {
              this.#active -= 1;
              const left = this.activeOf(key) - 1;
              if (left > 0) this.#activeOf.set(key, left);
              else {
                this.#activeOf.delete(key);
                if (!this.#queues.has(key)) this.#served.delete(key);
              }
              this.#next();
            });
        },
        cancel: (reason) => {
          const queue = this.#queues.get(key);
          const index = queue?.indexOf(entry) ?? -1;
          if (index < 0) return;
          queue!.splice(index, 1);
          if (queue!.length === 0) {
            this.#queues.delete(key);
            if (this.activeOf(key) === 0) this.#served.delete(key);
          }
          reject(reason);
        },
      };
      if (this.hasRoomFor(key)) return entry.start();
      signal?.addEventListener('abort', onAbort, { once: true });
      const queue = this.#queues.get(key);
      if (queue) queue.push(entry);
      else this.#queues.set(key, [entry]);
      this.#next();
    });
  }

  /** Starts queued tasks while there is room: the key served longest ago first, skipping keys at their share. */
  #next(): void {
    while (this.#active < this.#max) {
      let chosen: string | undefined;
      for (const key of this.#queues.keys()) {
        if (this.activeOf(key) >= this.#perKey) continue;
        if (chosen === undefined || (this.#served.get(key) ?? 0) < (this.#served.get(chosen) ?? 0)) chosen = key;
      }
      if (chosen === undefined) return;
      const queue = this.#queues.get(chosen)!;
      const entry = queue.shift()!;
      if (queue.length === 0) this.#queues.delete(chosen);
      entry.start();
    }
  }
}
