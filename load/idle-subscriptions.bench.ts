import { startBenchServer } from './support/server.ts';
import { subscribe } from './support/subscriber.ts';

// npm run bench:idle: the server's resident memory with SUBSCRIBERS idle WebSocket
// subscriptions open, one socket each.
const SUBSCRIBERS = Number(process.env.SUBSCRIBERS ?? 10_000);

const server = await startBenchServer();
try {
  const baseline = server.rssMiB();
  const query = 'subscription { events { cursor event { id } } }';
  const subscribers = [];
  for (let i = 0; i < SUBSCRIBERS; i += 1) {
    subscribers.push(subscribe(server.wsUrl, server.key, query, () => {}));
    if (i % 200 === 199) await Promise.all(subscribers.slice(-200).map((s) => s.ready));
  }
  await Promise.all(subscribers.map((s) => s.ready));
  await new Promise((done) => setTimeout(done, 2000));
  const open = server.rssMiB();
  console.log(
    JSON.stringify({
      subscriptions: SUBSCRIBERS,
      serverRssBaselineMiB: Math.round(baseline),
      serverRssWithSubscriptionsMiB: Math.round(open),
      perSubscriptionKiB: Math.round(((open - baseline) * 1024) / SUBSCRIBERS),
    }),
  );
  for (const s of subscribers) s.socket.terminate();
} finally {
  await server.stop();
}
process.exit(0);
