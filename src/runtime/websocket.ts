import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import type { ExecutionArgs, ExecutionResult, GraphQLError } from 'graphql';
import { LRUCache } from 'lru-cache';
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

const SHARED = '$flowledgerShared';
const SHARED_MARK = `{"${SHARED}":"`;

/**
 * Subscribers that share a result (src/graphql/shared-subscriptions.ts) would each have it
 * turned into JSON again by graphql-ws. Instead its payload is serialized once, graphql-ws
 * serializes a small stand-in `{"$flowledgerShared":"<token>"}`, and the socket's send puts
 * the payload's JSON in its place. Client data cannot forge the stand-in: inside a JSON
 * string its quotes are escaped.
 */
class SharedPayloads {
  readonly #tokens = new WeakMap<object, { [SHARED]: string }>();
  readonly #json = new LRUCache<string, string>({ max: 10_000 });
  #next = 0;

  standIn(result: ExecutionResult): { [SHARED]: string } {
    let standIn = this.#tokens.get(result);
    if (!standIn) {
      const { errors, ...rest } = result;
      const token = String((this.#next += 1));
      this.#json.set(token, JSON.stringify(errors ? { ...rest, errors: errors.map((error) => error.toJSON()) } : rest));
      this.#tokens.set(result, (standIn = { [SHARED]: token }));
    }
    return standIn;
  }

  /** The message with its stand-in replaced; as it is when it has none. */
  fill(message: unknown): unknown {
    if (typeof message !== 'string') return message;
    const at = message.indexOf(SHARED_MARK);
    if (at < 0) return message;
    const end = message.indexOf('"}', at + SHARED_MARK.length);
    const json = this.#json.get(message.slice(at + SHARED_MARK.length, end));
    return json === undefined ? message : message.slice(0, at) + json + message.slice(end + 2);
  }
}

/**
 * Writes to every socket are corked and sent together: at the end of the event-loop turn, or
 * with a window, every `windowMs`. One write syscall per socket per flush instead of one per
 * message: with a thousand subscribers and a hundred events a second, those syscalls are the
 * server's largest cost, and a window of a few milliseconds sends several events in one.
 */
class WriteFlusher {
  readonly #windowMs: number;
  readonly #corked = new Set<Socket>();
  #scheduled = false;

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  cork(tcp: Socket): void {
    if (this.#corked.has(tcp)) return;
    tcp.cork();
    this.#corked.add(tcp);
    if (this.#scheduled) return;
    this.#scheduled = true;
    if (this.#windowMs > 0) setTimeout(this.#flush, this.#windowMs);
    else setImmediate(this.#flush);
  }

  readonly #flush = () => {
    this.#scheduled = false;
    for (const tcp of this.#corked) tcp.uncork();
    this.#corked.clear();
  };
}

/**
 * A write counts as done at once while the socket has little waiting, so graphql-ws can queue
 * the next message without waiting for the flush. Past the high-water mark a write waits for
 * the socket again, which keeps slow clients in check.
 */
function coalesceWrites(socket: WebSocket, flusher: WriteFlusher, shared: SharedPayloads): void {
  // ws gives no public handle on its TCP socket; corking needs it.
  const tcp = (socket as unknown as { _socket: Socket })._socket;
  const write = socket.send.bind(socket) as (data: unknown, done?: (error?: Error) => void) => void;
  const send = (data: unknown, done?: (error?: Error) => void) => write(shared.fill(data), done);
  socket.send = ((data: unknown, done?: (error?: Error) => void) => {
    flusher.cork(tcp);
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
  const shared = new SharedPayloads();
  const flusher = new WriteFlusher(services.config.wsWriteWindowMs);
  sockets.on('connection', (socket: WebSocket) => coalesceWrites(socket, flusher, shared));
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
      onNext: (_ctx, _id, _payload, _args, result) => shared.standIn(result) as never,
      execute: (args) => operation(args).execute({ ...args, rootValue: undefined }) as never,
      subscribe: (args) => sharedSubscribe(args, operation(args).shape) as never,
    },
    sockets,
  );
  return { close: async () => disposable.dispose() };
}
