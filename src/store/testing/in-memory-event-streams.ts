import type pg from 'pg';
import { VersionConflictError } from '../../domain/errors.ts';
import type {
  AppendOptions,
  AppendResult,
  EventStreams,
  FoldableStored,
  NewEvent,
  StoredEvent,
  StreamId,
  StreamRange,
} from '../event-store.ts';
import type { ReadModelRow } from '../read-model-row.ts';

/** A statement an append's projection sent, as the in-memory store's transaction saw it. */
export interface Statement {
  readonly text: string;
  readonly values: readonly unknown[];
}

/**
 * The streams of an event store, in memory, for specs of what depends on EventStreams only
 * (command handling, an execution's journal). The same rules as the PostgreSQL store: the
 * expected version checked, a stream of another workspace conflicting and reading as empty,
 * re-sent event ids answered with what is stored, and the projection inside the append, so
 * that when it throws nothing is stored. Projections get a transaction that records their
 * statements and answers each as `rowCount` rows written.
 */
export class InMemoryEventStreams implements EventStreams {
  readonly #streams = new Map<string, StoredEvent[]>();
  readonly #byId = new Map<string, StoredEvent>();
  #position = 0n;
  /** Rows written by appends' own statements (AppendOptions.row), in order. */
  readonly rows: ReadModelRow[] = [];
  /** Statements the projections sent, in order. */
  readonly statements: Statement[] = [];
  /** What every projection statement answers: 0 stands for a fence or quota that refused. */
  rowCount = 1;
  /** Appends that were tried (stored or refused), for specs that count round trips. */
  appends = 0;
  /** Runs before the next append is checked, as another writer would: to force a race. */
  beforeNextAppend: (() => Promise<unknown>) | undefined;

  async append(stream: StreamId, events: readonly NewEvent[], options: AppendOptions): Promise<AppendResult> {
    this.appends += 1;
    const race = this.beforeNextAppend;
    this.beforeNextAppend = undefined;
    await race?.();
    const known = events.map((event) => this.#byId.get(event.eventId));
    if (known.every((event) => event !== undefined)) {
      return { events: known, version: known.at(-1)?.version ?? 0, alreadyStored: true };
    }
    const current = this.#streams.get(keyOf(stream)) ?? [];
    const owner = current[0]?.workspaceId;
    const version = owner === undefined || owner === options.metadata.workspaceId ? current.length : 0;
    const expected = options.expectedVersion;
    const fits =
      (owner === undefined || owner === options.metadata.workspaceId) &&
      (expected === 'ANY' ||
        (expected === 'NO_STREAM' && current.length === 0) ||
        (expected === 'STREAM_EXISTS' && current.length > 0) ||
        expected === current.length);
    if (!fits) throw new VersionConflictError(expected, version);
    const createdAt = new Date();
    const stored = events.map((event, index): StoredEvent => ({
      globalPosition: (this.#position += 1n),
      transactionId: 1n,
      eventId: event.eventId,
      workspaceId: options.metadata.workspaceId,
      aggregateType: stream.type,
      aggregateId: stream.id,
      version: current.length + index + 1,
      type: event.type,
      data: structuredClone(event.data),
      dataBytes: Buffer.byteLength(event.json ?? JSON.stringify(event.data)),
      metadata: options.metadata,
      createdAt,
      hash: '',
    }));
    const tx = {
      query: async (text: string, values: unknown[] = []) => {
        this.statements.push({ text, values });
        return { rowCount: this.rowCount, rows: [] };
      },
    };
    await options.onAppended?.(tx as unknown as pg.PoolClient, stored);
    if (options.row) this.rows.push(options.row);
    this.#streams.set(keyOf(stream), [...current, ...stored]);
    for (const event of stored) this.#byId.set(event.eventId, event);
    return { events: stored, version: current.length + stored.length, alreadyStored: false };
  }

  async readStream(stream: StreamId, range: StreamRange = {}): Promise<StoredEvent[]> {
    const events = (this.#streams.get(keyOf(stream)) ?? []).filter(
      (event) =>
        (stream.workspaceId === undefined || event.workspaceId === stream.workspaceId) &&
        event.version >= (range.fromVersion ?? 1) &&
        event.version <= (range.toVersion ?? Infinity),
    );
    return events.slice(0, range.limit ?? events.length);
  }

  readFoldable(stream: StreamId, range?: StreamRange): Promise<FoldableStored[]> {
    return this.readStream(stream, range);
  }

  async findByEventIds(eventIds: readonly string[]): Promise<StoredEvent[]> {
    return eventIds
      .map((id) => this.#byId.get(id))
      .filter((event) => event !== undefined)
      .sort((a, b) => a.aggregateId.localeCompare(b.aggregateId) || a.version - b.version);
  }
}

const keyOf = (stream: StreamId) => `${stream.type}:${stream.id}`;
