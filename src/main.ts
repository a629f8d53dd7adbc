import { loadConfig } from './config.ts';
import { resolveDatabase } from './runtime/database-url.ts';
import { describeError, log } from './runtime/log.ts';
import { startServer } from './runtime/server.ts';
import { createServices } from './runtime/services.ts';
import { openDatabase } from './store/database.ts';
import { applyMigrations } from './store/migrations.ts';

// `npm start`: migrate, make sure there is an admin, serve; stop cleanly on SIGINT/SIGTERM.
const config = loadConfig();
const target = await resolveDatabase(config);
const applied = await applyMigrations(target.url);
if (applied.length > 0) log('info', 'applied migrations', { migrations: applied });

const db = openDatabase(target.url, config.databasePoolSize);
const services = createServices(config, db);
const admin = await services.identity.bootstrapAdmin();
if (admin) {
  // Printed once, on the first start against an empty database: only its hash is kept.
  process.stdout.write(`First start: an admin was created. Its API key, shown only now:\n${admin.apiKey}\n`);
}
const server = await startServer(services, config.port, config.host);
log('info', 'serving GraphQL', { url: server.url, embeddedDatabase: !config.databaseUrl });

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log('info', 'shutting down', { signal });
  try {
    await server.close();
    await db.close();
    await target.release();
    process.exit(0);
  } catch (error) {
    log('error', 'unclean shutdown', describeError(error));
    process.exit(1);
  }
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
