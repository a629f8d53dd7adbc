import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '../domain/errors.ts';
import { comparePositions, type LogFilter, type LogPosition, type StoredEvent } from '../store/event-store.ts';
import { isUnavailable } from '../store/unavailable.ts';
import type { Pollable } from './pollable.ts';

export interface LiveItem {
  /** Resumes the log right after this item (the same cursor as Query.eventLog). */
  readonly position: LogPosition;
  /** null on the marker item that says the subscription has caught up. */
  readonly event: StoredEvent | null;
  /** True from the marker on, while the subscription keeps up with the live log. */
  readonly caughtUp: boolean;
  /** Set on the last item of a subscription that has to end: its key was revoked, or the store failed. */
  readonly failure?: Error;
}

/** What a subscription sees: one workspace's events, perhaps narrowed further. */
export type LiveFilter = Pick<LogFilter, 'aggregateType' | 'aggregateId' | 'types'> & { readonly workspaceId: string };

/**
 * A contiguous slice of the global log, (from, to], as the shared tail read it. Its items
 * are the same objects for every subscriber, so work done per item (executing the GraphQL
 * selection) can be shared.
 */
interface Slice {
  readonly from: LogPosition;
  readonly to: LogPosition;
  readonly items: readonly LiveItem[];
}

/** What a subscription needs of the live log it follows. */
export interface LiveSource {
  /** How far the shared tail has read. */
  readonly head: LogPosition;
  /** Events one subscription may hold in memory before it falls back to reading the store. */
  readonly bufferLimit: number;
  /** One page of catch-up from the store, (after, upTo]: at most the tail's batch, waiting its turn among catch-up reads. */
  readPage(after: LogPosition, filter: LiveFilter, upTo: LogPosition): Promise<StoredEvent[]>;
  /** Whether a read ended at its bound (events or bytes) rather than at the end of what it could see: there may be more. */
  full(events: readonly StoredEvent[]): boolean;
  /** Forgets an ended subscription. */
  release(subscription: LiveSubscription): void;
}

function matches(event: StoredEvent, filter: LiveFilter): boolean {
  return (
    event.workspaceId === filter.workspaceId &&
    (filter.aggregateType === undefined || event.aggregateType === filter.aggregateType) &&
    (filter.aggregateId === undefined || event.aggregateId === filter.aggregateId) &&
    (filter.types === undefined || filter.types.includes(event.type))
  );
}

/** A subscription's items: iterated (Server-Sent Events, execution updates) or polled (WebSocket pipes). */
export type LiveStream = AsyncIterableIterator<LiveItem> & Pollable<LiveItem>;

const DONE = { done: true, value: undefined } as const;

/** How long a subscription waits before reading the store again when the database could not be reached. */
const RETRY_MS = 1000;

export class LiveSubscription implements LiveStream {
  readonly #live: LiveSource;
  readonly #filter: LiveFilter;
  readonly #allowed: (() => Promise<boolean>) | undefined;
  /** How far into the whole log this subscription has looked (delivered, or filtered out). */
  #cursor: LogPosition;
  #slices: Slice[] = [];
  #buffered = 0;
  #ready: LiveItem[] = [];
  /** Reading the store rather than the shared slices: at the start, and after falling behind. */
  #behind = true;
  /** Counts buffer overflows, so a store read can tell whether slices were dropped during it. */
  #drops = 0;
  #caughtUp = false;
  #failure: Error | undefined;
  #checking = false;
  #ended = false;
  #waiting: (() => void) | undefined;
  #listener: (() => void) | undefined;
  /** The store read under way, while behind: one at a time. */
  // oxlint-disable-next-line no-unused-private-class-members -- read by its ??= guard, which the rule does not count
  #reading: Promise<void> | undefined;
  readonly #onEnd: (() => void) | undefined;

  /** When the tail's head was behind as it began: the tail's catching up, and where one from now on really starts. */
  #tailBehind: { read: Promise<void>; head: Promise<LogPosition> | undefined } | undefined;

  constructor(
    live: LiveSource,
    after: LogPosition,
    filter: LiveFilter,
    allowed: (() => Promise<boolean>) | undefined,
    onEnd?: () => void,
    tailBehind?: { read: Promise<void>; head: Promise<LogPosition> | undefined },
  ) {
    this.#live = live;
    this.#tailBehind = tailBehind;
    this.#onEnd = onEnd;
    this.#cursor = after;
    this.#filter = filter;
    this.#allowed = allowed;
  }

  get buffered(): number {
    return this.#buffered + this.#ready.length;
  }

  get behind(): boolean {
    return this.#behind;
  }

