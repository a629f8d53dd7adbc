import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, VersionConflictError, type ExpectedVersion } from '../src/domain/errors.ts';
import {
  type EventStore,
  LOG_START,
  type EventMetadata,
  type LogPosition,
  type NewEvent,
  type StoredEvent,
} from '../src/store/event-store.ts';
import { PostgresEventStore } from '../src/store/events/postgres-event-store.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

let database: TestDatabase;
let store: EventStore;
const actorId = randomUUID();
const workspaceId = randomUUID();
const metadata: EventMetadata = { workspaceId, actorId, requestId: 'req-1', correlationId: 'corr-1', causationId: null };

beforeAll(async () => {
  database = await createTestDatabase();
  store = new PostgresEventStore(database.db);
});
afterAll(() => database.drop());

const stream = (type = 'Workflow') => ({ type, id: randomUUID() });
const events = (...types: string[]): NewEvent[] => types.map((type, i) => ({ eventId: randomUUID(), type, data: { i } }));
const append = (s: { type: string; id: string }, e: NewEvent[], expectedVersion: ExpectedVersion) =>
  store.append(s, e, { expectedVersion, metadata });

async function conflictOf(promise: Promise<unknown>): Promise<VersionConflictError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(VersionConflictError);
  return error as VersionConflictError;
}

describe('append with an expected version', () => {
  it('NO_STREAM creates a stream and refuses an existing one, reporting both versions', async () => {
    const s = stream();
    const first = await append(s, events('A', 'B'), 'NO_STREAM');
    expect(first.version).toBe(2);
    expect(first.events.map((e) => e.version)).toEqual([1, 2]);
    const conflict = await conflictOf(append(s, events('C'), 'NO_STREAM'));
    expect(conflict).toMatchObject({ code: 'VERSION_CONFLICT', expectedVersion: 'NO_STREAM', actualVersion: 2 });
  });

  it('STREAM_EXISTS refuses a missing stream and appends to an existing one', async () => {
    const s = stream();
    const conflict = await conflictOf(append(s, events('A'), 'STREAM_EXISTS'));
    expect(conflict).toMatchObject({ expectedVersion: 'STREAM_EXISTS', actualVersion: 0 });
    await append(s, events('A'), 'NO_STREAM');
    expect((await append(s, events('B'), 'STREAM_EXISTS')).version).toBe(2);
  });

  it('an exact version appends only at that version', async () => {
    const s = stream();
    await append(s, events('A'), 'NO_STREAM');
    expect((await append(s, events('B', 'C'), 1)).version).toBe(3);
    const conflict = await conflictOf(append(s, events('D'), 1));
    expect(conflict).toMatchObject({ expectedVersion: 1, actualVersion: 3 });
    expect(conflict.message).toContain('expected version 1');
    await conflictOf(append(stream(), events('A'), 5));
  });

  it('exact version 0 means no stream yet', async () => {
    const s = stream();
    expect((await append(s, events('A'), 0)).version).toBe(1);
    expect(await conflictOf(append(s, events('B'), 0))).toMatchObject({ actualVersion: 1 });
  });

  it('ANY appends whatever the version, keeping versions contiguous', async () => {
    const s = stream();
    await append(s, events('A'), 'ANY');
    await append(s, events('B', 'C'), 'ANY');
    const read = await store.readStream(s);
    expect(read.map((e) => [e.version, e.type])).toEqual([
      [1, 'A'],
      [2, 'B'],
      [3, 'C'],
    ]);
  });

  it('writes the events of one append in one transaction, positions rising with versions', async () => {
    const s = stream();
    const { events: stored } = await append(s, events('A', 'B', 'C'), 'NO_STREAM');
    expect(new Set(stored.map((e) => e.transactionId)).size).toBe(1);
    const positions = stored.map((e) => e.globalPosition);
    expect([...positions].sort((a, b) => (a < b ? -1 : 1))).toEqual(positions);
    expect(stored[0]!.metadata).toEqual(metadata);
    const { rows } = await database.db.pool.query('SELECT actor_id FROM events WHERE aggregate_id = $1', [s.id]);
    expect(rows.every((row) => row.actor_id === actorId)).toBe(true);
  });
});

