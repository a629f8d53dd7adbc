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
  readonly #json = new LRUCache<string, { json: string; sends: number }>({ max: 10_000 });
  #next = 0;

  standIn(result: ExecutionResult): { [SHARED]: string } {
    let standIn = this.#tokens.get(result);
    if (!standIn) {
      const { errors, ...rest } = result;
      const token = String((this.#next += 1));
      this.#json.set(token, { json: JSON.stringify(errors ? { ...rest, errors: errors.map((error) => error.toJSON()) } : rest), sends: 0 });
      this.#tokens.set(result, (standIn = { [SHARED]: token }));
    }
    return standIn;
  }

  /**
   * The message with its stand-in replaced (as it is when it has none), and whether its
   * payload has been sent before: a result that goes to many subscribers.
   */
  fill(message: unknown): { message: unknown; shared: boolean } {
    const at = typeof message === 'string' ? message.indexOf(SHARED_MARK) : -1;
    if (at < 0) return { message, shared: false };
    const text = message as string;
    const end = text.indexOf('"}', at + SHARED_MARK.length);
    const payload = this.#json.get(text.slice(at + SHARED_MARK.length, end));
    if (payload === undefined) return { message, shared: false };
    payload.sends += 1;
    return { message: text.slice(0, at) + payload.json + text.slice(end + 2), shared: payload.sends > 1 };
  }
}

/**
 * Writes to every socket are corked and sent together. Results that many subscribers share go
 * out at most once per `windowMs` (at the end of the event-loop turn when the last such flush
 * is that long ago, so a quiet server sends at once): one write syscall per socket per flush
 * instead of one per message. With a thousand subscribers and a hundred events a second those
 * syscalls were the server's largest cost, and the window sends two or three events in one.
 * Everything else (answers, markers, errors) goes at the end of the turn, taking whatever
 * waits on its socket with it.
 */
class WriteFlusher {
  readonly #windowMs: number;
  readonly #corked = new Set<Socket>();
  readonly #urgent = new Set<Socket>();
  #windowScheduled = false;
  #turnScheduled = false;
  #lastFlush = 0;

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  cork(tcp: Socket, urgent: boolean): void {
    if (!this.#corked.has(tcp)) {
      tcp.cork();
      this.#corked.add(tcp);
    }
    if (urgent) {
      this.#urgent.add(tcp);
      if (!this.#turnScheduled) {
        this.#turnScheduled = true;
        setImmediate(this.#flushUrgent);
      }
    } else if (!this.#windowScheduled) {
      this.#windowScheduled = true;
      const wait = this.#lastFlush + this.#windowMs - Date.now();
      if (wait > 0) setTimeout(this.#flush, wait);
      else setImmediate(this.#flush);
    }
  }

  #uncork(tcp: Socket): void {
    if (this.#corked.delete(tcp)) tcp.uncork();
  }

  readonly #flushUrgent = () => {
    this.#turnScheduled = false;
    for (const tcp of this.#urgent) this.#uncork(tcp);
    this.#urgent.clear();
  };

  readonly #flush = () => {
    this.#windowScheduled = false;
    this.#lastFlush = Date.now();
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
  socket.send = ((data: unknown, done?: (error?: Error) => void) => {
    const filled = shared.fill(data);
    // A result many subscribers get may wait for the window; anything else goes at the end of the turn.
    flusher.cork(tcp, !filled.shared);
    if (done && socket.bufferedAmount < HIGH_WATER) {
      write(filled.message);
      done();
    } else {
      write(filled.message, done);
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
