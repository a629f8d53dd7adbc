import DataLoader from 'dataloader';
import { answerTooLarge } from '../app/answer-budget.ts';
import { fold } from '../domain/aggregate.ts';
import { EXECUTION, executionAggregate, type Execution } from '../domain/executions/execution.ts';
import type { Services } from '../runtime/services.ts';
import { spentBytes, type StoredEvent } from '../store/event-store.ts';
import type { User } from '../generated/prisma/client.ts';

/** A folded execution, with the bytes of event data it was folded from: what an answer is charged for its steps. */
export interface LoadedExecution {
  readonly state: Execution | null;
  readonly bytes: number;
}

/** An execution's JSON columns, loaded only when asked for (they may be large). */
export type ExecutionJson = 'input' | 'output';

/** Per-request batching: one statement for all the rows a response needs of one kind. */
export interface Loaders {
  readonly user: DataLoader<string, User | null>;
  /** Executions folded from their events: what their steps are read from. */
  readonly execution: DataLoader<string, LoadedExecution>;
  executionJson(column: ExecutionJson): DataLoader<string, unknown>;
  latestEvents(aggregateType: string, count: number): DataLoader<string, StoredEvent[]>;
}

/**
 * `workspaceId`: the caller's; users and streams of other workspaces read as missing. Each
 * loader is made when first used: a subscription makes a set per turn of the event loop
 * (context.ts). A batch reads at most one answer's worth of event data (MAX_RESPONSE_BYTES);
 * the resolvers charge each answer for what it takes. Batches of events are heavy reads: they
 * wait for the workspace's read rate (`turn`) and run under the heavy-read bound.
 */
export function createLoaders(services: Services, workspaceId: string, turn: () => Promise<void>): Loaders {
  const maxBytes = services.config.maxResponseBytes;
  const byKey = new Map<string, DataLoader<string, never>>();
  /** One loader per key, made on first use. */
  const once = <V>(key: string, make: () => DataLoader<string, V>): DataLoader<string, V> => {
    let loader = byKey.get(key) as DataLoader<string, V> | undefined;
    if (!loader) byKey.set(key, (loader = make()) as DataLoader<string, never>);
    return loader;
  };
  /** Events of a batch read within the bound; past it, the batch is refused as too large for any answer. */
  const bounded = async (read: () => Promise<StoredEvent[]>) => {
    await turn();
    const events = await services.heavyReads(workspaceId, read);
    if (spentBytes(events) > maxBytes) throw answerTooLarge(maxBytes);
    return events;
  };
  return {
    get user() {
      return once('user', () =>
        new DataLoader(async (ids) => {
          const users = await services.db.prisma.user.findMany({ where: { id: { in: [...ids] }, workspaceId } });
          const found = new Map(users.map((user) => [user.id, user]));
          return ids.map((id) => found.get(id) ?? null);
        }),
      );
    },
    get execution() {
      return once('execution', () =>
        new DataLoader<string, LoadedExecution>(async (ids) => {
          const byStream = Map.groupBy(await bounded(() => services.store.readStreams(workspaceId, EXECUTION, ids, maxBytes)), (event) => event.aggregateId);
          return ids.map((id) => {
            const events = byStream.get(id) ?? [];
            return { state: fold(executionAggregate, events), bytes: spentBytes(events) };
          });
        }),
      );
    },
    executionJson(column) {
      return once(`execution:${column}`, () =>
        new DataLoader(async (ids) => {
          const rows = (await services.db.prisma.execution.findMany({
            where: { id: { in: [...ids] }, workspaceId },
            select: { id: true, [column]: true },
          })) as unknown as Record<string, unknown>[];
          const found = new Map<unknown, unknown>(rows.map((row) => [row.id, row[column]]));
          return ids.map((id) => found.get(id) ?? null);
        }),
      );
    },
    latestEvents(aggregateType, count) {
      return once(`latest:${aggregateType}:${count}`, () =>
        new DataLoader(async (ids) => {
          const events = await bounded(() => services.store.latestOfStreams(workspaceId, aggregateType, ids, count, maxBytes));
          const byStream = Map.groupBy(events, (event) => event.aggregateId);
          return ids.map((id) => byStream.get(id) ?? []);
        }),
      );
    },
  };
}
