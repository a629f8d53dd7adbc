import { loadConfig } from './config.ts';
import { startApp, stopOnSignals } from './runtime/app.ts';

// `npm start`: serve (and run executions, unless RUN_EXECUTIONS=false) until SIGINT or SIGTERM.
const app = await startApp(loadConfig());
if (app.bootstrapAdmin) {
  process.stdout.write(`First start: an admin was created. Its API key, shown only now:\n${app.bootstrapAdmin.apiKey}\n`);
}
stopOnSignals(app);
