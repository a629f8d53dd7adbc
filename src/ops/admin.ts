import { parseArgs } from 'node:util';
import { loadConfig } from '../config.ts';
import { IdentityService } from '../app/identity.ts';
import { EventStore } from '../store/event-store.ts';
import { exitWith, Outcome, runCli, UsageError, type CliOutput } from './cli.ts';

const USAGE = `usage:
  npm run admin -- create-workspace --name NAME
  npm run admin -- list-workspaces
  npm run admin -- create-user --workspace WORKSPACE_ID --name NAME --role VIEWER|EDITOR|ADMIN [--expires ISO-DATE]
  npm run admin -- issue-key --user USER_ID [--expires ISO-DATE]
  npm run admin -- revoke-key --key KEY_ID
  npm run admin -- verify-audit-trail --workspace WORKSPACE_ID
Each prints, as its last line on stdout, a JSON object. verify-audit-trail exits 3 when a chain is broken.`;

/** Exit code of verify-audit-trail when some stream's hash chain does not hold. */
export const CHAIN_BROKEN = 3;

/** `npm run admin -- ...`: workspaces, users, API keys and the audit chain. */
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
          workspace: { type: 'string' },
          expires: { type: 'string' },
        },
      });
      const expiresAt = values.expires ? new Date(values.expires) : undefined;
      if (expiresAt && Number.isNaN(expiresAt.getTime())) throw new UsageError(`--expires is not a date: ${values.expires}`);
      const identity = new IdentityService(db, loadConfig(env).authCacheTtlMs);
      const [command] = positionals;
      if (command === 'create-workspace' && values.name) return identity.createWorkspace(values.name);
      if (command === 'list-workspaces') {
        return (await identity.listWorkspaces()).map(({ id, name, createdAt }) => ({ workspaceId: id, name, createdAt }));
      }
      if (command === 'create-user' && values.workspace && values.name && values.role) {
        return identity.createUser(values.workspace, values.name, values.role.toUpperCase(), expiresAt);
      }
      if (command === 'issue-key' && values.user) return identity.issueKey(values.user, expiresAt);
      if (command === 'revoke-key' && values.key) {
        await identity.revokeKey(values.key);
        return { revoked: values.key };
      }
      if (command === 'verify-audit-trail' && values.workspace) {
        const workspaceId = values.workspace;
        await identity.requireWorkspace(workspaceId);
        const report = await new EventStore(db).verifyChain({ workspaceId });
        return new Outcome({ workspaceId, intact: report.firstBreak === null, ...report }, report.firstBreak ? CHAIN_BROKEN : 0);
      }
      throw new UsageError(USAGE);
    },
    env,
    output,
  );
}

if (import.meta.main) await exitWith(admin(process.argv.slice(2)));
