import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdentityService } from '../src/app/identity.ts';
import { openDatabase } from '../src/store/database.ts';
import { createEmptyDatabase, type TestDatabase } from './support/database.ts';
import { startServerProcess, type ServerProcess } from './support/processes.ts';

// A differential test of the response cache's promise (docs/design.md): clients of two
// workspaces and two roles, on two server processes, run random concurrent creates, updates,
// deletes, executions and reads. Each answer is checked against a model of the acknowledged
// writes. Run once with the cache and once without: the same checks hold for both.
//
// - A read sees every write acknowledged before it began on its own process, and every write
//   whose consistency token it presents, whichever process made it.
// - No answer holds anything of another workspace, and every workflow it shows is one that
//   workspace wrote, at a version and name that write gave it.

const CREATE = `mutation($name: String!) { createWorkflow(input: { name: $name, definition: { startAt: "Done", nodes: { Done: { type: "succeed" } } } }) { id version } }`;
const UPDATE =
  'mutation($id: ID!, $v: Int!, $name: String!) { updateWorkflow(input: { id: $id, expectedVersion: $v, name: $name }) { version } }';
const DELETE = 'mutation($id: ID!, $v: Int!) { deleteWorkflow(input: { id: $id, expectedVersion: $v }) { version } }';
const EXECUTE = 'mutation($id: ID!) { executeWorkflow(input: { workflowId: $id }) { id } }';
const LIST = '{ workflows(first: 100) { edges { node { id name version } } } executions(first: 100) { edges { node { id } } } }';
const GET = 'query($id: ID!) { workflow(id: $id) { id name version status } }';

type Role = 'editor' | 'viewer';
interface Client {
  readonly workspace: number;
  readonly role: Role;
  readonly key: string;
  /** The position of this client's last acknowledged write: presented by its reads that ask for it. */
  token: string | undefined;
}

/** One acknowledged write, as the model keeps it. */
interface Write {
  readonly id: string;
  readonly version: number;
  readonly name: string | null;
  readonly deleted: boolean;
  readonly process: number;
  readonly token: string;
  readonly ackedAt: number;
}

type Step =
  | { kind: 'create'; client: number; process: number }
  | { kind: 'update' | 'delete' | 'execute' | 'get'; client: number; process: number; pick: number }
  | { kind: 'list'; client: number; process: number; withToken: boolean };

const STEP = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('create' as const), client: fc.nat(3), process: fc.nat(1) }) },
  ...(['update', 'delete', 'execute', 'get'] as const).map((kind) => ({
    weight: kind === 'get' ? 4 : kind === 'update' ? 3 : 1,
    arbitrary: fc.record({ kind: fc.constant(kind), client: fc.nat(3), process: fc.nat(1), pick: fc.nat(50) }),
  })),
  {
    weight: 5,
    arbitrary: fc.record({ kind: fc.constant('list' as const), client: fc.nat(3), process: fc.nat(1), withToken: fc.boolean() }),
  },
);

interface Cluster {
  readonly processes: ServerProcess[];
  readonly clients: Client[];
  readonly database: TestDatabase;
  /** The model, by workspace: it lives as long as the cluster, over every run. */
  readonly writes: Write[][];
  readonly executions: { id: string; process: number; ackedAt: number; token: string }[][];
}

async function cluster(cache: boolean): Promise<Cluster> {
  const database = await createEmptyDatabase(2);
  const env = {
    DATABASE_URL: database.url,
    NODE_ENV: 'production',
    RATE_LIMIT_PER_SECOND: '0',
    RESPONSE_CACHE_BYTES: cache ? '8388608' : '0',
  };
  const first = await startServerProcess(env, { firstStart: true });
  const second = await startServerProcess(env);
  const db = openDatabase(database.url);
  const identity = new IdentityService(db, 0);
  const clients: Client[] = [];
  for (const workspace of [0, 1]) {
    const { workspaceId } = await identity.createWorkspace(`model ${workspace}`);
    for (const role of ['editor', 'viewer'] as const) {
      const { apiKey } = await identity.createUser(workspaceId, role, role.toUpperCase());
      clients.push({ workspace, role, key: apiKey, token: undefined });
    }
  }
  await db.close();
  return { processes: [first, second], clients, database, writes: [[], []], executions: [[], []] };
}

