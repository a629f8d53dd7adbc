import { afterAll, describe, expect, it } from 'vitest';
import { createEmptyDatabase } from './support/database.ts';
import { startHttpTarget } from './support/http-target.ts';
import { startProcess, startServerProcess } from './support/processes.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const LEASE_MS = 1500;
/** The test's HTTP target listens on loopback, which only a host HTTP_ALLOWED_HOSTS names may be. */
const LOCAL_TARGETS = '127.0.0.1';

/** `npm run worker`, as a user starts it, leading its own process group (see startProcess). */
async function startWorker(databaseUrl: string) {
  const env = {
    DATABASE_URL: databaseUrl,
    EXECUTION_LEASE_MS: String(LEASE_MS),
    EXECUTION_POLL_INTERVAL_MS: '100',
    HTTP_ALLOWED_HOSTS: LOCAL_TARGETS,
  };
  const started = await startProcess('npm', ['run', '--silent', 'worker'], env, /running executions/, { group: true });
  const signal = (name: NodeJS.Signals) => process.kill(-started.child.pid!, name);
  cleanups.push(async () => {
    if (started.child.exitCode === null) signal('SIGKILL');
    await started.exited;
  });
  return { ...started, signal };
}

describe('an execution whose process is killed', () => {
  it('is resumed by another process from its history: a succeeded step is not run again', async () => {
    const database = await createEmptyDatabase(2);
    cleanups.push(() => database.drop());
    const target = await startHttpTarget();
    cleanups.push(() => target.close());
    // A server that runs executions, as `npm start` does by default.
    const server = await startServerProcess(
      { DATABASE_URL: database.url, EXECUTION_LEASE_MS: String(LEASE_MS), HTTP_ALLOWED_HOSTS: LOCAL_TARGETS },
      { firstStart: true },
    );
    cleanups.push(async () => {
      server.child.kill('SIGKILL');
      await server.exited;
    });

    const created = await server.gql(`mutation($d: JSON!) { createWorkflow(input: { name: "resume", definition: $d }) { id } }`, {
      d: {
        startAt: 'Count',
        nodes: {
          Count: { type: 'task', action: 'http.request', input: { url: `${target.url}/count` }, resultPath: '$.counted', next: 'Nap' },
          Nap: { type: 'task', action: 'sleep', input: { ms: 1500 }, next: 'Finish' },
          Finish: { type: 'task', action: 'http.request', input: { url: `${target.url}/finish` }, resultPath: '$.finished', end: true },
        },
      },
    });
    const started = await server.gql('mutation($w: ID!) { executeWorkflow(input: { workflowId: $w }) { id } }', {
      w: created.data.createWorkflow.id,
    });
    const id = started.data.executeWorkflow.id;
    const history = async () =>
      (
        await database.db.pool.query(`SELECT event_type, data->>'step' AS step FROM events WHERE aggregate_id = $1 ORDER BY version`, [id])
      ).rows.map((row) => `${row.event_type}${row.step ? ` ${row.step}` : ''}`);

    // Killed in the middle of Nap, after Count succeeded.
    while (!(await history()).includes('StepStarted Nap#1')) await new Promise((resolve) => setTimeout(resolve, 20));
    server.child.kill('SIGKILL');
    await server.exited;
    const killedAt = Date.now();
    expect(target.calls('/count')).toBe(1);

    const worker = await startWorker(database.url);
    const status = async () => (await database.db.pool.query('SELECT status FROM executions WHERE id = $1', [id])).rows[0].status;
    while ((await status()) === 'RUNNING') await new Promise((resolve) => setTimeout(resolve, 50));
    const resumedInMs = Date.now() - killedAt;

    expect(await status()).toBe('SUCCEEDED');
    expect(target.calls('/count')).toBe(1);
    expect(target.calls('/finish')).toBe(1);
    expect(await history()).toEqual([
      'ExecutionStarted',
      'StepStarted Count#1',
      'StepSucceeded Count#1',
      'StepStarted Nap#1',
      // The worker's run: Count is taken from the history, Nap (unfinished) runs again.
      'StepStarted Nap#1',
      'StepSucceeded Nap#1',
      'StepStarted Finish#1',
      'StepSucceeded Finish#1',
      'ExecutionSucceeded',
    ]);
    // The lease (1.5 s) runs out, the worker claims the execution, then Nap runs its 1.5 s again.
    expect(resumedInMs).toBeLessThan(LEASE_MS + 1500 + 5000);
    const { rows } = await database.db.pool.query('SELECT count(*)::int AS n FROM execution_jobs');
    expect(rows[0].n).toBe(0);

    // `npm run worker` stops cleanly on SIGTERM.
    worker.signal('SIGTERM');
    await worker.exited;
    expect(worker.output()).toMatch(/"message":"shutting down","signal":"SIGTERM"/);
  });
});
