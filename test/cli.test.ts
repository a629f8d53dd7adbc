import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin } from '../src/ops/admin.ts';
import { migrate } from '../src/ops/migrate.ts';
import { rebuildProjections } from '../src/ops/rebuild-projections.ts';
import { npmRun } from './support/processes.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { definition } from './support/definitions.ts';
import { ended, execute } from './support/executions.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ authCacheTtlMs: 1 });
});
afterAll(() => app.close());

const lastLine = (text: string) => JSON.parse(text.trim().split('\n').at(-1)!);

/** Runs a CLI command in this process, as its npm script would, capturing its output. */
async function cli(command: (env: NodeJS.ProcessEnv, output: { out(l: string): void; err(l: string): void }) => Promise<number>) {
  let stdout = '';
  let stderr = '';
  const code = await command(
    { DATABASE_URL: app.database.url, NODE_ENV: 'test' },
    { out: (line) => (stdout += `${line}\n`), err: (line) => (stderr += `${line}\n`) },
  );
  return { code, stdout, stderr };
}

describe('npm run admin', () => {
  it('creates a workspace and a user in it whose key works with its role, issues and revokes keys', async () => {
    const env = { DATABASE_URL: app.database.url };
    const workspace = await npmRun('admin', ['create-workspace', '--name', 'Analytical Engines'], env);
    expect(workspace.code, workspace.stderr).toBe(0);
    const { workspaceId } = lastLine(workspace.stdout);
    const listed = lastLine((await cli((e, o) => admin(['list-workspaces'], e, o))).stdout);
    expect(listed.map((w: { name: string }) => w.name)).toEqual(['default', 'Analytical Engines']);
    const created = await npmRun('admin', ['create-user', '--workspace', workspaceId, '--name', 'Ada', '--role', 'viewer'], env);
    expect(created.code, created.stderr).toBe(0);
    const { userId, apiKey } = lastLine(created.stdout);
    expect(userId).toMatch(/^[0-9a-f-]{36}$/);

    const me = await app.gql('{ me { id name role workspaceId } }', {}, apiKey);
    expect(me.data!.me).toEqual({ id: userId, name: 'Ada', role: 'VIEWER', workspaceId });
    const write = await app.gql(
      'mutation { createWorkflow(input: { name: "x", definition: { startAt: "Done", nodes: { Done: { type: "succeed" } } } }) { id } }',
      {},
      apiKey,
    );
    expect(write.errors![0]!.extensions.code).toBe('FORBIDDEN');

    const issued = lastLine((await cli((e, o) => admin(['issue-key', '--user', userId], e, o))).stdout);
    expect((await app.gql('{ me { id } }', {}, issued.apiKey)).data!.me.id).toBe(userId);
    const revoked = await cli((e, o) => admin(['revoke-key', '--key', issued.keyId], e, o));
    expect(lastLine(revoked.stdout)).toEqual({ revoked: issued.keyId });
    await new Promise((resolve) => setTimeout(resolve, 5));
    expect((await app.gql('{ me { id } }', {}, issued.apiKey)).errors![0]!.extensions.code).toBe('UNAUTHENTICATED');
    expect((await app.gql('{ me { id } }', {}, apiKey)).errors).toBeUndefined();
  });

  it('prints its usage for --help, -h or no command, without a database, and exits 0', async () => {
    for (const args of [['--help'], ['-h'], [], ['help']]) {
      const help = await npmRun('admin', args, { DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none' });
      expect(help.code, help.stderr).toBe(0);
      expect(help.stdout).toMatch(/^usage:\n {2}npm run admin -- create-workspace --name NAME\n/);
      expect(help.stdout).toContain('npm run admin -- list-users --workspace WORKSPACE_ID');
    }
  });

  it("lists a workspace's users with their keys, so that a lost admin key can be replaced and revoked", async () => {
    const listed = await cli((e, o) => admin(['list-users', '--workspace', app.workspaceId], e, o));
    expect(listed.code, listed.stderr).toBe(0);
    const users = lastLine(listed.stdout) as {
      userId: string;
      name: string;
      role: string;
      keys: { keyId: string; revokedAt: string | null }[];
    }[];
    const first = users[0]!;
    expect(first).toMatchObject({ userId: app.userIds.admin, name: 'admin', role: 'ADMIN' });
    expect(first.keys).toHaveLength(1);
    expect(JSON.stringify(users)).not.toMatch(/flk_|hash/);
    const issued = lastLine((await cli((e, o) => admin(['issue-key', '--user', first.userId], e, o))).stdout);
    expect((await app.gql('{ me { role } }', {}, issued.apiKey)).data!.me.role).toBe('ADMIN');
    const other = await cli((e, o) => admin(['list-users', '--workspace', app.userIds.viewer], e, o));
    expect(other).toMatchObject({ code: 1, stderr: expect.stringMatching(/workspace .* was not found/) });
  });

  it('refuses bad arguments without writing anything', async () => {
    const before = await app.database.snapshot();
    const badRole = await cli((e, o) => admin(['create-user', '--workspace', app.workspaceId, '--name', 'Bob', '--role', 'pilot'], e, o));
    expect(badRole).toMatchObject({ code: 1, stdout: '' });
    expect(badRole.stderr).toMatch(/role/);
    const noWorkspace = await cli((e, o) =>
      admin(['create-user', '--workspace', app.userIds.admin, '--name', 'Bob', '--role', 'viewer'], e, o),
    );
    expect(noWorkspace).toMatchObject({ code: 1, stdout: '' });
    expect(noWorkspace.stderr).toMatch(/workspace .* was not found/);
    const taken = await cli((e, o) => admin(['create-workspace', '--name', 'default'], e, o));
    expect(taken.code).toBe(1);
    expect(taken.stderr).toMatch(/a workspace named "default" exists already/);
    const usage = await cli((e, o) => admin(['create-user', '--name', 'Bob'], e, o));
    expect(usage.code).toBe(2);
    expect(usage.stderr).toMatch(/^create-user needs --workspace WORKSPACE_ID and --role VIEWER\|EDITOR\|ADMIN\nusage:/);
    const unknownCommand = await cli((e, o) => admin(['create-usr', '--name', 'Bob'], e, o));
    expect(unknownCommand).toMatchObject({ code: 2, stdout: '' });
    expect(unknownCommand.stderr).toMatch(/^unknown command "create-usr": the commands are create-workspace, .*list-users/);
    for (const inherited of ['constructor', 'toString', '__proto__']) {
      expect((await cli((e, o) => admin([inherited], e, o))).stderr).toMatch(new RegExp(`^unknown command "${inherited}"`));
    }
    const unknownOption = await cli((e, o) => admin(['list-workspaces', '--nme', 'x'], e, o));
    expect(unknownOption.code).toBe(2);
    expect(unknownOption.stderr).toMatch(/--nme/);
    const misplaced = await cli((e, o) => admin(['list-workspaces', '--role', 'ADMIN'], e, o));
    expect(misplaced).toMatchObject({ code: 2, stderr: expect.stringMatching(/^list-workspaces takes no --role/) });
    const badDate = await cli((e, o) => admin(['issue-key', '--user', app.userIds.viewer, '--expires', 'soon'], e, o));
    expect(badDate.code).toBe(2);
    const unknown = await cli((e, o) => admin(['revoke-key', '--key', 'nope'], e, o));
    expect(unknown.code).toBe(1);
    expect(await app.database.snapshot()).toEqual(before);
    const expiring = await cli((e, o) => admin(['issue-key', '--user', app.userIds.viewer, '--expires', '2000-01-01'], e, o));
    expect((await app.gql('{ me { id } }', {}, lastLine(expiring.stdout).apiKey)).errors![0]!.extensions.code).toBe('UNAUTHENTICATED');
  });

  it('lets admins manage users over GraphQL too', async () => {
    const created = await app.gql(
      'mutation { createUser(input: { name: "Grace", role: EDITOR }) { userId keyId apiKey } }',
      {},
      app.keys.admin,
    );
    const { userId, keyId, apiKey } = created.data!.createUser;
    expect((await app.gql('{ me { id role } }', {}, apiKey)).data!.me).toEqual({ id: userId, role: 'EDITOR' });
    const second = await app.gql('mutation($u: ID!) { issueApiKey(userId: $u) { apiKey } }', { u: userId }, app.keys.admin);
    expect(second.data!.issueApiKey.apiKey).not.toBe(apiKey);
    const revoked = await app.gql('mutation($k: ID!) { revokeApiKey(keyId: $k) }', { k: keyId }, app.keys.admin);
    expect(revoked.data!.revokeApiKey).toBe(true);
    const again = await app.gql('mutation($k: ID!) { revokeApiKey(keyId: $k) }', { k: keyId }, app.keys.admin);
    expect(again.errors![0]!.extensions.code).toBe('NOT_FOUND');
    const nobody = await app.gql('mutation { issueApiKey(userId: "nobody") { apiKey } }', {}, app.keys.admin);
    expect(nobody.errors![0]!.extensions.code).toBe('NOT_FOUND');
  });
});

describe('npm run admin -- verify-audit-trail', () => {
  it("reports a workspace's chain intact, then the first event edited with SQL, and exits 3", async () => {
    const other = await app.createWorkspace('audited');
    const create = 'mutation($n: String!, $d: JSON!) { createWorkflow(input: { name: $n, definition: $d }) { id } }';
    const update =
      'mutation($id: ID!, $v: Int!, $d: String!) { updateWorkflow(input: { id: $id, expectedVersion: $v, description: $d }) { id } }';
    const ids: string[] = [];
    for (let i = 0; i < 3; i += 1)
      ids.push((await app.gql(create, { n: `audited ${i}`, d: definition() }, other.keys.editor)).data!.createWorkflow.id);
    for (const [i, id] of ids.entries())
      for (let v = 1; v <= i + 1; v += 1) await app.gql(update, { id, v, d: `v${v}` }, other.keys.editor);

    const intact = await cli((e, o) => admin(['verify-audit-trail', '--workspace', other.workspaceId], e, o));
    expect(intact.code, intact.stderr).toBe(0);
    expect(lastLine(intact.stdout)).toEqual({
      workspaceId: other.workspaceId,
      intact: true,
      eventsChecked: 9,
      brokenStreams: 0,
      firstBreak: null,
    });

    await app.database.db.pool.query(
      `UPDATE events SET data = jsonb_set(data, '{description}', '"forged"') WHERE aggregate_id = $1 AND version = 2`,
      [ids[2]],
    );
    const broken = await cli((e, o) => admin(['verify-audit-trail', '--workspace', other.workspaceId], e, o));
    expect(broken.code).toBe(3);
    expect(lastLine(broken.stdout)).toMatchObject({
      intact: false,
      brokenStreams: 1,
      firstBreak: { aggregateType: 'Workflow', aggregateId: ids[2], version: 2, reason: 'HASH_MISMATCH' },
    });
    const unknown = await cli((e, o) => admin(['verify-audit-trail', '--workspace', 'nope'], e, o));
    expect(unknown.code).toBe(1);
  });
});

describe('npm run projections:rebuild', () => {
  it('rebuilds the workflows and executions tables equal to the live ones', async () => {
    const create = 'mutation($n: String!, $d: JSON!) { createWorkflow(input: { name: $n, definition: $d }) { id } }';
    const ids: string[] = [];
    for (let i = 0; i < 12; i += 1)
      ids.push((await app.gql(create, { n: `rebuild ${i}`, d: definition({ n: i }) })).data!.createWorkflow.id);
    for (const [i, id] of ids.entries()) {
      await app.gql('mutation($id: ID!, $d: String!) { updateWorkflow(input: { id: $id, expectedVersion: 1, description: $d }) { id } }', {
        id,
        d: `d${i}`,
      });
      if (i % 3 === 0) await app.gql('mutation($id: ID!) { deleteWorkflow(input: { id: $id, expectedVersion: 2 }) { id } }', { id });
    }
    for (const id of [ids[1]!, ids[2]!, ids[4]!]) await ended(app.gql, (await execute(app.gql, id, { from: id })).id);
    const table = async () => (await app.database.db.pool.query('SELECT * FROM workflows ORDER BY id')).rows;
    const executions = async () => (await app.database.db.pool.query('SELECT * FROM executions ORDER BY id')).rows;
    const live = await table();
    const liveExecutions = await executions();
    await app.database.db.pool.query(`UPDATE workflows SET name = 'corrupted'`);
    await app.database.db.pool.query(`UPDATE executions SET status = 'PENDING', output = NULL`);
    const rebuilt = await cli((e, o) => rebuildProjections(e, o));
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    expect(JSON.parse(rebuilt.stdout.trim())).toEqual({ workflows: live.length, executions: 3 });
    expect(await table()).toEqual(live);
    expect(await executions()).toEqual(liveExecutions);
    expect(liveExecutions.map((row) => row.status)).toEqual(['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED']);
    expect((await app.database.db.pool.query('SELECT count(*)::int AS n FROM execution_jobs')).rows[0].n).toBe(0);
    expect(live.filter((row) => row.status === 'DELETED')).toHaveLength(4);
    await app.database.db.pool.query(`UPDATE workflows SET version = 0`);
    const script = await npmRun('projections:rebuild', [], { DATABASE_URL: app.database.url });
    expect(script.code, script.stderr).toBe(0);
    expect(await table()).toEqual(live);
  });
});

describe('npm run db:migrate', () => {
  it('applies nothing new to a migrated database, and writes no migration when schema.prisma has not changed', async () => {
    const applied = await npmRun('db:migrate', [], { DATABASE_URL: app.database.url });
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout.trim()).toBe('migrations are up to date');
    const none = await cli((e, o) => migrate(['create', 'nothing', '--from', 'prisma/schema.prisma'], e, o));
    expect(none).toMatchObject({ code: 0, stdout: 'schema.prisma has no changes\n' });
    const usage = await cli((e, o) => migrate(['drop'], e, o));
    expect(usage.code).toBe(2);
  });
});
