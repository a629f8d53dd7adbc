import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { createMigration } from '../store/migrations.ts';
import { withDatabaseUrl } from './with-database.ts';

// npm run db:migrate                      apply pending migrations
// npm run db:migrate -- create NAME [--from FILE]
//   write schema.prisma's changes since FILE (default: schema.prisma at git HEAD) as a migration
const { positionals, values } = parseArgs({ allowPositionals: true, options: { from: { type: 'string' } } });

await withDatabaseUrl(async (url) => {
  if (positionals[0] !== 'create') {
    console.log('migrations are up to date');
    return;
  }
  const name = positionals[1];
  if (!name) throw new Error('usage: npm run db:migrate -- create NAME [--from FILE]');
  const from = values.from
    ? readFileSync(values.from, 'utf8')
    : execFileSync('git', ['show', 'HEAD:prisma/schema.prisma'], { encoding: 'utf8' });
  const folder = await createMigration(url, name, from);
  console.log(folder ? `wrote prisma/migrations/${folder}/migration.sql` : 'schema.prisma has no changes');
});
