import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';

/** An answer as it was sent: kept as bytes, so that a hit is written out, not computed. */
export interface CachedAnswer {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
  /** A strong validator of the body (RFC 9110): a client holding it gets 304. */
  readonly etag: string;
  /** What computing it charged to the workspace's read rate: each copy sent is charged as much. */
  readonly readBytes: number;
}

/**
 * What a computed answer depends on: the tags whose change invalidates it, or null when it may
 * not be kept at all. An empty list is an answer nothing changes (a past version of a stream).
 */
export type Dependencies = readonly string[] | null;

export interface CacheStats {
  readonly hits: number;
  readonly misses: number;
  /** Requests that waited for an identical one under way instead of computing their own. */
  readonly shared: number;
  /** Entries dropped because a write changed what they depend on. */
  readonly invalidations: number;
  /** Answers not kept because a write they may have missed was invalidated while they were computed. */
  readonly refusedStale: number;
  readonly bytes: number;
  readonly entries: number;
}

export interface ResponseCacheOptions {
  /** What the entries may hold in all: their bodies, keys and tags. */
  readonly maxBytes: number;
  /** Tags whose last invalidation is remembered one by one; older ones share one mark. */
  readonly rememberedTags?: number;
}

interface Entry {
  readonly answer: CachedAnswer;
  readonly tags: readonly string[];
}

interface Flight {
  readonly done: Promise<CachedAnswer>;
}

/** Roughly what the entry's objects and buffers take beside its strings. */
const ENTRY_OVERHEAD = 400;

/** Strings count twice: V8 may hold them as two bytes a character. */
const headerBytes = (headers: Readonly<Record<string, string>>) =>
  Object.entries(headers).reduce((sum, [name, value]) => sum + 2 * (name.length + value.length) + 64, 0);

export const etagOf = (body: Buffer): string => `"${createHash('sha1').update(body).digest('base64url')}"`;

/**
 * Answers by key, each kept with the tags it depends on, dropped when one of them is
 * invalidated. Tags and keys begin with the workspace (`<workspace>|...`), so one workspace's
 * writes reach only its own entries.
 *
 * Two races are closed here. A computation that began before a write and ends after that
 * write's invalidation is not kept: every invalidation is numbered, each tag remembers its last
 * one, and an answer is kept only if none of its tags moved since it began. And a request that
 * arrives after an invalidation of its workspace never joins a computation that began before it.
 */
export class ResponseCache {
  readonly #entries: LRUCache<string, Entry>;
  readonly #byTag = new Map<string, Set<string>>();
  /** The number of the last invalidation of each remembered tag. */
  readonly #invalidatedAt: LRUCache<string, number>;
  /** Invalidations of tags no longer remembered: a tag not found may have moved as late as this. */
  #forgotten = 0;
  #sequence = 0;
  /** Computations under way, by workspace, then key. */
  #flights = new Map<string, Map<string, Flight>>();
  #hits = 0;
  #misses = 0;
  #shared = 0;
  #invalidations = 0;
  #refusedStale = 0;

  constructor(options: ResponseCacheOptions) {
    this.#entries = new LRUCache<string, Entry>({
      maxSize: options.maxBytes,
      maxEntrySize: Math.max(1, Math.floor(options.maxBytes / 4)),
      sizeCalculation: (entry, key) =>
        headerBytes(entry.answer.headers) +
        entry.answer.body.length +
        key.length +
        entry.tags.reduce((sum, tag) => sum + tag.length, 0) +
        ENTRY_OVERHEAD,
      dispose: (entry, key) => {
        for (const tag of entry.tags) {
          const keys = this.#byTag.get(tag);
          keys?.delete(key);
          if (keys?.size === 0) this.#byTag.delete(tag);
        }
      },
    });
    this.#invalidatedAt = new LRUCache<string, number>({
      max: options.rememberedTags ?? 100_000,
      // Only a tag pushed out is forgotten: one invalidated again is remembered at its new number.
      dispose: (sequence, _tag, reason) => {
        if (reason === 'evict') this.#forgotten = Math.max(this.#forgotten, sequence);
      },
    });
  }

  /** A kept answer, or undefined. */
  get(key: string): CachedAnswer | undefined {
    const answer = this.#entries.get(key)?.answer;
    if (answer) this.#hits += 1;
    return answer;
  }

  /**
   * The kept answer for `key`, or the one an identical request under way will give, or a new
   * one from `compute`, kept when its dependencies allow and no write overtook it.
   */
  async answer(
    key: string,
    workspaceId: string,
    compute: () => Promise<{ answer: CachedAnswer; dependencies: Dependencies }>,
  ): Promise<{ answer: CachedAnswer; source: 'hit' | 'shared' | 'miss' }> {
    const kept = this.get(key);
    if (kept) return { answer: kept, source: 'hit' };
    let flights = this.#flights.get(workspaceId);
    const flight = flights?.get(key);
    if (flight) {
      this.#shared += 1;
      return { answer: await flight.done, source: 'shared' };
    }
    this.#misses += 1;
    const began = this.#sequence;
    const done = compute().then(({ answer, dependencies }) => {
      if (dependencies) this.#keep(key, answer, dependencies, began);
      return answer;
    });
    if (!flights) this.#flights.set(workspaceId, (flights = new Map()));
    const own = flights;
    own.set(key, { done });
    const leave = () => {
      if (own.get(key)?.done === done) own.delete(key);
      if (own.size === 0 && this.#flights.get(workspaceId) === own) this.#flights.delete(workspaceId);
    };
    done.then(leave, leave);
    return { answer: await done, source: 'miss' };
  }

  /** Drops every entry that depends on one of these tags (all of one workspace), and numbers the change. */
  invalidate(workspaceId: string, tags: readonly string[]): void {
    const sequence = ++this.#sequence;
    // What is under way may have read before this change: a request from now on starts afresh.
    this.#flights.delete(workspaceId);
    for (const tag of tags) {
      this.#invalidatedAt.set(tag, sequence);
      const keys = this.#byTag.get(tag);
      if (!keys) continue;
      for (const key of keys) {
        if (this.#entries.delete(key)) this.#invalidations += 1;
      }
    }
  }

  /** Forgets everything: what the log says can no longer be trusted to arrive. */
  clear(): void {
    this.#forgotten = ++this.#sequence;
    this.#invalidatedAt.clear();
    this.#flights.clear();
    this.#invalidations += this.#entries.size;
    this.#entries.clear();
  }

  stats(): CacheStats {
    return {
      hits: this.#hits,
      misses: this.#misses,
      shared: this.#shared,
      invalidations: this.#invalidations,
      refusedStale: this.#refusedStale,
      bytes: this.#entries.calculatedSize,
      entries: this.#entries.size,
    };
  }

  #keep(key: string, answer: CachedAnswer, tags: readonly string[], began: number): void {
    const moved = tags.some((tag) => (this.#invalidatedAt.peek(tag) ?? this.#forgotten) > began);
    if (moved) {
      this.#refusedStale += 1;
      return;
    }
    this.#entries.set(key, { answer, tags });
    if (!this.#entries.has(key)) return;
    for (const tag of tags) {
      let keys = this.#byTag.get(tag);
      if (!keys) this.#byTag.set(tag, (keys = new Set()));
      keys.add(key);
    }
  }
}
