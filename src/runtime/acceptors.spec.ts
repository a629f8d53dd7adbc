import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { listenWithAcceptors } from './acceptors.ts';

const open: Server[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
});

async function started() {
  const server = createServer((_request, response) => response.end('ok'));
  const acceptors = await listenWithAcceptors(server, 0, '127.0.0.1');
  open.push(server, ...(acceptors as Server[]));
  return { server, acceptors, port: (server.address() as AddressInfo).port };
}

describe('listenWithAcceptors', () => {
  it('serves a burst of connections through several listening sockets on one port', async () => {
    const { acceptors, port } = await started();
    expect(acceptors.length).toBe(15);
    let viaAcceptors = 0;
    for (const acceptor of acceptors) acceptor.on('connection', () => (viaAcceptors += 1));
    const answers = await Promise.all(
      Array.from({ length: 200 }, () => fetch(`http://127.0.0.1:${port}/`, { headers: { connection: 'close' } }).then((r) => r.text())),
    );
    expect(answers).toEqual(Array(200).fill('ok'));
    expect(viaAcceptors).toBeGreaterThan(0);
  });

  it('refuses a port that another listener holds, with or without SO_REUSEPORT', async () => {
    const { port } = await started();
    await expect(listenWithAcceptors(createServer(), port, '127.0.0.1')).rejects.toThrow(/EADDRINUSE/);
  });

  it('gives the port back once every socket is closed', async () => {
    const { port } = await started();
    await Promise.all(open.splice(0).map((server) => new Promise((resolve) => server.close(resolve))));
    const again = createServer();
    const acceptors = await listenWithAcceptors(again, port, '127.0.0.1');
    open.push(again, ...(acceptors as Server[]));
    expect((again.address() as AddressInfo).port).toBe(port);
  });
});
