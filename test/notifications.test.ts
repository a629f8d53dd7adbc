import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresEventStore } from '../src/store/events/postgres-event-store.ts';
import { AppendNotifications, LISTENER_APPLICATION_NAME } from '../src/store/notifications.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

let database: TestDatabase;
beforeAll(async () => {
  database = await createTestDatabase(2);
});
afterAll(() => database.drop());

const until = async (condition: () => boolean | Promise<boolean>) => {
  for (let tries = 0; !(await condition()); tries += 1) {
    if (tries > 100) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
};
const workspaceId = randomUUID();
const append = (id = randomUUID(), expectedVersion: 'NO_STREAM' | number = 'NO_STREAM') =>
  new PostgresEventStore(database.db).append({ type: 'Workflow', id }, [{ eventId: randomUUID(), type: 'Ping', data: {} }], {
    expectedVersion,
    metadata: { workspaceId, actorId: null, requestId: 'r', correlationId: 'c', causationId: null },
  });
const listenerPids = async () =>
  (
    await database.db.pool.query('SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND datname = current_database()', [
      LISTENER_APPLICATION_NAME,
    ])
  ).rows.map((row) => row.pid as number);

describe('append notifications', () => {
  it('wake on every committed append with its aggregate type, reconnect after the connection dies, and wake again then', async () => {
    let wakes = 0;
    const types: (string | null)[] = [];
    const notifications = new AppendNotifications(
      database.url,
      (type) => {
        wakes += 1;
        types.push(type);
      },
      50,
    );
    await notifications.start();
    try {
      const stream = randomUUID();
      await append(stream);
      await until(() => wakes === 1);

      const [pid] = await listenerPids();
      await database.db.pool.query('SELECT pg_terminate_backend($1)', [pid]);
      await until(() => notifications.connections === 2);
      expect(wakes).toBe(2); // the reconnect itself wakes: notifications may have been missed
      await append(stream, 1);
      await until(() => wakes === 3);
      // The reconnect's wake names no type: anything may have been missed. An append that begins a stream says so.
      expect(types).toEqual(['Workflow:new', null, 'Workflow']);
    } finally {
      await notifications.stop();
    }
    expect(await listenerPids()).toEqual([]);
  });

  it('a rolled-back append wakes no one', async () => {
    let wakes = 0;
    const notifications = new AppendNotifications(database.url, () => (wakes += 1));
    await notifications.start();
    try {
      const store = new PostgresEventStore(database.db);
      await store
        .append({ type: 'Workflow', id: randomUUID() }, [{ eventId: randomUUID(), type: 'Ping', data: {} }], {
          expectedVersion: 'NO_STREAM',
          metadata: { workspaceId: randomUUID(), actorId: null, requestId: 'r', correlationId: 'c', causationId: null },
          onAppended: async () => {
            throw new Error('no');
          },
        })
        .catch(() => {});
      const stream = randomUUID();
      await append(stream);
      await until(() => wakes === 1);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(wakes).toBe(1);
    } finally {
      await notifications.stop();
    }
  });

  it('fails to start against a database it cannot reach', async () => {
    const unreachable = new AppendNotifications('postgres://nobody:wrong@127.0.0.1:1/none', () => {});
    await expect(unreachable.start()).rejects.toThrow();
  });
});
