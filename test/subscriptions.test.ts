import { randomUUID } from 'node:crypto';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { NewEvent } from '../src/store/event-store.ts';
import { cursors } from '../src/graphql/connections.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { sse } from './support/sse.ts';
import { wsClient } from './support/ws.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ livePollIntervalMs: 100, authCacheTtlMs: 1, liveBufferLimit: 200, liveBatchSize: 100 });
});
afterAll(() => app.close());

const SUBSCRIBE = `subscription($after: String, $aggregateId: ID, $types: [String!], $aggregateType: AggregateType) {
  events(after: $after, aggregateId: $aggregateId, types: $types, aggregateType: $aggregateType) {
    cursor caughtUp event { id type version aggregateId globalPosition logCursor }
  }
}`;
const metadata = () => ({ workspaceId: app.workspaceId, actorId: null, requestId: 'test', correlationId: 'test', causationId: null });
const wsUrl = () => app.url.replace('http', 'ws');

interface Item {
  cursor: string;
  caughtUp: boolean;
  event: { id: string; type: string; version: number; aggregateId: string; logCursor: string } | null;
}

/** Appends `count` events of one type, `perAppend` at a time, to fresh workflow streams. */
async function appendEvents(count: number, type = 'Tick', perAppend = 1, aggregateId?: string, padding = ''): Promise<void> {
  for (let done = 0; done < count; done += perAppend) {
    const events: NewEvent[] = Array.from({ length: Math.min(perAppend, count - done) }, (_, i) => ({
      eventId: randomUUID(),
      type,
      data: { n: done + i, padding },
    }));
    await app.services.store.append({ type: 'Workflow', id: aggregateId ?? randomUUID() }, events, {
      expectedVersion: 'ANY',
      metadata: metadata(),
    });
  }
}

/** A log cursor at the last event stored so far. */
async function logCursorNow(): Promise<string> {
  return cursors.log.encode(await app.services.store.logHead());
}

/** Every event in Query.eventLog after a cursor, paging through it. */
async function eventLogAfter(after: string, filter: Record<string, unknown> = {}): Promise<string[]> {
  const ids: string[] = [];
  for (let cursor: string | null = after; ;) {
    const { data, errors }: { data: any; errors?: unknown } = await app.gql(
      'query($after: String, $types: [String!]) { eventLog(after: $after, first: 100, types: $types) { edges { cursor node { id } } pageInfo { hasNextPage endCursor } } }',
      { after: cursor, ...filter },
    );
    if (errors) throw new Error(JSON.stringify(errors));
    ids.push(...data!.eventLog.edges.map((e: any) => e.node.id));
    if (!data!.eventLog.pageInfo.hasNextPage) return ids;
    cursor = data!.eventLog.pageInfo.endCursor;
  }
}

const connect = (key = app.keys.viewer): Client => wsClient(app.url, key);

/** Collects items from a subscription until `until` says stop. */
async function collect(iterator: AsyncIterableIterator<{ data?: any; errors?: any }>, until: (items: Item[]) => boolean): Promise<Item[]> {
  const items: Item[] = [];
  for await (const result of iterator) {
    if (result.errors) throw new Error(JSON.stringify(result.errors));
    items.push(result.data.events);
    if (until(items)) break;
  }
  return items;
}

const eventsOf = (items: Item[]) => items.filter((item) => item.event).map((item) => item.event!);

