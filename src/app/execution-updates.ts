import { fold } from '../domain/aggregate.ts';
import { notFound } from '../domain/errors.ts';
import { EXECUTION, executionAggregate, hasEnded, type Execution } from '../domain/executions/execution.ts';
import type { AnswerBudget } from './answer-budget.ts';
import type { History } from './history.ts';
import { isUuid } from './ids.ts';
import type { LiveLog } from './live-log.ts';
import type { LiveItem } from './live-subscription.ts';

/**
 * An execution now, then again after each append to its stream, until it ends: folded from its
 * events, each update exactly the state at the last event it includes (events that arrive
 * together, such as those of one append, come as one update). Failures come as items (the subscription's resolver throws them),
 * never from the iterator: the transports do not call return() after a throw. return() ends it
 * at once, even while it waits for an event that may never come. `onEnd` is called once when it ends.
 * Each update waits for the workspace's read rate (`budget`), and its replays are charged to it:
 * many subscriptions of a large execution cost their workspace, not the process.
 */
export function executionUpdates(
  history: History,
  live: LiveLog,
  workspaceId: string,
  id: string,
  allowed: () => Promise<boolean>,
  budget: AnswerBudget,
  onEnd: () => void = () => {},
): AsyncIterableIterator<Execution | Error> {
  const events = isUuid(id) ? live.subscribe(null, { workspaceId, aggregateType: EXECUTION, aggregateId: id }, allowed) : null;
  // From the nearest snapshot (History.replay), not the whole stream: many dashboards may follow one long execution.
  const read = async () =>
    (
      await history.replay({ type: EXECUTION, id, workspaceId }, {}, budget).catch((error: unknown) => {
        if ((error as { code?: string }).code === 'NOT_FOUND') return null;
        throw error;
      })
    )?.state as Execution | null;
  /** The events after `state`, folded at once (one copy of its records, not one per event); the stream read again if one is missing. */
  const advance = async (state: Execution, items: readonly LiveItem[]): Promise<Execution> => {
    const newer = items.flatMap((item) => (item.event && item.event.version > state.version ? [item.event] : []));
    if (newer.length === 0) return state;
    // A stream's events come in version order: a gap means some were missed.
    if (newer.some((event, index) => event.version !== state.version + index + 1)) return (await read()) ?? state;
    return fold(executionAggregate, newer, state) ?? state;
  };
  let last: Execution | null = null;
  /** A failure polled while gathering an update: reported with the next one. */
  let held: LiveItem | undefined;
  let ended = false;
  const end = async () => {
    if (!ended) onEnd();
    ended = true;
    await events?.return?.();
  };
  const item = (value: Execution | Error) => ({ done: false as const, value });
  const done = { done: true as const, value: undefined };

  const updates: AsyncIterableIterator<Execution | Error> = {
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
          let next: LiveItem | undefined = held;
          held = undefined;
          if (!next) {
            const step = await events!.next();
            if (step.done) break;
            next = step.value;
          }
          if (ended) break;
          if (next.failure) {
            await end();
            return item(next.failure);
          }
          // What else has arrived joins this update: one per append, not one per event.
          const arrived = [next];
          for (let more = events!.poll(); more && !more.done; more = events!.poll()) {
            if (more.value.failure) {
              held = more.value;
              break;
            }
            arrived.push(more.value);
          }
          await budget.turn();
          const state = await advance(last, arrived);
          if (state.version > last.version) return item((last = state));
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
