import DataLoader from 'dataloader';
import { fold } from '../domain/aggregate.ts';
import { EXECUTION, executionAggregate, type Execution } from '../domain/executions/execution.ts';
import type { Services } from '../runtime/services.ts';
import type { StoredEvent } from '../store/event-store.ts';
import type { User } from '../generated/prisma/client.ts';

/** Per-request batching: one statement for all the rows a response needs of one kind. */
export interface Loaders {
  readonly user: DataLoader<string, User | null>;
  /** Executions folded from their events: what their steps are read from. */
  readonly execution: DataLoader<string, Execution | null>;
  latestEvents(aggregateType: string, count: number): DataLoader<string, StoredEvent[]>;
}

/**
 * `workspaceId`: the caller's; users and streams of other workspaces read as missing. Each
 * loader is made when first used: a subscription makes a set per payload (context.ts).
 */
export function createLoaders(services: Services, workspaceId: string): Loaders {
  const latest = new Map<string, DataLoader<string, StoredEvent[]>>();
  let user: Loaders['user'] | undefined;
  let execution: Loaders['execution'] | undefined;
  return {
    get user() {
      return (user ??= new DataLoader(async (ids) => {
        const users = await services.db.prisma.user.findMany({ where: { id: { in: [...ids] }, workspaceId } });
        const byId = new Map(users.map((found) => [found.id, found]));
        return ids.map((id) => byId.get(id) ?? null);
      }));
    },
    get execution() {
      return (execution ??= new DataLoader(async (ids) => {
        const byStream = Map.groupBy(await services.store.readStreams(workspaceId, EXECUTION, ids), (event) => event.aggregateId);
        return ids.map((id) => fold(executionAggregate, byStream.get(id) ?? []));
      }));
    },
    latestEvents(aggregateType, count) {
      const key = `${aggregateType}:${count}`;
      let loader = latest.get(key);
      if (!loader) {
        loader = new DataLoader(async (ids) => {
          const byStream = Map.groupBy(
            await services.store.latestOfStreams(workspaceId, aggregateType, ids, count),
            (event) => event.aggregateId,
          );
          return ids.map((id) => byStream.get(id) ?? []);
        });
        latest.set(key, loader);
      }
      return loader;
    },
  };
}
