import { startBenchServer } from './support/server.ts';
import { percentile } from './support/stats.ts';

// npm run bench:engine: a workflow of STEPS transform tasks in a row, run on one server
// process (its in-server engine, default limits). Two phases:
// - sequential: one execution at a time, SEQUENTIAL times: the engine's overhead per step
//   with nothing else going on;
// - throughput: EXECUTIONS started by CLIENTS concurrent clients as fast as they can; from
//   the first start to the last end: executions/s and state transitions (events)/s.
// Per-step overhead is the time from one step's recorded end to the next one's (transform
// does no work, so that is all engine: its journal appends and the walk), from the events'
// createdAt (milliseconds).
const STEPS = Number(process.env.STEPS ?? 10);
const SEQUENTIAL = Number(process.env.SEQUENTIAL ?? 100);
const EXECUTIONS = Number(process.env.EXECUTIONS ?? 2000);
const CLIENTS = Number(process.env.CLIENTS ?? 32);
const SAMPLE = 200;

const server = await startBenchServer();
try {
  const nodes: Record<string, unknown> = {};
  for (let i = 1; i <= STEPS; i += 1) {
    nodes[`S${i}`] = {
      type: 'task',
      action: 'transform',
      input: { step: i, from: '$.n' },
      resultPath: `$.s${i}`,
      ...(i === STEPS ? { end: true } : { next: `S${i + 1}` }),
    };
  }
  const { createWorkflow } = await server.gql('mutation($d: JSON!) { createWorkflow(input: { name: "bench", definition: $d }) { id } }', {
    d: { startAt: 'S1', nodes },
  });
  const start = async (n: number) =>
    (
      await server.gql('mutation($w: ID!, $i: JSON) { executeWorkflow(input: { workflowId: $w, input: $i }) { id } }', {
        w: createWorkflow.id,
        i: { n },
      })
    ).executeWorkflow.id as string;
  const stats = async () => (await server.gql('{ systemStatus { engine { succeeded failed active } } }')).systemStatus.engine;
  const status = async (id: string) =>
    (await server.gql('query($id: ID!) { execution(id: $id) { status } }', { id })).execution.status as string;

  /** Gaps between consecutive step ends, and from the start to the first step's end. */
  async function stepOverheads(id: string): Promise<number[]> {
    const { events } = await server.gql(
      'query($id: ID!) { events(aggregateType: EXECUTION, aggregateId: $id, first: 100) { edges { node { type createdAt } } } }',
      { id },
    );
    const ends = events.edges
      .map((edge: { node: { type: string; createdAt: string } }) => edge.node)
      .filter((event: { type: string }) => event.type === 'StepSucceeded')
      .map((event: { createdAt: string }) => Date.parse(event.createdAt));
    return ends.slice(1).map((end: number, i: number) => end - ends[i]!);
  }

  const sequentialGaps: number[] = [];
  const sequentialStart = performance.now();
  for (let n = 0; n < SEQUENTIAL; n += 1) {
    const id = await start(n);
    while ((await status(id)) !== 'SUCCEEDED') await new Promise((resolve) => setTimeout(resolve, 10));
    sequentialGaps.push(...(await stepOverheads(id)));
  }
  const sequentialMs = performance.now() - sequentialStart;

  const before = await stats();
  const ids: string[] = [];
  let next = 0;
  const throughputStart = performance.now();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < EXECUTIONS) {
        next += 1;
        ids.push(await start(next));
      }
    }),
  );
  const startedMs = performance.now() - throughputStart;
  for (;;) {
    const now = await stats();
    if (now.succeeded + now.failed - before.succeeded - before.failed >= EXECUTIONS) break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const totalMs = performance.now() - throughputStart;
  const after = await stats();
  const loadedGaps: number[] = [];
  for (const id of ids.slice(0, SAMPLE)) loadedGaps.push(...(await stepOverheads(id)));

  const events = EXECUTIONS * (2 * STEPS + 2);
  console.log(
    JSON.stringify(
      {
        steps: STEPS,
        sequential: {
          executions: SEQUENTIAL,
          perExecutionMs: Math.round(sequentialMs / SEQUENTIAL),
          stepOverheadMs: { p50: percentile(sequentialGaps, 50), p99: percentile(sequentialGaps, 99) },
        },
        throughput: {
          executions: EXECUTIONS,
          clients: CLIENTS,
          failed: after.failed - before.failed,
          startsPerSecond: Math.round(EXECUTIONS / (startedMs / 1000)),
          executionsPerSecond: Math.round(EXECUTIONS / (totalMs / 1000)),
          transitionsPerSecond: Math.round(events / (totalMs / 1000)),
          stepOverheadMs: { p50: percentile(loadedGaps, 50), p99: percentile(loadedGaps, 99) },
          serverRssMiB: Math.round(server.rssMiB()),
        },
      },
      null,
      2,
    ),
  );
} finally {
  await server.stop();
}
