import { createSourceEventStream, type ExecutionArgs, type ExecutionResult, type GraphQLError } from 'graphql';
import { isPollable, toPollable, type Pollable } from '../app/pollable.ts';
import { executePayload } from './payloads.ts';

type Result = ExecutionResult | Promise<ExecutionResult>;

/** Results one subscriber may have under way at once, ahead of the one it waits for. */
const AHEAD = 64;

const isPromise = (value: Result): value is Promise<ExecutionResult> => typeof (value as Promise<unknown>).then === 'function';

/**
 * Subscription execution shared between subscribers. When a thousand dashboards watch the
 * log with the same query, each event is executed once per distinct shape (the document,
 * its variables and the caller's role), not once per subscriber. Results are kept per
 * source item object in a WeakMap, so they live exactly as long as the item; a source that
 * hands each subscriber the same item object (the live log does) shares, others do not.
 *
 * The results are pollable: from a pollable source (the live log), a selection whose resolvers
 * all answer at once (the usual case) gives each subscriber its result without a promise.
 */
export function createSharedSubscribe(mask: (error: GraphQLError) => GraphQLError) {
  const results = new WeakMap<object, Map<string, Result>>();

  /** One event's result: the selection run on the item, as of that item (executePayload). */
  function run(item: object, args: ExecutionArgs): Result {
    const masked = (result: ExecutionResult) => (result.errors ? { ...result, errors: result.errors.map(mask) } : result);
    const result = executePayload(args, item);
    // execute reports failures in the result; a rejection would stall every subscriber of the shape.
    return isPromise(result) ? result.then(masked, (error: GraphQLError) => ({ errors: [mask(error)] })) : masked(result);
  }

  function resultFor(item: object, shape: string, args: ExecutionArgs): Result {
    let byShape = results.get(item);
    if (!byShape) results.set(item, (byShape = new Map()));
    let result = byShape.get(shape);
    if (result === undefined) {
      result = run(item, args);
      byShape.set(shape, result);
      // Once it has arrived, later subscribers take it as it is.
      if (isPromise(result)) void result.then((arrived) => byShape.set(shape, arrived));
    }
    return result;
  }

  return async function subscribe(args: ExecutionArgs, shape: string): Promise<Pollable<ExecutionResult> | ExecutionResult> {
    const source = await createSourceEventStream({ ...args, rootValue: undefined });
    if (!(Symbol.asyncIterator in source)) return { errors: source.errors?.map(mask) };
    const iterator = source[Symbol.asyncIterator]() as AsyncIterator<object>;
    const items = isPollable<object>(iterator) ? iterator : toPollable(iterator);
    let listener = () => {};
    /**
     * Results taken from the source and not yet handed over, in order. While the first waits
     * for data, the items behind it are started too (up to AHEAD), so that their loads batch
     * with its own rather than run one round trip after another.
     */
    const queue: { result: Result; arrived?: ExecutionResult }[] = [];
    let ended: IteratorResult<ExecutionResult> | undefined;
    return {
      poll() {
        while (!ended && queue.length < AHEAD) {
          const step = items.poll();
          if (!step) break;
          if (step.done) {
            ended = step;
            break;
          }
          const entry: (typeof queue)[number] = { result: resultFor(step.value, shape, args) };
          if (isPromise(entry.result)) {
            void entry.result.then((value) => {
              entry.arrived = value;
              if (queue[0] === entry) listener();
            });
          } else {
            entry.arrived = entry.result;
          }
          queue.push(entry);
        }
        const head = queue[0];
        if (!head) return ended;
        if (!head.arrived) return undefined;
        queue.shift();
        return { done: false, value: head.arrived };
      },
      onReadable(readable) {
        listener = readable;
        items.onReadable(readable);
      },
      return: () => items.return(),
    };
  };
}
