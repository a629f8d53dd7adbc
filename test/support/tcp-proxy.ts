import { connect, createServer, type Server, type Socket } from 'node:net';

/** What to do with a chunk the client sends: pass it, or cut the connection before or just after passing it. */
export type ChunkVerdict = 'forward' | 'cut-before' | 'cut-after';

/**
 * A TCP proxy on loopback between the service and PostgreSQL, which a test drives to cut,
 * stall and slow connections, and to cut one at a chosen message (a COMMIT).
 */
export interface TcpProxy {
  /** `databaseUrl` with its host and port replaced by the proxy's. */
  readonly url: string;
  /** Connections open now. */
  readonly open: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Cuts every open connection at once. */
  cutAll(): void;
  /** Cuts about `perSecond` connections a second, chosen at random, until the returned function is called. */
  chaos(perSecond: number): () => void;
  /** Stops passing anything, both ways, on every connection, old and new, until `resume`. */
  stall(): void;
  resume(): void;
  /** Holds each chunk `ms` before passing it on (0: no delay). */
  slow(ms: number): void;
  /** Looks at each chunk a client sends; the verdict says what becomes of it and of its connection. */
  inspect(verdict: ((chunk: Buffer) => ChunkVerdict) | null): void;
  close(): Promise<void>;
}

export async function startTcpProxy(databaseUrl: string): Promise<TcpProxy> {
  const target = new URL(databaseUrl);
  const pairs = new Set<{ client: Socket; server: Socket }>();
  let accepted = 0;
  let stalled = false;
  let delayMs = 0;
  let verdictOf: ((chunk: Buffer) => ChunkVerdict) | null = null;
  const held: (() => void)[] = [];

  /** Passes chunks from one socket to another in order, through the stall and the delay. */
  const pipe = (from: Socket, to: Socket, inspect: boolean, cut: () => void) => {
    let chain = Promise.resolve();
    from.on('data', (chunk: Buffer) => {
      const verdict = inspect && verdictOf ? verdictOf(chunk) : 'forward';
      if (verdict === 'cut-before') return cut();
      chain = chain.then(async () => {
        if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
        while (stalled) await new Promise<void>((resolve) => held.push(resolve));
        if (to.destroyed) return;
        to.write(chunk);
        // The server has the message; its answer never reaches the client.
        if (verdict === 'cut-after') from.destroy();
      });
    });
  };

  const proxy: Server = createServer((client) => {
    accepted += 1;
    const server = connect(Number(target.port), target.hostname);
    const pair = { client, server };
    pairs.add(pair);
    const cut = () => {
      client.destroy();
      server.destroy();
    };
    for (const socket of [client, server]) {
      socket.on('error', cut);
      socket.on('close', () => {
        pairs.delete(pair);
        cut();
      });
    }
    pipe(client, server, true, cut);
    pipe(server, client, false, cut);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const url = new URL(databaseUrl);
  url.host = `127.0.0.1:${(proxy.address() as { port: number }).port}`;

  const cutAll = () => {
    for (const { client, server } of pairs) {
      client.destroy();
      server.destroy();
    }
  };
  return {
    url: url.toString(),
    get open() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    cutAll,
    chaos(perSecond) {
      const timer = setInterval(() => {
        const open = [...pairs];
        const victim = open[Math.floor(Math.random() * open.length)];
        victim?.client.destroy();
        victim?.server.destroy();
      }, 1000 / perSecond);
      return () => clearInterval(timer);
    },
    stall() {
      stalled = true;
      for (const { client, server } of pairs) {
        client.pause();
        server.pause();
      }
    },
    resume() {
      stalled = false;
      for (const { client, server } of pairs) {
        client.resume();
        server.resume();
      }
      for (const release of held.splice(0)) release();
    },
    slow(ms) {
      delayMs = ms;
    },
    inspect(verdict) {
      verdictOf = verdict;
    },
    async close() {
      cutAll();
      await new Promise((resolve) => proxy.close(resolve));
    },
  };
}
