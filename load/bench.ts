import { cpus } from 'node:os';
import { readFileSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { projectWorkflow } from '../src/app/workflow-projection.ts';
import { fold } from '../src/domain/aggregate.ts';
import { evolve, workflowAggregate, type Workflow } from '../src/domain/workflows/workflow.ts';
import { VersionConflictError } from '../src/domain/errors.ts';
import { openDatabase } from '../src/store/database.ts';
import { PostgresEventStore } from '../src/store/events/postgres-event-store.ts';
import { cursors } from '../src/graphql/connections.ts';
import { appendLoad } from './append.ts';
import { readMix, restMix } from './read-mix.ts';
import { replayLoad } from './replay.ts';
import { httpLoad } from './support/http-load.ts';
import { loopFor } from './support/loops.ts';
import { DEFINITION } from './support/operations.ts';
import { Seeder } from './support/seed.ts';
import { startBenchServer, type BenchServer } from './support/server.ts';
import { sample } from './support/sample.ts';
import { ms, percentile } from './support/stats.ts';
import { body, pick } from './support/target.ts';

// npm run bench: the service next to the ceilings of the parts under it.
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

/** A load phase, with the server's CPU (as a share of one core, over the phase's own time) and memory. */
async function measured<Result extends object>(server: BenchServer, run: () => Promise<Result>) {
  const cpu = server.cpuSeconds();
  const began = performance.now();
  const result = await run();
  const seconds = (performance.now() - began) / 1000;
  return {
    ...result,
    serverCpuPercent: Math.round(((server.cpuSeconds() - cpu) / seconds) * 100),
    serverRssMiB: Math.round(server.rssMiB()),
  };
}
const phase = [{ connections: CONNECTIONS, seconds: SECONDS }];

/** The same work straight on a `pg` pool at the same concurrency: what the database alone does. */
async function databaseCeiling(
  databaseUrl: string,
  workspaceId: string,
  ids: readonly string[],
): Promise<{ requestsPerSecond: number; p99Ms: number }> {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 20 });
  const columns = 'id, workspace_id, name, description, definition, status, version, created_at, updated_at, created_by';
  const statements = [
    () =>
      pool.query(`SELECT ${columns} FROM workflows WHERE workspace_id = $1 AND status = 'ACTIVE' ORDER BY id DESC LIMIT 21`, [workspaceId]),
    () =>
      pool.query(`SELECT ${columns} FROM workflows WHERE id = $1 AND workspace_id = $2 AND status = 'ACTIVE'`, [pick(ids), workspaceId]),
  ];
  // The read mix's weights: three lists, two gets (its writes are measured by the append phase).
  const cycle = [0, 0, 0, 1, 1];
  const latencies: number[] = [];
  const elapsed = await loopFor(CONNECTIONS, SECONDS, (loop) => {
    let i = loop;
    return async () => {
      const started = performance.now();
      await statements[cycle[i++ % cycle.length]!]!();
      latencies.push(performance.now() - started);
    };
  });
  await pool.end();
  return { requestsPerSecond: Math.round(latencies.length / elapsed), p99Ms: ms(percentile(latencies, 99)) };
}

/**
 * The appends' own SQL straight on the store, at WRITERS concurrency on the same workflows:
 * the append statement and the projection in one transaction, a conflict retried at the
 * version it names. What the database does for appends without HTTP, GraphQL or decide.
 */
async function appendCeiling(databaseUrl: string, actor: { id: string; workspaceId: string }, targets: readonly string[]) {
  const db = openDatabase(databaseUrl, { poolSize: 20 });
  const store = new PostgresEventStore(db);
  const workflows = new Map<string, Workflow>();
  for (const id of targets) workflows.set(id, fold(workflowAggregate, await store.readFoldable({ type: 'Workflow', id }))!);
  const metadata = { workspaceId: actor.workspaceId, actorId: actor.id, requestId: 'ceiling', correlationId: 'ceiling', causationId: null };
  const latencies: number[] = [];
  // Timed as the append load is: from an update's first try to its commit.
  const elapsed = await loopFor(WRITERS, SECONDS, () => {
    let id = pick(targets);
    let started = performance.now();
    return async () => {
      const workflow = workflows.get(id)!;
      const update = { type: 'WorkflowUpdated' as const, data: { description: `ceiling ${Math.random()}` } };
      let next: Workflow | undefined;
      try {
        await store.append({ type: 'Workflow', id }, [{ eventId: randomUUID(), ...update }], {
          expectedVersion: workflow.version,
          metadata,
          onAppended: (tx, [event]) => projectWorkflow(tx, (next = evolve(workflow, update, event!)!)),
        });
      } catch (error) {
        if (!(error instanceof VersionConflictError)) throw error;
        workflows.set(id, { ...workflow, version: error.actualVersion });
        return;
      }
      latencies.push(performance.now() - started);
      workflows.set(id, next!);
      id = pick(targets);
      started = performance.now();
    };
  });
  await db.close();
  return { committedPerSecond: Math.round(latencies.length / elapsed), p99Ms: ms(percentile(latencies, 99)) };
}

