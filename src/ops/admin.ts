import { parseArgs } from 'node:util';
import { loadConfig } from '../config.ts';
import { IdentityService } from '../app/identity.ts';
import { exitWith, runCli, UsageError, type CliOutput } from './cli.ts';

const USAGE = `usage:
  npm run admin -- create-user --name NAME --role VIEWER|EDITOR|ADMIN [--expires ISO-DATE]
  npm run admin -- issue-key --user USER_ID [--expires ISO-DATE]
  npm run admin -- revoke-key --key KEY_ID
Each prints, as its last line on stdout, a JSON object.`;

/** `npm run admin -- ...`: users and API keys. */
export function admin(argv: string[], env = process.env, output?: CliOutput): Promise<number> {
  return runCli(
    async ({ db }) => {
      const { positionals, values } = parseArgs({
        args: argv,
        allowPositionals: true,
        options: {
          name: { type: 'string' },
          role: { type: 'string' },
          user: { type: 'string' },
          key: { type: 'string' },
          expires: { type: 'string' },
        },
      });
      const expiresAt = values.expires ? new Date(values.expires) : undefined;
      if (expiresAt && Number.isNaN(expiresAt.getTime())) throw new UsageError(`--expires is not a date: ${values.expires}`);
      const identity = new IdentityService(db, loadConfig(env).authCacheTtlMs);
      const [command] = positionals;
      if (command === 'create-user' && values.name && values.role) {
        return identity.createUser(values.name, values.role.toUpperCase(), expiresAt);
      }
      if (command === 'issue-key' && values.user) return identity.issueKey(values.user, expiresAt);
      if (command === 'revoke-key' && values.key) {
        await identity.revokeKey(values.key);
        return { revoked: values.key };
      }
      throw new UsageError(USAGE);
    },
    env,
    output,
  );
}

if (import.meta.main) await exitWith(admin(process.argv.slice(2)));
