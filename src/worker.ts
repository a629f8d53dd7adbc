import { loadConfig } from './config.ts';
import { startApp, startOrExit, stopOnSignals } from './runtime/app.ts';

// `npm run worker`: runs executions only, beside servers on the same database, until SIGINT or SIGTERM.
await startOrExit(async () => stopOnSignals(await startApp({ ...loadConfig(), runExecutions: true }, { serve: false })));
