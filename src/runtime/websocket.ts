import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { type ExecutionArgs, type ExecutionResult, type GraphQLError } from 'graphql';
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
  /** The operation's id and socket, where a subscription's results are written. */
  readonly id: string;
  readonly socket: WebSocket;
}

/** The key comes in the connection_init payload: `{ "authorization": "Bearer <key>" }`. */
function authorizationOf(params: Record<string, unknown> | undefined): unknown {
  return params?.authorization ?? params?.Authorization ?? params?.apiKey;
}

/** Bytes a socket may have waiting before a write waits for the previous ones to drain. */
const HIGH_WATER = 64 * 1024;

/**
 * A result's payload as JSON, made once however many subscribers it goes to, and how many of
 * them it has gone to. It lives exactly as long as the result object.
 */
class SharedPayloads {
  readonly #payloads = new WeakMap<ExecutionResult, { readonly json: string; sends: number }>();

  of(result: ExecutionResult): { readonly json: string; sends: number } {
    let payload = this.#payloads.get(result);
    if (!payload) {
      const { errors, ...rest } = result;
      payload = { json: JSON.stringify(errors ? { ...rest, errors: errors.map((error) => error.toJSON()) } : rest), sends: 0 };
      this.#payloads.set(result, payload);
    }
    return payload;
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

// ws gives no public handle on its TCP socket; corking needs it.
const tcpOf = (socket: WebSocket) => (socket as unknown as { _socket: Socket })._socket;

type Send = (data: unknown, done?: (error?: Error) => void) => void;

/**
 * Every write to a socket goes through here, corked (see WriteFlusher). A write counts as done
 * at once while the socket has little waiting; past the high-water mark it waits for the
 * socket, which keeps slow clients in check. What graphql-ws itself sends (acknowledgements,
 * answers, errors, completions) is urgent: it goes at the end of the turn.
 */
class SocketWriter {
  readonly #flusher: WriteFlusher;
  readonly #sends = new WeakMap<WebSocket, Send>();

  constructor(flusher: WriteFlusher) {
    this.#flusher = flusher;
  }

  /** Takes over the socket's send, which graphql-ws calls. */
  adopt(socket: WebSocket): void {
    this.#sends.set(socket, socket.send.bind(socket) as Send);
    socket.send = ((data: unknown, done?: (error?: Error) => void) => {
      const waiting = this.write(socket, data, true);
      if (!done) return;
      if (waiting) void waiting.then(() => done());
      else done();
    }) as WebSocket['send'];
  }

  /** undefined when the write counts as done at once, else a promise of its end (a failed write too: the socket is closing). */
  write(socket: WebSocket, data: unknown, urgent: boolean): Promise<void> | undefined {
    this.#flusher.cork(tcpOf(socket), urgent);
    const send = this.#sends.get(socket)!;
    if (socket.bufferedAmount < HIGH_WATER) {
      send(data);
      return undefined;
    }
    return new Promise<void>((done) => send(data, () => done()));
  }
}

/**
 * Subscription results written straight to their sockets. graphql-ws would pass each result
 * through several promises and serialize it again for every subscriber; at a thousand
 * subscribers that was a third of the server's work. Here a message is the operation's id
 * around a payload serialized once for all; a result already sent to another subscriber may
 * wait for the write window, and a socket with much waiting holds the next result back
 * (backpressure reaches the live log, which then reads the store at this subscriber's pace).
 */
class Pipes {
  readonly #writer: SocketWriter;
  readonly #payloads = new SharedPayloads();

  constructor(writer: SocketWriter) {
    this.#writer = writer;
  }

  /**
   * What graphql-ws iterates for a piped subscription: nothing, until the results end, so that
   * graphql-ws then sends `complete` after the last of them. Piping starts when graphql-ws first
   * asks, that is once it has registered the operation and will end it with the socket.
   */
  stream(results: AsyncIterator<ExecutionResult>, operation: Operation): AsyncIterableIterator<never> {
    let piping: Promise<void> | undefined;
    let ended = false;
    // The client's complete ends graphql-ws's wait at once, not when the pipe next wakes: its
    // id may be reused meanwhile, and graphql-ws's late `complete` would end the new operation.
    let end!: () => void;
    const ending = new Promise<void>((resolve) => (end = resolve));
    const stream: AsyncIterableIterator<never> = {
      next: async () => {
        try {
          await Promise.race([(piping ??= this.#pipe(results, operation, () => ended)), ending]);
        } finally {
          // Done, by itself or not: the socket's close has nothing left to end.
          operation.streams.delete(stream);
        }
        return { done: true, value: undefined };
      },
      return: async () => {
        ended = true;
        end();
        operation.streams.delete(stream);
        await results.return?.();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]: () => stream,
    };
    return stream;
  }

  async #pipe(results: AsyncIterator<ExecutionResult>, { socket, id }: Operation, ended: () => boolean): Promise<void> {
    const head = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
    for (;;) {
      const step = await results.next();
      // After the client's complete (its id may be in use again) nothing more goes out.
      if (step.done || ended()) return;
      if (socket.readyState !== socket.OPEN) {
        await results.return?.();
        return;
      }
      const payload = this.#payloads.of(step.value);
      payload.sends += 1;
      const waiting = this.#writer.write(socket, `${head}${payload.json}}`, payload.sends === 1);
      if (waiting) await waiting;
    }
  }
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
  const writer = new SocketWriter(new WriteFlusher(services.config.wsWriteWindowMs));
  const pipes = new Pipes(writer);
  sockets.on('connection', (socket: WebSocket) => writer.adopt(socket));
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
        if (!(Symbol.asyncIterator in results)) return results as never;
        // Kept until returned or the socket closes (one that ends by itself stays until then).
        const stream = pipes.stream(results, op);
        op.streams.add(stream);
        return stream as never;
      },
      onClose: async (ctx) => {
        await Promise.allSettled([...streamsOf(ctx)].map((stream) => stream.return?.()));
      },
    },
    sockets,
  );
  return { close: async () => disposable.dispose() };
}
