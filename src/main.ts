import cluster from 'node:cluster';
import { loadConfig } from './config.ts';
import { announceBootstrap, startApp, startOrExit, stopOnSignals } from './runtime/app.ts';
import { runPrimary } from './runtime/cluster.ts';

// `npm start`: serve (and run executions, unless RUN_EXECUTIONS=false) until SIGINT or SIGTERM;
// with CLUSTER_WORKERS > 1, as that many processes on one port.
await startOrExit(async () => {
  const config = loadConfig();
  if (config.clusterWorkers > 1 && cluster.isPrimary) {
    await runPrimary(config);
  } else {
    const app = await startApp(config);
    announceBootstrap(app.bootstrapAdmin);
    stopOnSignals(app);
  }
});
