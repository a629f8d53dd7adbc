import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import * as ws from 'ws';
import { WebSocket, WebSocketServer } from 'ws';
import { SocketWriter } from './socket-writer.ts';

/** A real server socket (adopted by a writer) and the client at the other end. */
async function pair(writer: SocketWriter) {
  const server = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[WebSocket]>;
  const client = new WebSocket(`ws://127.0.0.1:${(server.address() as AddressInfo).port}`);
  const received: string[] = [];
  client.on('message', (data) => received.push(String(data)));
  await once(client, 'open');
  const [socket] = await accepted;
  writer.adopt(socket);
  cleanups.push(async () => {
    client.terminate();
    await new Promise((done) => server.close(done));
  });
  const until = async (count: number) => {
    while (received.length < count) await new Promise((done) => setTimeout(done, 5));
    return received;
  };
  return { socket, client, received, until, write: writer.writeTo(socket) };
}

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0)) await cleanup();
});

// The writer uses two parts of ws that its types do not promise: Sender.frame, and a server
// socket's _socket. ws is pinned to an exact version for them; this fails when an upgrade
// changes either, before the writer's own specs fail in stranger ways.
describe('the parts of ws the writer relies on', () => {
  it('are those of the pinned version: Sender.frame frames a text message, and _socket is the TCP socket', async () => {
    const pinned = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).dependencies.ws;
    const installed = JSON.parse(readFileSync(new URL('../../node_modules/ws/package.json', import.meta.url), 'utf8')).version;
    expect(pinned).toMatch(/^\d+\.\d+\.\d+$/);
    expect(installed).toBe(pinned);
    const { Sender } = ws as unknown as { Sender: { frame(data: Buffer, options: object): Buffer[] } };
    const frame = Buffer.concat(Sender.frame(Buffer.from('hi'), { fin: true, rsv1: false, opcode: 1, mask: false, readOnly: false }));
    expect([...frame]).toEqual([0x81, 2, ...Buffer.from('hi')]);
    const { socket } = await pair(new SocketWriter(0));
    expect((socket as unknown as { _socket: Socket })._socket.constructor.name).toBe('Socket');
  });
});

describe('SocketWriter', () => {
  it('sends what the socket itself sends after the messages waiting for the window, in order', async () => {
    const { socket, write, until } = await pair(new SocketWriter(60_000));
    expect(write(Buffer.from('one'), true)).toBeUndefined();
    await until(1);
    // The window is a minute long: these wait, until the socket's own send takes them along.
    write(Buffer.from('two'), false);
    write(Buffer.from('three'), false);
    socket.send('four');
    expect(await until(4)).toEqual(['one', 'two', 'three', 'four']);
  });

  it('sends messages that wait for the window once it has passed', async () => {
    const { write, until } = await pair(new SocketWriter(20));
    for (const n of [1, 2, 3]) write(Buffer.from(`message ${n}`), false);
    expect(await until(3)).toEqual(['message 1', 'message 2', 'message 3']);
  });

  it('makes the writer wait for a client that does not read, and lets it go on when it does', async () => {
    const { client, write, until } = await pair(new SocketWriter(5));
    client.pause();
    const message = Buffer.from('y'.repeat(16 * 1024));
    const settles = (promise: Promise<void>) =>
      Promise.race([promise.then(() => true), new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 100))]);
    let waiting: Promise<void> | undefined;
    let sent = 0;
    // A write past the high-water mark waits until its data has left. That is at once while the
    // loopback buffers (a few megabytes) take it, and not before the client reads once they are full.
    while (!waiting && sent < 2_000) {
      const written = write(message, false);
      sent += 1;
      if (written && !(await settles(written))) waiting = written;
    }
    expect(waiting).toBeInstanceOf(Promise);
    client.resume();
    await waiting;
    expect(await until(sent)).toHaveLength(sent);
  });

  it('sends what waits before the close frame when the socket is closed, and nothing after it', async () => {
    const { socket, client, write } = await pair(new SocketWriter(60_000));
    // The bytes as they arrive: the client itself ignores whatever follows a close frame.
    let raw = '';
    (client as unknown as { _socket: Socket })._socket.on('data', (chunk: Buffer) => (raw += chunk.toString('latin1')));
    write(Buffer.from('before'), true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    write(Buffer.from('waiting'), false);
    socket.close(1000);
    write(Buffer.from('after'), true);
    const [code] = await once(client, 'close');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(code).toBe(1000);
    expect(raw).toContain('before');
    expect(raw).toContain('waiting');
    expect(raw).not.toContain('after');
  });

  it('reaches every socket of a flush, a hundred per turn', async () => {
    const writer = new SocketWriter(5);
    const pairs = [];
    for (let n = 0; n < 250; n += 1) pairs.push(await pair(writer));
    for (const [n, { write }] of pairs.entries()) write(Buffer.from(`to ${n}`), false);
    for (const [n, { until }] of pairs.entries()) expect(await until(1)).toEqual([`to ${n}`]);
  });
});
