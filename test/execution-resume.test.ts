import { afterAll, describe, expect, it } from 'vitest';
import { createEmptyDatabase } from './support/database.ts';
import { startHttpTarget } from './support/http-target.ts';
import { startProcess, startServerProcess } from './support/processes.ts';

const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup();
});

const LEASE_MS = 1500;

/** A process that only runs executions; `viaNpm` starts it as a user would, with `npm run worker`. */
async function worker(databaseUrl: string, viaNpm = false) {
  const env = { DATABASE_URL: databaseUrl, EXECUTION_LEASE_MS: String(LEASE_MS), EXECUTION_POLL_INTERVAL_MS: '100' };
  const started = viaNpm
    ? await startProcess('npm', ['run', '--silent', 'worker'], env, /running executions/, { group: true })
    : await startProcess(process.execPath, ['src/worker.ts'], env, /running executions/);
  const signal = (name: NodeJS.Signals) => (viaNpm ? process.kill(-started.child.pid!, name) : started.child.kill(name));
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
    // The API server runs no executions: workers do.
    const api = await startServerProcess({ DATABASE_URL: database.url, RUN_EXECUTIONS: 'false' }, { firstStart: true });
    cleanups.push(async () => {
      api.child.kill('SIGKILL');
      await api.exited;
    });

    const created = await api.gql(
      `mutation($d: JSON!) { createWorkflow(input: { name: "resume", definition: $d }) { id } }`,
      {
        d: {
          startAt: 'Count',
          nodes: {
            Count: { type: 'task', action: 'http.request', input: { url: `${target.url}/count` }, resultPath: '$.counted', next: 'Nap' },
            Nap: { type: 'task', action: 'sleep', input: { ms: 1500 }, next: 'Finish' },
            Finish: { type: 'task', action: 'http.request', input: { url: `${target.url}/finish` }, resultPath: '$.finished', end: true },
          },
        },
      },
    );
    const first = await worker(database.url);
    const started = await api.gql('mutation($w: ID!) { executeWorkflow(input: { workflowId: $w }) { id } }', { w: created.data.createWorkflow.id });
    const id = started.data.executeWorkflow.id;
    const steps = async () => { return (await api.gql('query($id: ID!) { execution(id: $id) { status steps { id status attempt } } }', { id })).data.execution; };
    const unused = async () =>
      (await api.gql('query($id: ID!) { execution(id: $id) { status steps { id status attempt } } }', { id })).data.execution;

    // Killed in the middle of Nap, after Count succeeded.
    while (!(await steps()).steps.some((step: { id: string }) => step.id === 'Nap#1')) await new Promise((r) => setTimeout(r, 20));
    first.child.kill('SIGKILL');
    await first.exited;
    const killedAt = Date.now();
    expect(target.calls('/count')).toBe(1);

    const second = await worker(database.url, true);
    let execution = await steps();
    while (execution.status === 'RUNNING') {
      await new Promise((r) => setTimeout(r, 50));
      execution = await steps();
    }
    const resumedInMs = Date.now() - killedAt;
    expect(execution.status).toBe('SUCCEEDED');
    expect(execution.steps).toEqual([
      { id: 'Count#1', status: 'SUCCEEDED', attempt: 1 },
      { id: 'Nap#1', status: 'SUCCEEDED', attempt: 1 },
      { id: 'Finish#1', status: 'SUCCEEDED', attempt: 1 },
    ]);
    expect(target.calls('/count')).toBe(1);
    expect(target.calls('/finish')).toBe(1);
    // The lease (1.5 s) runs out, the new worker claims it, then Nap runs its 1.5 s again.
    expect(resumedInMs).toBeLessThan(LEASE_MS + 1500 + 5000);

    const { rows } = await database.db.pool.query(
      `SELECT event_type, data->>'step' AS step FROM events WHERE aggregate_id = $1 ORDER BY version`,
      [id],
    );
    expect(rows.map((row) => `${row.event_type}${row.step ? ` ${row.step}` : ''}`)).toEqual([
      'ExecutionStarted',
      'StepStarted Count#1',
      'StepSucceeded Count#1',
      'StepStarted Nap#1',
      'StepStarted Nap#1',
      'StepSucceeded Nap#1',
      'StepStarted Finish#1',
      'StepSucceeded Finish#1',
      'ExecutionSucceeded',
    ]);

    // `npm run worker` stops cleanly on SIGTERM, giving its leases back.
    second.signal('SIGTERM');
    await second.exited;
    expect(second.output()).toMatch(/"message":"shutting down","signal":"SIGTERM"/);
  });
});
