import { startBenchServer } from './support/server.ts';
import { startSubscribers } from './support/subscribers.ts';

// npm run bench:fanout: SUBSCRIBERS WebSocket subscribers on one server process while
// RATE events a second are appended through the API for SECONDS; latency is from the
// event's commit timestamp to its arrival at each subscriber.
const SUBSCRIBERS = Number(process.env.SUBSCRIBERS ?? 1000);
const RATE = Number(process.env.RATE ?? 100);
const SECONDS = Number(process.env.SECONDS ?? 30);
const EVENTS = RATE * SECONDS;

// FANOUT_CLIENT=go runs the subscribers in a Go process (needs Go) instead of this one.
const CLIENT = process.env.FANOUT_CLIENT === 'go' ? 'go' : 'node';

const server = await startBenchServer();
try {
  const query = 'subscription { events(types: ["WorkflowCreated"]) { cursor event { aggregateId createdAt } } }';
  const subscribers = await startSubscribers(CLIENT, server.wsUrl, server.key, query, SUBSCRIBERS, EVENTS);
  const rssIdle = server.rssMiB();

  const appended: string[] = [];
  let failedAppends = 0;
  const started = Date.now();
  let rssPeak = rssIdle;
  const appends: Promise<unknown>[] = [];
  for (let n = 0; n < EVENTS; n += 1) {
    const due = started + (n * 1000) / RATE;
    if (due > Date.now()) await new Promise((done) => setTimeout(done, due - Date.now()));
    const append = server
      .gql('mutation($n: String!) { createWorkflow(input: { name: $n, definition: { startAt: "Done", nodes: { Done: { type: "succeed" } } } }) { id } }', { n: `fan-out ${n}` })
      .then((data) => appended.push(data.createWorkflow.id), () => (failedAppends += 1));
    appends.push(append);
    if (n % RATE === 0) rssPeak = Math.max(rssPeak, server.rssMiB());
  }

  await Promise.all(appends);
  const result = await subscribers.finish(appended);
  console.log(
    JSON.stringify({
      subscribers: SUBSCRIBERS,
      eventsPerSecond: RATE,
      seconds: SECONDS,
      appended: appended.length,
      appendedPerSecond: Math.round(appended.length / SECONDS),
      failedAppends,
      client: CLIENT,
      ...result,
      serverRssIdleMiB: Math.round(rssIdle),
      serverRssPeakMiB: Math.round(rssPeak),
    }),
  );
} finally {
  await server.stop();
}
process.exit(0);
