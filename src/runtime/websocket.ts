import type { Server } from 'node:http';
import type { ExecutionArgs, ExecutionResult, GraphQLError } from 'graphql';
import { useServer } from 'graphql-ws/use/ws';
import { isPollable } from '../app/pollable.ts';
import { WebSocketServer, type WebSocket } from 'ws';
import { authenticate, createContext, requestIdOf } from '../graphql/context.ts';
import { toClientError } from '../graphql/errors.ts';
import { createSharedSubscribe } from '../graphql/shared-subscriptions.ts';
import { describeError, log } from './log.ts';
import type { GraphQLHandler } from './graphql-handler.ts';
import type { Services } from './services.ts';
import { SocketWriter } from './socket-writer.ts';
import { Pipes, type PipedOperation } from './subscription-pipes.ts';

/** What an operation carries from onSubscribe to execution. */
interface Operation extends PipedOperation {
  /** Yoga's envelop-wrapped execute, for queries and mutations sent over the socket. */
  readonly execute: (args: ExecutionArgs) => unknown;
  /** What decides a subscription's results besides the event itself: shared when equal. */
  readonly shape: string;
}

/** The key comes in the connection_init payload as it would in a header: `{ "authorization": "Bearer <key>" }`. */
function authorizationOf(params: Record<string, unknown> | undefined): unknown {
  return params?.authorization ?? params?.Authorization;
}

/**
 * A message over MAX_BODY_BYTES is the client's error: ws has closed the socket with 1009 when
 * it emits it. graphql-ws would print it to stderr as an internal error, outside the JSON log;
 * it is logged and counted as PAYLOAD_TOO_LARGE instead, as over HTTP.
 */
function quietOversizedMessages(socket: WebSocket, countError: (code: unknown) => void): void {
  const emit = socket.emit.bind(socket);
  socket.emit = ((event: string | symbol, ...args: unknown[]) => {
    if (event !== 'error' || (args[0] as { code?: unknown } | undefined)?.code !== 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH')
      return emit(event, ...args);
    log('warn', 'a WebSocket message over the size limit closed its socket (1009)');
    countError('PAYLOAD_TOO_LARGE');
    return true;
  }) as WebSocket['emit'];
}

/**
 * graphql-ws (the graphql-transport-ws protocol) on the GraphQL path. A connection without a
 * valid key is closed with 4403 Forbidden. Operations run through Yoga's envelop, so the
 * schema and error masking are the same as over HTTP.
 */
export function attachWebSocket(
  server: Server,
  yoga: GraphQLHandler,
  services: Services,
  countError: (code: unknown) => void,
): { close(): Promise<void> } {
  // As over HTTP, but without `extensions.http`, which Yoga strips there and graphql-ws would send.
  const mask = (error: GraphQLError) => {
    const masked = toClientError(error, (cause) => log('error', 'unexpected error in a subscription', describeError(cause)));
    delete (masked.extensions as Record<string, unknown>).http;
    countError(masked.extensions.code);
    return masked;
  };
  const origins = services.config.allowedOrigins;
  const sockets = new WebSocketServer({
    server,
    path: yoga.graphqlEndpoint,
    // A message past the body limit closes its socket (1009), as a larger HTTP body is refused.
    maxPayload: services.config.maxBodyBytes,
    // With ALLOWED_ORIGINS, a browser page from elsewhere cannot open a socket (403). Programs
    // send no Origin and are not concerned.
    verifyClient: ({ origin }: { origin?: string }, done: (allowed: boolean, code?: number) => void) =>
      done(origins.length === 0 || !origin || origins.includes(origin), 403),
  });
  const writer = new SocketWriter(services.config.wsWriteWindowMs);
  const pipes = new Pipes(writer);
  sockets.on('connection', (socket: WebSocket) => {
    writer.adopt(socket);
    quietOversizedMessages(socket, countError);
  });
  const sharedSubscribe = createSharedSubscribe(mask);
  const operation = (args: ExecutionArgs) => args.rootValue as Operation;
  // graphql-ws does not end a stream whose id a client reused while it was starting, even when
  // the socket closes; each connection's streams are kept here and ended with it.
  const streams = new WeakMap<object, Set<AsyncIterator<unknown>>>();
  const streamsOf = (ctx: object) => {
    let set = streams.get(ctx);
    if (!set) streams.set(ctx, (set = new Set()));
    return set;
  };
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
      onSubscribe: async (ctx, id, payload) => {
        const { schema, execute, parse, validate } = yoga.getEnveloped({ ...ctx, params: payload });
        try {
          // With persisted operations, the socket runs only those, as HTTP does.
          const text = services.persistedOperations ? services.persistedOperations.resolve(payload) : payload.query;
          if (typeof text !== 'string') return [mask(text)];
          const document = parse(text);
          const errors = validate(schema, document);
          if (errors.length > 0) return errors;
          // Checked per operation: the key may have been revoked since the connection opened.
          const contextValue = await createContext(services, {
            authorization: authorizationOf(ctx.connectionParams),
            requestId: requestIdOf(null),
          });
          // Everything a subscription's resolvers read from the caller must be part of the
          // shape, or one caller's result would be sent to another: the workspace and the role.
          const { workspaceId, role } = contextValue.scope.actor;
          const shape = JSON.stringify([workspaceId, role, text, payload.operationName, payload.variables]);
          return {
            schema,
            document,
            operationName: payload.operationName,
            variableValues: payload.variables,
            contextValue,
            rootValue: {
              execute,
              shape,
              streams: streamsOf(ctx),
              id,
              socket: ctx.extra.socket,
            } satisfies Operation,
          };
        } catch (error) {
          return [mask(error as GraphQLError)];
        }
      },
      execute: (args) => operation(args).execute({ ...args, rootValue: undefined }) as never,
      subscribe: async (args) => {
        const op = operation(args);
        const results = await sharedSubscribe(args, op.shape);
        return (isPollable<ExecutionResult>(results) ? pipes.stream(results, op) : results) as never;
      },
      onClose: async (ctx) => {
        await Promise.allSettled([...streamsOf(ctx)].map((stream) => stream.return?.()));
      },
    },
    sockets,
  );
  return { close: async () => disposable.dispose() };
}
