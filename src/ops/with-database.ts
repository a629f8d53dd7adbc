import { loadConfig } from '../config.ts';
import { resolveDatabase } from '../runtime/database-url.ts';
import { applyMigrations } from '../store/migrations.ts';

/** Runs a CLI command against the configured (or embedded) database, migrated first. */
export async function withDatabaseUrl<T>(work: (url: string) => Promise<T>): Promise<T> {
  const target = await resolveDatabase(loadConfig());
  try {
    await applyMigrations(target.url);
    return await work(target.url);
  } finally {
    await target.release();
  }
}
