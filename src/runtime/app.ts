import type { Config } from '../config.ts';
import type { IssuedKey } from '../app/identity.ts';
import { openDatabase } from '../store/database.ts';
import { applyMigrations } from '../store/migrations.ts';
import { resolveDatabase } from './database-url.ts';
import { log } from './log.ts';
import { startServer } from './server.ts';
import { startServices, type Services } from './services.ts';

export interface RunningApp {
  readonly url: string;
  readonly services: Services;
  /** Set on the first start against an empty database: the only time its key is shown. */
  readonly bootstrapAdmin: IssuedKey | null;
  stop(): Promise<void>;
}

/** Database (embedded unless DATABASE_URL), migrations, first admin, HTTP server. */
export async function startApp(config: Config): Promise<RunningApp> {
  const target = await resolveDatabase(config);
  const applied = await applyMigrations(target.url);
  if (applied.length > 0) log('info', 'applied migrations', { migrations: applied });
  const db = openDatabase(target.url, config.databasePoolSize);
  const services = await startServices(config, db);
  const bootstrapAdmin = await services.identity.bootstrapAdmin();
  const server = await startServer(services, config.port, config.host);
  log('info', 'serving GraphQL', { url: server.url, embeddedDatabase: !config.databaseUrl });
  return {
    url: server.url,
    services,
    bootstrapAdmin,
    async stop() {
      await server.close();
      await services.stop();
      await db.close();
      await target.release();
    },
  };
}
