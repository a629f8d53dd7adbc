import { afterAll, describe, expect, it } from 'vitest';
import { startServices, type Services } from '../src/runtime/services.ts';
import { openDatabase, type Database } from '../src/store/database.ts';
import { startTestApp, testConfig, type TestApp } from './support/app.ts';
import { createWorkflow, ended, execute } from './support/executions.ts';
import { startHttpTarget } from './support/http-target.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';

// Two processes' engines share one database, each through a proxy the test stalls at random
// for longer than a lease: the stalled one's leases run out while its steps are in flight, and
// the other takes its executions over. The target sees whether any step ever ran on both at once.
const LEASE_MS = 1000;
const CONFIG = { executionLeaseMs: LEASE_MS, executionPollIntervalMs: 50, httpAllowedHosts: ['127.0.0.1'] };
const POOL = { poolSize: 10, connectTimeoutMs: 1000, statementTimeoutMs: 1500 };
const EXECUTIONS = 40;
const STEPS = 6;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const between = (low: number, high: number) => low + Math.floor(Math.random() * (high - low));

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

describe('two processes whose database connections stall for longer than a lease', () => {
  it('never run one step of an execution at the same time, and every execution ends once', async () => {
    const target = await startHttpTarget();
    cleanups.push(() => target.close());
    target.reply(() => ({ delayMs: between(600, 1800) }));
    const proxies: TcpProxy[] = [];
    const app: TestApp = await startTestApp(CONFIG, {
      via: async (url) => {
        proxies.push(await startTcpProxy(url));
        return { url: proxies[0]!.url, options: POOL };
      },
    });
    cleanups.push(() => app.close());
    proxies.push(await startTcpProxy(app.database.url));
    cleanups.push(() => Promise.all(proxies.map((proxy) => proxy.close())));
    const other: Database = openDatabase(proxies[1]!.url, POOL);
    const otherServices: Services = await startServices(testConfig(CONFIG), other);
    cleanups.push(async () => {
      await otherServices.stop();
      await other.close();
    });

    const gql: TestApp['gql'] = (...args) => app.gql(...args);
    const workflow = await createWorkflow(gql, {
      startAt: 'S0',
      nodes: Object.fromEntries(
        Array.from({ length: STEPS }, (_, i) => [
          `S${i}`,
          {
            type: 'task',
            action: 'http.request',
            input: { url: `${target.url}/race`, method: 'POST' },
            resultPath: `$.s${i}`,
            ...(i === STEPS - 1 ? { end: true } : { next: `S${i + 1}` }),
          },
        ]),
      ),
    });
    const ids: string[] = [];
    for (let i = 0; i < EXECUTIONS; i += 1) ids.push((await execute(gql, workflow.id)).id);

    // Stalls of 1.2 to 2.5 leases, on either process, until every execution has ended.
    const unfinished = async () =>
      (await app.database.db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM executions WHERE ended_at IS NULL')).rows[0]!.n;
    let stalls = 0;
    for (const began = Date.now(); Date.now() - began < 60_000 && (await unfinished()) > 0; stalls += 1) {
      const proxy = proxies[between(0, 2)]!;
      proxy.stall();
      await sleep(between(LEASE_MS * 1.2, LEASE_MS * 2.5));
      proxy.resume();
      await sleep(between(200, 800));
    }
    for (const id of ids) expect((await ended(gql, id, 100)).status).toBe('SUCCEEDED');

    const { rows } = await app.database.db.pool.query<{ owners: number }>(
      `SELECT count(DISTINCT metadata->>'requestId')::int AS owners FROM events WHERE aggregate_type = 'Execution' AND event_type = 'StepStarted' GROUP BY aggregate_id`,
    );
    const takenOver = rows.filter((row) => row.owners > 1).length;
    const calls = [...target.byKey.values()];
    console.log(
      `${stalls} stalls; ${takenOver} of ${EXECUTIONS} executions ran on both processes; ${calls.reduce((sum, n) => sum + n, 0)} calls for ${target.byKey.size} steps; at most ${target.maxInFlightPerKey} call of a step in flight at once`,
    );
    expect(takenOver).toBeGreaterThan(0);
    expect(calls.some((n) => n > 1)).toBe(true);
    expect(target.byKey.size).toBe(EXECUTIONS * STEPS);
    expect(target.maxInFlightPerKey).toBe(1);
  }, 120_000);
});
