import { fold } from '../domain/aggregate.ts';
import { badInput, notFound, refuseNul } from '../domain/errors.ts';
import type { Bulkhead } from '../runtime/bulkhead.ts';
import type { AuditFilter, ChainReport, ChainScope, EventStore, LogFilter, LogPosition, StoredEvent, StreamId } from '../store/event-store.ts';
import { AGGREGATES } from './aggregates.ts';
import { isUuid } from './ids.ts';

const MAX_TYPES = 50;

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
  readonly events: readonly StoredEvent[];
}

export interface ReplayTarget {
  readonly toVersion?: number | null | undefined;
  readonly at?: Date | null | undefined;
}

/** Reads of the log: one stream, the global log, the audit view and replays. All run under
 * the heavy-read bulkhead, as their cost grows with the log. */
export class History {
  readonly #store: EventStore;
  readonly #heavy: Bulkhead;

  constructor(store: EventStore, heavy: Bulkhead) {
    this.#store = store;
    this.#heavy = heavy;
  }

  stream(stream: StreamId & { workspaceId: string }, fromVersion: number, limit: number): Promise<StoredEvent[]> {
    if (!isUuid(stream.id)) return Promise.resolve([]);
    return this.#heavy(() => this.#store.readStream(stream, { fromVersion, limit }));
  }

  log(after: LogPosition, limit: number, filter: LogFilter & { workspaceId: string }): Promise<StoredEvent[]> {
    checkLogFilter(filter);
    return this.#heavy(() => this.#store.readLog(after, limit, filter));
  }

  audit(filter: AuditFilter, limit: number): Promise<StoredEvent[]> {
    if (filter.actorId !== undefined && !isUuid(filter.actorId)) throw badInput('userId', 'must be a UUID');
    refuseNul(filter.type, 'eventType');
    return this.#heavy(() => this.#store.readAudit(filter, limit));
  }

  /** Recomputes the audit chain of one aggregate, or of every stream of the workspace. */
  async verifyChain(scope: ChainScope): Promise<ChainReport> {
    if (scope.aggregateType !== undefined && !AGGREGATES.has(scope.aggregateType)) {
      throw badInput('aggregateType', `unknown aggregate type ${scope.aggregateType}`);
    }
    const id = scope.aggregateId;
    if (id !== undefined && !isUuid(id)) throw notFound(scope.aggregateType ?? 'aggregate', id);
    const report = await this.#heavy(() => this.#store.verifyChain(scope));
    if (id !== undefined && report.eventsChecked === 0 && report.firstBreak === null) throw notFound(scope.aggregateType ?? 'aggregate', id);
    return report;
  }

  /** An aggregate's state after its events up to a version and/or an instant. */
  async replay(stream: StreamId & { workspaceId: string }, target: ReplayTarget): Promise<Replay> {
    const aggregate = AGGREGATES.get(stream.type);
    if (!aggregate) throw badInput('aggregateType', `unknown aggregate type ${stream.type}`);
    if (target.toVersion != null && target.toVersion < 0) throw badInput('toVersion', 'must not be negative');
    if (!isUuid(stream.id)) throw notFound(stream.type, stream.id);
    const events = await this.#heavy(() =>
      this.#store.readStream(stream, { toVersion: target.toVersion ?? undefined, until: target.at ?? undefined }),
    );
    // Nothing up to that point: an unknown aggregate, or one that did not exist yet then.
    if (events.length === 0 && (await this.#store.streamVersion(stream)) === 0) throw notFound(stream.type, stream.id);
    return {
      aggregateType: stream.type,
      aggregateId: stream.id,
      version: events.at(-1)?.version ?? 0,
      state: fold(aggregate, events),
      events,
    };
  }
}
