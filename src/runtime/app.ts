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
  // What has been started, in order: stopped in reverse, also when a later step fails.
  const started: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const undo of started.splice(0).reverse()) await undo();
  };
  try {
    const target = await resolveDatabase(config);
    started.push(() => target.release());
    const applied = await applyMigrations(target.url);
    if (applied.length > 0) log('info', 'applied migrations', { migrations: applied });
    const db = openDatabase(target.url, config.databasePoolSize);
    started.push(() => db.close());
    const services = await startServices(config, db);
    started.push(() => services.stop());
    const bootstrapAdmin = await services.identity.bootstrapAdmin();
    const server = await startServer(services, config.port, config.host);
    started.push(() => server.close());
    log('info', 'serving GraphQL', { url: server.url, embeddedDatabase: !config.databaseUrl });
    return { url: server.url, services, bootstrapAdmin, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}
