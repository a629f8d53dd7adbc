import type { Config } from '../config.ts';
import { startEmbeddedPostgres } from '../store/embedded-postgres.ts';
import { log } from './log.ts';

export interface DatabaseTarget {
  readonly url: string;
  /** Stops the embedded server when this process started it. */
  release(): Promise<void>;
}

/** DATABASE_URL when set; otherwise the embedded PostgreSQL under DATA_DIR. */
export async function resolveDatabase(config: Config): Promise<DatabaseTarget> {
  if (config.databaseUrl) return { url: config.databaseUrl, release: async () => {} };
  const embedded = await startEmbeddedPostgres(config.dataDir, config.embeddedPostgresPort, { log });
  return { url: embedded.url, release: () => embedded.stop() };
}
