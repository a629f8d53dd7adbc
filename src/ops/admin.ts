import { parseArgs } from 'node:util';
import { loadConfig } from '../config.ts';
import { IdentityService } from '../app/identity.ts';
import { Limits } from '../app/limits.ts';
import type { Database } from '../store/database.ts';
import { PostgresEventStore } from '../store/events/postgres-event-store.ts';
import { exitWith, Outcome, runCli, stdio, UsageError, type CliOutput } from './cli.ts';

/** Exit code of verify-audit-trail when some stream's hash chain does not hold. */
export const CHAIN_BROKEN = 3;

/** Each option, with what its value is, as the usage spells it. */
const PLACEHOLDERS = {
  name: 'NAME',
  role: 'VIEWER|EDITOR|ADMIN',
  user: 'USER_ID',
  key: 'KEY_ID',
  workspace: 'WORKSPACE_ID',
  expires: 'ISO-DATE',
  limits: 'JSON',
} as const;

type Option = keyof typeof PLACEHOLDERS;
type Values = Partial<Record<Option, string>>;

const OPTIONS = {
  ...(Object.fromEntries(Object.keys(PLACEHOLDERS).map((option) => [option, { type: 'string' }])) as Record<Option, { type: 'string' }>),
  help: { type: 'boolean', short: 'h' },
} as const;

interface Command {
  readonly needs: readonly Option[];
  readonly may?: readonly Option[];
  readonly run: (
    values: Values & { expiresAt?: Date | undefined },
    services: { identity: IdentityService; limits: Limits; db: Database },
  ) => Promise<unknown>;
}

const COMMANDS: Record<string, Command> = {
  'create-workspace': { needs: ['name'], run: (v, { identity }) => identity.createWorkspace(v.name!) },
  'list-workspaces': {
    needs: [],
    run: async (_v, { identity }) =>
      (await identity.listWorkspaces()).map(({ id, name, createdAt, limits }) => ({ workspaceId: id, name, createdAt, limits })),
  },
  'set-limits': {
    needs: ['workspace', 'limits'],
    run: async (v, { limits }) => {
      let overrides: unknown;
      try {
        overrides = JSON.parse(v.limits!);
      } catch {
        throw new UsageError(`--limits is not JSON: ${v.limits}`);
      }
      return { workspaceId: v.workspace, limits: await limits.set(v.workspace!, overrides) };
    },
  },
  'create-user': {
    needs: ['workspace', 'name', 'role'],
    may: ['expires'],
    run: (v, { identity }) => identity.createUser(v.workspace!, v.name!, v.role!.toUpperCase(), v.expiresAt),
  },
  'list-users': { needs: ['workspace'], run: (v, { identity }) => identity.listUsers(v.workspace!) },
  'issue-key': { needs: ['user'], may: ['expires'], run: (v, { identity }) => identity.issueKey(v.user!, v.expiresAt) },
  'revoke-key': {
    needs: ['key'],
    run: async (v, { identity }) => {
      await identity.revokeKey(v.key!);
      return { revoked: v.key };
    },
  },
  'verify-audit-trail': {
    needs: ['workspace'],
    run: async (v, { identity, db }) => {
      const workspaceId = v.workspace!;
      await identity.requireWorkspace(workspaceId);
      const report = await new PostgresEventStore(db).verifyChain({ workspaceId });
      return new Outcome({ workspaceId, intact: report.firstBreak === null, ...report }, report.firstBreak ? CHAIN_BROKEN : 0);
    },
  },
};

const spelled = (option: Option) => `--${option} ${PLACEHOLDERS[option]}`;

const USAGE = `usage:
${Object.entries(COMMANDS)
  .map(
    ([name, { needs, may = [] }]) =>
      `  npm run admin -- ${[name, ...needs.map(spelled), ...may.map((option) => `[${spelled(option)}]`)].join(' ')}`,
  )
  .join('\n')}
Each prints, as its last line on stdout, a JSON object. verify-audit-trail exits 3 when a chain is broken.
set-limits replaces a workspace's overrides of the default budgets and quotas: --limits '{"maxSteps": 5000}' ('{}': the defaults).
Lost the first admin's key? list-workspaces, then list-users --workspace, then issue-key --user with the admin's id.`;

/** The command and its values, or a UsageError that says what is wrong. */
function parse(argv: string[]): { help: true } | { command: Command; values: Values & { expiresAt?: Date | undefined } } {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, allowPositionals: true, options: OPTIONS });
  } catch (error) {
    throw new UsageError(`${(error as Error).message}\n${USAGE}`);
  }
  const { positionals, values } = parsed;
  const [name, ...extra] = positionals;
  if (values.help || name === 'help' || name === undefined) return { help: true };
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) throw new UsageError(`unknown command "${name}": the commands are ${Object.keys(COMMANDS).join(', ')}\n${USAGE}`);
  if (extra.length > 0) throw new UsageError(`${name} takes no argument ${JSON.stringify(extra[0])}\n${USAGE}`);
  const missing = command.needs.filter((option) => !values[option]);
  if (missing.length > 0) throw new UsageError(`${name} needs ${missing.map(spelled).join(' and ')}\n${USAGE}`);
  const unused = (Object.keys(values) as (Option | 'help')[]).filter(
    (option) => option !== 'help' && !command.needs.includes(option) && !command.may?.includes(option),
  );
  if (unused.length > 0) throw new UsageError(`${name} takes no --${unused[0]}\n${USAGE}`);
  const expiresAt = values.expires ? new Date(values.expires) : undefined;
  if (expiresAt && Number.isNaN(expiresAt.getTime())) throw new UsageError(`--expires is not a date: ${values.expires}`);
  return { command, values: { ...values, expiresAt } };
}

/** `npm run admin -- ...`: workspaces, users, API keys and the audit chain. */
export async function admin(argv: string[], env = process.env, output: CliOutput = stdio): Promise<number> {
  let parsed;
  try {
    parsed = parse(argv);
  } catch (error) {
    output.err((error as Error).message);
    return 2;
  }
  if ('help' in parsed) {
    output.out(USAGE);
    return 0;
  }
  const { command, values } = parsed;
  const config = loadConfig(env);
  return runCli(
    ({ db }) =>
      command.run(values, { identity: new IdentityService(db, config.authCacheTtlMs), limits: new Limits(db, config.limits), db }),
    env,
    output,
  );
}

if (import.meta.main) await exitWith(admin(process.argv.slice(2)));
