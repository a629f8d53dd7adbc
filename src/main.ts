import { loadConfig } from './config.ts';
import { startApp, stopOnSignals } from './runtime/app.ts';

// `npm start`: serve (and run executions, unless RUN_EXECUTIONS=false) until SIGINT or SIGTERM.
const app = await startApp(loadConfig());
if (app.bootstrapAdmin) {
  const { workspaceId, apiKey } = app.bootstrapAdmin;
  process.stdout.write(
    `First start: a workspace "default" (${workspaceId}) and its admin were created. The admin's API key, shown only now:\n${apiKey}\n`,
  );
}
stopOnSignals(app);