  /**
   * Slices are kept even while reading the store: the first one published after a store read
   * began starts exactly where that read ends, so the switch back is seamless.
   */
  offer(slice: Slice): void {
    if (this.#ended) return;
    if (this.#buffered + slice.items.length > this.#live.bufferLimit) {
      // Too slow to keep in memory: drop the slices and read the store at its own pace.
      this.#fallBehind();
    } else {
      this.#slices.push(slice);
      this.#buffered += slice.items.length;
    }
    this.#notify();
  }

  async checkAllowed(): Promise<void> {
    // One check at a time: a slow database must not pile them up poll after poll.
    if (this.#ended || !this.#allowed || this.#checking) return;
    this.#checking = true;
    try {
      if (!(await this.#allowed().catch(() => true)) && !this.#failure) {
        this.#failure = new AppError('UNAUTHENTICATED', 'the API key of this subscription is no longer valid');
        this.#notify();
      }
    } finally {
      this.#checking = false;
    }
  }

  end(): void {
    if (!this.#ended) this.#onEnd?.();
    this.#ended = true;
    this.#slices = [];
    this.#buffered = 0;
    this.#ready = [];
    this.#live.release(this);
    this.#notify();
    this.#listener = undefined;
  }

  poll(): IteratorResult<LiveItem> | undefined {
    for (;;) {
      if (this.#ended) return DONE;
      if (this.#failure) {
        // Delivered as an item, so each transport reports it as a GraphQL error, then ends.
        const failure = this.#failure;
        this.end();
        return { done: false, value: { position: this.#cursor, event: null, caughtUp: false, failure } };
      }
      const item = this.#ready.shift();
      if (item) return { done: false, value: item };
      if (this.#behind) {
        this.#readStoreSoon();
        return undefined;
      }
      if (!this.#takeSlice()) return undefined;
    }
  }

  onReadable(listener: () => void): void {
    this.#listener = listener;
  }

  async next(): Promise<IteratorResult<LiveItem>> {
    for (;;) {
      const step = this.poll();
      if (step) return step;
      await new Promise<void>((resolve) => (this.#waiting = resolve));
    }
  }

  async return(): Promise<IteratorResult<LiveItem>> {
    this.end();
    return DONE;
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<LiveItem> {
    return this;
  }

  #notify(): void {
    const waiting = this.#waiting;
    this.#waiting = undefined;
    waiting?.();
    this.#listener?.();
  }

  /**
   * Reads the next page from the store, then wakes the reader. While the database cannot be
   * reached, the read is tried again every RETRY_MS and the subscription waits, open; any other
   * failure ends it cleanly, and the client resumes from its cursor.
   */
  #readStoreSoon(): void {
    this.#reading ??= this.#readStore()
      .catch(async (error: Error) => {
        if (!isUnavailable(error)) return void (this.#failure ??= error);
        await sleep(RETRY_MS);
        this.#behind = true;
      })
      .finally(() => {
        this.#reading = undefined;
        this.#notify();
      });
  }

  #fallBehind(): void {
    this.#behind = true;
    this.#drops += 1;
    this.#slices = [];
    this.#buffered = 0;
  }

  /**
   * The poll's safety net: a subscription that is level with no slices waiting cannot be
   * behind the head; if it is, slices went missing, so it reads the store.
   */
  nudge(head: LogPosition): void {
    if (!this.#behind && this.#slices.length === 0 && comparePositions(this.#cursor, head) < 0) {
      this.#behind = true;
      this.#notify();
    }
  }

  /** One page from the store, up to the shared head; level with it, switch to the slices. */
  async #readStore(): Promise<void> {
    if (this.#tailBehind) {
      const { read, head } = this.#tailBehind;
      this.#tailBehind = undefined;
      const start = await head;
      await read;
      if (start && comparePositions(start, this.#cursor) > 0) this.#cursor = start;
    }
    const horizon = this.#live.head;
    const drops = this.#drops;
    // A client may resume from a cursor this process's tail has not reached yet.
    if (comparePositions(this.#cursor, horizon) < 0) {
      const page = await this.#live.readPage(this.#cursor, this.#filter, horizon);
      if (this.#ended) return;
      this.#ready.push(...page.map((event) => ({ position: event, event, caughtUp: false })));
      if (this.#live.full(page)) {
        this.#cursor = page.at(-1)!;
        return;
      }
      this.#cursor = horizon;
    }
    // Slices dropped during the read leave a gap after the horizon: read on.
    if (this.#drops !== drops) return;
    this.#behind = false;
    if (!this.#caughtUp) {
      this.#caughtUp = true;
      this.#ready.push({ position: this.#cursor, event: null, caughtUp: true });
    }
  }

  /** Takes the next shared slice; false when there is none. */
  #takeSlice(): boolean {
    const slice = this.#slices.shift();
    if (!slice) return false;
    this.#buffered -= slice.items.length;
    if (comparePositions(slice.to, this.#cursor) <= 0) return true;
    if (comparePositions(slice.from, this.#cursor) > 0) {
      // Slices were dropped while this subscription was reading the store: fill the gap there.
      this.#fallBehind();
      return true;
    }
    for (const item of slice.items) {
      if (comparePositions(item.position, this.#cursor) > 0 && matches(item.event!, this.#filter)) this.#ready.push(item);
    }
    this.#cursor = slice.to;
    return true;
  }
}
