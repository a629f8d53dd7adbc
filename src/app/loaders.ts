import DataLoader from 'dataloader';
import { fold } from '../domain/aggregate.ts';
import { EXECUTION, executionAggregate, type Execution } from '../domain/executions/execution.ts';
import { spentBytes, type StoredEvent } from '../store/event-store.ts';
import type { ExecutionJson } from '../store/execution-rows.ts';
import type { User } from '../generated/prisma/client.ts';
import type { ExecutionService } from './executions.ts';
import type { History } from './history.ts';
import type { IdentityService } from './identity.ts';

/** A folded execution, with the bytes of event data it was folded from: what an answer is charged for its steps. */
export interface LoadedExecution {
  readonly state: Execution | null;
  readonly bytes: number;
}

/** Per-request batching: one statement for all the rows a response needs of one kind. */
export interface Loaders {
  readonly user: DataLoader<string, User | null>;
  /** Executions folded from their events: what their steps are read from. */
  readonly execution: DataLoader<string, LoadedExecution>;
  executionJson(column: ExecutionJson): DataLoader<string, unknown>;
  latestEvents(aggregateType: string, count: number): DataLoader<string, StoredEvent[]>;
}

/** The services a request's loaders read through: the same reads, and rules, as any other. */
export interface LoaderSources {
  readonly identity: IdentityService;
  readonly executions: ExecutionService;
  readonly history: History;
}

/**
 * `workspaceId`: the caller's; users and streams of other workspaces read as missing. Each
 * loader is made when first used, and caches for its context's life: a subscription makes a
 * set per turn of the event loop (graphql/context.ts), so that no payload is resolved from
 * rows read before its event. The resolvers charge each answer for what it takes. Batches of
 * events are heavy reads: they wait for the workspace's read rate (`turn`) first.
 */
export function createLoaders(
  { identity, executions, history }: LoaderSources,
  /** One answer's worth of event data (MAX_RESPONSE_BYTES): the most a batch reads. */
  maxBytes: number,
  workspaceId: string,
  turn: () => Promise<void>,
): Loaders {
  const byKey = new Map<string, DataLoader<string, never>>();
  /** One loader per key, made on first use. */
  const once = <V>(key: string, make: () => DataLoader<string, V>): DataLoader<string, V> => {
    let loader = byKey.get(key) as DataLoader<string, V> | undefined;
    if (!loader) byKey.set(key, (loader = make()) as DataLoader<string, never>);
    return loader;
  };
  /** A batch of events, once the workspace's read rate lets it. */
  const afterTurn = async (read: () => Promise<StoredEvent[]>) => {
    await turn();
    return read();
  };
  return {
    get user() {
      return once('user', () => new DataLoader((ids) => identity.users(workspaceId, ids)));
    },
    get execution() {
      return once(
        'execution',
        () =>
          new DataLoader<string, LoadedExecution>(async (ids) => {
            const byStream = Map.groupBy(
              await afterTurn(() => history.streams(workspaceId, EXECUTION, ids, maxBytes)),
              (event) => event.aggregateId,
            );
            return ids.map((id) => {
              const events = byStream.get(id) ?? [];
              return { state: fold(executionAggregate, events), bytes: spentBytes(events) };
            });
          }),
      );
    },
    executionJson(column) {
      return once(`execution:${column}`, () => new DataLoader((ids) => executions.json(workspaceId, ids, column)));
    },
    latestEvents(aggregateType, count) {
      return once(
        `latest:${aggregateType}:${count}`,
        () =>
          new DataLoader(async (ids) => {
            const byStream = Map.groupBy(
              await afterTurn(() => history.latest(workspaceId, aggregateType, ids, count, maxBytes)),
              (event) => event.aggregateId,
            );
            return ids.map((id) => byStream.get(id) ?? []);
          }),
      );
    },
  };
}
