import { randomUUID } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresEventStore } from '../src/store/events/postgres-event-store.ts';
import { createEmptyDatabase, type TestDatabase } from './support/database.ts';

const MIGRATIONS = new URL('../prisma/migrations/', import.meta.url);
const migrations = readdirSync(MIGRATIONS)
  .filter((name) => /^\d+_/.test(name))
  .sort();
const sqlOf = (name: string) => readFileSync(new URL(`${name}/migration.sql`, MIGRATIONS), 'utf8');
const DEFAULT_WORKSPACE = '00000000-0000-4000-8000-000000000001';

let database: TestDatabase;
beforeAll(async () => {
  database = await createEmptyDatabase(2);
});
afterAll(() => database.drop());

describe('the workspaces and audit chain migration', () => {
  it('moves existing rows to a default workspace and chains existing events, which then verify', async () => {
    const index = migrations.findIndex((name) => name.endsWith('_workspaces_audit_chain'));
    const query = (sql: string, values?: unknown[]) => database.db.pool.query(sql, values);
    for (const name of migrations.slice(0, index)) await query(sqlOf(name));

    // Data as the service wrote it before workspaces: a user, two streams of three events.
    const userId = randomUUID();
    await query(`INSERT INTO users (id, name, role) VALUES ($1, 'old admin', 'ADMIN')`, [userId]);
    const streams = [randomUUID(), randomUUID()];
    for (const id of streams) {
      await query(`INSERT INTO streams (aggregate_type, aggregate_id, version) VALUES ('Workflow', $1, 3)`, [id]);
      for (let version = 1; version <= 3; version += 1) {
        await query(
          `INSERT INTO events (event_id, aggregate_type, aggregate_id, version, event_type, data, metadata, actor_id)
           VALUES ($1, 'Workflow', $2, $3, 'Touched', $4, $5, $6)`,
          [
            randomUUID(),
            id,
            version,
            { version, note: 'before' },
            { actorId: userId, requestId: 'r', correlationId: 'c', causationId: null },
            userId,
          ],
        );
      }
    }

    await query(sqlOf(migrations[index]!));
    for (const name of migrations.slice(index + 1)) await query(sqlOf(name));

    const { rows } = await query(
      `SELECT (SELECT count(*)::int FROM workspaces WHERE id = $1 AND name = 'default') AS workspaces,
              (SELECT count(*)::int FROM users WHERE workspace_id = $1) AS users,
              (SELECT count(*)::int FROM events WHERE workspace_id = $1 AND metadata->>'workspaceId' = $1::text) AS events`,
      [DEFAULT_WORKSPACE],
    );
    expect(rows[0]).toEqual({ workspaces: 1, users: 1, events: 6 });
    const store = new PostgresEventStore(database.db);
    expect(await store.verifyChain({ workspaceId: DEFAULT_WORKSPACE })).toEqual({ eventsChecked: 6, brokenStreams: 0, firstBreak: null });

    // New appends continue the old chains.
    await store.append({ type: 'Workflow', id: streams[0]! }, [{ eventId: randomUUID(), type: 'Touched', data: { after: true } }], {
      expectedVersion: 3,
      metadata: { workspaceId: DEFAULT_WORKSPACE, actorId: userId, requestId: 'r', correlationId: 'c', causationId: null },
    });
    expect(await store.verifyChain({ workspaceId: DEFAULT_WORKSPACE })).toMatchObject({ eventsChecked: 7, firstBreak: null });
  });
});
