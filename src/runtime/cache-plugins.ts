import type { Plugin } from 'graphql-yoga';
import type { Dependencies } from '../app/response-cache.ts';
import { cursors } from '../graphql/connections.ts';
import type { GraphQLContext } from '../graphql/context.ts';
import { dependenciesOf } from '../graphql/cache-dependencies.ts';

/** The header a write's answer carries its log position in, and a read presents it in. */
export const POSITION_HEADER = 'flowledger-position';
export const READ_AFTER_HEADER = 'flowledger-read-after';

/** Filled by an execution the response cache asked for: what its answer depends on. */
export interface CacheRead {
  dependencies: Dependencies;
  /** What the execution charged to the workspace's read rate. */
  charged: number;
}

const positions = new WeakMap<Request, string>();

/**
 * A mutation's answer carries where its last event landed in the log: `extensions.position`
 * on every transport, and the Flowledger-Position header over HTTP. A read that presents it
 * (Flowledger-Read-After, or `extensions.readAfter`) sees at least that write.
 */
export function positionPlugin(): Plugin<GraphQLContext & { request?: Request }> {
  return {
    onExecute: () => ({
      onExecuteDone({ args, result, setResult }) {
        const position = args.contextValue.written?.position;
        if (!position || Symbol.asyncIterator in result) return;
        const token = cursors.log.encode(position);
        if (args.contextValue.request) positions.set(args.contextValue.request, token);
        setResult({ ...result, extensions: { ...result.extensions, position: token } });
      },
    }),
    onResponse({ request, response }) {
      const token = positions.get(request);
      if (token) response.headers.set(POSITION_HEADER, token);
    },
  };
}

/** Tells the response cache what a query it asked for depends on: nothing, when it failed. */
export function cacheReadPlugin(): Plugin<GraphQLContext & { cacheRead?: CacheRead }> {
  return {
    onExecute({ args }) {
      const read = args.contextValue.cacheRead;
      if (!read) return undefined;
      read.dependencies = dependenciesOf(
        args.schema,
        args.document,
        args.operationName,
        args.variableValues ?? undefined,
        args.contextValue.scope.actor.workspaceId,
      );
      return {
        onExecuteDone({ result }) {
          read.charged = args.contextValue.answer.charged;
          if (Symbol.asyncIterator in result || result.errors?.length) read.dependencies = null;
        },
      };
    },
  };
}
