import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createMigration } from '../store/migrations.ts';
import { exitWith, runCli, UsageError, type CliOutput } from './cli.ts';

/**
 * `npm run db:migrate` applies pending migrations. `npm run db:migrate -- create NAME
 * [--from FILE]` writes what schema.prisma changed since FILE (default: schema.prisma as
 * committed at git HEAD) as a new migration.
 */
export function migrate(argv: string[], env = process.env, output?: CliOutput): Promise<number> {
  return runCli(
    async ({ url }) => {
      const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { from: { type: 'string' } } });
      if (positionals.length === 0) return 'migrations are up to date';
      const [command, name] = positionals;
      if (command !== 'create' || !name) throw new UsageError('usage: npm run db:migrate -- [create NAME [--from FILE]]');
      const from = values.from
        ? readFileSync(values.from, 'utf8')
        : execFileSync('git', ['show', 'HEAD:prisma/schema.prisma'], { encoding: 'utf8' });
      const folder = await createMigration(url, name, from);
      return folder ? `wrote prisma/migrations/${folder}/migration.sql` : 'schema.prisma has no changes';
    },
    env,
    output,
  );
}

if (import.meta.main) await exitWith(migrate(process.argv.slice(2)));
