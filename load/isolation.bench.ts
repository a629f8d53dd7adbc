import { Worker } from 'node:worker_threads';
import pg from 'pg';
import { admin } from '../src/ops/admin.ts';
import { startBenchServer } from './support/server.ts';
import { latencySummary } from './support/stats.ts';
import { createWorkflow, executionStatus, startExecution } from './support/operations.ts';
import { targetAt } from './support/target.ts';

// npm run bench:isolation: one workspace (the noisy one) runs the worst load its quotas allow,
// while another (the quiet one) does ordinary work beside it. The quiet one's p95, for a small
// query and for a one-step execution, must stay within 2x its figure on the idle server.
//
// The noisy workspace, all at once, for SECONDS:
// - executions of many steps (maps over 1,000 input items), always NOISY_RUNS under way;
// - executions whose conditions cost near their time limit, 20 branches each;
// - a hundred hour-long sleeps and fifty day-long waits;
// - heavy reads: replays and log pages with their events' data, HEAVY_READERS at once;
// - small queries at its workspace rate limit (RATE, per second).
// Its quotas are the defaults, but for the request rate: RATE a second for every key and
// workspace, set by the bench, since the defaults are set for a server of many cores.
const SECONDS = Number(process.env.SECONDS ?? 20);
/** Which parts of the noisy load run (all by default): budget, conditions, waits, reads, queries. */
const PARTS = new Set((process.env.PARTS ?? 'budget,conditions,waits,reads,queries').split(','));
const NOISY_RUNS = Number(process.env.NOISY_RUNS ?? 60);
const HEAVY_READERS = Number(process.env.HEAVY_READERS ?? 8);
const RATE = Number(process.env.RATE ?? 200);
const PROBE_MS = 60;

const server = await startBenchServer(
  { RATE_LIMIT_PER_SECOND: String(RATE), RATE_LIMIT_PER_WORKSPACE_PER_SECOND: String(RATE) },
  { workspaceLimits: 'defaults' },
);

/** The admin CLI against the bench server's database: its last line, as JSON. */
async function cli(args: string[]): Promise<any> {
  let last = '';
  const code = await admin(
    args,
    { ...process.env, DATABASE_URL: server.databaseUrl },
    { out: (line) => (last = line), err: (line) => process.stderr.write(`${line}\n`) },
  );
  if (code !== 0) throw new Error(`admin ${args[0]} exited ${code}`);
  return JSON.parse(last);
}

async function analyze(databaseUrl: string): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  await client.query('ANALYZE');
  await client.end();
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

try {
  const { workspaceId } = await cli(['create-workspace', '--name', 'quiet']);
  const quiet = targetAt(
    server.url,
    (await cli(['create-user', '--workspace', workspaceId, '--name', 'quiet', '--role', 'EDITOR'])).apiKey,
  );
  const oneStep = await createWorkflow(quiet, {
    startAt: 'One',
    nodes: { One: { type: 'task', action: 'transform', input: { ok: true }, end: true } },
  });

  /** The quiet workspace's ordinary work for `seconds`: a small query, then a one-step execution to its end, again and again. */
  async function probe(seconds: number) {
    const queries: number[] = [];
    const executions: number[] = [];
    const until = performance.now() + seconds * 1000;
    while (performance.now() < until) {
      // An ordinary user's pace, well within its own rate: one round every PROBE_MS at most.
      const round = performance.now();
      let began = round;
      await quiet.gql('{ me { name } }');
      queries.push(performance.now() - began);
      began = performance.now();
      const id = await startExecution(quiet, oneStep);
      while ((await executionStatus(quiet, id)) !== 'SUCCEEDED') await sleep(10);
      executions.push(performance.now() - began);
      await sleep(Math.max(0, round + PROBE_MS - performance.now()));
    }
    return {
      query: { samples: queries.length, ...latencySummary(queries) },
      execution: { samples: executions.length, ...latencySummary(executions) },
    };
  }

  const idle = await probe(SECONDS);

  // The noisy workspace's load runs in a thread of its own: its client work (parsing large
  // answers) must not delay the quiet probe's event loop, only the server's.
  const noisyLoad = new Worker(new URL('./support/noisy-tenant.ts', import.meta.url), {
    workerData: { url: server.url, key: server.key, parts: [...PARTS], noisyRuns: NOISY_RUNS, heavyReaders: HEAVY_READERS },
  });
  await new Promise((resolve) => noisyLoad.once('message', resolve));
  // Let the load reach its stride before measuring, and give the planner the statistics a
  // server that has run a while has (autovacuum would, a minute or so later).
  await sleep(3000);
  await analyze(server.databaseUrl);
  let peakRss = server.rssMiB();
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, server.rssMiB())), 250);
  const cpuBefore = server.cpuSeconds();
  const loaded = await probe(SECONDS);
  const serverCpuShare = Math.round(((server.cpuSeconds() - cpuBefore) / SECONDS) * 100) / 100;
  clearInterval(sampler);
  noisyLoad.postMessage('stop');
  const counts = await new Promise<Record<string, number>>((resolve) => noisyLoad.once('message', resolve));

  const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;
  const report = {
    date: new Date().toISOString(),
    seconds: SECONDS,
    noisy: { parts: [...PARTS], ...counts, rate: RATE, noisyRuns: NOISY_RUNS, heavyReaders: HEAVY_READERS },
    idle,
    loaded,
    ratios: { queryP95: ratio(loaded.query.p95Ms, idle.query.p95Ms), executionP95: ratio(loaded.execution.p95Ms, idle.execution.p95Ms) },
    peakRssMiB: Math.round(peakRss),
    serverCpuShare,
  };
  const met = report.ratios.queryP95 <= 2 && report.ratios.executionP95 <= 2;
  process.stdout.write(`${JSON.stringify({ ...report, target: { quietP95WithinTwiceIdle: met } }, null, 2)}\n`);
  process.exitCode = met ? 0 : 1;
} finally {
  await server.stop();
}