describe('idempotent re-sends', () => {
  it('re-sending stored event ids writes nothing and returns the stored events', async () => {
    const s = stream();
    const batch = events('A', 'B');
    const first = await append(s, batch, 'NO_STREAM');
    const before = await database.snapshot();
    for (const expected of ['NO_STREAM', 'ANY', 0, 'STREAM_EXISTS'] as const) {
      const again = await append(s, batch, expected);
      expect(again.alreadyStored).toBe(true);
      expect(again.events.map((e) => e.globalPosition)).toEqual(first.events.map((e) => e.globalPosition));
    }
    expect(await database.snapshot()).toEqual(before);
  });

  it('concurrent re-sends of one batch store it once', async () => {
    const s = stream();
    const batch = events('A');
    const results = await Promise.all(Array.from({ length: 10 }, () => append(s, batch, 'ANY')));
    expect(results.filter((r) => !r.alreadyStored)).toHaveLength(1);
    expect(await store.readStream(s)).toHaveLength(1);
  });

  it('refuses a batch of which only some ids are stored, and writes nothing', async () => {
    const s = stream();
    const [a] = events('A');
    await append(s, [a!], 'NO_STREAM');
    const before = await database.snapshot();
    const error = await append(s, [a!, ...events('B')], 'ANY').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).code).toBe('IDEMPOTENCY_KEY_REUSED');
    expect(await database.snapshot()).toEqual(before);
  });

  it('rolls the events back when the inline projection fails', async () => {
    const s = stream();
    const before = await database.snapshot();
    const failing = store.append(s, events('A'), {
      expectedVersion: 'NO_STREAM',
      metadata,
      onAppended: async () => {
        throw new Error('projection failed');
      },
    });
    await expect(failing).rejects.toThrow('projection failed');
    expect(await database.snapshot()).toEqual(before);
    expect(await store.streamVersion(s)).toBe(0);
  });
});

describe('reads', () => {
  it('reads one stream from a version and up to a version, and finds its version at an instant', async () => {
    const s = stream();
    await append(s, events('A', 'B'), 'NO_STREAM');
    const [, second] = await store.readStream(s);
    await new Promise((resolve) => setTimeout(resolve, 5));
    await append(s, events('C'), 2);
    expect((await store.readStream(s, { fromVersion: 2 })).map((e) => e.type)).toEqual(['B', 'C']);
    expect((await store.readStream(s, { toVersion: 2 })).map((e) => e.type)).toEqual(['A', 'B']);
    expect(await store.versionAt(s, second!.createdAt)).toBe(2);
    expect(await store.versionAt(s, new Date(second!.createdAt.getTime() - 60_000))).toBe(0);
    expect((await store.readStream(s, { fromVersion: 1, limit: 1 })).map((e) => e.type)).toEqual(['A']);
  });

  it('reads a stream for folding: the same types, data, sizes, versions, times and actor as the whole events, over the same range', async () => {
    const s = stream();
    await append(s, events('A', 'B', 'C'), 'NO_STREAM');
    const whole = await store.readStream(s, { fromVersion: 2 });
    expect(await store.readFoldable(s, { fromVersion: 2 })).toEqual(
      whole.map((e) => ({
        version: e.version,
        type: e.type,
        data: e.data,
        dataBytes: e.dataBytes,
        createdAt: e.createdAt,
        metadata: { actorId, workspaceId },
      })),
    );
    expect(await store.readFoldable({ ...s, workspaceId: randomUUID() })).toEqual([]);
  });

  it('reads the global log from a cursor, filtered by aggregate type and event types', async () => {
    const head = await store.logHead();
    const w = stream('Workflow');
    const x = stream('Other');
    await append(w, events('W1', 'W2'), 'NO_STREAM');
    await append(x, events('X1'), 'NO_STREAM');
    await append(w, events('W3'), 2);
    const all = await store.readLog(head, 100);
    expect(all.map((e) => e.type)).toEqual(['W1', 'W2', 'X1', 'W3']);
    expect((await store.readLog(head, 100, { aggregateType: 'Other' })).map((e) => e.type)).toEqual(['X1']);
    expect((await store.readLog(head, 100, { types: ['W1', 'W3'] })).map((e) => e.type)).toEqual(['W1', 'W3']);
    expect((await store.readLog(head, 100, { aggregateId: x.id })).map((e) => e.type)).toEqual(['X1']);
    const resumed = await store.readLog(all[1]!, 100);
    expect(resumed.map((e) => e.type)).toEqual(['X1', 'W3']);
    expect(await store.logHead()).toMatchObject({ globalPosition: all[3]!.globalPosition });
  });
});

