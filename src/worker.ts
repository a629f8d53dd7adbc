import { loadConfig } from './config.ts';
import { startApp, stopOnSignals } from './runtime/app.ts';

// `npm run worker`: runs executions only, beside servers on the same database, until SIGINT or SIGTERM.
stopOnSignals(await startApp({ ...loadConfig(), runExecutions: true }, { serve: false }));