async function stop({ processes, database }: Cluster) {
  for (const process of processes) {
    process.child.kill('SIGTERM');
    await process.exited;
  }
  await database.drop();
}

async function call(on: ServerProcess, key: string, query: string, variables: Record<string, unknown>, token?: string) {
  const response = await fetch(on.url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...(token ? { 'flowledger-read-after': token } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  expect(response.status).toBeLessThan(500);
  return (await response.json()) as { data?: any; errors?: { extensions: { code: string } }[]; extensions?: { position?: string } };
}

/** Runs the steps, a few at a time, and checks every answer against the model as it comes. */
async function run({ processes, clients, writes, executions, database }: Cluster, steps: readonly Step[]): Promise<{ checked: number }> {
  const ids = (workspace: number) => [...new Set(writes[workspace]!.map((write) => write.id))];
  const latest = (workspace: number, id: string) =>
    writes[workspace]!.filter((write) => write.id === id).reduce<Write | undefined>(
      (last, write) => (!last || write.version > last.version ? write : last),
      undefined,
    );
  const reads: (() => void)[] = [];
  let checked = 0;

  /** What a read that began at `began` on `process`, presenting `token`, must see of one workspace. */
  const mustSee = (workspace: number, process: number, began: number, token: string | undefined) =>
    writes[workspace]!.filter((write) => write.ackedAt < began && (write.process === process || write.token === token));

  const step = async (s: Step) => {
    const client = clients[s.client]!;
    const on = processes[s.process]!;
    const workspace = client.workspace;
    const record = (data: { version: number }, id: string, name: string | null, deleted: boolean, position: string | undefined) => {
      expect(position).toBeDefined();
      writes[workspace]!.push({
        id,
        version: data.version,
        name,
        deleted,
        process: s.process,
        token: position!,
        ackedAt: performance.now(),
      });
      client.token = position;
    };
    if (s.kind === 'create') {
      if (client.role === 'viewer') return;
      const name = `w${Math.random().toString(36).slice(2, 8)}`;
      const answer = await call(on, client.key, CREATE, { name });
      record(answer.data.createWorkflow, answer.data.createWorkflow.id, name, false, answer.extensions?.position);
      return;
    }
    if (s.kind === 'list') {
      const began = performance.now();
      const token = s.withToken ? client.token : undefined;
      const answer = await call(on, client.key, LIST, {}, token);
      const shown = answer.data.workflows.edges.map((edge: any) => edge.node) as { id: string; name: string; version: number }[];
      const shownExecutions = new Set(answer.data.executions.edges.map((edge: any) => edge.node.id));
      reads.push(() => {
        // Everything shown is this workspace's, as one of its writes left it.
        for (const item of shown) {
          const write = writes[workspace]!.find((w) => w.id === item.id && w.version === item.version);
          expect(write, `workflow ${item.id} v${item.version} shown to workspace ${workspace}`).toBeDefined();
          expect(item.name).toBe(write!.name);
        }
        for (const id of shownExecutions) expect(executions[workspace]!.some((execution) => execution.id === id)).toBe(true);
        const seen = mustSee(workspace, s.process, began, token);
        for (const write of seen) {
          const item = shown.find((node) => node.id === write.id);
          if (seen.some((other) => other.id === write.id && other.deleted)) {
            expect(item, `deleted ${write.id} still listed`).toBeUndefined();
            continue;
          }
          // A delete under way as the read ran may or may not be in it.
          if (!item && writes[workspace]!.some((other) => other.id === write.id && other.deleted)) continue;
          expect(item, `created ${write.id} not listed`).toBeDefined();
          expect(item!.version).toBeGreaterThanOrEqual(write.version);
        }
        for (const execution of executions[workspace]!) {
          if (execution.ackedAt < began && (execution.process === s.process || execution.token === token))
            expect(shownExecutions.has(execution.id), `execution ${execution.id} not listed`).toBe(true);
        }
        checked += 1;
      });
      return;
    }
    const known = ids(workspace);
    if (known.length === 0) return;
    const id = known[s.pick % known.length]!;
    const last = latest(workspace, id)!;
    if (s.kind === 'get') {
      const began = performance.now();
      const answer = await call(on, client.key, GET, { id }, client.token);
      expect(answer.errors).toBeUndefined();
      const shown = answer.data.workflow as { version: number; name: string; status: string } | null;
      const token = client.token;
      reads.push(() => {
        const seen = mustSee(workspace, s.process, began, token).filter((write) => write.id === id);
        const newest = seen.reduce((top, write) => Math.max(top, write.version), 0);
        const deletedLater = writes[workspace]!.some((write) => write.id === id && write.deleted);
        if (seen.some((write) => write.deleted)) expect(shown?.status ?? 'DELETED', `workflow ${id} deleted before`).toBe('DELETED');
        else if (newest > 0 && !(shown === null && deletedLater))
          expect(shown?.version, `workflow ${id} as of a write seen`).toBeGreaterThanOrEqual(newest);
        if (shown)
          expect(writes[workspace]!.some((write) => write.id === id && write.version === shown.version && write.name === shown.name)).toBe(
            true,
          );
        checked += 1;
      });
      return;
    }
    if (client.role === 'viewer' || last.deleted) return;
    if (s.kind === 'execute') {
      const answer = await call(on, client.key, EXECUTE, { id });
      if (answer.errors) return;
      const position = answer.extensions?.position;
      executions[workspace]!.push({ id: answer.data.executeWorkflow.id, process: s.process, ackedAt: performance.now(), token: position! });
      client.token = position;
      return;
    }
    const name = s.kind === 'update' ? `${last.name}'` : null;
    const answer =
      s.kind === 'update'
        ? await call(on, client.key, UPDATE, { id, v: last.version, name })
        : await call(on, client.key, DELETE, { id, v: last.version });
    // Another client may have written first: a conflict is an answer too, and writes nothing;
    // so is NOT_FOUND, when what it wrote first was a delete.
    if (answer.errors) {
      const { code } = answer.errors[0]!.extensions;
      if (code === 'NOT_FOUND') {
        const { rows } = await database.db.pool.query('SELECT status FROM workflows WHERE id = $1', [id]);
        expect(rows[0]?.status).toBe('DELETED');
        return;
      }
      expect(code).toBe('VERSION_CONFLICT');
      return;
    }
    const data = s.kind === 'update' ? answer.data.updateWorkflow : answer.data.deleteWorkflow;
    record(data, id, name ?? last.name, s.kind === 'delete', answer.extensions?.position);
  };

  // Four at a time, so that reads and writes of different clients overlap.
  for (let i = 0; i < steps.length; i += 4) await Promise.all(steps.slice(i, i + 4).map(step));
  for (const check of reads) check();
  return { checked };
}

describe.each([true, false])('the response cache (on: %s) against a model of acknowledged writes', (cache) => {
  let running: Cluster;
  beforeAll(async () => {
    running = await cluster(cache);
  });
  afterAll(async () => running && stop(running));

  it('two processes, two workspaces, two roles: no stale read the promise forbids, and no leak', async () => {
    let checked = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(STEP, { minLength: 40, maxLength: 60 }), async (steps) => {
        checked += (await run(running, steps)).checked;
      }),
      { numRuns: 4, endOnFailure: true },
    );
    expect(checked).toBeGreaterThan(40);
  });
});
