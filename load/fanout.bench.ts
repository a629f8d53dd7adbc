import { subscriptionLoad } from './subscriptions.ts';
import { startBenchServer } from './support/server.ts';

// npm run bench:fanout: the subscriptions load (load/subscriptions.ts) on a fresh server,
// with the server's memory. SUBSCRIBERS (1000), RATE (100 events/s), SECONDS (30);
// FANOUT_CLIENT=go runs the subscribers in a Go process (needs Go) instead of this one.
const server = await startBenchServer();
try {
  let rssIdle = 0;
  let rssPeak = 0;
  let cpuAtReady = 0;
  let readyAt = 0;
  const sampling = setInterval(() => (rssPeak = Math.max(rssPeak, server.rssMiB())), 1000);
  const result = await subscriptionLoad(server, {
    // Idle: every subscriber connected, no event yet.
    onReady: () => {
      rssIdle = rssPeak = server.rssMiB();
      cpuAtReady = server.cpuSeconds();
      readyAt = Date.now();
    },
    subscribers: Number(process.env.SUBSCRIBERS ?? 1000),
    rate: Number(process.env.RATE ?? 100),
    seconds: Number(process.env.SECONDS ?? 30),
    client: process.env.FANOUT_CLIENT === 'go' ? 'go' : 'node',
  });
  clearInterval(sampling);
  // The server's CPU from the first append to the last delivery, as a share of one core.
  const serverCpuPercent = Math.round((100 * (server.cpuSeconds() - cpuAtReady)) / ((Date.now() - readyAt) / 1000));
  console.log(
    JSON.stringify({ ...result, serverCpuPercent, serverRssIdleMiB: Math.round(rssIdle), serverRssPeakMiB: Math.round(rssPeak) }),
  );
} finally {
  await server.stop();
}
process.exit(0);
