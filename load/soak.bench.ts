import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { startBenchServer } from './support/server.ts';
import { startSubscribers } from './support/subscribers.ts';
import {
  CREATE_WORKFLOW,
  DEFINITION,
  ENDED,
  UPDATE_WORKFLOW,
  createWorkflow,
  executionStatus,
  startExecution,
} from './support/operations.ts';
import { plotSeries } from './support/plot.ts';
import { latencySummary } from './support/stats.ts';
import type { Target } from './support/target.ts';

// npm run soak: a moderate mixed load held for SECONDS (1,800 by default) on a fresh server:
// - SUBSCRIBERS (1,000) live subscribers of new workflows, in a Go process (FANOUT_CLIENT=node for Node's);
// - CREATES (5) new workflows a second, each an event for every subscriber;
// - UPDATES (20) updates a second to 100 workflows, with their expected versions;
// - READS (100) reads a second: a page of workflows, one workflow, its events;
// - EXECUTIONS (2) executions a second of three steps (two transforms around a 200 ms sleep).
// Every 10 s it samples the server's RSS, heap, open handles, pool and event-loop delay. After a
// warm-up of a tenth of the run, the last third's medians must be within 25% of the first
// third's (RSS, heap), handles and pool must not climb, and nothing may be lost or repeated.
// SOAK_PLOT names the SVG it draws (docs/soak.svg by default).
const SECONDS = Number(process.env.SECONDS ?? 1800);
const SUBSCRIBERS = Number(process.env.SUBSCRIBERS ?? 1000);
const RATES = {
  creates: Number(process.env.CREATES ?? 5),
  updates: Number(process.env.UPDATES ?? 20),
  reads: Number(process.env.READS ?? 100),
  executions: Number(process.env.EXECUTIONS ?? 2),
};
const SAMPLE_MS = 10_000;
const PLOT = process.env.SOAK_PLOT ?? resolve(import.meta.dirname, '../docs/soak.svg');

const server = await startBenchServer();

interface Sample {
  readonly second: number;
  readonly rssMiB: number;
  readonly heapMiB: number;
  readonly handles: number;
  readonly poolConnections: number;
  readonly poolWaiting: number;
  readonly eventLoopP99Ms: number;
}

/** One value of the server's /metrics, by name and a label it carries (its pid label aside). */
function metric(text: string, name: string, label = ''): number {
  const line = text
    .split('\n')
    .find((candidate) => (candidate.startsWith(`${name}{`) || candidate.startsWith(`${name} `)) && candidate.includes(label));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : NaN;
}

/** Runs `work` `perSecond` times a second, each on time whatever the last one took, until `until`. */
async function paced(perSecond: number, until: number, work: (n: number) => Promise<void>): Promise<void> {
  const started = Date.now();
  const running = new Set<Promise<void>>();
  for (let n = 0; perSecond > 0; n += 1) {
    const due = started + (n * 1000) / perSecond;
    if (due >= until) break;
    if (due > Date.now()) await new Promise((done) => setTimeout(done, due - Date.now()));
    const done: Promise<void> = work(n).finally(() => running.delete(done));
    running.add(done);
  }
  await Promise.all(running);
}

