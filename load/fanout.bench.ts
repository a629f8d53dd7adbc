import { startBenchServer } from './support/server.ts';
import { subscribe } from './support/subscriber.ts';

// npm run bench:fanout: SUBSCRIBERS WebSocket subscribers on one server process while
// RATE events a second are appended through the API for SECONDS; latency is from the
// event's commit timestamp to its arrival at each subscriber.
const SUBSCRIBERS = Number(process.env.SUBSCRIBERS ?? 1000);
const RATE = Number(process.env.RATE ?? 100);
const SECONDS = Number(process.env.SECONDS ?? 30);
const EVENTS = RATE * SECONDS;

// Bookkeeping in fixed memory: a load generator that grows a heap of millions of entries
// measures its own garbage-collection pauses, not the server.
const index = new Map<string, number>();
const counts = Array.from({ length: SUBSCRIBERS }, () => new Uint8Array(EVENTS + 1));
const histogram = new Uint32Array(60_001); // 1 ms buckets; the last holds everything slower
let deliveries = 0;

function percentile(p: number): number {
  const rank = Math.ceil((p / 100) * deliveries);
  for (let ms = 0, seen = 0; ms < histogram.length; ms += 1) {
    seen += histogram[ms]!;
    if (seen >= rank) return ms;
  }
  return NaN;
}

const server = await startBenchServer();
try {
  const query = 'subscription { events(types: ["WorkflowCreated"]) { cursor event { aggregateId createdAt } } }';
  const subscribers = [];
  for (let i = 0; i < SUBSCRIBERS; i += 1) {
    const seen = counts[i]!;
    subscribers.push(
      subscribe(server.wsUrl, server.key, query, (event, receivedAt) => {
        let n = index.get(event.aggregateId);
        if (n === undefined) index.set(event.aggregateId, (n = Math.min(index.size, EVENTS)));
        seen[n] = Math.min(seen[n]! + 1, 255);
        histogram[Math.min(Math.max(receivedAt - Date.parse(event.createdAt), 0), 60_000)]! += 1;
        deliveries += 1;
      }),
    );
    if (i % 100 === 99) await Promise.all(subscribers.slice(-100).map((s) => s.ready));
  }
  await Promise.all(subscribers.map((s) => s.ready));
  const rssIdle = server.rssMiB();

  const appended: string[] = [];
  let failedAppends = 0;
  const started = Date.now();
  let rssPeak = rssIdle;
  for (let n = 0; n < EVENTS; n += 1) {
    const due = started + (n * 1000) / RATE;
    if (due > Date.now()) await new Promise((done) => setTimeout(done, due - Date.now()));
    void server
      .gql('mutation($n: String!) { createWorkflow(input: { name: $n, definition: { startAt: "Done", nodes: { Done: { type: "succeed" } } } }) { id } }', { n: `fan-out ${n}` })
      .then((data) => appended.push(data.createWorkflow.id), () => (failedAppends += 1));
    if (n % RATE === 0) rssPeak = Math.max(rssPeak, server.rssMiB());
  }

  // Late is not lost: wait until every subscriber has everything, or nothing arrives for 5 s.
  const appendsDone = Date.now();
  for (let last = -1; deliveries !== last && deliveries < appended.length * SUBSCRIBERS; ) {
    last = deliveries;
    await new Promise((done) => setTimeout(done, 5000));
  }
  const drainSeconds = (Date.now() - appendsDone) / 1000;

  let missed = 0;
  let repeated = 0;
  for (const seen of counts) {
    for (const id of appended) {
      const n = index.get(id);
      const count = n === undefined ? 0 : seen[n]!;
      if (count === 0) missed += 1;
      else repeated += count - 1;
    }
  }
  console.log(
    JSON.stringify({
      subscribers: SUBSCRIBERS,
      eventsPerSecond: RATE,
      seconds: SECONDS,
      appended: appended.length,
      appendedPerSecond: Math.round(appended.length / SECONDS),
      failedAppends,
      drainSeconds,
      deliveries,
      p50Ms: percentile(50),
      p99Ms: percentile(99),
      maxMs: percentile(100),
      missed,
      repeated,
      serverRssIdleMiB: Math.round(rssIdle),
      serverRssPeakMiB: Math.round(rssPeak),
    }),
  );
  for (const s of subscribers) s.socket.terminate();
} finally {
  await server.stop();
}
process.exit(0);
