import { rebuildReadModels } from '../app/projections.ts';
import { PostgresEventStore } from '../store/events/postgres-event-store.ts';
import { exitWith, runCli, type CliOutput } from './cli.ts';

/** `npm run projections:rebuild`: every read model rebuilt from the events. */
export function rebuildProjections(env = process.env, output?: CliOutput): Promise<number> {
  return runCli(({ db }) => rebuildReadModels(db, new PostgresEventStore(db)), env, output);
}

if (import.meta.main) await exitWith(rebuildProjections());
