import { notFound } from '../domain/errors.ts';
import { EXECUTION, hasEnded } from '../domain/executions/execution.ts';
import type { Execution as ExecutionRow } from '../generated/prisma/client.ts';
import type { Database } from '../store/database.ts';
import { isUuid } from './ids.ts';
import type { LiveLog } from './live-log.ts';

/**
 * An execution's summary now, then again after each of its events, until it ends. Failures
 * come as items (the subscription's resolver throws them), never from the iterator: the
 * transports do not call return() after a throw. return() ends it at once, even while it
 * waits for an event that may never come. `onEnd` is called once when it ends.
 */
export function executionUpdates(
  db: Database,
  live: LiveLog,
  workspaceId: string,
  id: string,
  allowed: () => Promise<boolean>,
  onEnd: () => void = () => {},
): AsyncIterableIterator<ExecutionRow | Error> {
  const events = isUuid(id) ? live.subscribe(null, { workspaceId, aggregateType: EXECUTION, aggregateId: id }, allowed) : null;
  const read = () => db.prisma.execution.findFirst({ where: { id, workspaceId } });
  let last: ExecutionRow | null = null;
  let ended = false;
  const end = async () => {
    if (!ended) onEnd();
    ended = true;
    await events?.return?.();
  };
  const item = (value: ExecutionRow | Error) => ({ done: false as const, value });
  const done = { done: true as const, value: undefined };

  const updates: AsyncIterableIterator<ExecutionRow | Error> = {
    async next() {
      if (ended) return done;
      try {
        // Subscribed before the first read, so that no event falls between the two.
        if (last === null) {
          last = events && (await read());
          if (last) return item(last);
          await end();
          return item(notFound('execution', id));
        }
        while (!hasEnded(last.status)) {
          const next = await events!.next();
          if (next.done || ended) break;
          if (next.value.failure) {
            await end();
            return item(next.value.failure);
          }
          const now = next.value.event ? await read() : null;
          if (now && now.version > last.version) return item((last = now));
        }
        await end();
        return done;
      } catch (error) {
        await end();
        return item(error as Error);
      }
    },
    async return() {
      await end();
      return done;
    },
    [Symbol.asyncIterator]: () => updates,
  };
  return updates;
}
