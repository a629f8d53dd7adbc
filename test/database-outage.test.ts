import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rebuildReadModels } from '../src/app/projections.ts';
import { openDatabase, type Database } from '../src/store/database.ts';
import { PostgresEventStore } from '../src/store/events/postgres-event-store.ts';
import {
  expectAcknowledgedStored,
  expectNoGapNoRepeat,
  expectWholeStreams,
  poster,
  startSubscribers,
  startWriters,
  type Post,
} from './support/fault-load.ts';
import { startPostgresServer, type Outage, type PostgresServer } from './support/postgres-server.ts';
import { startServerProcess, type ServerProcess } from './support/processes.ts';

// PostgreSQL taken away under load, then brought back: 50 writers, 200 live subscribers and 50
// running executions against a server process. Each case is one way down and one time away;
// FAULT_CASES=all runs the four (fast and kill, 5 s and 30 s), by default two of them.
const ALL: [Outage, number][] = [
  ['fast', 5000],
  ['kill', 5000],
  ['fast', 30_000],
  ['kill', 30_000],
];
const CASES = process.env.FAULT_CASES === 'all' ? ALL : [ALL[0]!, ALL[3]!];

const WRITERS = 50;
const SUBSCRIBERS_PER_WORKFLOW = 4;
const EXECUTIONS = 50;
/** Ten 400 ms sleeps in a row: under way when the database goes. */
const SLOW = {
  startAt: 'S0',
  nodes: Object.fromEntries(
    Array.from({ length: 10 }, (_, i) => [
      `S${i}`,
      { type: 'task', action: 'sleep', input: { ms: 400 }, ...(i === 9 ? { end: true } : { next: `S${i + 1}` }) },
    ]),
  ),
};

let postgres: PostgresServer;
let adminKey: string;
let db: Database;
beforeAll(async () => {
  postgres = await startPostgresServer();
  db = openDatabase(postgres.url, { poolSize: 2 });
}, 60_000);
afterAll(async () => {
  await db?.close();
  await postgres?.remove();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function startServer(): Promise<ServerProcess> {
  const env = { DATABASE_URL: postgres.url, MAX_SUBSCRIPTIONS_PER_KEY: '1000' };
  const server = await startServerProcess(env, { firstStart: adminKey === undefined });
  adminKey ??= server.adminKey!;
  return server;
}

describe.each(CASES)('PostgreSQL stopped (%s) for %i ms under load', (how, downMs) => {
  it('the server stays up and fails fast with UNAVAILABLE, recovers by itself, and loses nothing', async () => {
    const server = await startServer();
    const post: Post = poster(server.url, adminKey);
    const made = async (definition: unknown) =>
      (await post('mutation($d: JSON!) { createWorkflow(input: { name: "fault", definition: $d }) { id } }', { d: definition })).data
        .createWorkflow.id as string;
    const targets: string[] = [];
    for (let i = 0; i < WRITERS; i += 1) targets.push(await made({ startAt: 'Done', nodes: { Done: { type: 'succeed' } } }));
    const slow = await made(SLOW);
    const subscribers = await startSubscribers(server.url, adminKey, targets, SUBSCRIBERS_PER_WORKFLOW);
    const writers = startWriters(post, targets);
    const executions: string[] = [];
    for (let i = 0; i < EXECUTIONS; i += 1)
      executions.push(
        (await post('mutation($w: ID!) { executeWorkflow(input: { workflowId: $w }) { id } }', { w: slow })).data.executeWorkflow.id,
      );
    await sleep(1500);

    await postgres.takeDown(how);
    const down = Date.now();
    const probes: { health: number; ready: number }[] = [];
    while (Date.now() - down < downMs) {
      const status = (path: string) =>
        fetch(server.url.replace('/graphql', path)).then(
          (r) => r.status,
          () => 0,
        );
      probes.push({ health: await status('/healthz'), ready: await status('/readyz') });
      await sleep(500);
    }
    const during = writers.failures.filter((failure) => failure.at > down + 500);
    await postgres.bringUp();
    const up = Date.now();
    while (writers.lastSuccess() < up) {
      if (Date.now() - up > 30_000) throw new Error('no write succeeded within 30 s of the database coming back');
      await sleep(50);
    }
    const recoveryMs = writers.lastSuccess() - up;
    await sleep(2000);
    await writers.stop();

    // The server never went down, and said what was wrong, fast.
    expect(server.child.exitCode).toBeNull();
    expect(new Set(probes.map((probe) => probe.health))).toEqual(new Set([200]));
    expect(new Set(probes.slice(1).map((probe) => probe.ready))).toEqual(new Set([503]));
    expect(during.length).toBeGreaterThan(WRITERS);
    expect(new Set(during.map((failure) => `${failure.status} ${failure.code}`))).toEqual(new Set(['503 UNAVAILABLE']));
    const slowest = Math.max(...during.map((failure) => failure.ms));
    expect(slowest).toBeLessThan(6000);

    // Every subscriber has every write once, in order, across the outage; every execution ends.
    const finals = new Map<string, number>();
    for (const id of targets)
      finals.set(id, (await post('query($id: ID!) { workflow(id: $id) { version } }', { id })).data.workflow.version);
    await subscribers.until(finals);
    await subscribers.stop();
    expectNoGapNoRepeat(subscribers.subscribers, finals);
    const statuses = async () =>
      (
        await post('query($w: ID!) { executions(workflowId: $w, first: 100) { edges { node { status } } } }', { w: slow })
      ).data.executions.edges.map((edge: any) => edge.node.status);
    for (const deadline = Date.now() + 90_000; (await statuses()).some((status: string) => status === 'PENDING' || status === 'RUNNING');) {
      if (Date.now() > deadline) throw new Error('executions did not end within 90 s');
      await sleep(500);
    }
    expect(new Set(await statuses())).toEqual(new Set(['SUCCEEDED']));
    server.child.kill('SIGTERM');
    await server.exited;

    // Nothing lost, nothing half-written, and the read models are what the events make.
    await expectAcknowledgedStored(db.pool, writers.acked);
    await expectWholeStreams(db.pool);
    const tables = async () => ({
      workflows: (await db.pool.query('SELECT * FROM workflows ORDER BY id')).rows,
      executions: (await db.pool.query('SELECT * FROM executions ORDER BY id')).rows,
    });
    const live = await tables();
    await rebuildReadModels(db, new PostgresEventStore(db));
    expect(await tables()).toEqual(live);
    console.log(
      JSON.stringify({
        how,
        downMs,
        recoveryMs,
        slowestFailureMs: Math.round(slowest),
        failuresWhileDown: during.length,
        resumes: subscribers.subscribers.reduce((sum, s) => sum + s.resumed, 0),
      }),
    );
  }, 240_000);
});
