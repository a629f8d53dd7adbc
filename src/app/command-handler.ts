import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { stateCacheOptions } from './state-cache.ts';
import type pg from 'pg';
import { v5 as uuidv5 } from 'uuid';
import { fold, type Aggregate, type DomainEvent } from '../domain/aggregate.ts';
import { AppError, VersionConflictError } from '../domain/errors.ts';
import type { EventMetadata, EventStreams, StoredEvent } from '../store/event-store.ts';
import type { ReadModelRow } from '../store/read-model-row.ts';
import { metadataFor, type RequestScope } from './request.ts';

const IDEMPOTENCY_NAMESPACE = 'a3c1f1f4-5f43-4c55-9b0e-2f8a0c0f6a11';
/** Idempotent commands may emit at most this many events. */
const MAX_EVENTS_PER_COMMAND = 16;

export interface CommandOptions {
  /** The same key from the same actor returns the first call's result and writes nothing. */
  readonly idempotencyKey?: string | null | undefined;
}

interface HandleOptions extends CommandOptions {
  /** What the command does: one key used for two operations names two different calls. */
  readonly operation: string;
  /** The command starts a new stream under a new id: a retry finds its first call's stream. */
  readonly createsStream?: boolean;
  /**
   * Something else in this process appends to these streams too (the engine's journal), so a
   * state this handler kept would mostly be behind: read the stream before deciding, and keep nothing.
   */
  readonly otherWriters?: boolean;
}

export interface CommandResult<State> {
  readonly state: State;
  readonly version: number;
  readonly events: readonly StoredEvent[];
}

/**
 * How a command's new state reaches its read model, committed with its events: statements in
 * the append's transaction, or a row that the append's own statement writes (one round trip
 * to the database instead of four).
 */
export type Projection<State> =
  ((tx: pg.PoolClient, state: State) => Promise<void>) | { readonly row: (state: State) => ReadModelRow | null };

/**
 * Load, decide, append, project: the one path every command takes. The append's expected
 * version is the version decide saw, so a concurrent writer makes it fail with a conflict
 * rather than both succeeding.
 */
export class CommandHandler {
  readonly #store: EventStreams;
  /**
   * The state each recently changed stream reached, by workspace and stream: a command decides
   * on it without reading the store, or reads only the events after it, not the whole stream.
   * Made by folding stored events, so never ahead of the store; one that is behind only costs
   * a second decision, and the append's expected version still guards the write.
   */
  readonly #latest = new LRUCache<string, { readonly state: unknown; readonly version: number }>(stateCacheOptions(2000, 64 * 1024 * 1024));

  constructor(store: EventStreams) {
    this.#store = store;
  }

  async handle<State, Command, Event extends DomainEvent>(
    aggregate: Aggregate<State, Command, Event>,
    id: string,
    command: Command,
    scope: RequestScope,
    project: Projection<State>,
    options: HandleOptions,
  ): Promise<CommandResult<State>> {
    const stream = { type: aggregate.type, id, workspaceId: scope.actor.workspaceId };
    const key = options.idempotencyKey;
    // With a key, a retry re-sends the same event ids: derived from the actor, the operation,
    // the key and the index.
    const callId = `${scope.actor.workspaceId}:${scope.actor.userId}:${aggregate.type}:${options.operation}:${key}`;
    const eventId = (index: number) => (key ? uuidv5(`${callId}:${index}`, IDEMPOTENCY_NAMESPACE) : randomUUID());
    const previousResult = (previous: readonly StoredEvent[]) => {
      if (!options.createsStream && previous[0]!.aggregateId !== id) {
        throw new AppError('IDEMPOTENCY_KEY_REUSED', 'this idempotency key was already used on another aggregate');
      }
      scope.wrote?.(previous.at(-1)!);
      return this.#stateAt(aggregate, previous);
    };
    // A command's events commit together, so its first event id tells whether it ran.
    if (key && (await this.#store.findByEventIds([eventId(0)])).length > 0) {
      return previousResult(await this.#store.findByEventIds(Array.from({ length: MAX_EVENTS_PER_COMMAND }, (_, i) => eventId(i))));
    }
    const cacheKey = `${stream.workspaceId}:${stream.type}:${id}`;
    const append = async (decided: readonly Event[], state: State, version: number): Promise<CommandResult<State>> => {
      if (decided.length > MAX_EVENTS_PER_COMMAND) throw new Error(`a command emitted more than ${MAX_EVENTS_PER_COMMAND} events`);
      let next = state;
      const metadata = metadataFor(scope);
      const inline =
        typeof project === 'function'
          ? {
              onAppended: async (tx: pg.PoolClient, stored: readonly StoredEvent[]) => {
                next = fold(aggregate, stored, state);
                await project(tx, next);
              },
            }
          : { row: project.row(fold(aggregate, unstored(decided, version, metadata), state)) ?? undefined };
      const result = await this.#store.append(
        stream,
        decided.map((event, index) => ({ eventId: eventId(index), type: event.type, data: event.data })),
        { expectedVersion: version === 0 ? 'NO_STREAM' : version, metadata, ...inline },
      );
      if (result.alreadyStored) return previousResult(result.events);
      if (typeof project !== 'function') next = fold(aggregate, result.events, state);
      scope.wrote?.(result.events.at(-1)!);
      if (!options.otherWriters) this.#latest.set(cacheKey, { state: next, version: result.version });
      return { state: next, ...result };
    };
    // A new stream starts empty, and a stream this process wrote last is as it left it unless
    // another process wrote since: decide on that without reading the store. The append's
    // expected version catches a stream that moved meanwhile; only an append confirms such a
    // decision, so a refusal or a no-op on a kept state (which may be behind) is made again
    // on the stored stream, and so is a conflict.
    const known = options.createsStream
      ? { state: aggregate.initialState, version: 0 }
      : options.otherWriters
        ? undefined
        : (this.#latest.get(cacheKey) as { readonly state: State; readonly version: number } | undefined);
    if (known) {
      let decided: readonly Event[] = [];
      try {
        decided = aggregate.decide(command, known.state);
      } catch (error) {
        // An empty new stream is no guess: its refusals stand.
        if (options.createsStream || !(error instanceof AppError)) throw error;
      }
      if (decided.length > 0) {
        try {
          return await append(decided, known.state, known.version);
        } catch (error) {
          if (!(error instanceof VersionConflictError)) throw error;
        }
      }
    }
    const tail = await this.#store.readFoldable(stream, { fromVersion: (known?.version ?? 0) + 1 });
    const state = fold(aggregate, tail, known ? known.state : aggregate.initialState);
    const version = tail.at(-1)?.version ?? known?.version ?? 0;
    const decided = aggregate.decide(command, state);
    return decided.length === 0 ? { state, version, events: [] } : append(decided, state, version);
  }

  /** The state a previous call left: its stream folded up to that call's last event. */
  async #stateAt<State, Command, Event extends DomainEvent>(
    aggregate: Aggregate<State, Command, Event>,
    previous: readonly StoredEvent[],
  ): Promise<CommandResult<State>> {
    const last = previous.at(-1)!;
    const history = await this.#store.readFoldable({ type: last.aggregateType, id: last.aggregateId }, { toVersion: last.version });
    return { state: fold(aggregate, history), version: last.version, events: previous };
  }
}

/** Decided events as they will be stored after `version`, but for their times: what a row is made from before the append. */
const unstored = (decided: readonly DomainEvent[], version: number, metadata: EventMetadata) =>
  decided.map((event, index) => ({ ...event, version: version + index + 1, createdAt: new Date(), metadata }));
