import pLimit, { type LimitFunction } from 'p-limit';
import { comparePositions, spentBytes, type EventLog, type LogPosition, type StoredEvent } from '../store/event-store.ts';
import { checkLogFilter } from './history.ts';
import { LiveSubscription, type LiveFilter, type LiveSource, type LiveStream } from './live-subscription.ts';

export interface LiveLogOptions {
  /** Events read from the store per statement, by the shared tail and by catch-up reads. */
  readonly batchSize: number;
  /** Event data read per statement at most (an answer's worth): a statement that reaches it ends early. */
  readonly batchBytes: number;
  /** Events one subscription may hold in memory before it falls back to reading the store. */
  readonly bufferLimit: number;
  /** The fallback poll, for a lost notification or a transaction that held readers back. */
  readonly pollIntervalMs: number;
  /** Catch-up reads (subscriptions behind the tail) running at once; the rest wait, holding nothing. */
  readonly catchUpConcurrency: number;
}

/** What follows the whole log as the tail reads it (the response cache). */
export interface LogFollower {
  events(events: readonly StoredEvent[]): void;
  /** A read of the tail failed: until one succeeds, what others wrote is not known here. */
  lost(): void;
}

export interface LiveLogStats {
  readonly subscriptions: number;
  readonly bufferedEvents: number;
  /** Subscriptions reading from the store at their own pace (catching up, or too slow). */
  readonly catchingUp: number;
  readonly head: LogPosition;
}

/**
 * The live log of one process. One shared tail reads each new stretch of the log once and
 * hands it to every subscription; a subscription that is behind (just started, or slower
 * than the log) reads the store itself, at its own pace, until it is level again. Positions
 * order everything, so switching between the two never skips or repeats an event.
 */
export class LiveLog implements LiveSource {
  readonly #store: EventLog;
  readonly #options: LiveLogOptions;
  readonly #subscriptions = new Set<LiveSubscription>();
  #head: LogPosition | undefined;
  #timer: NodeJS.Timeout | undefined;
  #reading: Promise<void> | undefined;
  #readAgain = false;
  /** A read put off while nobody is subscribed. */
  #deferred: NodeJS.Timeout | undefined;
  readonly #catchUp: LimitFunction;
  readonly #followers: LogFollower[] = [];
  /** Reads waiting for the tail to reach a position. */
  readonly #waiters = new Set<{ readonly position: LogPosition; readonly resolve: (reached: boolean) => void }>();

  constructor(store: EventLog, options: LiveLogOptions) {
    this.#store = store;
    this.#options = options;
    this.#catchUp = pLimit(options.catchUpConcurrency);
  }

