import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LiveLog, type LiveLogOptions } from '../src/app/live-log.ts';
import { type EventStore, LOG_START, type StoredEvent } from '../src/store/event-store.ts';
import { PostgresEventStore } from '../src/store/events/postgres-event-store.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

let database: TestDatabase;
let store: EventStore;
beforeAll(async () => {
  database = await createTestDatabase(4);
  store = new PostgresEventStore(database.db);
});
afterAll(() => database.drop());

const workspaceId = randomUUID();
const metadata = { workspaceId, actorId: null, requestId: 'r', correlationId: 'c', causationId: null };
const append = async (type: string) =>
  (
    await store.append({ type: 'Workflow', id: randomUUID() }, [{ eventId: randomUUID(), type, data: {} }], {
      expectedVersion: 'NO_STREAM',
      metadata,
    })
  ).events[0]!;

/** A live log woken only by hand: no notifications, no poll in the test's time. */
async function quietLiveLog(source: EventStore = store, options: Partial<LiveLogOptions> = {}): Promise<LiveLog> {
  const live = new LiveLog(source, {
    batchSize: 10,
    batchBytes: 16 * 1024 * 1024,
    bufferLimit: 100,
    pollIntervalMs: 600_000,
    catchUpConcurrency: 2,
    ...options,
  });
  await live.start();
  return live;
}

describe('the live log', () => {
  it("a subscription resuming from a cursor ahead of this process's tail repeats nothing", async () => {
    const live = await quietLiveLog();
    try {
      const events: StoredEvent[] = [];
      for (const type of ['A', 'B', 'C', 'D']) events.push(await append(type));
      // The client read up to B elsewhere (Query.eventLog, another process) and resumes here.
      const subscription = live.subscribe(events[1]!, { workspaceId, types: ['A', 'B', 'C', 'D'] });
      const marker = (await subscription.next()).value;
      expect(marker).toMatchObject({ event: null, caughtUp: true, position: { globalPosition: events[1]!.globalPosition } });
      live.wake();
      const next = [(await subscription.next()).value, (await subscription.next()).value];
      expect(next.map((item) => item.event.type)).toEqual(['C', 'D']);
      await subscription.return!();
    } finally {
      await live.stop();
    }
  });

  it('a subscription that overflows while reading the store reads again instead of waiting', async () => {
    const first = await append('First');
    // A store whose catch-up reads (the ones bounded by upTo) wait until the test opens the gate.
    let openGate!: () => void;
    const gate = new Promise<void>((resolve) => (openGate = resolve));
    const gated = {
      logHead: () => store.logHead(),
      readLog: async (...args: Parameters<EventStore['readLog']>) => {
        if (args[2]?.upTo) await gate;
        return store.readLog(...args);
      },
    } as unknown as EventStore;
    const live = await quietLiveLog(gated, { bufferLimit: 2, catchUpConcurrency: 1 });
    try {
      const start = { transactionId: first.transactionId, globalPosition: first.globalPosition - 1n };
      const subscription = live.subscribe(start, { workspaceId, types: ['First', 'Later'] });
      const firstItem = subscription.next(); // starts the gated catch-up read
      for (let i = 0; i < 3; i += 1) await append('Later');
      live.wake();
      while (live.stats().head.globalPosition === first.globalPosition) await new Promise((r) => setTimeout(r, 5));
      openGate(); // the read returns, but three events arrived and overflowed the buffer of two meanwhile
      const items = [(await firstItem).value];
      const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the subscription stalled')), 3000));
      while (items.filter((item) => item.event).length < 4) items.push((await Promise.race([subscription.next(), timeout])).value);
      expect(items.filter((item) => item.event).map((item) => item.event.type)).toEqual(['First', 'Later', 'Later', 'Later']);
      await subscription.return!();
    } finally {
      await live.stop();
    }
  });

  it('a failed store read ends the subscription with its error and releases it', async () => {
    await append('Before');
    const live = await quietLiveLog();
    await database.db.pool.query('ALTER TABLE events RENAME TO events_gone');
    try {
      const subscription = live.subscribe(LOG_START, { workspaceId });
      const last = await subscription.next();
      expect(last.value.failure).toBeInstanceOf(Error);
      expect((await subscription.next()).done).toBe(true);
      expect(live.stats().subscriptions).toBe(0);
    } finally {
      await database.db.pool.query('ALTER TABLE events_gone RENAME TO events');
      await live.stop();
    }
  });
});
