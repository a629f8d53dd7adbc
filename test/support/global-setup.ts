import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import type { TestProject } from 'vitest/node';
import { startEmbeddedPostgres } from '../../src/store/embedded-postgres.ts';
import { applyMigrations } from '../../src/store/migrations.ts';
import { freePort } from './ports.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** A server where tests may create databases. */
    serverUrl: string;
    /** A migrated database that each test file clones. */
    templateDatabase: string;
  }
}

export const TEMPLATE = 'flowledger_template';

/**
 * One PostgreSQL for the whole run: TEST_DATABASE_URL, or an embedded one in a temporary
 * folder. Migrations run once into a template; each test file clones it (CREATE DATABASE
 * ... TEMPLATE), so files are isolated and run in parallel.
 */
export default async function setup(project: TestProject) {
  let serverUrl = process.env.TEST_DATABASE_URL;
  let stop = async () => {};
  if (!serverUrl) {
    const dataDir = mkdtempSync(join(tmpdir(), 'flowledger-test-'));
    // Run as root, PostgreSQL runs as the postgres user, which must be able to enter it.
    chmodSync(dataDir, 0o755);
    const server = await startEmbeddedPostgres(dataDir, await freePort());
    serverUrl = server.url;
    stop = async () => {
      await server.stop();
      rmSync(dataDir, { recursive: true, force: true });
    };
  }
  const admin = new pg.Client({ connectionString: serverUrl });
  await admin.connect();
  await admin.query(`DROP DATABASE IF EXISTS ${TEMPLATE} WITH (FORCE)`);
  await admin.query(`CREATE DATABASE ${TEMPLATE}`);
  await admin.end();
  const templateUrl = new URL(serverUrl);
  templateUrl.pathname = `/${TEMPLATE}`;
  await applyMigrations(templateUrl.toString());

  project.provide('serverUrl', serverUrl);
  project.provide('templateDatabase', TEMPLATE);
  return stop;
}
