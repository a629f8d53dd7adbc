import type { ExecutionResult } from 'graphql';
import type { WebSocket } from 'ws';
import type { Pollable } from '../app/pollable.ts';
import type { SocketWriter } from './socket-writer.ts';

/** A subscription operation on a socket, as the pipes see it. */
export interface PipedOperation {
  /** The operation's id and socket, where its results are written. */
  readonly id: string;
  readonly socket: WebSocket;
  /** The streams of the operation's connection: all ended when it closes. */
  readonly streams: Set<AsyncIterator<unknown>>;
}

const TAIL = Buffer.from('}');

/**
 * A result's payload as JSON, made once however many subscribers it goes to, and how many of
 * them it has gone to. It lives exactly as long as the result object.
 */
class SharedPayloads {
  readonly #payloads = new WeakMap<ExecutionResult, { readonly json: Buffer; sends: number }>();

  of(result: ExecutionResult): { readonly json: Buffer; sends: number } {
    let payload = this.#payloads.get(result);
    if (!payload) {
      const { errors, ...rest } = result;
      payload = { json: Buffer.from(JSON.stringify(errors ? { ...rest, errors: errors.map((error) => error.toJSON()) } : rest)), sends: 0 };
      this.#payloads.set(result, payload);
    }
    return payload;
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
export class Pipes {
  readonly #writer: SocketWriter;
  readonly #payloads = new SharedPayloads();

  constructor(writer: SocketWriter) {
    this.#writer = writer;
  }

  /**
   * What graphql-ws iterates for a piped subscription: nothing, until the results end, so that
   * graphql-ws then sends `complete` after the last of them. Piping starts when graphql-ws first
   * asks, that is once it has registered the operation and will end it with the socket. The
   * stream is in the operation's set until it ends, however it ends.
   */
  stream(results: Pollable<ExecutionResult>, operation: PipedOperation): AsyncIterableIterator<never> {
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
        await results.return();
        return { done: true, value: undefined };
      },
      [Symbol.asyncIterator]: () => stream,
    };
    operation.streams.add(stream);
    return stream;
  }

  /**
   * Writes each result as soon as the results have it: in the live log's own call when it hands
   * out new events, without a promise per result. Settles when the results end or fail.
   */
  #pipe(results: Pollable<ExecutionResult>, { socket, id }: PipedOperation, ended: () => boolean): Promise<void> {
    const head = Buffer.from(`{"id":${JSON.stringify(id)},"type":"next","payload":`);
    const write = this.#writer.writeTo(socket);
    return new Promise<void>((finish, fail) => {
      // In the loop below, or waiting for the socket: a call meanwhile (a result that ends the
      // results wakes them from within) has nothing to do that the loop will not.
      let busy = false;
      const drain = () => {
        if (busy) return;
        busy = true;
        try {
          for (;;) {
            const step = results.poll();
            if (step === undefined) break;
            // After the client's complete (its id may be in use again) nothing more is written for
            // it; what was written may still wait for the window (clients give each operation a new id).
            if (step.done || ended()) {
              finish();
              break;
            }
            if (socket.readyState !== socket.OPEN) {
              void results.return();
              finish();
              break;
            }
            const payload = this.#payloads.of(step.value);
            payload.sends += 1;
            const waiting = write(Buffer.concat([head, payload.json, TAIL]), payload.sends === 1);
            if (waiting) {
              // Much is waiting on the socket: the results wait too, and go on once it has drained.
              void waiting.then(() => {
                busy = false;
                drain();
              });
              return;
            }
          }
        } catch (error) {
          void results.return();
          fail(error);
        }
        busy = false;
      };
      results.onReadable(drain);
      drain();
    });
  }
}
