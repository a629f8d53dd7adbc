import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createEmptyDatabase, type TestDatabase } from './support/database.ts';
import { definition } from './support/definitions.ts';
import { freePort } from './support/ports.ts';
import { startProcess } from './support/processes.ts';
import { wsClient } from './support/ws.ts';

const databases: TestDatabase[] = [];
afterAll(() => Promise.all(databases.map((database) => database.drop())));

const servingPids = (output: string) => [...output.matchAll(/"message":"serving GraphQL".*?"pid":(\d+)/g)].map((match) => Number(match[1]));

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 50) {
    if (waited > 30_000) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('CLUSTER_WORKERS', () => {
  it('serves one port from several processes, live events crossing them, and replaces one that dies', async () => {
    const database = await createEmptyDatabase();
    databases.push(database);
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/graphql`;
    const started = await startProcess(
      process.execPath,
      ['src/main.ts'],
      { DATABASE_URL: database.url, HOST: '127.0.0.1', PORT: String(port), CLUSTER_WORKERS: '2' },
      /flk_[\w-]{43}\n/,
    );
    const key = /flk_[\w-]{43}/.exec(started.output())![0];
    await until(() => servingPids(started.output()).length === 2, 'two server processes');
    const gql = async (query: string, variables: Record<string, unknown> = {}) => {
      // A connection per request, so that the requests spread over the processes.
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, connection: 'close' },
        body: JSON.stringify({ query, variables }),
      });
      return (await response.json()) as { data?: any; errors?: any[] };
    };

    const client = wsClient(url, key);
    const live = client.iterate({ query: 'subscription { events(types: ["WorkflowCreated"]) { caughtUp event { aggregateId } } }' });
    try {
      expect((await live.next()).value!.data!.events.caughtUp).toBe(true);
      const created: string[] = [];
      for (let i = 0; i < 10; i += 1) {
        const { data, errors } = await gql('mutation($d: JSON!) { createWorkflow(input: { name: "spread", definition: $d }) { id } }', {
          d: definition(),
        });
        expect(errors).toBeUndefined();
        created.push(data!.createWorkflow.id);
      }
      const received: string[] = [];
      while (received.length < created.length) received.push((await live.next()).value!.data!.events.event.aggregateId);
      expect(received).toEqual(created);
    } finally {
      await live.return!();
      await client.dispose();
    }

    const [first] = servingPids(started.output());
    process.kill(first!, 'SIGKILL');
    await until(() => servingPids(started.output()).length === 3, 'a replacement process');
    expect(started.output()).toMatch(/a server process died; starting another/);
    expect((await gql('{ me { role } }')).data!.me.role).toBe('ADMIN');

    started.child.kill('SIGTERM');
    expect(await started.exited).toBe(0);
    for (const pid of servingPids(started.output())) expect(() => process.kill(pid, 0)).toThrow();
  });

  it('answers /metrics for the whole cluster from any process, each series under a worker slot a replacement keeps', async () => {
    const database = await createEmptyDatabase();
    databases.push(database);
    const port = await freePort();
    const origin = `http://127.0.0.1:${port}`;
    const started = await startProcess(
      process.execPath,
      ['src/main.ts'],
      { DATABASE_URL: database.url, HOST: '127.0.0.1', PORT: String(port), CLUSTER_WORKERS: '2' },
      /flk_[\w-]{43}\n/,
    );
    try {
      const key = /flk_[\w-]{43}/.exec(started.output())![0];
      await until(() => servingPids(started.output()).length === 2, 'two server processes');
      const close = { connection: 'close' };
      const ask = () =>
        fetch(`${origin}/graphql`, {
          method: 'POST',
          headers: { ...close, 'content-type': 'application/json', authorization: `Bearer ${key}` },
          body: JSON.stringify({ query: '{ me { role } }' }),
        }).then((response) => response.json());
      // A round of collection answers the scrapes of the next second: wait it out for figures of now.
      const fresh = () => new Promise((resolve) => setTimeout(resolve, 1100));
      // Requests answered, by worker slot, as one scrape of any process shows them.
      const scrape = async () => {
        const text = await (await fetch(`${origin}/metrics`, { headers: close })).text();
        const counts = new Map<string, number>();
        for (const [, labels, value] of text.matchAll(/^flowledger_graphql_request_duration_seconds_count\{([^}]*)\} (\S+)$/gm)) {
          if (!labels!.includes('operation="Query.me"')) continue;
          const worker = /worker="(\d+)"/.exec(labels!)![1]!;
          counts.set(worker, (counts.get(worker) ?? 0) + Number(value));
        }
        return { text, counts, total: [...counts.values()].reduce((sum, count) => sum + count, 0) };
      };
      for (let i = 0; i < 20; i += 1) await ask();
      // Scrapes at once, landing on either process (a connection each), all show both: the same
      // sums, and figures whole (collecting twice at once would break the event loop's: NaN).
      const scrapes = await Promise.all(Array.from({ length: 6 }, scrape));
      for (const { text, counts, total } of scrapes) {
        expect(total).toBe(20);
        expect([...counts.keys()].sort()).toEqual(['1', '2']);
        for (const count of counts.values()) expect(count).toBeGreaterThan(0);
        expect(text).toMatch(/^flowledger_cluster_workers\{state="expected"\} 2$/m);
        expect(text).toMatch(/^flowledger_cluster_workers\{state="reporting"\} 2$/m);
        expect(text).toMatch(/^flowledger_cluster_workers\{state="silent"\} 0$/m);
        const samples = text.split('\n').filter((line) => line.startsWith('flowledger_') && !line.startsWith('flowledger_cluster_workers'));
        expect(samples.length).toBeGreaterThan(100);
        // Every series is one process's, under its slot; the pid is build_info's alone; one HELP line per metric.
        for (const line of samples) {
          expect(line).toMatch(/^[^ ]*worker="[12]"/);
          expect(line).toMatch(/ -?\d+(\.\d+)?(e[-+]?\d+)?$/);
          if (!line.startsWith('flowledger_build_info')) expect(line).not.toContain('pid=');
        }
        expect(text.match(/^# HELP flowledger_graphql_request_duration_seconds /gm)).toHaveLength(1);
        expect(text).toMatch(/^flowledger_nodejs_eventloop_lag_p99_seconds\{worker="2"\} \d/m);
      }

      await fresh();

      // A process that cannot answer (stopped here) is left out after 2 s, and the scrape says so.
      const stopped = servingPids(started.output())[1]!;
      process.kill(stopped, 'SIGSTOP');
      try {
        let text = '';
        // The stopped process may be handed this scrape's connection: try again, on another.
        for (let attempt = 0; !text && attempt < 6; attempt += 1)
          text = await fetch(`${origin}/metrics`, { headers: close, signal: AbortSignal.timeout(4000) }).then(
            (response) => response.text(),
            () => '',
          );
        expect(text).toMatch(/^flowledger_cluster_workers\{state="silent"\} 1$/m);
        expect(text).not.toContain(`pid="${stopped}"`);
      } finally {
        process.kill(stopped, 'SIGCONT');
      }

      await fresh();
      const before = (await scrape()).counts;
      const pids = servingPids(started.output());
      const slotOf = new Map<number, string>();
      for (const [, labels] of (await scrape()).text.matchAll(/^flowledger_build_info\{([^}]*)\} 1$/gm))
        slotOf.set(Number(/pid="(\d+)"/.exec(labels!)![1]), /worker="(\d+)"/.exec(labels!)![1]!);
      const killed = pids[0]!;
      const slot = slotOf.get(killed)!;
      process.kill(killed, 'SIGKILL');
      await until(() => servingPids(started.output()).length === 3, 'a replacement process');
      await fresh();
      const after = await scrape();
      // The replacement counts from nothing under the same slot (a counter reset, to Prometheus); the survivor keeps its count.
      const other = slot === '1' ? '2' : '1';
      expect(after.counts).toEqual(new Map([[other, before.get(other)]]));
      const replacement = servingPids(started.output())[2]!;
      expect(after.text).toMatch(new RegExp(`^flowledger_build_info\\{(?=.*pid="${replacement}")(?=.*worker="${slot}").*\\} 1$`, 'm'));
      await ask();
      await ask();
      await fresh();
      expect((await scrape()).total).toBe(before.get(other)! + 2);
    } finally {
      started.child.kill('SIGTERM');
      expect(await started.exited).toBe(0);
    }
  });

  it('stops, exiting 1, when its processes keep dying as they start', async () => {
    const database = await createEmptyDatabase();
    databases.push(database);
    const started = await startProcess(
      process.execPath,
      ['src/main.ts'],
      { DATABASE_URL: database.url, HOST: '127.0.0.1', PORT: String(await freePort()), CLUSTER_WORKERS: '2' },
      /flk_[\w-]{43}\n/,
    );
    await until(() => servingPids(started.output()).length === 2, 'two server processes');
    // New connections are refused from now on: every replacement fails while starting.
    const name = new URL(database.url).pathname.slice(1);
    const server = new pg.Client({ connectionString: database.url.replace(`/${name}`, '/postgres') });
    await server.connect();
    await server.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    process.kill(servingPids(started.output())[0]!, 'SIGKILL');
    expect(await started.exited).toBe(1);
    const waits = [...started.output().matchAll(/"delayMs":(\d+)/g)].map((match) => Number(match[1]));
    // Each death within 30 s of its start doubles the wait; the sixth in a row stops the cluster.
    expect(waits).toEqual([200, 400, 800, 1600, 3200]);
    expect(started.output()).toMatch(/keep dying at start; stopping the cluster/);
    await server.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    await server.end();
  }, 60_000);
});
