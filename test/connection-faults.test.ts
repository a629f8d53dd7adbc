import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { createWorkflow, ended, execute } from './support/executions.ts';
import {
  expectAcknowledgedStored,
  expectNoGapNoRepeat,
  expectWholeStreams,
  poster,
  startSubscribers,
  startWriters,
  type Post,
} from './support/fault-load.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';

// The service reaches PostgreSQL through a proxy that cuts, stalls and slows its connections.
// Statements time out after 1.5 s here (client side 2 s later), connections after 1 s.
const STATEMENT_TIMEOUT_MS = 1500;
const CONNECT_TIMEOUT_MS = 1000;
/** The longest a request may take when its statements hang: its connect, then its statement, client side. */
const DEADLINE_MS = CONNECT_TIMEOUT_MS + STATEMENT_TIMEOUT_MS + 2000 + 1000;

let proxy: TcpProxy;
let app: TestApp;
let post: Post;
beforeAll(async () => {
  app = await startTestApp(
    { executionPollIntervalMs: 200, executionLeaseMs: 3000, livePollIntervalMs: 200 },
    {
      via: async (url) => {
        proxy = await startTcpProxy(url);
        return {
          url: proxy.url,
          options: { poolSize: 20, connectTimeoutMs: CONNECT_TIMEOUT_MS, statementTimeoutMs: STATEMENT_TIMEOUT_MS },
        };
      },
    },
  );
  post = poster(app.url, app.keys.editor);
});
afterAll(async () => {
  await app?.close();
  await proxy?.close();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const DONE = { startAt: 'Done', nodes: { Done: { type: 'succeed' } } };
const STEPS = {
  startAt: 'S0',
  nodes: Object.fromEntries(
    Array.from({ length: 5 }, (_, i) => [
      `S${i}`,
      { type: 'task', action: 'sleep', input: { ms: 200 }, ...(i === 4 ? { end: true } : { next: `S${i + 1}` }) },
    ]),
  ),
};
const gql: TestApp['gql'] = (...args) => app.gql(...args);

/** The pool has every connection back, idle: none was left checked out by a fault. */
async function expectPoolSettled() {
  const pool = app.services.db.pool;
  for (let waited = 0; pool.idleCount !== pool.totalCount || pool.waitingCount > 0; waited += 50) {
    if (waited > 5000) throw new Error(`pool not settled: ${pool.totalCount} total, ${pool.idleCount} idle, ${pool.waitingCount} waiting`);
    await sleep(50);
  }
  expect(pool.totalCount).toBeLessThanOrEqual(20);
}

async function workflows(count: number) {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 1) ids.push((await createWorkflow(gql, DONE)).id);
  return ids;
}

describe('connections through a proxy that misbehaves', () => {
  it('cut at random moments under writers, subscribers and executions: nothing partial, nothing lost, no gap, every execution ends', async () => {
    const targets = await workflows(20);
    const subscribers = await startSubscribers(app.url, app.keys.viewer, targets, 2);
    const writers = startWriters(post, targets, 100);
    const slow = await createWorkflow(gql, STEPS);
    const runs = [];
    for (let i = 0; i < 10; i += 1) runs.push(await execute(gql, slow.id));
    const before = proxy.accepted;
    const stopChaos = proxy.chaos(5);
    await sleep(6000);
    stopChaos();
    const cut = proxy.accepted - before;
    const calm = Date.now();
    while (writers.lastSuccess() < calm + 500) await sleep(50);
    await writers.stop();

    const slowestFailureMs = Math.max(0, ...writers.failures.map((failure) => failure.ms));
    console.log(JSON.stringify({ fault: 'cut at random', connections: cut, failures: writers.failures.length, slowestFailureMs }));
    expect(cut).toBeGreaterThan(10);
    expect(writers.failures.filter((failure) => failure.code !== 'UNAVAILABLE' && failure.code !== 'VERSION_CONFLICT')).toEqual([]);
    expect(slowestFailureMs).toBeLessThan(DEADLINE_MS);
    const finals = new Map<string, number>();
    for (const id of targets)
      finals.set(id, (await gql('query($id: ID!) { workflow(id: $id) { version } }', { id })).data!.workflow.version);
    await subscribers.until(finals);
    await subscribers.stop();
    expectNoGapNoRepeat(subscribers.subscribers, finals);
    for (const run of runs) expect((await ended(gql, run.id)).status).toBe('SUCCEEDED');
    await expectAcknowledgedStored(app.database.db.pool, writers.acked);
    await expectWholeStreams(app.database.db.pool);
    await expectPoolSettled();
  }, 120_000);

  it('stalled: every request ends within its deadline with UNAVAILABLE; once it moves, retries with the same keys write once', async () => {
    const [target] = await workflows(1);
    const execution = await execute(gql, (await createWorkflow(gql, STEPS)).id);
    const UPDATE =
      'mutation($id: ID!, $key: String!) { updateWorkflow(input: { id: $id, expectedVersion: 1, description: "stalled", idempotencyKey: $key }) { version } }';
    const keys = Array.from({ length: 5 }, (_, i) => `stalled-${i}`);
    proxy.stall();
    const answers = await Promise.all([
      ...keys.map((key) => post(UPDATE, { id: target, key })),
      ...Array.from({ length: 5 }, () =>
        post('query($id: ID!) { events(aggregateType: WORKFLOW, aggregateId: $id) { totalCount } }', { id: target }),
      ),
    ]);
    proxy.resume();
    const resumed = performance.now();
    console.log(
      JSON.stringify({
        fault: 'stalled',
        slowestAnswerMs: Math.round(Math.max(...answers.map((answer) => answer.ms))),
        deadlineMs: DEADLINE_MS,
      }),
    );
    for (const answer of answers) {
      expect(answer.ms).toBeLessThan(DEADLINE_MS);
      expect([answer.status, answer.errors?.[0]?.extensions.code]).toEqual([503, 'UNAVAILABLE']);
    }
    // A statement sent before the stall may still commit once it moves: a refused update was
    // told so (committed: unknown), and its retry with the same key is safe either way.
    const retries = [];
    for (const key of keys) retries.push(await post(UPDATE, { id: target, key }));
    console.log(JSON.stringify({ fault: 'stalled', firstWriteAfterResumeMs: Math.round(performance.now() - resumed) }));
    expect(retries.filter((retry) => retry.data?.updateWorkflow).map((retry) => retry.data)).toEqual([{ updateWorkflow: { version: 2 } }]);
    expect(retries.filter((retry) => retry.errors).map((retry) => retry.errors?.[0]?.extensions.code)).toEqual(
      Array(4).fill('VERSION_CONFLICT'),
    );
    expect((await ended(gql, execution.id)).status).toBe('SUCCEEDED');
    await expectWholeStreams(app.database.db.pool);
    await expectPoolSettled();
  }, 60_000);

  it('very slow: requests and executions still finish, slowly', async () => {
    const [target] = await workflows(1);
    proxy.slow(40);
    try {
      const began = performance.now();
      const updated = await post(
        'mutation($id: ID!) { updateWorkflow(input: { id: $id, expectedVersion: 1, description: "slow" }) { version } }',
        { id: target },
      );
      expect(updated.data).toEqual({ updateWorkflow: { version: 2 } });
      expect(performance.now() - began).toBeGreaterThan(80);
      const execution = await execute(gql, (await createWorkflow(gql, STEPS)).id);
      expect((await ended(gql, execution.id, 200)).status).toBe('SUCCEEDED');
    } finally {
      proxy.slow(0);
    }
    await expectPoolSettled();
  }, 60_000);

  it('an append whose commit is not answered, committed or not, is acknowledged once and stored once', async () => {
    const [target] = await workflows(1);
    const count = async () =>
      (await app.database.db.pool.query('SELECT count(*)::int AS n FROM events WHERE aggregate_id = $1', [target])).rows[0].n;
    // An update is one statement, its own transaction: the chunk that names it carries its commit.
    const isCommit = (chunk: Buffer) => chunk.includes('append-next+workflows\0');
    for (const [verdict, version] of [
      ['cut-after', 2],
      ['cut-before', 3],
    ] as const) {
      let cuts = 0;
      proxy.inspect((chunk) => (isCommit(chunk) && cuts++ === 0 ? verdict : 'forward'));
      const answer = await post(
        'mutation($id: ID!, $v: Int!, $d: String!) { updateWorkflow(input: { id: $id, expectedVersion: $v, description: $d }) { version } }',
        {
          id: target,
          v: version - 1,
          d: verdict,
        },
      );
      proxy.inspect(null);
      expect(cuts, verdict).toBeGreaterThan(0);
      expect(answer.data, verdict).toEqual({ updateWorkflow: { version } });
      expect(await count(), verdict).toBe(version);
    }
    await expectWholeStreams(app.database.db.pool);
    await expectPoolSettled();
  }, 60_000);
});