const median = (values: readonly number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN;

try {
  const target: Target = server;
  const updated = await Promise.all(Array.from({ length: 100 }, () => createWorkflow(target, DEFINITION)));
  const versions = new Map(updated.map((id) => [id, 1]));
  const threeSteps = await createWorkflow(target, {
    startAt: 'Before',
    nodes: {
      Before: { type: 'task', action: 'transform', input: { at: 'before' }, resultPath: '$.before', next: 'Nap' },
      Nap: { type: 'task', action: 'sleep', input: { ms: 200 }, next: 'After' },
      After: { type: 'task', action: 'transform', input: { at: 'after' }, resultPath: '$.after', end: true },
    },
  });
  const subscribers = await startSubscribers(
    process.env.FANOUT_CLIENT === 'node' ? 'node' : 'go',
    target.wsUrl,
    target.key,
    'subscription { events(types: ["WorkflowCreated"]) { cursor event { aggregateId createdAt } } }',
    SUBSCRIBERS,
    RATES.creates * SECONDS,
  );

  const metricsUrl = target.url.replace(/\/graphql$/, '/metrics');
  const samples: Sample[] = [];
  const began = Date.now();
  const sampleNow = async () => {
    const text = await (await fetch(metricsUrl)).text();
    samples.push({
      second: Math.round((Date.now() - began) / 1000),
      rssMiB: Math.round(server.rssMiB()),
      heapMiB: Math.round(metric(text, 'flowledger_nodejs_heap_size_used_bytes') / 2 ** 20),
      handles: metric(text, 'flowledger_nodejs_active_handles_total'),
      poolConnections: metric(text, 'flowledger_db_pool_connections', 'state="total"'),
      poolWaiting: metric(text, 'flowledger_db_pool_connections', 'state="waiting_clients"'),
      eventLoopP99Ms: Math.round(metric(text, 'flowledger_nodejs_eventloop_lag_p99_seconds') * 1000),
    });
    console.error(JSON.stringify(samples.at(-1)));
  };
  await sampleNow();
  const sampling = setInterval(() => void sampleNow(), SAMPLE_MS);

  const until = began + SECONDS * 1000;
  const errors = new Map<string, number>();
  const latencies = { reads: [] as number[], writes: [] as number[] };
  /** Runs one operation, timing it; a failure is counted by its first line, not thrown. */
  const timed = async (kind: keyof typeof latencies | null, work: () => Promise<unknown>) => {
    const start = performance.now();
    try {
      await work();
      if (kind) latencies[kind].push(performance.now() - start);
    } catch (error) {
      const line = String((error as Error).message)
        .split('\n')[0]!
        .slice(0, 200);
      errors.set(line, (errors.get(line) ?? 0) + 1);
    }
  };
  const created: string[] = [];
  const executions: string[] = [];
  const ids = [...versions.keys()];
  // The reads' timings are kept for the last five minutes only: a 30-minute run's would be large.
  const READ_WINDOW = RATES.reads * 300;
  await Promise.all([
    paced(RATES.creates, until, (n) =>
      timed('writes', async () => created.push((await target.gql(CREATE_WORKFLOW, { n: `soak ${n}`, d: DEFINITION })).createWorkflow.id)),
    ),
    paced(RATES.updates, until, (n) =>
      timed('writes', async () => {
        // Each workflow is updated by one update at a time: its expected version is known.
        const id = ids[n % ids.length]!;
        const version = versions.get(id)!;
        versions.set(id, -1);
        if (version < 0) return;
        const answer = await target.gql(UPDATE_WORKFLOW, { id, v: version, d: `update ${n}` }).catch((error) => {
          versions.set(id, version);
          throw error;
        });
        versions.set(id, answer.updateWorkflow.version);
      }),
    ),
    paced(RATES.reads, until, (n) =>
      timed('reads', async () => {
        const id = ids[n % ids.length]!;
        const query = [
          '{ workflows(first: 20) { edges { node { id name version } } } }',
          'query($id: ID!) { workflow(id: $id) { id name version definition } }',
          'query($id: ID!) { events(aggregateType: WORKFLOW, aggregateId: $id, first: 20) { totalCount edges { node { type version } } } }',
        ][n % 3]!;
        await target.gql(query, { id });
        if (latencies.reads.length > READ_WINDOW) latencies.reads.splice(0, RATES.reads);
      }),
    ),
    paced(RATES.executions, until, () => timed(null, async () => executions.push(await startExecution(target, threeSteps)))),
  ]);
  clearInterval(sampling);
  await sampleNow();

  // Every execution ends; every subscriber got every new workflow once.
  const endedBy = Date.now() + 60_000;
  let unfinished = executions;
  while (unfinished.length > 0 && Date.now() < endedBy) {
    const statuses = await Promise.all(unfinished.map(async (id) => [id, await executionStatus(target, id)] as const));
    unfinished = statuses.filter(([, status]) => !ENDED.includes(status)).map(([id]) => id);
    if (unfinished.length > 0) await new Promise((done) => setTimeout(done, 1000));
  }
  const fanOut = await subscribers.finish(created);

  const settled = samples.filter((sample) => sample.second >= SECONDS / 10);
  const third = Math.max(1, Math.floor(settled.length / 3));
  const [first, last] = [settled.slice(0, third), settled.slice(-third)];
  const growth = (key: keyof Sample) => Math.round((100 * median(last.map((s) => s[key]))) / median(first.map((s) => s[key]))) / 100;
  const flat = {
    rssGrowth: growth('rssMiB'),
    heapGrowth: growth('heapMiB'),
    handlesGrowth: growth('handles'),
    poolMax: Math.max(...samples.map((s) => s.poolConnections)),
    poolWaitingMax: Math.max(...samples.map((s) => s.poolWaiting)),
    eventLoopP99MsMax: Math.max(...samples.map((s) => s.eventLoopP99Ms)),
  };
  const result = {
    seconds: SECONDS,
    subscribers: SUBSCRIBERS,
    rates: RATES,
    created: created.length,
    executions: executions.length,
    unfinishedExecutions: unfinished.length,
    fanOut: { p50Ms: fanOut.p50Ms, p99Ms: fanOut.p99Ms, missed: fanOut.missed, repeated: fanOut.repeated },
    reads: latencySummary(latencies.reads),
    writes: latencySummary(latencies.writes),
    errors: Object.fromEntries(errors),
    first: {
      rssMiB: median(first.map((s) => s.rssMiB)),
      heapMiB: median(first.map((s) => s.heapMiB)),
      handles: median(first.map((s) => s.handles)),
    },
    last: {
      rssMiB: median(last.map((s) => s.rssMiB)),
      heapMiB: median(last.map((s) => s.heapMiB)),
      handles: median(last.map((s) => s.handles)),
    },
    ...flat,
  };
  writeFileSync(
    PLOT,
    plotSeries(
      `Soak: ${SECONDS / 60} min, ${SUBSCRIBERS} subscribers, ${RATES.reads} reads/s, ${RATES.creates + RATES.updates} writes/s, ${RATES.executions} executions/s`,
      samples,
      [
        { key: 'rssMiB', label: 'RSS (MiB)' },
        { key: 'heapMiB', label: 'heap used (MiB)' },
        { key: 'handles', label: 'open handles' },
        { key: 'poolConnections', label: 'pool connections' },
        { key: 'eventLoopP99Ms', label: 'event-loop delay p99 (ms)' },
      ],
    ),
  );
  console.log(JSON.stringify(result));
  const passed =
    flat.rssGrowth <= 1.25 &&
    flat.heapGrowth <= 1.25 &&
    flat.handlesGrowth <= 1.25 &&
    flat.poolWaitingMax === 0 &&
    unfinished.length === 0 &&
    fanOut.missed === 0 &&
    fanOut.repeated === 0 &&
    errors.size === 0;
  console.log(passed ? 'soak: flat, nothing lost' : 'soak: FAILED (see the figures above)');
  process.exitCode = passed ? 0 : 1;
} finally {
  await server.stop();
}
process.exit();
