import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startBenchServer } from './support/server.ts';
import { targetAt } from './support/target.ts';
import { latencySummary } from './support/stats.ts';

// npm run bench:cache-lag: how long a write on one server process takes to reach the response
// cache of another, when a read presents no consistency token. Two processes on one database;
// for each of WRITES (default 300) workflows created on A, B's kept list of workflows is read
// every millisecond until it shows the new one. Also how long a read on B that presents the
// write's token takes. Writes go one at a time, 20 ms apart, on an otherwise idle machine.
const WRITES = Number(process.env.WRITES ?? 300);
const LIST = JSON.stringify({ query: '{ workflows(first: 1) { edges { node { name } } } }' });
const CREATE =
  'mutation($name: String!) { createWorkflow(input: { name: $name, definition: { startAt: "a", nodes: { a: { type: "succeed" } } } }) { id } }';

const a = await startBenchServer();
const port = 20_000 + Math.floor(Math.random() * 20_000);
const b = spawn(process.execPath, [resolve(import.meta.dirname, '../src/main.ts')], {
  env: {
    ...process.env,
    DATABASE_URL: a.databaseUrl,
    PORT: String(port),
    HOST: '127.0.0.1',
    NODE_ENV: 'production',
    RATE_LIMIT_PER_SECOND: '0',
  },
  stdio: 'ignore',
});
try {
  while (
    !(await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    ))
  )
    await sleep(100);
  const onB = targetAt(`http://127.0.0.1:${port}/graphql`, a.key);
  const newest = async (headers: Record<string, string> = {}) => {
    const response = await fetch(onB.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${a.key}`, ...headers },
      body: LIST,
    });
    return ((await response.json()) as any).data.workflows.edges[0]?.node.name as string | undefined;
  };
  const lags: number[] = [];
  const tokenReads: number[] = [];
  for (let i = 0; i < WRITES; i++) {
    await newest();
    const name = `lag ${i}`;
    const written = await fetch(a.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${a.key}` },
      body: JSON.stringify({ query: CREATE, variables: { name } }),
    });
    const ackedAt = performance.now();
    const token = written.headers.get('flowledger-position')!;
    if (i % 2 === 0) {
      while ((await newest()) !== name) await sleep(1);
      lags.push(performance.now() - ackedAt);
    } else {
      if ((await newest({ 'flowledger-read-after': token })) !== name) throw new Error('a read with the token missed the write');
      tokenReads.push(performance.now() - ackedAt);
    }
    await sleep(20);
  }
  console.log(JSON.stringify({ writes: WRITES, withoutToken: latencySummary(lags), withToken: latencySummary(tokenReads) }));
} finally {
  b.kill('SIGTERM');
  await a.stop();
}