  async start(): Promise<void> {
    this.#head = await this.#store.logHead();
    this.#timer = setInterval(() => {
      this.wake();
      for (const subscription of this.#subscriptions) {
        subscription.nudge(this.head);
        void subscription.checkAllowed();
      }
    }, this.#options.pollIntervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    clearTimeout(this.#deferred);
    for (const subscription of this.#subscriptions) subscription.end();
    for (const waiter of this.#waiters) waiter.resolve(false);
    this.#waiters.clear();
    await this.#reading;
  }

  get head(): LogPosition {
    if (!this.#head) throw new Error('the live log is not started');
    return this.#head;
  }

  stats(): LiveLogStats {
    let bufferedEvents = 0;
    let catchingUp = 0;
    for (const subscription of this.#subscriptions) {
      bufferedEvents += subscription.buffered;
      if (subscription.behind) catchingUp += 1;
    }
    return { subscriptions: this.#subscriptions.size, bufferedEvents, catchingUp, head: this.head };
  }

  /**
   * Events after `after` (or from the live head), catch-up first, then live. `allowed` is
   * asked again at every poll; when it answers false the subscription ends with
   * UNAUTHENTICATED. `onEnd` is called once when the subscription ends, however it ends.
   */
  subscribe(after: LogPosition | null, filter: LiveFilter, allowed?: () => Promise<boolean>, onEnd?: () => void): LiveStream {
    checkLogFilter(filter);
    // Reads were put off while nobody listened, so the head may be behind: the tail catches up
    // at once, the subscription reads the store only after it has, and one from now on starts
    // at the log's real head.
    let behind: { read: Promise<void>; head: Promise<LogPosition> | undefined } | undefined;
    if (this.#deferred) {
      clearTimeout(this.#deferred);
      this.#deferred = undefined;
      this.#read();
    }
    // A read of the tail under way (a put-off one that fell due) may stop short of what was
    // committed before this subscription: it waits for that read, as for one put off.
    if (this.#reading) behind = { read: this.#reading, head: after === null ? this.#store.logHead() : undefined };
    const subscription = new LiveSubscription(this, after ?? this.head, filter, allowed, onEnd, behind);
    this.#subscriptions.add(subscription);
    return subscription;
  }

  /**
   * Reads whatever the log has past the head; called on notifications and by the poll. With
   * nobody subscribed, at most every IDLE_READ_MS: under a stream of appends each notification
   * would otherwise cost a read that nobody takes. The same for this process's own appends when
   * only followers listen: the response cache hears of those as they commit.
   */
  wake(fromHere = false): void {
    if (this.#subscriptions.size > 0 || this.#waiters.size > 0 || (this.#followers.length > 0 && !fromHere)) return this.#read();
    this.#deferred ??= setTimeout(() => {
      this.#deferred = undefined;
      this.#read();
    }, IDLE_READ_MS).unref();
  }

  #read(): void {
    if (this.#reading) {
      this.#readAgain = true;
      return;
    }
    this.#reading = this.#readNew().finally(() => {
      this.#reading = undefined;
      if (this.#readAgain) {
        this.#readAgain = false;
        this.#read();
      }
    });
  }

  async #readNew(): Promise<void> {
    try {
      for (;;) {
        const events = await this.#store.readLog(this.head, this.#options.batchSize, {}, this.#options.batchBytes);
        if (events.length === 0) break;
        const items = events.map((event) => ({ position: event, event, caughtUp: true }));
        const slice = { from: this.head, to: events.at(-1)!, items };
        this.#head = slice.to;
        for (const subscription of this.#subscriptions) subscription.offer(slice);
        for (const follower of this.#followers) follower.events(events);
        this.#release();
        if (!this.full(events)) break;
      }
    } catch {
      // The store is unreachable: the next notification or poll tries again.
      for (const follower of this.#followers) follower.lost();
    }
  }

  /** Is told each stretch of the log the tail reads, in order, and each read that failed. */
  follow(follower: LogFollower): void {
    this.#followers.push(follower);
  }

  /** Whether the tail reaches `position` within `timeoutMs`: what this process knows of the log includes it. */
  reached(position: LogPosition, timeoutMs: number): Promise<boolean> {
    if (comparePositions(position, this.head) <= 0) return Promise.resolve(true);
    // A token from far ahead (forged, or of another database) is not waited for by thousands.
    if (this.#waiters.size >= MAX_WAITERS) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(entry);
        resolve(false);
      }, timeoutMs);
      const entry = {
        position,
        resolve: (reached: boolean) => {
          clearTimeout(timer);
          resolve(reached);
        },
      };
      this.#waiters.add(entry);
      this.wake();
    });
  }

  #release(): void {
    const head = this.head;
    for (const waiter of this.#waiters) {
      if (comparePositions(waiter.position, head) > 0) continue;
      this.#waiters.delete(waiter);
      waiter.resolve(true);
    }
  }

  readPage(after: LogPosition, filter: LiveFilter, upTo: LogPosition): Promise<StoredEvent[]> {
    return this.#catchUp(() => this.#store.readLog(after, this.#options.batchSize, { ...filter, upTo }, this.#options.batchBytes));
  }

  full(events: readonly StoredEvent[]): boolean {
    return events.length === this.#options.batchSize || spentBytes(events) > this.#options.batchBytes;
  }

  get bufferLimit(): number {
    return this.#options.bufferLimit;
  }

  release(subscription: LiveSubscription): void {
    this.#subscriptions.delete(subscription);
  }
}

/** Reads waiting for a position at once, at most. */
const MAX_WAITERS = 10_000;

/** How often the shared tail reads, at most, while nobody is subscribed. */
const IDLE_READ_MS = 100;
