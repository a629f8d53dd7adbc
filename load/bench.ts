import { cpus } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import autocannon from 'autocannon';
import pg from 'pg';
import { cursors } from '../src/graphql/connections.ts';
import { Seeder } from './support/seed.ts';
import { startBenchServer, type BenchServer } from './support/server.ts';
import { ms, percentile } from './support/stats.ts';

// npm run bench: the service next to the ceilings of the parts under it (issue 6).
// A server on a fresh embedded PostgreSQL, seeded in three stages (10^4, 10^5, 10^6 events);
// at each stage the growth reads; at the end the read mix (the old system's user), its two
// ceilings, concurrent appends and replays of a long aggregate. Writes its section of
// docs/benchmarks.md. Knobs: SECONDS (per load phase, default 20), CONNECTIONS (200),
// WRITERS (50), CLUSTER_WORKERS (server processes, default 1), GROWTH=false (seed the first
// stage only: for profiling the load phases).
const SECONDS = Number(process.env.SECONDS ?? 20);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 200);
const WRITERS = Number(process.env.WRITERS ?? 50);
const WORKERS = process.env.CLUSTER_WORKERS ?? '1';
const GROWTH = process.env.GROWTH !== 'false';
const DOCS = new URL('../docs/benchmarks.md', import.meta.url);
const DEFINITION = { startAt: 'Done', nodes: { Done: { type: 'succeed' } } };

const LIST = 'query { workflows(first: 20) { edges { node { id name version updatedAt } } } }';
const GET = 'query($id: ID!) { workflow(id: $id) { id name description version definition } }';
const CREATE = 'mutation($d: JSON!, $n: String!) { createWorkflow(input: { name: $n, definition: $d }) { id version } }';
const UPDATE = 'mutation($id: ID!, $v: Int!, $d: String!) { updateWorkflow(input: { id: $id, expectedVersion: $v, description: $d }) { version } }';

interface LoadResult {
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly requests: number;
  /** Of one core: the server process's CPU over the phase. */
  readonly serverCpuPercent: number;
  readonly serverRssMiB: number;
}

const body = (query: string, variables: Record<string, unknown> = {}) => JSON.stringify({ query, variables });
const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;

