import { createSourceEventStream, execute, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { payloadContext, type GraphQLContext } from './context.ts';

/**
 * One payload of a subscription: its selection run on the event that caused it, in a context
 * of its own (payloadContext), so that what it loads is read as of that event.
 */
export function executePayload(args: ExecutionArgs, payload: unknown): ExecutionResult | Promise<ExecutionResult> {
  return execute({ ...args, rootValue: payload, contextValue: payloadContext(args.contextValue as GraphQLContext) });
}

/**
 * graphql-js's subscribe, each payload run by executePayload: what Server-Sent Events
 * subscriptions run (the WebSocket path shares payloads between subscribers, through the same
 * executePayload). Ending the results ends the source.
 */
export async function subscribeWithPayloadContexts(args: ExecutionArgs): Promise<AsyncIterableIterator<ExecutionResult> | ExecutionResult> {
  const source = await createSourceEventStream(args);
  if (!(Symbol.asyncIterator in source)) return source;
  const events = source[Symbol.asyncIterator]();
  const results: AsyncIterableIterator<ExecutionResult> = {
    async next() {
      const step = await events.next();
      if (step.done) return step;
      try {
        return { done: false, value: await executePayload(args, step.value) };
      } catch (error) {
        // The transport calls no return() after a throw: the source is ended here.
        await events.return?.();
        throw error;
      }
    },
    return: async () => {
      await events.return?.();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]: () => results,
  };
  return results;
}
