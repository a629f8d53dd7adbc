import type { Socket } from 'node:net';
import * as ws from 'ws';
import type { WebSocket } from 'ws';

/** Bytes a socket may have waiting before a write waits for the previous ones to drain. */
const HIGH_WATER = 64 * 1024;

/** Sockets a flush writes to before letting other I/O in (about a millisecond of writes here). */
const SOCKETS_PER_TURN = 100;

/** A complete, unmasked text frame: what a server sends. */
const TEXT_FRAME = { fin: true, opcode: 1, mask: false, readOnly: false, rsv1: false };

// ws frames its messages with Sender.frame (public in ws, missing from @types/ws): the frame
// header and the data, which it does not copy.
const { Sender } = ws as unknown as { Sender: { frame(data: Buffer, options: typeof TEXT_FRAME): Buffer[] } };

// ws gives no public handle on its TCP socket; writing frames to it needs it.
const tcpOf = (socket: WebSocket) => (socket as unknown as { _socket: Socket })._socket;

type Send = (data: unknown, done?: (error?: Error) => void) => void;

/**
 * Writes one message to a socket: undefined when it counts as done at once, else a promise of
 * its end (a failed write too: the socket is closing).
 */
export type SocketWrite = (message: Buffer, urgent: boolean) => Promise<void> | undefined;

/** One socket's frames waiting for a flush, written in one piece: one write call per flush, however many messages. */
class Outbox {
  readonly #socket: WebSocket;
  readonly #tcp: Socket;
  #frames: Buffer[] = [];
  #bytes = 0;

  constructor(socket: WebSocket) {
    this.#socket = socket;
    this.#tcp = tcpOf(socket);
  }

  get empty(): boolean {
    return this.#frames.length === 0;
  }

  /** Everything this socket has waiting, here and in its TCP buffer, is past the high-water mark. */
  get full(): boolean {
    return this.#bytes + this.#tcp.writableLength >= HIGH_WATER;
  }

  add(message: Buffer): void {
    for (const part of Sender.frame(message, TEXT_FRAME)) this.#frames.push(part);
    this.#bytes += message.length;
  }

  /** Writes what waits; `done` is called once it has left (or the socket has failed). */
  flush(done?: () => void): void {
    const frames = this.#frames;
    if (frames.length === 0) return void done?.();
    this.#frames = [];
    this.#bytes = 0;
    // A closing socket has sent, or will send, its close frame: nothing may follow it.
    if (this.#socket.readyState !== this.#socket.OPEN) return void done?.();
    this.#tcp.write(Buffer.concat(frames), done && (() => done()));
  }
}

/**
 * Every write to a WebSocket goes through here. Subscription results that many subscribers
 * share wait in each socket's outbox and go out at most once per `windowMs` (at the end of the
 * event-loop turn when the last such flush is that long ago, so a quiet server sends at once):
 * one write call per socket per flush instead of one per message. With a thousand subscribers
 * and a hundred events a second those calls are the server's largest cost, and a 50 ms window
 * sends about five events in one. A flush reaches its sockets a hundred at a time, so that the
 * database round trips of the appends are not held behind a thousand writes.
 *
 * What graphql-ws itself sends (acknowledgements, answers, errors, completions) goes at once,
 * after whatever waits in the socket's outbox, so the protocol's order holds; closing the
 * socket sends what waits first too. A socket with
 * much waiting makes the writer wait for it, which keeps slow clients in check.
 */
export class SocketWriter {
  readonly #windowMs: number;
  readonly #outboxes = new WeakMap<WebSocket, Outbox>();
  /** Outboxes for the next window's flush. */
  #pending: Outbox[] = [];
  /**
   * Outboxes the current flush has yet to reach. An outbox may be listed twice: the second time
   * it is empty, or sends newer frames early.
   */
  #sending: Outbox[] = [];
  /** Outboxes to flush at the end of the turn. */
  #urgent: Outbox[] = [];
  #windowScheduled = false;
  #lastFlush = 0;

  constructor(windowMs: number) {
    this.#windowMs = windowMs;
  }

  /** Takes over the socket's send and close, which graphql-ws and the server's shutdown call. */
  adopt(socket: WebSocket): void {
    const outbox = new Outbox(socket);
    const send = socket.send.bind(socket) as Send;
    const close = socket.close.bind(socket);
    this.#outboxes.set(socket, outbox);
    socket.send = ((data: unknown, done?: (error?: Error) => void) => {
      outbox.flush();
      send(data, done);
    }) as WebSocket['send'];
    socket.close = (code?: number, reason?: string | Buffer) => {
      outbox.flush();
      close(code, reason);
    };
  }

  /** How to write to an adopted socket (looked up once per operation, not per message). */
  writeTo(socket: WebSocket): SocketWrite {
    const outbox = this.#outboxes.get(socket)!;
    return (message, urgent) => {
      // An outbox with frames is listed for a flush already; the first frame lists it.
      if (urgent) this.#listUrgent(outbox);
      else if (outbox.empty) this.#listForWindow(outbox);
      outbox.add(message);
      if (!outbox.full) return undefined;
      return new Promise<void>((done) => outbox.flush(done));
    };
  }

  #listForWindow(outbox: Outbox): void {
    this.#pending.push(outbox);
    if (this.#windowScheduled) return;
    this.#windowScheduled = true;
    const wait = this.#lastFlush + this.#windowMs - Date.now();
    if (wait > 0) setTimeout(this.#flushWindow, wait);
    else setImmediate(this.#flushWindow);
  }

  #listUrgent(outbox: Outbox): void {
    if (this.#urgent.push(outbox) === 1) setImmediate(this.#flushUrgent);
  }

  readonly #flushUrgent = () => {
    const urgent = this.#urgent;
    this.#urgent = [];
    for (const outbox of urgent) outbox.flush();
  };

  readonly #flushWindow = () => {
    this.#windowScheduled = false;
    this.#lastFlush = Date.now();
    const idle = this.#sending.length === 0;
    for (const outbox of this.#pending) this.#sending.push(outbox);
    this.#pending = [];
    if (idle) this.#send();
  };

  readonly #send = () => {
    const turn = this.#sending.splice(0, SOCKETS_PER_TURN);
    for (const outbox of turn) outbox.flush();
    if (this.#sending.length > 0) setImmediate(this.#send);
  };
}
