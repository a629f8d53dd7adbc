import { afterAll, describe, expect, it } from 'vitest';
import { createEmptyDatabase } from './support/database.ts';
import { DEFINITION } from './support/definitions.ts';
import { startServerProcess } from './support/processes.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

async function server(url: string, firstStart: boolean) {
  const started = await startServerProcess({ DATABASE_URL: url }, { firstStart });
  cleanups.push(async () => {
    started.child.kill('SIGKILL');
    await started.exited;
  });
  return started;
}

async function emptyDatabase() {
  const database = await createEmptyDatabase(2);
  cleanups.push(() => database.drop());
  return database;
}

describe('a server killed under load', () => {
  it('loses no acknowledged write and leaves no partial one', async () => {
    const database = await emptyDatabase();
    const first = await server(database.url, true);
    const key = first.adminKey!;

    const acknowledged: { id: string; version: number }[] = [];
    let stop = false;
    const writers = Array.from({ length: 16 }, async (_, writer) => {
      for (let n = 0; !stop; n += 1) {
        try {
          const created = await first.gql(
            `mutation($n: String!) { createWorkflow(input: { name: $n, definition: ${DEFINITION} }) { id version } }`,
            { n: `w${writer}-${n}` },
          );
          if (!created.data) continue;
          acknowledged.push(created.data.createWorkflow);
          const updated = await first.gql(
            'mutation($id: ID!) { updateWorkflow(input: { id: $id, expectedVersion: 1, description: "second" }) { id version } }',
            { id: created.data.createWorkflow.id },
          );
          if (updated.data) acknowledged.push(updated.data.updateWorkflow);
        } catch {
          return; // the server is gone
        }
      }
    });
    while (acknowledged.length < 200) await new Promise((resolve) => setTimeout(resolve, 10));
    first.child.kill('SIGKILL');
    await first.exited;
    stop = true;
    await Promise.all(writers);

    const second = await server(database.url, false);
    for (const { id, version } of acknowledged) {
      const { data } = await second.gql('query($id: ID!) { workflow(id: $id) { version } }', { id }, key);
      expect(data.workflow.version).toBeGreaterThanOrEqual(version);
    }
    // Whatever was written is whole: every stream's events are contiguous from 1 to its
    // version, and every read-model row is at that version.
    const { rows } = await database.db.pool.query(`
      SELECT s.aggregate_id, s.version, count(e.*)::int AS events, max(e.version) AS last, w.version AS row_version
      FROM streams s
      LEFT JOIN events e ON e.aggregate_type = s.aggregate_type AND e.aggregate_id = s.aggregate_id
      LEFT JOIN workflows w ON w.id = s.aggregate_id
      GROUP BY s.aggregate_id, s.version, w.version`);
    expect(rows.length).toBeGreaterThanOrEqual(new Set(acknowledged.map((a) => a.id)).size);
    for (const row of rows) expect(row).toMatchObject({ events: row.version, last: row.version, row_version: row.version });
    const orphans = await database.db.pool.query(
      'SELECT count(*)::int AS n FROM events e WHERE NOT EXISTS (SELECT 1 FROM streams s WHERE s.aggregate_id = e.aggregate_id)',
    );
    expect(orphans.rows[0].n).toBe(0);
  });
});

describe('a server whose database connections are killed', () => {
  it('answers again with new connections', async () => {
    const database = await emptyDatabase();
    const running = await server(database.url, true);
    expect((await running.gql('{ workflows { edges { cursor } } }')).errors).toBeUndefined();

    await database.db.pool.query(
      'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
    );
    // The first request may meet a dead connection; from then on the pool has fresh ones.
    let answered = false;
    for (let tries = 0; tries < 20 && !answered; tries += 1) {
      answered = (await running.gql('{ workflows { edges { cursor } } }')).errors === undefined;
      if (!answered) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(answered).toBe(true);
    const created = await running.gql(`mutation { createWorkflow(input: { name: "after", definition: ${DEFINITION} }) { version } }`);
    expect(created.data.createWorkflow.version).toBe(1);
  });
});
