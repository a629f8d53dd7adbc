import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { getOperationAST, type ExecutionArgs, type ExecutionResult, type GraphQLError } from 'graphql';
import { randomUUID } from 'node:crypto';
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
  /** The streams of the operation's connection: all ended when it closes. */
  readonly streams: Set<AsyncIterator<unknown>>;
  /** A subscription, whose results subscribers share; answers to queries and mutations are not. */
  readonly subscription: boolean;
}

/** The key comes in the connection_init payload: `{ "authorization": "Bearer <key>" }`. */
function authorizationOf(params: Record<string, unknown> | undefined): unknown {
  return params?.authorization ?? params?.Authorization ?? params?.apiKey;
}

/** Bytes a socket may have waiting before a write waits for the previous ones to drain. */
const HIGH_WATER = 64 * 1024;

const SHARED = '$flowledgerShared';
/**
 * A next message whose whole payload is a stand-in is `{"id":"<id>` + MIDDLE + a 36-character
 * token + `"}}`, and nothing else: the only text `fill` rewrites. An id a client chose cannot
 * hold MIDDLE, as its quotes are escaped in JSON.
 */
const START = '{"id":"';
const MIDDLE = `","type":"next","payload":{"${SHARED}":"`;
const TOKEN_LENGTH = 36;

interface Payload {
  readonly json: string;
  sends: number;
}

/**
 * Subscribers that share a subscription result (src/graphql/shared-subscriptions.ts) would
 * each have it turned into JSON again by graphql-ws. Instead its payload is serialized once,
 * graphql-ws serializes a small stand-in `{"$flowledgerShared":"<random uuid>"}`, and the
 * socket's send puts the payload's JSON in its place. Only a whole `next` message made of a
 * stand-in is rewritten, with an unguessable token: no text a client controls (data, a ping's
 * payload) can be taken for one. A payload's JSON lives exactly as long as its result object.
 */
class SharedPayloads {
  readonly #tokens = new WeakMap<object, { [SHARED]: string }>();
  readonly #payloads = new Map<string, Payload>();
  readonly #forget = new FinalizationRegistry<string>((token) => this.#payloads.delete(token));

  standIn(result: ExecutionResult): { [SHARED]: string } {
    let standIn = this.#tokens.get(result);
    if (!standIn) {
      const { errors, ...rest } = result;
      const token = randomUUID();
      this.#payloads.set(token, { json: JSON.stringify(errors ? { ...rest, errors: errors.map((error) => error.toJSON()) } : rest), sends: 0 });
      this.#forget.register(result, token);
      this.#tokens.set(result, (standIn = { [SHARED]: token }));
    }
    return standIn;
  }

  /**
   * The message with its stand-in replaced (as it is when it has none), and whether its payload
   * has been sent before: a result that goes to many subscribers.
   */
  fill(message: unknown): { message: unknown; shared: boolean } {
    if (typeof message !== 'string' || !message.startsWith(START) || !message.endsWith('"}}')) return { message, shared: false };
    const tokenAt = message.length - TOKEN_LENGTH - 3;
    if (message.lastIndexOf(MIDDLE, tokenAt) !== tokenAt - MIDDLE.length || message.indexOf(MIDDLE) !== tokenAt - MIDDLE.length) {
      return { message, shared: false };
    }
    const payload = this.#payloads.get(message.slice(tokenAt, tokenAt + TOKEN_LENGTH));
    // Its result is being sent, so it cannot have been collected: a miss is a bug, not data.
    if (!payload) throw new Error('a shared payload was sent after it was forgotten');
    payload.sends += 1;
    return { message: `${message.slice(0, tokenAt - MIDDLE.length)}","type":"next","payload":${payload.json}}`, shared: payload.sends > 1 };
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
  const shared = new SharedPayloads();
  const flusher = new WriteFlusher(services.config.wsWriteWindowMs);
  sockets.on('connection', (socket: WebSocket) => coalesceWrites(socket, flusher, shared));
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
      onSubscribe: async (ctx, _id, payload) => {
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
              subscription: getOperationAST(document, payload.operationName)?.operation === 'subscription',
            } satisfies Operation,
          };
        } catch (error) {
          return [mask(error as GraphQLError)];
        }
      },
      onNext: (_ctx, _id, _payload, args, result) => (operation(args).subscription ? shared.standIn(result) : undefined) as never,
      execute: (args) => operation(args).execute({ ...args, rootValue: undefined }) as never,
      subscribe: async (args) => {
        const { shape, streams: open } = operation(args);
        const result = await sharedSubscribe(args, shape);
        if (!(Symbol.asyncIterator in result)) return result as never;
        // Kept until returned or the socket closes (a stream that ends by itself stays until
        // then: a small object, where a wrapper on every message would cost the fan-out).
        open.add(result);
        const end = result.return!.bind(result);
        result.return = () => {
          open.delete(result);
          return end();
        };
        return result as never;
      },
      onClose: async (ctx) => {
        await Promise.allSettled([...streamsOf(ctx)].map((stream) => stream.return?.()));
      },
    },
    sockets,
  );
  return { close: async () => disposable.dispose() };
}
