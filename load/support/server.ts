import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer } from 'node:net';
import { urlFor } from '../../src/store/embedded-postgres.ts';
import { targetAt, type Target } from './target.ts';

export interface BenchServer extends Target {
  readonly pid: number;
  /** The server's embedded PostgreSQL, for seeding and for the database ceiling. */
  readonly databaseUrl: string;
  /** The server process's resident memory, in MiB. */
  rssMiB(): number;
  /** CPU seconds the server process has used so far (user and system). */
  cpuSeconds(): number;
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((done) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

/**
 * The benchmarks drive everything from one workspace: its quotas and rates per workspace must
 * not be what they measure (but in the isolation benchmark, which measures exactly them).
 */
const ONE_TENANT: Record<string, string> = {
  WORKSPACE_MAX_ACTIVE_EXECUTIONS: '1000000',
  WORKSPACE_MAX_WORKFLOWS: '1000000',
  WORKSPACE_MAX_STEPS_PER_SECOND: '1000000',
  WORKSPACE_MAX_READ_BYTES_PER_SECOND: String(1024 ** 3),
  WORKSPACE_MAX_WRITE_BYTES_PER_SECOND: String(1024 ** 3),
  WORKSPACE_MAX_CONDITION_MS_PER_SECOND: '1000',
};

/** `npm start` as a user runs it: its own process, on a fresh embedded PostgreSQL. */
export async function startBenchServer(
  env: Record<string, string> = {},
  { workspaceLimits = 'unbounded' }: { workspaceLimits?: 'unbounded' | 'defaults' } = {},
): Promise<BenchServer> {
  const dataDir = mkdtempSync(join(tmpdir(), 'flowledger-bench-'));
  chmodSync(dataDir, 0o755);
  const port = await freePort();
  const databasePort = await freePort();
  const child = spawn(process.execPath, [resolve(import.meta.dirname, '../../src/main.ts')], {
    env: {
      ...process.env,
      DATABASE_URL: '',
      DATA_DIR: dataDir,
      EMBEDDED_PG_PORT: String(databasePort),
      PORT: String(port),
      HOST: '127.0.0.1',
      NODE_ENV: 'production',
      // e.g. SERVER_NODE_OPTIONS=--cpu-prof to profile the server under the benchmark's load
      NODE_OPTIONS: process.env.SERVER_NODE_OPTIONS ?? '',
      // The benchmarks drive everything with one key: its per-key limits must not be what they measure.
      MAX_SUBSCRIPTIONS_PER_KEY: '100000',
      RATE_LIMIT_PER_SECOND: '0',
      ...(workspaceLimits === 'unbounded' ? ONE_TENANT : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let output = '';
  const key = await new Promise<string>((done, fail) => {
    child.stdout.on('data', (chunk) => {
      output += chunk;
      const match = /flk_[\w-]{43}/.exec(output);
      if (match) done(match[0]);
    });
    child.once('exit', (code) => fail(new Error(`server exited with ${code}`)));
  });
  // The key is printed before the server listens (with CLUSTER_WORKERS, before its processes start).
  for (
    let waited = 0;
    !(await fetch(`http://127.0.0.1:${port}/readyz`).then(
      (r) => r.ok,
      () => false,
    ));
    waited += 100
  ) {
    if (waited > 30_000) throw new Error('the server did not get ready within 30 s');
    await new Promise((done) => setTimeout(done, 100));
  }
  return {
    ...targetAt(`http://127.0.0.1:${port}/graphql`, key),
    pid: child.pid!,
    databaseUrl: urlFor(databasePort),
    rssMiB: () => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))![1]) / 1024,
    cpuSeconds: () => {
      // Fields 14 and 15 of /proc/<pid>/stat, after the command name in parentheses: clock ticks.
      const fields = readFileSync(`/proc/${child.pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      return (Number(fields[11]) + Number(fields[12])) / 100;
    },
    async stop() {
      const exited = new Promise((done) => child.once('exit', done));
      child.kill('SIGTERM');
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