/** autocannon at CONNECTIONS connections for SECONDS, cycling through `requests`; GraphQL errors count as errors. */
async function load(server: BenchServer, requests: autocannon.Request[]): Promise<LoadResult> {
  const latencies: number[] = [];
  const cpu = server.cpuSeconds();
  const result = await new Promise<autocannon.Result>((done, fail) => {
    const instance = autocannon(
      {
        url: server.url,
        connections: CONNECTIONS,
        duration: SECONDS,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${server.key}` },
        requests: requests.map((request) => ({ method: 'POST', ...request, verifyBody: (text: string) => !text.includes('"errors"') })),
      },
      (error, finished) => (error ? fail(error) : done(finished)),
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => latencies.push(responseTime));
  });
  return {
    requestsPerSecond: Math.round(result.requests.total / SECONDS),
    p50Ms: ms(percentile(latencies, 50)),
    p95Ms: ms(percentile(latencies, 95)),
    p99Ms: ms(percentile(latencies, 99)),
    errors: result.errors + result.non2xx + result.mismatches + result.timeouts,
    requests: result.requests.total,
    serverCpuPercent: Math.round(((server.cpuSeconds() - cpu) / SECONDS) * 100),
    serverRssMiB: Math.round(server.rssMiB()),
  };
}

/** The same work straight on a `pg` pool at the same concurrency: what the database alone does. */
async function databaseCeiling(databaseUrl: string, workspaceId: string, ids: readonly string[]): Promise<{ requestsPerSecond: number; p99Ms: number }> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 20 });
  const columns = 'id, workspace_id, name, description, definition, status, version, created_at, updated_at, created_by';
  const statements = [
    () => pool.query(`SELECT ${columns} FROM workflows WHERE workspace_id = $1 AND status = 'ACTIVE' ORDER BY id DESC LIMIT 21`, [workspaceId]),
    () => pool.query(`SELECT ${columns} FROM workflows WHERE id = $1 AND workspace_id = $2 AND status = 'ACTIVE'`, [pick(ids), workspaceId]),
  ];
  // The read mix's weights: three lists, two gets (its writes are measured by the append phase).
  const cycle = [0, 0, 0, 1, 1];
  const latencies: number[] = [];
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async (_, loop) => {
      for (let i = loop; Date.now() < end; i += 1) {
        const started = performance.now();
        await statements[cycle[i % cycle.length]!]!();
        latencies.push(performance.now() - started);
      }
    }),
  );
  await pool.end();
  return { requestsPerSecond: Math.round(latencies.length / SECONDS), p99Ms: ms(percentile(latencies, 99)) };
}

/** WRITERS clients updating workflows with expected versions; a conflict is re-read and retried, as a client would. */
async function appends(server: BenchServer, ids: readonly string[], seeder: Seeder) {
  const targets = ids.slice(0, WRITERS * 4);
  const versions = new Map<string, number>();
  for (const row of (await seeder.pool.query<{ id: string; version: number }>('SELECT id, version FROM workflows WHERE id = ANY($1)', [targets])).rows) {
    versions.set(row.id, row.version);
  }
  const before = (await seeder.pool.query<{ n: string }>('SELECT count(*) AS n FROM events WHERE aggregate_id = ANY($1)', [targets])).rows[0]!.n;
  const latencies: number[] = [];
  let committed = 0;
  let conflicts = 0;
  let errors = 0;
  const cpu = server.cpuSeconds();
  const end = Date.now() + SECONDS * 1000;
  await Promise.all(
    Array.from({ length: WRITERS }, async () => {
      let id = pick(targets);
      while (Date.now() < end) {
        const started = performance.now();
        const response = await server.post(body(UPDATE, { id, v: versions.get(id), d: `bench ${Math.random()}` }));
        const result = (await response.json()) as { data?: { updateWorkflow: { version: number } }; errors?: { extensions: { code: string; actualVersion?: number } }[] };
        latencies.push(performance.now() - started);
        const error = result.errors?.[0]?.extensions;
        if (error?.code === 'VERSION_CONFLICT') {
          // As a client would: take the version the error names, and try the same update again.
          conflicts += 1;
          versions.set(id, error.actualVersion!);
          continue;
        }
        if (error || !result.data) errors += 1;
        else {
          committed += 1;
          versions.set(id, Math.max(versions.get(id)!, result.data.updateWorkflow.version));
        }
        id = pick(targets);
      }
    }),
  );
  const seconds = SECONDS;
  // Every committed update is one event, and every stream's version counts its events.
  const { rows } = await seeder.pool.query<{ added: string; inconsistent: string }>(
    `SELECT (SELECT count(*) FROM events WHERE aggregate_id = ANY($1)) - $2::bigint AS added,
            (SELECT count(*) FROM streams s WHERE s.aggregate_id = ANY($1)
               AND s.version <> (SELECT count(*) FROM events e WHERE e.aggregate_id = s.aggregate_id)) AS inconsistent`,
    [targets, before],
  );
  return {
    writers: WRITERS,
    committedPerSecond: Math.round(committed / seconds),
    p50Ms: ms(percentile(latencies, 50)),
    p99Ms: ms(percentile(latencies, 99)),
    conflictsRetried: conflicts,
    errors,
    eventsLostOrDuplicated: Math.abs(Number(rows[0]!.added) - committed),
    streamsInconsistent: Number(rows[0]!.inconsistent),
    serverCpuPercent: Math.round(((server.cpuSeconds() - cpu) / seconds) * 100),
  };
}

/** `count` requests, `concurrency` at a time: p50 and p99 of one GraphQL read. */
async function sampleLatency(server: BenchServer, count: number, concurrency: number, request: () => string) {
  const latencies: number[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        next += 1;
        const started = performance.now();
        const response = await server.post(request());
        const text = await response.text();
        if (text.includes('"errors"')) throw new Error(`a sampled read failed: ${text.slice(0, 300)}`);
        latencies.push(performance.now() - started);
      }
    }),
  );
  return { p50Ms: ms(percentile(latencies, 50)), p99Ms: ms(percentile(latencies, 99)) };
}

/** The reads whose growth with the log matters: one aggregate's events, the audit log, the global log. */
async function growthReads(server: BenchServer, ids: readonly string[], cursors: readonly string[]) {
  return {
    events: await sampleLatency(server, 400, 8, () =>
      body('query($id: ID!) { events(aggregateType: WORKFLOW, aggregateId: $id, first: 20) { edges { cursor } } }', { id: pick(ids) }),
    ),
    auditLog: await sampleLatency(server, 400, 8, () => body('{ auditLog(first: 20) { edges { cursor } } }')),
    eventLog: await sampleLatency(server, 400, 8, () =>
      body('query($after: String) { eventLog(first: 20, after: $after) { edges { cursor } } }', { after: pick(cursors) }),
    ),
  };
}

/** Cursors of 2,000 events picked at random over the whole log, for eventLog reads that start anywhere. */
async function logCursors(seeder: Seeder): Promise<string[]> {
  const { rows } = await seeder.pool.query<{ xid: string; position: string }>(
    'SELECT transaction_id::text AS xid, global_position AS position FROM events ORDER BY random() LIMIT 2000',
  );
  return rows.map((row) => cursors.log.encode({ transactionId: BigInt(row.xid), globalPosition: BigInt(row.position) }));
}

const server = await startBenchServer({ CLUSTER_WORKERS: WORKERS });
const results: Record<string, unknown> = {};
try {
  const { me } = await server.gql('{ me { id workspaceId } }');
  const seeder = new Seeder(server.databaseUrl, me.workspaceId, me.id);
  const started = Date.now();
  const growth: Record<string, unknown> = {};

  await seeder.createWorkflows(10_000, DEFINITION);
  await seeder.analyze();
  const ids = (await seeder.pool.query<{ id: string }>('SELECT id FROM workflows')).rows.map((row) => row.id);
  growth[await seeder.count()] = await growthReads(server, ids, await logCursors(seeder));

  const [long, ...others] = ids;
  await seeder.updateWorkflows(10_000 - 1, [long!]);
  if (GROWTH) {
    await seeder.updateWorkflows(9, others);
    await seeder.analyze();
    growth[await seeder.count()] = await growthReads(server, ids, await logCursors(seeder));
    await seeder.updateWorkflows(90, others);
    await seeder.analyze();
    growth[await seeder.count()] = await growthReads(server, ids, await logCursors(seeder));
  }
  results.seed = { events: await seeder.count(), workflows: ids.length, seconds: Math.round((Date.now() - started) / 1000) };
  results.growth = growth;

  results.readMix = await load(server, [
    { body: body(LIST) },
    { body: body(LIST) },
    { body: body(LIST) },
    { setupRequest: (request) => ({ ...request, body: body(GET, { id: pick(ids) }) }) },
    { setupRequest: (request) => ({ ...request, body: body(GET, { id: pick(ids) }) }) },
    { setupRequest: (request) => ({ ...request, body: body(CREATE, { d: DEFINITION, n: `bench ${Math.random()}` }) }) },
  ]);
  results.frameworkCeiling = await load(server, [{ body: body('{ __typename }') }]);
  results.databaseCeiling = await databaseCeiling(server.databaseUrl, me.workspaceId, ids);
  results.appends = await appends(server, ids.slice(1), seeder);
  // The first replay of the long aggregate reads all of it (and leaves snapshots); the rest start from those.
  const replay = (v: number) => body('query($id: ID!, $v: Int) { replay(aggregateType: WORKFLOW, aggregateId: $id, toVersion: $v) { version } }', { id: long, v });
  results.replay = {
    firstOfTheAggregate: await sampleLatency(server, 1, 1, () => replay(10_000)),
    anyVersionAfter: await sampleLatency(server, 200, 4, () => replay(1 + Math.floor(Math.random() * 10_000))),
  };
  await seeder.close();
} finally {
  await server.stop();
}

const machine = { cores: cpus().length, model: cpus()[0]?.model ?? 'unknown', node: process.version, clusterWorkers: WORKERS, seconds: SECONDS, connections: CONNECTIONS };
const report = { date: new Date().toISOString(), machine, ...results };
console.log(JSON.stringify(report, null, 2));

// The generated section of docs/benchmarks.md, between its markers: the rest is written by hand.
const START = '<!-- npm run bench: start -->';
const END = '<!-- npm run bench: end -->';
const section = `${START}\nLast run: \`npm run bench\` (${report.date}, ${machine.cores} cores, ${machine.model}, Node ${machine.node}, CLUSTER_WORKERS=${WORKERS}, ${SECONDS} s per load phase, ${CONNECTIONS} connections).\n\n\`\`\`json\n${JSON.stringify(report, null, 2)}\n\`\`\`\n${END}`;
const docs = readFileSync(DOCS, 'utf8');
writeFileSync(DOCS, docs.includes(START) ? docs.replace(new RegExp(`${START}[\\s\\S]*${END}`), section) : `${docs.trimEnd()}\n\n## The whole service next to its ceilings (\`npm run bench\`)\n\n${section}\n`);
