import { LRUCache } from 'lru-cache';
import { fold, type Aggregate, type DomainEvent } from '../domain/aggregate.ts';
import { AppError, badInput, notFound, refuseNul } from '../domain/errors.ts';
import type { Bulkhead } from '../runtime/bulkhead.ts';
import {
  spentBytes,
  type AuditFilter,
  type ChainReport,
  type ChainScope,
  type EventStore,
  type LogFilter,
  type LogPosition,
  type StoredEvent,
  type StreamId,
} from '../store/event-store.ts';
import { answerTooLarge, type AnswerBudget } from './answer-budget.ts';
import { AGGREGATES } from './aggregates.ts';
import { stateCacheOptions } from './state-cache.ts';
import { isUuid } from './ids.ts';

const MAX_TYPES = 50;

/** What an aggregate type is called in a message: "workflow", as everywhere else. */
const noun = (type: string | undefined) => type?.toLowerCase() ?? 'aggregate';

/** What a log reader may filter by; refused before it reaches SQL. */
export function checkLogFilter(filter: LogFilter): void {
  if (filter.types && filter.types.length > MAX_TYPES) throw badInput('types', `at most ${MAX_TYPES} event types`);
  refuseNul(filter.types, 'types');
  if (filter.aggregateId !== undefined && !isUuid(filter.aggregateId)) throw badInput('aggregateId', 'must be a UUID');
}

export interface Replay {
  readonly aggregateType: string;
  readonly aggregateId: string;
  /** The version reached: 0 when no event applies. */
  readonly version: number;
  readonly state: unknown;
  /** `limit` of the events applied, from `fromVersion`, in order: read only when asked for, as a replay may start from a snapshot. */
  events(fromVersion: number, limit: number, budget: AnswerBudget): Promise<StoredEvent[]>;
}

/**
 * Replays keep the state at every this many versions of a stream they fold. With 250 a warm
 * replay of a 10,000-event workflow took p50 7 to 9 ms against 10 to 11 ms, but an execution's
 * state grows with its stream, and each snapshot is weighed by serializing it: four times as
 * many of them would cost an execution's replay four times the serializing (not measured).
 */
export const SNAPSHOT_EVERY = 1000;

/** Event data one read of a replay's fold brings at most (the event that passes it included). */
const FOLD_PAGE_BYTES = 4 * 1024 * 1024;

export interface ReplayTarget {
  readonly toVersion?: number | null | undefined;
  readonly at?: Date | null | undefined;
}

/** Reads of the log: one stream, the global log, the audit view and replays. All run under
 * the heavy-read bulkhead, as their cost grows with the log. */
export class History {
  readonly #store: EventStore;
  readonly #heavy: Bulkhead;
  /**
   * Snapshots: states at every SNAPSHOT_EVERY-th version of the streams replayed, made by
   * folding their events and never written anywhere. Events are immutable and states are not
   * mutated by a fold, so a snapshot stays right as long as it is kept.
   */
  readonly #snapshots = new LRUCache<string, { readonly state: unknown }>(stateCacheOptions(2000, 128 * 1024 * 1024));

  /** Folds under way, by workspace, stream and version. */
  readonly #folding = new Map<string, Promise<unknown>>();

  constructor(store: EventStore, heavy: Bulkhead) {
    this.#store = store;
    this.#heavy = heavy;
  }

  stream(stream: StreamId & { workspaceId: string }, fromVersion: number, limit: number, budget: AnswerBudget): Promise<StoredEvent[]> {
    if (!isUuid(stream.id)) return Promise.resolve([]);
    return this.#bounded(stream.workspaceId, budget, (maxBytes) => this.#store.readStream(stream, { fromVersion, limit, maxBytes }));
  }

  /** Whole streams of one type of the workspace, for a batch of ids (loaders): at most `maxBytes` of data, else RESPONSE_TOO_LARGE. */
  streams(workspaceId: string, type: string, ids: readonly string[], maxBytes: number): Promise<StoredEvent[]> {
    return this.#batch(workspaceId, maxBytes, () => this.#store.readStreams(workspaceId, type, ids, maxBytes));
  }

  /** The latest `count` events of each of these streams of the workspace (loaders), as `streams` bounds them. */
  latest(workspaceId: string, type: string, ids: readonly string[], count: number, maxBytes: number): Promise<StoredEvent[]> {
    return this.#batch(workspaceId, maxBytes, () => this.#store.latestOfStreams(workspaceId, type, ids, count, maxBytes));
  }

