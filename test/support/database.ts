import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { inject } from 'vitest';
import { openDatabase, type Database } from '../../src/store/database.ts';

export interface TestDatabase {
  readonly url: string;
  readonly db: Database;
  /** Row counts and the last global position: what "nothing was written" compares. */
  snapshot(): Promise<Record<string, string>>;
  drop(): Promise<void>;
}

function urlFor(name: string): string {
  const url = new URL(inject('serverUrl'));
  url.pathname = `/${name}`;
  return url.toString();
}

async function onServer(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: inject('serverUrl') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

/** A database of this test file's own with nothing in it, not even migrations: a first start. */
export async function createEmptyDatabase(poolSize = 1): Promise<TestDatabase> {
  const database = await createTestDatabase(poolSize);
  await database.db.pool.query('DROP SCHEMA public CASCADE; CREATE SCHEMA public;');
  return database;
}

/** A fresh, migrated database of this test file's own. */
export async function createTestDatabase(poolSize = 20): Promise<TestDatabase> {
  const name = `test_${randomBytes(6).toString('hex')}`;
  await onServer(`CREATE DATABASE ${name} TEMPLATE ${inject('templateDatabase')}`);
  const url = urlFor(name);
  const db = openDatabase(url, { poolSize });
  return {
    url,
    db,
    async snapshot() {
      const { rows } = await db.pool.query(
        `SELECT (SELECT count(*) FROM events) AS events, (SELECT count(*) FROM streams) AS streams,
                (SELECT count(*) FROM workflows) AS workflows, (SELECT count(*) FROM users) AS users,
                (SELECT count(*) FROM api_keys) AS api_keys, (SELECT count(*) FROM workspaces) AS workspaces,
                (SELECT count(*) FROM executions) AS executions, (SELECT count(*) FROM execution_jobs) AS execution_jobs,
                (SELECT coalesce(max(global_position), 0) FROM events) AS last_position,
                (SELECT coalesce(sum(version), 0) FROM workflows) AS workflow_versions`,
      );
      return rows[0];
    },
    async drop() {
      await db.close();
      await onServer(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    },
  };
}
