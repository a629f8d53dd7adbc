import cluster from 'node:cluster';
import { createServer, type AddressInfo, type Server } from 'node:net';

/** Listening sockets on the server's port, each accepting one connection a turn of the event loop. */
const ACCEPTORS = 16;

function listening(server: Server, options: { port: number; host: string; reusePort?: boolean }): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(options, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/**
 * Listens on `port` with several sockets (SO_REUSEPORT), handing their connections to `server`.
 * The event loop accepts one connection per listening socket a turn (libuv relies on the
 * socket staying readable), and under load a turn lasts tens of milliseconds: the connections
 * of a burst (200 clients at once, a reconnect storm after a restart) waited up to 4 s to be
 * accepted, one a turn. Sixteen sockets accept sixteen a turn. A port another process holds is
 * still refused (EADDRINUSE): it is tried first without SO_REUSEPORT, which would share it.
 * Cluster workers and platforms without SO_REUSEPORT listen once, as before.
 */
export async function listenWithAcceptors(server: Server, port: number, host: string): Promise<Server[]> {
  if (process.platform !== 'linux' || cluster.isWorker) {
    await listening(server, { port, host });
    return [];
  }
  if (port !== 0) {
    const probe = createServer();
    await listening(probe, { port, host });
    await new Promise((resolve) => probe.close(resolve));
  }
  await listening(server, { port, host, reusePort: true });
  const bound = (server.address() as AddressInfo).port;
  const acceptors: Server[] = [];
  try {
    for (let i = 1; i < ACCEPTORS; i += 1) {
      const acceptor = createServer((socket) => server.emit('connection', socket));
      await listening(acceptor, { port: bound, host, reusePort: true });
      acceptors.push(acceptor);
    }
  } catch (error) {
    for (const opened of [server, ...acceptors]) opened.close();
    throw error;
  }
  return acceptors;
}