  /** A batch read within the bound; past it, the batch is refused as too large for any answer. */
  async #batch(workspaceId: string, maxBytes: number, read: () => Promise<StoredEvent[]>): Promise<StoredEvent[]> {
    const events = await this.#heavy(workspaceId, read);
    if (spentBytes(events) > maxBytes) throw answerTooLarge(maxBytes);
    return events;
  }

  /** A heavy read bounded by what the answer may still hold, and charged to it. */
  async #bounded(workspaceId: string, budget: AnswerBudget, read: (maxBytes: number) => Promise<StoredEvent[]>): Promise<StoredEvent[]> {
    await budget.turn();
    const events = await this.#heavy(workspaceId, () => read(budget.remaining));
    budget.spend(spentBytes(events));
    return events;
  }

  /** How many events a stream of the caller's workspace holds: its version (0 for none). */
  length(stream: StreamId & { workspaceId: string }): Promise<number> {
    return isUuid(stream.id) ? this.#store.streamVersion(stream) : Promise.resolve(0);
  }

  log(after: LogPosition, limit: number, filter: LogFilter & { workspaceId: string }, budget: AnswerBudget): Promise<StoredEvent[]> {
    checkLogFilter(filter);
    return this.#bounded(filter.workspaceId, budget, (maxBytes) => this.#store.readLog(after, limit, filter, maxBytes));
  }

  audit(filter: AuditFilter, limit: number, budget: AnswerBudget): Promise<StoredEvent[]> {
    if (filter.actorId !== undefined && !isUuid(filter.actorId)) throw badInput('userId', 'must be a UUID');
    refuseNul(filter.type, 'eventType');
    return this.#bounded(filter.workspaceId, budget, (maxBytes) => this.#store.readAudit(filter, limit, maxBytes));
  }

  /** Recomputes the audit chain of one aggregate, or of every stream of the workspace. */
  async verifyChain(scope: ChainScope): Promise<ChainReport> {
    if (scope.aggregateType !== undefined && !AGGREGATES.has(scope.aggregateType)) {
      throw badInput('aggregateType', `unknown aggregate type ${scope.aggregateType}`);
    }
    const id = scope.aggregateId;
    if (id !== undefined && !isUuid(id)) throw notFound(noun(scope.aggregateType), id);
    const report = await this.#heavy(scope.workspaceId, () => this.#store.verifyChain(scope));
    if (id !== undefined && report.eventsChecked === 0 && report.firstBreak === null) throw notFound(noun(scope.aggregateType), id);
    return report;
  }

  /**
   * An aggregate's state after its events up to a version and/or an instant: folded from the
   * nearest snapshot below that version, so a long stream is read from its last thousand events.
   * What the fold reads waits for, and is charged to, the reader's read rate (`budget`): the
   * events are read whether or not the answer holds them.
   */
  async replay(stream: StreamId & { workspaceId: string }, target: ReplayTarget, budget: AnswerBudget): Promise<Replay> {
    const aggregate = AGGREGATES.get(stream.type);
    if (!aggregate) throw badInput('aggregateType', `unknown aggregate type ${stream.type}`);
    if (target.toVersion != null && target.toVersion < 0) throw badInput('toVersion', 'must not be negative');
    if (!isUuid(stream.id)) throw notFound(noun(stream.type), stream.id);
    return this.#heavy(stream.workspaceId, async () => {
      // The workspace's own stream, or none: snapshots are looked up only after this.
      const current = await this.#store.streamVersion(stream);
      if (current === 0) throw notFound(noun(stream.type), stream.id);
      // Refused rather than answered with the head: an answer for a version must not change later.
      if (target.toVersion != null && target.toVersion > current) {
        throw new AppError('BAD_USER_INPUT', `toVersion: the stream is at version ${current}, and has no version ${target.toVersion} yet`, {
          field: 'toVersion',
          streamVersion: current,
        });
      }
      let version = target.toVersion ?? current;
      if (target.at) version = Math.min(version, await this.#store.versionAt(stream, target.at));
      // Replays of one state at once (a dozen aliases of one query, say) fold it once.
      const key = `${stream.workspaceId}:${this.#key(stream, version)}`;
      let folding = this.#folding.get(key);
      if (!folding) {
        this.#folding.set(key, (folding = this.#fold(aggregate, stream, version, budget).finally(() => this.#folding.delete(key))));
      }
      const state = await folding;
      return {
        aggregateType: stream.type,
        aggregateId: stream.id,
        version,
        state,
        events: (fromVersion, limit, eventsBudget) =>
          version < fromVersion
            ? Promise.resolve([])
            : this.#bounded(stream.workspaceId, eventsBudget, (maxBytes) =>
                this.#store.readStream(stream, { fromVersion, toVersion: version, limit, maxBytes }),
              ),
      };
    });
  }

  /**
   * The state at `version`, from the nearest snapshot below it, folded a page at a time: no
   * page crosses a snapshot's version or holds more than FOLD_PAGE_BYTES of data, so a fold
   * holds the state and one page, never the whole stream.
   */
  async #fold(
    aggregate: Aggregate<unknown, never, DomainEvent>,
    stream: StreamId & { workspaceId: string },
    version: number,
    budget: AnswerBudget,
  ): Promise<unknown> {
    let from = version - (version % SNAPSHOT_EVERY);
    while (from > 0 && !this.#snapshots.has(this.#key(stream, from))) from -= SNAPSHOT_EVERY;
    let state = from > 0 ? this.#snapshots.get(this.#key(stream, from))!.state : aggregate.initialState;
    for (let next = from + 1; next <= version;) {
      const boundary = Math.ceil(next / SNAPSHOT_EVERY) * SNAPSHOT_EVERY;
      await budget.turn();
      const page = await this.#store.readFoldable(stream, {
        fromVersion: next,
        toVersion: Math.min(version, boundary),
        maxBytes: FOLD_PAGE_BYTES,
      });
      budget.charge(spentBytes(page));
      if (page.length === 0) break;
      state = fold(aggregate, page, state);
      const reached = page.at(-1)!.version;
      if (reached % SNAPSHOT_EVERY === 0) this.#snapshots.set(this.#key(stream, reached), { state });
      next = reached + 1;
    }
    return state;
  }

  #key(stream: StreamId, version: number): string {
    return `${stream.type}:${stream.id}:${version}`;
  }
}
