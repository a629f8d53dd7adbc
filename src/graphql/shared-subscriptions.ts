import { createSourceEventStream, execute, type ExecutionArgs, type ExecutionResult, type GraphQLError } from 'graphql';

/**
 * Subscription execution shared between subscribers. When a thousand dashboards watch the
 * log with the same query, each event is executed once per distinct shape (the document,
 * its variables and the caller's role), not once per subscriber. Results are kept per
 * source item object in a WeakMap, so they live exactly as long as the item; a source that
 * hands each subscriber the same item object (the live log does) shares, others do not.
 */
export function createSharedSubscribe(mask: (error: GraphQLError) => GraphQLError) {
  const results = new WeakMap<object, Map<string, Promise<ExecutionResult>>>();

  /** One event's result, as graphql-js's subscribe makes it: the selection run on the item. */
  async function run(item: object, args: ExecutionArgs): Promise<ExecutionResult> {
    const result = await execute({ ...args, rootValue: item });
    return result.errors ? { ...result, errors: result.errors.map(mask) } : result;
  }

  function resultFor(item: object, shape: string, args: ExecutionArgs): Promise<ExecutionResult> {
    let byShape = results.get(item);
    if (!byShape) results.set(item, (byShape = new Map()));
    let result = byShape.get(shape);
    if (!result) byShape.set(shape, (result = run(item, args)));
    return result;
  }

  return async function subscribe(args: ExecutionArgs, shape: string): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
    const source = await createSourceEventStream({ ...args, rootValue: undefined });
    if (!(Symbol.asyncIterator in source)) return { errors: source.errors?.map(mask) };
    const items = source[Symbol.asyncIterator]() as AsyncIterator<object>;
    const results: AsyncIterableIterator<ExecutionResult> = {
      async next() {
        const step = await items.next();
        return step.done ? step : { done: false, value: await resultFor(step.value, shape, args) };
      },
      async return() {
        await items.return?.();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]: () => results,
    };
    return results;
  };
}
