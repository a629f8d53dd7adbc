import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { ExecutionArgs, GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { WebSocketServer, type WebSocket } from 'ws';
import { authenticate, createContext, requestIdOf } from '../graphql/context.ts';
import { toClientError } from '../graphql/errors.ts';
import { createSharedSubscribe } from '../graphql/shared-subscriptions.ts';
import { describeError, log } from './log.ts';
import type { GraphQLHandler } from './server.ts';
import type { Services } from './services.ts';

/** What an operation carries from onSubscribe to execution. */
interface Operation {
  /** Yoga's envelop-wrapped execute, for queries and mutations sent over the socket. */
  readonly execute: (args: ExecutionArgs) => unknown;
  /** What decides a subscription's results besides the event itself: shared when equal. */
  readonly shape: string;
}

/** The key comes in the connection_init payload: `{ "authorization": "Bearer <key>" }`. */
function authorizationOf(params: Record<string, unknown> | undefined): unknown {
  return params?.authorization ?? params?.Authorization ?? params?.apiKey;
}

/** Bytes a socket may have waiting before a write waits for the previous ones to drain. */
const HIGH_WATER = 64 * 1024;

/**
 * One write syscall per turn of the event loop instead of one per message: writes are
 * corked until the turn ends, and a write counts as done at once while the socket has
 * little waiting, so graphql-ws can queue the next message in the same turn. Past the
 * high-water mark a write waits for the socket again, which keeps slow clients in check.
 */
function coalesceWrites(socket: WebSocket): void {
  // ws gives no public handle on its TCP socket; corking needs it.
  const tcp = (socket as unknown as { _socket: Socket })._socket;
  const send = socket.send.bind(socket) as (data: unknown, done?: (error?: Error) => void) => void;
  let corked = false;
  socket.send = ((data: unknown, done?: (error?: Error) => void) => {
    if (!corked) {
      corked = true;
      tcp.cork();
      setImmediate(() => {
        corked = false;
        tcp.uncork();
      });
    }
    if (done && socket.bufferedAmount < HIGH_WATER) {
      send(data);
      done();
    } else {
      send(data, done);
    }
  }) as WebSocket['send'];
}

const mask = (error: GraphQLError) =>
  toClientError(error, (cause) => log('error', 'unexpected error in a subscription', describeError(cause)));

/**
 * graphql-ws (the graphql-transport-ws protocol) on the GraphQL path. A connection without a
 * valid key is closed with 4403 Forbidden. Operations run through Yoga's envelop, so the
 * schema and error masking are the same as over HTTP.
 */
export function attachWebSocket(server: Server, yoga: GraphQLHandler, services: Services): { close(): Promise<void> } {
  const sockets = new WebSocketServer({ server, path: yoga.graphqlEndpoint });
  sockets.on('connection', coalesceWrites);
  const sharedSubscribe = createSharedSubscribe(mask);
  const operation = (args: ExecutionArgs) => args.rootValue as Operation;
  const disposable = useServer<Record<string, unknown>>(
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
        const { schema, execute, parse, validate } = yoga.getEnveloped({ ...ctx, params: payload });
        try {
          const document = parse(payload.query);
          const errors = validate(schema, document);
          if (errors.length > 0) return errors;
          // Checked per operation: the key may have been revoked since the connection opened.
          const contextValue = await createContext(services, {
            authorization: authorizationOf(ctx.connectionParams),
            requestId: requestIdOf(null),
          });
          // Everything a subscription's resolvers read from the caller must be part of the
          // shape, or one caller's result would be sent to another: today that is the role; a
          // workspace, when there are workspaces, must join it.
          const shape = JSON.stringify([contextValue.scope.actor.role, payload.query, payload.operationName, payload.variables]);
          return {
            schema,
            document,
            operationName: payload.operationName,
            variableValues: payload.variables,
            contextValue,
            rootValue: { execute, shape } satisfies Operation,
          };
        } catch (error) {
          return [mask(error as GraphQLError)];
        }
      },
      execute: (args) => operation(args).execute({ ...args, rootValue: undefined }) as never,
      subscribe: (args) => sharedSubscribe(args, operation(args).shape) as never,
    },
    sockets,
  );
  return { close: async () => disposable.dispose() };
}
