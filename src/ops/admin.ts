import { parseArgs } from 'node:util';
import { loadConfig } from '../config.ts';
import { IdentityService } from '../app/identity.ts';
import { openDatabase } from '../store/database.ts';
import { withDatabaseUrl } from './with-database.ts';

const USAGE = `usage:
  npm run admin -- create-user --name NAME --role VIEWER|EDITOR|ADMIN [--expires ISO-DATE]
  npm run admin -- issue-key --user USER_ID [--expires ISO-DATE]
  npm run admin -- revoke-key --key KEY_ID
Each prints, as its last line on stdout, a JSON object.`;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    name: { type: 'string' },
    role: { type: 'string' },
    user: { type: 'string' },
    key: { type: 'string' },
    expires: { type: 'string' },
  },
});

function expiry(): Date | undefined {
  if (!values.expires) return undefined;
  const date = new Date(values.expires);
  if (Number.isNaN(date.getTime())) throw new Error(`--expires is not a date: ${values.expires}`);
  return date;
}

async function run(identity: IdentityService): Promise<unknown> {
  switch (positionals[0]) {
    case 'create-user': {
      if (!values.name || !values.role) break;
      const { userId, keyId, apiKey } = await identity.createUser(values.name, values.role.toUpperCase(), expiry());
      return { userId, keyId, apiKey };
    }
    case 'issue-key':
      if (!values.user) break;
      return identity.issueKey(values.user, expiry());
    case 'revoke-key':
      if (!values.key) break;
      await identity.revokeKey(values.key);
      return { revoked: values.key };
  }
  console.error(USAGE);
  process.exit(2);
}

try {
  const result = await withDatabaseUrl(async (url) => {
    const db = openDatabase(url, 2);
    try {
      return await run(new IdentityService(db, loadConfig().authCacheTtlMs));
    } finally {
      await db.close();
    }
  });
  console.log(JSON.stringify(result));
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