/**
 * The append load (which checks through the API that nothing was lost or duplicated), checked
 * in the database too: every stream's version counts its events, and its read model row agrees.
 */
async function appends(server: BenchServer, targets: readonly string[], seeder: Seeder) {
  const result = await measured(server, () => appendLoad(server, targets, WRITERS, SECONDS));
  const { rows } = await seeder.pool.query<{ inconsistent: string }>(
    `SELECT count(*) AS inconsistent FROM streams s JOIN workflows w ON w.id = s.aggregate_id WHERE s.aggregate_id = ANY($1)
       AND (s.version <> (SELECT count(*) FROM events e WHERE e.aggregate_id = s.aggregate_id) OR w.version <> s.version)`,
    [targets],
  );
  return { ...result, streamsInconsistent: Number(rows[0]!.inconsistent) };
}

/** The reads whose growth with the log matters: one aggregate's events, the audit log, the global log. */
async function growthReads(server: BenchServer, ids: readonly string[], cursors: readonly string[]) {
  return {
    events: await sample(server, 400, 8, () =>
      body('query($id: ID!) { events(aggregateType: WORKFLOW, aggregateId: $id, first: 20) { edges { cursor } } }', { id: pick(ids) }),
    ),
    auditLog: await sample(server, 400, 8, () => body('{ auditLog(first: 20) { edges { cursor } } }')),
    eventLog: await sample(server, 400, 8, () =>
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

  const mix = (results.readMix = await measured(server, () => readMix(server, ids, phase)));
  const rest = (results.restMix = await measured(server, () => restMix(server, ids, phase)));
  const framework = (results.frameworkCeiling = await measured(server, () => httpLoad(server, [{ body: body('{ __typename }') }], phase)));
  const database = (results.databaseCeiling = await databaseCeiling(server.databaseUrl, me.workspaceId, ids));
  // Not the long workflow: its replays are measured next.
  const writeTargets = ids.slice(1, 1 + WRITERS * 4);
  const written = (results.appends = await appends(server, writeTargets, seeder));
  const writeCeiling = (results.appendCeiling = await appendCeiling(server.databaseUrl, me, writeTargets));
  const replayed = (results.replay = await replayLoad(server, long!, 200, 4));
  const ratio = (part: number, whole: number) => Math.round((part / whole) * 100) / 100;
  results.ratios = {
    readMixToFrameworkCeiling: ratio(mix.requestsPerSecond, framework.requestsPerSecond),
    restMixToReadMix: ratio(rest.requestsPerSecond, mix.requestsPerSecond),
    readMixToDatabaseCeiling: ratio(mix.requestsPerSecond, database.requestsPerSecond),
    appendsToAppendCeiling: ratio(written.committedPerSecond, writeCeiling.committedPerSecond),
  };
  // The old system's targets.
  results.targets = {
    readMix: mix.requestsPerSecond >= 3000 && mix.p95Ms <= 50 && mix.p99Ms <= 100 && mix.errors === 0,
    appends:
      written.committedPerSecond >= 2000 &&
      written.p99Ms <= 50 &&
      written.errors === 0 &&
      written.lost === 0 &&
      written.duplicated === 0 &&
      written.streamsInconsistent === 0,
    replay: replayed.firstReplayMs <= 50 && replayed.replays.p99Ms <= 50 && replayed.errors === 0,
    growth: ['events', 'auditLog', 'eventLog'].every((reads) => {
      const stages = Object.values(growth).map((stage) => (stage as Record<string, { p99Ms: number; errors: number }>)[reads]!);
      return stages.at(-1)!.p99Ms < 2 * stages[0]!.p99Ms && stages.every((stage) => stage.errors === 0);
    }),
  };
  await seeder.close();
} finally {
  await server.stop();
}

const machine = {
  cores: cpus().length,
  model: cpus()[0]?.model ?? 'unknown',
  node: process.version,
  clusterWorkers: WORKERS,
  seconds: SECONDS,
  connections: CONNECTIONS,
};
const report = { date: new Date().toISOString(), machine, ...results };
console.log(JSON.stringify(report, null, 2));

// The generated section of docs/benchmarks.md, between its markers: the rest is written by hand.
const START = '<!-- npm run bench: start -->';
const END = '<!-- npm run bench: end -->';
const section = `${START}\nLast run: \`npm run bench\` (${report.date}, ${machine.cores} cores, ${machine.model}, Node ${machine.node}, CLUSTER_WORKERS=${WORKERS}, ${SECONDS} s per load phase, ${CONNECTIONS} connections).\n\n\`\`\`json\n${JSON.stringify(report, null, 2)}\n\`\`\`\n${END}`;
const docs = readFileSync(DOCS, 'utf8');
writeFileSync(
  DOCS,
  docs.includes(START)
    ? docs.replace(new RegExp(`${START}[\\s\\S]*${END}`), section)
    : `${docs.trimEnd()}\n\n## The whole service next to its ceilings (\`npm run bench\`)\n\n${section}\n`,
);