describe('Subscription.events over graphql-ws', () => {
  it('delivers stored events, a caught-up marker, then live events, in log order', async () => {
    const start = await logCursorNow();
    await appendEvents(150, 'Stored', 10);
    const client = connect();
    try {
      const iterator = client.iterate({ query: SUBSCRIBE, variables: { after: start, types: ['Stored', 'Live'] } });
      let appendedLive = false;
      const items = await collect(iterator, (so) => {
        if (!appendedLive && so.some((item) => item.caughtUp)) {
          appendedLive = true;
          void appendEvents(30, 'Live', 3);
        }
        return eventsOf(so).length === 180;
      });
      const marker = items.findIndex((item) => item.event === null);
      expect(marker).toBe(150);
      expect(items[marker]!.caughtUp).toBe(true);
      expect(items.slice(0, marker).every((item) => !item.caughtUp && item.event!.type === 'Stored')).toBe(true);
      expect(items.slice(marker + 1).every((item) => item.caughtUp && item.event!.type === 'Live')).toBe(true);
      expect(eventsOf(items).map((e) => e.id)).toEqual(await eventLogAfter(start, { types: ['Stored', 'Live'] }));
      expect(items.filter((i) => i.event).every((i) => i.cursor === i.event!.logCursor)).toBe(true);
    } finally {
      await client.dispose();
    }
  });

  it('without `after` starts at the live head', async () => {
    await appendEvents(5, 'Before');
    const client = connect();
    try {
      const iterator = client.iterate({ query: SUBSCRIBE, variables: { types: ['Before', 'After'] } });
      const items = await collect(iterator, (so) => {
        if (so.length === 1) void appendEvents(2, 'After');
        return eventsOf(so).length === 2;
      });
      expect(items[0]).toMatchObject({ event: null, caughtUp: true });
      expect(eventsOf(items).map((e) => e.type)).toEqual(['After', 'After']);
    } finally {
      await client.dispose();
    }
  });

  it('resumes from the last cursor after a disconnect: 1,000 events, each exactly once, in order', async () => {
    const start = await logCursorNow();
    const writing = Promise.all(Array.from({ length: 10 }, () => appendEvents(100, 'Resume')));
    const received: Item[] = [];
    let after = start;
    for (let connection = 0; received.filter((i) => i.event).length < 1000; connection += 1) {
      const client = connect();
      const iterator = client.iterate({ query: SUBSCRIBE, variables: { after, types: ['Resume'] } });
      // Drop the connection mid-stream after a few hundred events, as a flaky network would.
      const quota = connection < 2 ? 300 : Infinity;
      const items = await collect(
        iterator,
        (so) => eventsOf(so).length >= quota || eventsOf(received).length + eventsOf(so).length >= 1000,
      );
      await client.dispose();
      received.push(...items);
      after = items.filter((i) => i.event).at(-1)?.cursor ?? after;
    }
    await writing;
    const ids = eventsOf(received).map((e) => e.id);
    expect(ids).toHaveLength(1000);
    expect(new Set(ids).size).toBe(1000);
    expect(ids).toEqual(await eventLogAfter(start, { types: ['Resume'] }));
  });

  it("delivers results that wait for data (an event's actor) to every subscriber, in order", async () => {
    // The actor is loaded from the database: the shared result is a promise, not a value.
    const query = 'subscription { events(types: ["Acted"]) { caughtUp event { version actor { id name } } } }';
    const clients = [connect(), connect()];
    try {
      const iterators = clients.map((client) => client.iterate({ query }) as AsyncIterableIterator<{ data?: any; errors?: any }>);
      for (const iterator of iterators) expect((await iterator.next()).value.data.events.caughtUp).toBe(true);
      const target = randomUUID();
      for (let n = 0; n < 3; n += 1) {
        await app.services.store.append({ type: 'Workflow', id: target }, [{ eventId: randomUUID(), type: 'Acted', data: { n } }], {
          expectedVersion: 'ANY',
          metadata: { ...metadata(), actorId: app.userIds.editor },
        });
      }
      for (const iterator of iterators) {
        const events = eventsOf(await collect(iterator, (so) => so.length === 3)) as unknown as {
          version: number;
          actor: { id: string; name: string };
        }[];
        expect(events).toEqual([1, 2, 3].map((version) => ({ version, actor: { id: app.userIds.editor, name: 'editor' } })));
      }
    } finally {
      await Promise.all(clients.map((client) => client.dispose()));
    }
  });

  it('filters by aggregate and by event type', async () => {
    const start = await logCursorNow();
    const target = randomUUID();
    await appendEvents(3, 'Mine', 1, target);
    await appendEvents(3, 'Other');
    await appendEvents(2, 'Mine');
    const client = connect();
    try {
      const byAggregate = await collect(client.iterate({ query: SUBSCRIBE, variables: { after: start, aggregateId: target } }), (so) =>
        so.some((i) => i.caughtUp),
      );
      expect(eventsOf(byAggregate).map((e) => [e.aggregateId, e.version])).toEqual([
        [target, 1],
        [target, 2],
        [target, 3],
      ]);
      const byType = await collect(
        client.iterate({ query: SUBSCRIBE, variables: { after: start, types: ['Mine'], aggregateType: 'WORKFLOW' } }),
        (so) => so.some((i) => i.caughtUp),
      );
      expect(eventsOf(byType).map((e) => e.type)).toEqual(['Mine', 'Mine', 'Mine', 'Mine', 'Mine']);
      for (const variables of [{ aggregateId: 'not-a-uuid' }, { after: 'garbage' }, { types: Array(51).fill('x') }]) {
        const refused = await client.iterate({ query: SUBSCRIBE, variables }).next();
        expect(refused.value.errors).toEqual([
          expect.objectContaining({ extensions: { code: 'BAD_USER_INPUT', field: expect.any(String) } }),
        ]);
      }
      expect(app.services.live.stats().subscriptions).toBe(0);
    } finally {
      await client.dispose();
    }
  });
});

