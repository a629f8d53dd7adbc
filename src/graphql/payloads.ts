import { createSourceEventStream, execute, GraphQLError, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { answerTooLarge } from '../app/answer-budget.ts';
import { payloadContext, type GraphQLContext } from './context.ts';

/**
 * One payload of a subscription: its selection run on the event that caused it, in a context
 * of its own (payloadContext), so that what it loads is read as of that event.
 */
export function executePayload(args: ExecutionArgs, payload: unknown): ExecutionResult | Promise<ExecutionResult> {
  const contextValue = payloadContext(args.contextValue as GraphQLContext);
  const result = execute({ ...args, rootValue: payload, contextValue });
  return isPromise(result) ? result.then((done) => withinBudget(done, contextValue)) : withinBudget(result, contextValue);
}

const isPromise = <T>(value: T | Promise<T>): value is Promise<T> => typeof (value as Promise<T>).then === 'function';

/**
 * An answer over its byte budget is that one error, not a part of the data with holes in it
 * (each field that passed the budget failed on its own).
 */
export function withinBudget(result: ExecutionResult, context: GraphQLContext): ExecutionResult {
  if (!context.answer.exceeded) return result;
  const refused = answerTooLarge(context.services.config.maxResponseBytes);
  return { data: null, errors: [new GraphQLError(refused.message, { extensions: { code: refused.code, ...refused.details } })] };
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