describe('gap-free log reads', () => {
  /** Holds a transaction open after its events are inserted, until released. */
  function slowAppend(s: { type: string; id: string }, batch: NewEvent[]) {
    let release!: () => void;
    let inserted!: (events: readonly StoredEvent[]) => void;
    const insertedPromise = new Promise<readonly StoredEvent[]>((resolve) => (inserted = resolve));
    const gate = new Promise<void>((resolve) => (release = resolve));
    const done = store.append(s, batch, {
      expectedVersion: 'NO_STREAM',
      metadata,
      onAppended: async (_tx, stored) => {
        inserted(stored);
        await gate;
      },
    });
    return { inserted: insertedPromise, release, done };
  }

  it('never passes an event that an older, still-open transaction commits later', async () => {
    let cursor: LogPosition = await store.logHead();
    const seen: StoredEvent[] = [];
    const poll = async () => {
      const batch = await store.readLog(cursor, 1000);
      seen.push(...batch);
      if (batch.length > 0) cursor = batch.at(-1)!;
    };

    const slow = slowAppend(stream(), events('SLOW'));
    const [slowEvent] = await slow.inserted;
    const fast = await append(stream(), events('FAST'), 'NO_STREAM');
    const [fastEvent] = fast.events;
    // The trap: the fast event is committed with a higher position than the open, slower one.
    expect(fastEvent!.globalPosition).toBeGreaterThan(slowEvent!.globalPosition);
    const naive = await database.db.pool.query('SELECT global_position FROM events WHERE global_position > $1 ORDER BY global_position', [
      cursor.globalPosition.toString(),
    ]);
    expect(naive.rows.map((r) => BigInt(r.global_position))).toEqual([fastEvent!.globalPosition]);

    await poll();
    expect(seen).toEqual([]);

    slow.release();
    await slow.done;
    await poll();
    expect(seen.map((e) => e.type)).toEqual(['SLOW', 'FAST']);
  });

  it('a reader polling through many overlapping writers sees every event exactly once', async () => {
    let cursor = await store.logHead();
    const seen: string[] = [];
    let writing = true;
    const reader = (async () => {
      while (writing || seen.length < 200) {
        const batch = await store.readLog(cursor, 50);
        seen.push(...batch.map((e) => e.eventId));
        if (batch.length > 0) cursor = batch.at(-1)!;
        else await new Promise((resolve) => setTimeout(resolve, 2));
      }
    })();
    const written: string[] = [];
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        for (let i = 0; i < 10; i += 1) {
          const batch = events('E');
          written.push(batch[0]!.eventId);
          const gate = Math.random() < 0.3 ? new Promise((resolve) => setTimeout(resolve, Math.random() * 20)) : null;
          await store.append(stream(), batch, {
            expectedVersion: 'NO_STREAM',
            metadata,
            onAppended: async () => {
              await gate;
            },
          });
        }
      }),
    );
    writing = false;
    await reader;
    expect(seen).toHaveLength(200);
    expect(new Set(seen)).toEqual(new Set(written));
  });

  it('starts at the beginning of the log with LOG_START', async () => {
    const everything = await store.readLog(LOG_START, 10_000);
    expect(everything.length).toBeGreaterThan(0);
    expect(everything[0]!.globalPosition).toBe(1n);
  });
});