describe('authentication on live transports', () => {
  /** Opens a raw graphql-transport-ws connection and reports how the server closed it. */
  function closeCodeFor(connectionParams: Record<string, unknown>): Promise<number> {
    return new Promise((resolve) => {
      const socket = new WebSocket(wsUrl(), 'graphql-transport-ws');
      socket.on('open', () => socket.send(JSON.stringify({ type: 'connection_init', payload: connectionParams })));
      socket.on('close', (code) => resolve(code));
    });
  }

  it('refuses a WebSocket connection without a valid key with 4403 Forbidden', async () => {
    expect(await closeCodeFor({})).toBe(4403);
    expect(await closeCodeFor({ authorization: 'Bearer flk_nope' })).toBe(4403);
    expect(await closeCodeFor({ authorization: 'Basic abc' })).toBe(4403);
  });

  it('refuses a key sent without "Bearer" on every transport, as it refuses no key', async () => {
    const key = app.keys.viewer;
    expect(await closeCodeFor({ authorization: key })).toBe(4403);
    expect(await closeCodeFor({ apiKey: key })).toBe(4403);
    const overSse = await sse(app.url, SUBSCRIBE, {}, { authorization: key }).next();
    expect(overSse.value).toMatchObject({ event: 'http-error', data: { status: 401 } });
    const overHttp = await app.post(JSON.stringify({ query: '{ me { id } }' }), { authorization: key });
    expect(overHttp.status).toBe(401);
    expect(((await overHttp.json()) as any).errors[0]).toMatchObject({
      message: 'the Authorization header must be "Bearer <credential>"',
      extensions: { code: 'UNAUTHENTICATED' },
    });
    expect((await app.gql('{ me { name } }', {}, app.keys.viewer)).data!.me.name).toBe('viewer');
  });

  it('refuses an SSE subscription without a valid key with 401', async () => {
    const missing = await sse(app.url, SUBSCRIBE, {}, {}).next();
    expect(missing.value).toMatchObject({ event: 'http-error', data: { status: 401 } });
    const wrong = await sse(app.url, SUBSCRIBE, {}, { authorization: 'Bearer flk_wrong' }).next();
    expect(wrong.value).toMatchObject({ event: 'http-error', data: { status: 401 } });
  });

  it('ends an open subscription within seconds of its key being revoked, on both transports', async () => {
    const issued = await app.services.identity.createUser(app.workspaceId, 'revoked-live', 'VIEWER');
    const client = connect(issued.apiKey);
    const overWs = client.iterate({ query: SUBSCRIBE, variables: {} });
    const overSse = sse(app.url, SUBSCRIBE, {}, { authorization: `Bearer ${issued.apiKey}` });
    expect((await overWs.next()).value.data.events.caughtUp).toBe(true);
    expect((await overSse.next()).value.data.data.events.caughtUp).toBe(true);
    await app.services.identity.revokeKey(issued.keyId);
    const [wsEnd, sseEnd] = await Promise.all([overWs.next(), overSse.next()]);
    expect(wsEnd.value.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect(sseEnd.value.data.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect((await overWs.next()).done).toBe(true);
    await client.dispose();
    expect(app.services.live.stats().subscriptions).toBe(0);
  });
});

describe('Subscription.events over Server-Sent Events', () => {
  it('delivers stored events, the marker, then live events', async () => {
    const start = await logCursorNow();
    await appendEvents(20, 'SseStored', 5);
    const controller = new AbortController();
    const items: Item[] = [];
    for await (const message of sse(
      app.url,
      SUBSCRIBE,
      { after: start, types: ['SseStored', 'SseLive'] },
      { authorization: `Bearer ${app.keys.viewer}` },
      controller.signal,
    )) {
      expect(message.event).toBe('next');
      items.push(message.data.data.events);
      if (items.length === 21) void appendEvents(5, 'SseLive');
      if (eventsOf(items).length === 25) break;
    }
    controller.abort();
    expect(items[20]).toMatchObject({ event: null, caughtUp: true });
    expect(eventsOf(items).map((e) => e.id)).toEqual(await eventLogAfter(start, { types: ['SseStored', 'SseLive'] }));
  });
});

/**
 * A viewer's subscription to the events of one type, with their data, caught up; then its
 * socket stops reading, so that the server's writes to it back up.
 */
async function pausedSubscription(type: string) {
  const sockets: WebSocket[] = [];
  class PausableSocket extends WebSocket {
    constructor(...args: ConstructorParameters<typeof WebSocket>) {
      super(...args);
      sockets.push(this);
    }
  }
  const client = wsClient(app.url, app.keys.viewer, { webSocketImpl: PausableSocket });
  const iterator = client.iterate({ query: SUBSCRIBE.replace('logCursor }', 'logCursor data }'), variables: { types: [type] } });
  expect((await iterator.next()).value!.data!.events.caughtUp).toBe(true);
  const socket = sockets[0]!;
  socket.pause();
  return { client, iterator, socket };
}

describe('bounded and clean', () => {
  it('a slow consumer during a burst of 10,000 events keeps memory bounded and still gets every event', async () => {
    const start = await logCursorNow();
    // Events of about 4 KB, as workflow definitions are: 40 MB in all, far more than the
    // loopback socket buffers hold, so the pause really pushes back on the server.
    const { client, iterator, socket } = await pausedSubscription('Burst');

    const heldHeap = () => {
      globalThis.gc!();
      return process.memoryUsage().heapUsed;
    };
    const heapBefore = heldHeap();
    let maxBuffered = 0;
    let fellBehind = false;
    const sampler = setInterval(() => {
      const stats = app.services.live.stats();
      maxBuffered = Math.max(maxBuffered, stats.bufferedEvents);
      fellBehind ||= stats.catchingUp > 0;
    }, 5);
    await Promise.all(Array.from({ length: 10 }, () => appendEvents(1000, 'Burst', 50, undefined, 'x'.repeat(4000))));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const heapDuringBurst = heldHeap();

    socket.resume();
    const items = await collect(iterator as never, (so) => eventsOf(so).length === 10_000);
    clearInterval(sampler);
    await client.dispose();

    expect(maxBuffered).toBeLessThanOrEqual(app.services.config.liveBufferLimit + app.services.config.liveBatchSize);
    expect(fellBehind).toBe(true);
    // Held unbounded, the 10,000 events of about 4 KB would be 40 MB and more.
    expect(heapDuringBurst - heapBefore).toBeLessThan(16 * 1024 * 1024);
    const ids = eventsOf(items).map((e) => e.id);
    expect(new Set(ids).size).toBe(10_000);
    expect(ids).toEqual(await eventLogAfter(start, { types: ['Burst'] }));
  });

  it('a client that drops while the server waits on its full socket leaves nothing behind', async () => {
    const { client, socket } = await pausedSubscription('Dropped');
    // About 8 MB of events, more than the loopback buffers hold: the pipe ends up waiting on the socket.
    await appendEvents(2000, 'Dropped', 50, undefined, 'x'.repeat(4000));
    await new Promise((resolve) => setTimeout(resolve, 300));
    // The pipe waits on the socket, so the subscription has fallen behind and reads nothing.
    expect(app.services.live.stats()).toMatchObject({ subscriptions: 1, catchingUp: 1 });
    socket.terminate();
    for (let waited = 0; app.services.live.stats().subscriptions > 0 && waited < 5000; waited += 50) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(app.services.live.stats()).toMatchObject({ subscriptions: 0, bufferedEvents: 0 });
    await client.dispose();
  });

  it('1,000 subscribe/unsubscribe cycles leave no subscriptions or timers behind', async () => {
    // Each idle pool connection holds an idle timer of its own: more connections are not more subscriptions.
    const timers = () => process.getActiveResourcesInfo().filter((kind) => kind === 'Timeout').length - app.database.db.pool.idleCount;
    const client = connect();
    await collect(client.iterate({ query: SUBSCRIBE, variables: {} }), () => true);
    await new Promise((resolve) => setTimeout(resolve, 100));
    const before = { timers: timers(), subscriptions: app.services.live.stats().subscriptions };
    expect(before.subscriptions).toBe(0);
    for (let i = 0; i < 1000; i += 1) {
      const iterator = client.iterate({ query: SUBSCRIBE, variables: {} });
      await iterator.next();
      await iterator.return!();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(app.services.live.stats()).toMatchObject({ subscriptions: before.subscriptions, bufferedEvents: 0 });
    expect(timers()).toBeLessThanOrEqual(before.timers);
    await client.dispose();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(app.services.live.stats().subscriptions).toBe(0);
  });
});
