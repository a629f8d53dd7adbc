import type { StoredEvent } from '../store/event-store.ts';
import type { LogFollower } from './live-log.ts';
import { tagsOfEvent } from './cache-tags.ts';
import type { ResponseCache } from './response-cache.ts';

/** Event ids of this process's appends that the tail has yet to read: past this, they are forgotten. */
const MAX_LOCAL = 100_000;

/**
 * Keeps the response cache to the log. This process's appends invalidate what they change as
 * they commit, before the write is answered; everyone else's, when the live log's tail reads
 * them (it follows LISTEN/NOTIFY, and polls). A tail that cannot read clears the cache: what
 * others write meanwhile would not reach it.
 */
export class CacheInvalidation implements LogFollower {
  readonly #cache: ResponseCache;
  /** Appended here and invalidated already: the tail need not do it again. */
  readonly #local = new Set<string>();

  constructor(cache: ResponseCache) {
    this.#cache = cache;
  }

  committed(events: readonly StoredEvent[]): void {
    if (this.#local.size + events.length > MAX_LOCAL) this.#local.clear();
    for (const event of events) this.#local.add(event.eventId);
    this.#invalidate(events);
  }

  events(events: readonly StoredEvent[]): void {
    this.#invalidate(events.filter((event) => !this.#local.delete(event.eventId)));
  }

  lost(): void {
    this.#cache.clear();
  }

  #invalidate(events: readonly StoredEvent[]): void {
    const byWorkspace = new Map<string, Set<string>>();
    for (const event of events) {
      let tags = byWorkspace.get(event.workspaceId);
      if (!tags) byWorkspace.set(event.workspaceId, (tags = new Set()));
      for (const tag of tagsOfEvent(event)) tags.add(tag);
    }
    for (const [workspaceId, tags] of byWorkspace) this.#cache.invalidate(workspaceId, [...tags]);
  }
}
