import type { Server } from 'node:http';
import type { ExecutionArgs } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer } from 'ws';
import { authenticate, createContext, requestIdOf } from '../graphql/context.ts';
import type { GraphQLHandler } from './server.ts';
import type { Services } from './services.ts';

interface Enveloped {
  execute: (args: ExecutionArgs) => unknown;
  subscribe: (args: ExecutionArgs) => unknown;
}

/** The key comes in the connection_init payload: `{ "authorization": "Bearer <key>" }`. */
function authorizationOf(params: Record<string, unknown> | undefined): unknown {
  return params?.authorization ?? params?.Authorization ?? params?.apiKey;
}

/**
 * graphql-ws (the graphql-transport-ws protocol) on the GraphQL path. A connection without a
 * valid key is closed with 4403 Forbidden. Operations run through Yoga's envelop, so error
 * masking and the schema are the same as over HTTP.
 */
export function attachWebSocket(server: Server, yoga: GraphQLHandler, services: Services): { close(): Promise<void> } {
  const sockets = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  const disposable = useServer<Record<string, unknown>, { requestId?: string }>(
    {
      onConnect: async (ctx) => {
        try {
          await authenticate(services, authorizationOf(ctx.connectionParams));
          return true;
        } catch {
          return false;
        }
      },
      onSubscribe: async (ctx, _id, payload) => {
        const { schema, execute, subscribe, parse, validate } = yoga.getEnveloped({ ...ctx, params: payload });
        let document;
        try {
          document = parse(payload.query);
        } catch (error) {
          return [error as never];
        }
        const errors = validate(schema, document);
        if (errors.length > 0) return errors;
        let contextValue;
        try {
          // Checked again per operation: the key may have been revoked since the connection opened.
          contextValue = await createContext(services, {
            authorization: authorizationOf(ctx.connectionParams),
            requestId: requestIdOf(null),
          });
        } catch (error) {
          return [error as never];
        }
        return {
          schema,
          document,
          operationName: payload.operationName,
          variableValues: payload.variables,
          contextValue,
          rootValue: { execute, subscribe } satisfies Enveloped,
        };
      },
      execute: (args) => (args.rootValue as Enveloped).execute(args) as never,
      subscribe: (args) => (args.rootValue as Enveloped).subscribe(args) as never,
    },
    sockets,
  );
  return { close: async () => disposable.dispose() };
}
