import type { Api } from './api.ts';
import { resumable, type ResumableState } from './resumable.ts';
import { keep, kept } from './session.ts';

// The workspace's live log, shared by the panels: one `events` subscription, resumed from its
// last cursor after a drop (and after a reload of the tab), so no event is missed or shown twice.
// The page keeps the newest MAX_ROWS rows; older ones leave memory.

export const MAX_ROWS = 2000;

export interface LogEvent {
  readonly id: string;
  readonly globalPosition: string;
  readonly aggregateType: 'WORKFLOW' | 'EXECUTION';
  readonly aggregateId: string;
  readonly type: string;
  readonly version: number;
  readonly createdAt: string;
  readonly actor: { readonly name: string } | null;
  readonly data: unknown;
}

export type LogRow =
  | { readonly key: string; readonly kind: 'event'; readonly event: LogEvent }
  | { readonly key: string; readonly kind: 'caught-up' | 'reconnected'; readonly at: string };

interface Item {
  readonly events: { readonly caughtUp: boolean; readonly cursor: string; readonly event: LogEvent | null };
}

const SUBSCRIPTION = `subscription Log($after: String) {
  events(after: $after) {
    caughtUp cursor
    event { id globalPosition aggregateType aggregateId type version createdAt actor { name } data }
  }
}`;

export class EventFeed {
  rows: readonly LogRow[] = [];
  state: ResumableState = 'connecting';
  detail: string | undefined;
  reconnects = 0;
  /** Rows that left memory, oldest first. */
  dropped = 0;
  readonly #views = new Set<() => void>();
  readonly #events = new Set<(event: LogEvent) => void>();
  #pending: LogRow[] = [];
  #frame = 0;
  #serial = 0;
  #stop: () => void;

  constructor(api: Api) {
    this.#stop = resumable<Item>(api, SUBSCRIPTION, {
      variables: () => ({ after: kept('cursor') }),
      next: ({ events: item }) => {
        keep('cursor', item.cursor);
        if (item.event) {
          this.#add({ key: item.event.id, kind: 'event', event: item.event });
          for (const listener of this.#events) listener(item.event);
        } else this.#add({ key: `caught-up-${(this.#serial += 1)}`, kind: 'caught-up', at: new Date().toISOString() });
      },
      state: (state, detail) => {
        if (state === 'resumed') {
          this.reconnects += 1;
          this.#add({ key: `reconnected-${(this.#serial += 1)}`, kind: 'reconnected', at: new Date().toISOString() });
        }
        this.state = state;
        this.detail = detail;
        this.#schedule();
      },
    });
  }

  /** Calls `view` at most once a frame after rows or the state change. */
  watch(view: () => void): () => void {
    this.#views.add(view);
    return () => this.#views.delete(view);
  }

  /** Calls `listener` with every event as it arrives. */
  onEvent(listener: (event: LogEvent) => void): () => void {
    this.#events.add(listener);
    return () => this.#events.delete(listener);
  }

  close(): void {
    this.#stop();
    cancelAnimationFrame(this.#frame);
  }

  #add(row: LogRow): void {
    // A hidden tab gets no frames: what waits for one is bounded too.
    if (this.#pending.push(row) > MAX_ROWS) {
      this.#pending.shift();
      this.dropped += 1;
    }
    this.#schedule();
  }

  #schedule(): void {
    if (this.#frame) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      if (this.#pending.length) {
        const rows = [...this.rows, ...this.#pending];
        this.#pending = [];
        const over = Math.max(0, rows.length - MAX_ROWS);
        this.dropped += over;
        this.rows = over ? rows.slice(over) : rows;
      }
      for (const view of this.#views) view();
    });
  }
}
