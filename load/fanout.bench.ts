import { percentile, startBenchServer } from './support/server.ts';
import { subscribe } from './support/subscriber.ts';

// npm run bench:fanout: SUBSCRIBERS WebSocket subscribers on one server process while
// RATE events a second are appended through the API for SECONDS; latency is from the
// event's commit timestamp to its arrival at each subscriber.
const SUBSCRIBERS = Number(process.env.SUBSCRIBERS ?? 1000);
const RATE = Number(process.env.RATE ?? 100);
const SECONDS = Number(process.env.SECONDS ?? 30);

const server = await startBenchServer();
try {
  const latencies: number[] = [];
  const seen = Array.from({ length: SUBSCRIBERS }, () => new Map<string, number>());
  const query = 'subscription { events(types: ["WorkflowCreated"]) { cursor event { aggregateId createdAt } } }';
  const subscribers = [];
  for (let i = 0; i < SUBSCRIBERS; i += 1) {
    subscribers.push(
      subscribe(server.wsUrl, server.key, query, (event, receivedAt) => {
        seen[i]!.set(event.aggregateId, (seen[i]!.get(event.aggregateId) ?? 0) + 1);
        latencies.push(receivedAt - Date.parse(event.createdAt));
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
  for (let n = 0; n < RATE * SECONDS; n += 1) {
    const due = started + (n * 1000) / RATE;
    if (due > Date.now()) await new Promise((done) => setTimeout(done, due - Date.now()));
    void server
      .gql('mutation($n: String!) { createWorkflow(input: { name: $n, definition: {} }) { id } }', { n: `fan-out ${n}` })
      .then((data) => appended.push(data.createWorkflow.id), () => (failedAppends += 1));
    if (n % RATE === 0) rssPeak = Math.max(rssPeak, server.rssMiB());
  }
  // Late is not lost: wait until every subscriber has everything, or nothing arrives for 5 s.
  const appendsDone = Date.now();
  for (let last = -1; latencies.length !== last && latencies.length < appended.length * SUBSCRIBERS; ) {
    last = latencies.length;
    await new Promise((done) => setTimeout(done, 5000));
  }
  const drainSeconds = (Date.now() - appendsDone) / 1000;

  const expected = new Set(appended);
  let missed = 0;
  let repeated = 0;
  for (const received of seen) {
    for (const id of expected) if (!received.has(id)) missed += 1;
    for (const count of received.values()) if (count > 1) repeated += count - 1;
  }
  latencies.sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      subscribers: SUBSCRIBERS,
      eventsPerSecond: RATE,
      seconds: SECONDS,
      appended: appended.length,
      appendedPerSecond: Math.round(appended.length / SECONDS),
      failedAppends,
      drainSeconds,
      deliveries: latencies.length,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies.at(-1),
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
