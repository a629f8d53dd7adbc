import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readMix, workflowIds } from './read-mix.ts';
import { startBenchServer, type BenchServer } from './support/server.ts';

// npm run bench:tracing: what traces cost. The old system's read mix (list 3 : get 2 : create 1)
// against two servers in turn, one with tracing off and one sending every span
// (OTEL_TRACES_SAMPLER=always_on) to an OTLP/HTTP sink in this process that counts them and
// throws them away. ROUNDS (default 2) alternate between the two, SECONDS (15) each, with
// CONNECTIONS (100). Prints each run's rate, latency, the server's CPU per request and the spans
// the sink received, then the ratios.
const ROUNDS = Number(process.env.ROUNDS ?? 2);
const SECONDS = Number(process.env.SECONDS ?? 15);
const CONNECTIONS = Number(process.env.CONNECTIONS ?? 100);

let spans = 0;
let batches = 0;
const sink = createServer((request, response) => {
  let text = '';
  request.setEncoding('utf8');
  request.on('data', (chunk: string) => (text += chunk));
  request.on('end', () => {
    // Counted, not parsed: the sink shares the machine with the server it measures.
    spans += text.split('"spanId":').length - 1;
    batches += 1;
    response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  });
});
await new Promise<void>((done) => sink.listen(0, '127.0.0.1', done));
const endpoint = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/v1/traces`;

const servers: Record<'off' | 'on', BenchServer> = {
  off: await startBenchServer(),
  on: await startBenchServer({
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: endpoint,
    OTEL_TRACES_SAMPLER: 'always_on',
    OTEL_BSP_SCHEDULE_DELAY: '1000',
  }),
};
const ids = { off: await workflowIds(servers.off, 50), on: await workflowIds(servers.on, 50) };

interface Run {
  readonly tracing: 'off' | 'on';
  readonly requestsPerSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly cpuMsPerRequest: number;
  readonly spansPerSecond: number;
}
const runs: Run[] = [];
try {
  for (let round = 1; round <= ROUNDS; round += 1) {
    for (const tracing of ['off', 'on'] as const) {
      const server = servers[tracing];
      const [cpu, spansBefore] = [server.cpuSeconds(), spans];
      const result = await readMix(server, ids[tracing], [{ connections: CONNECTIONS, seconds: SECONDS }]);
      // The last batch leaves a second after its spans end.
      await new Promise((done) => setTimeout(done, 1500));
      const run: Run = {
        tracing,
        requestsPerSecond: Math.round(result.requestsPerSecond),
        p50Ms: result.p50Ms,
        p99Ms: result.p99Ms,
        errors: result.errors,
        cpuMsPerRequest: Math.round(((server.cpuSeconds() - cpu) * 1000 * 100) / result.requests) / 100,
        spansPerSecond: Math.round((spans - spansBefore) / SECONDS),
      };
      runs.push(run);
      console.log(`round ${round}, tracing ${tracing}: ${JSON.stringify(run)}`);
    }
  }
} finally {
  await Promise.all([servers.off.stop(), servers.on.stop()]);
  sink.close();
}

const mean = (tracing: 'off' | 'on', field: 'requestsPerSecond' | 'cpuMsPerRequest') => {
  const of = runs.filter((run) => run.tracing === tracing);
  return of.reduce((sum, run) => sum + run[field], 0) / of.length;
};
console.log(
  JSON.stringify({
    rateWithTracing: Math.round((mean('on', 'requestsPerSecond') / mean('off', 'requestsPerSecond')) * 100) / 100,
    cpuPerRequestWithTracing: Math.round((mean('on', 'cpuMsPerRequest') / mean('off', 'cpuMsPerRequest')) * 100) / 100,
    batches,
  }),
);
