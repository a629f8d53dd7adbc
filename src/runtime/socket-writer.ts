import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

/** Bytes a socket may have waiting before a write waits for the previous ones to drain. */
const HIGH_WATER = 64 * 1024;

/**
 * Writes to every socket are corked and sent together. Results that many subscribers share go
 * out at most once per `windowMs` (at the end of the event-loop turn when the last such flush
 * is that long ago, so a quiet server sends at once): one write syscall per socket per flush
 * instead of one per message. With a thousand subscribers and a hundred events a second those
 * syscalls were the server's largest cost, and the window sends two or three events in one.
 * Everything else (answers, markers, errors) goes at the end of the turn, taking whatever
 * waits on its socket with it.
 */
export class WriteFlusher {
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

/** Writes to one socket: undefined when the write counts as done at once, else a promise of its end (a failed write too: the socket is closing). */
export type SocketWrite = (data: unknown, urgent: boolean) => Promise<void> | undefined;

/**
 * Every write to a socket goes through here, corked (see WriteFlusher). A write counts as done
 * at once while the socket has little waiting; past the high-water mark it waits for the
 * socket, which keeps slow clients in check. What graphql-ws itself sends (acknowledgements,
 * answers, errors, completions) is urgent: it goes at the end of the turn.
 */
export class SocketWriter {
  readonly #flusher: WriteFlusher;
  readonly #writes = new WeakMap<WebSocket, SocketWrite>();

  constructor(flusher: WriteFlusher) {
    this.#flusher = flusher;
  }

  /** Takes over the socket's send, which graphql-ws calls. */
  adopt(socket: WebSocket): void {
    const send = socket.send.bind(socket) as Send;
    const tcp = tcpOf(socket);
    const write: SocketWrite = (data, urgent) => {
      this.#flusher.cork(tcp, urgent);
      if (socket.bufferedAmount < HIGH_WATER) {
        send(data);
        return undefined;
      }
      return new Promise<void>((done) => send(data, () => done()));
    };
    this.#writes.set(socket, write);
    socket.send = ((data: unknown, done?: (error?: Error) => void) => {
      const waiting = write(data, true);
      if (!done) return;
      if (waiting) void waiting.then(() => done());
      else done();
    }) as WebSocket['send'];
  }

  /** How to write to an adopted socket (looked up once per operation, not per message). */
  writeTo(socket: WebSocket): SocketWrite {
    return this.#writes.get(socket)!;
  }
}
