import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { createWorkflow, ended, execute } from './support/executions.ts';

// Executions that fail through no fault of their workflow, that processes keep dying under,
// and that nobody runs: each is bounded, and ends.
const MAX_FAILED_RUNS = 3;
const MAX_TAKEOVERS = 2;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const NAP = { startAt: 'Nap', nodes: { Nap: { type: 'task', action: 'sleep', input: { ms: 100 }, end: true } } };

describe('an execution run by this process', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({
      executionPollIntervalMs: 50,
      executionLeaseMs: 1000,
      executionMaxFailedRuns: MAX_FAILED_RUNS,
      executionMaxTakeovers: MAX_TAKEOVERS,
    });
  });
  afterAll(() => app.close());
  const gql: TestApp['gql'] = (...args) => app.gql(...args);
  const pool = () => app.database.db.pool;

  it('whose runs fail by an error of the service (its database refusing a step) is retried with a growing delay, then ends FAILED with RunFailed', async () => {
    // Not the workflow's fault, nor the database's absence: a statement the database refuses.
    await pool().query(`CREATE FUNCTION refuse_boom() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.event_type = 'StepStarted' AND NEW.data->>'node' = 'Boom' THEN RAISE EXCEPTION 'the disk is on fire'; END IF; RETURN NEW; END $$`);
    await pool().query('CREATE TRIGGER refuse_boom BEFORE INSERT ON events FOR EACH ROW EXECUTE FUNCTION refuse_boom()');
    try {
      const workflow = await createWorkflow(gql, {
        startAt: 'Boom',
        nodes: { Boom: { type: 'task', action: 'sleep', input: { ms: 1 }, end: true } },
      });
      const began = Date.now();
      const execution = await ended(gql, (await execute(gql, workflow.id)).id, 100);
      const tookMs = Date.now() - began;
      expect(execution.status).toBe('FAILED');
      expect(execution.error).toMatchObject({
        name: 'RunFailed',
        message: expect.stringMatching(new RegExp(`failed ${MAX_FAILED_RUNS} times.*the disk is on fire`)),
      });
      // Set back 0.5 s, 1 s, then 2 s before the run that ends it.
      expect(tookMs).toBeGreaterThanOrEqual(3400);
      expect(execution.steps).toEqual([]);
    } finally {
      await pool().query('DROP TRIGGER refuse_boom ON events; DROP FUNCTION refuse_boom()');
    }
  }, 30_000);

  /** Runs `work` while every new job row starts as `assignments` (plpgsql) make it: as if a process had held it. */
  const seedingJobs = async (assignments: string, work: () => Promise<void>) => {
    await pool().query(`CREATE FUNCTION seed_job() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN ${assignments} RETURN NEW; END $$`);
    await pool().query('CREATE TRIGGER seed_job BEFORE INSERT ON execution_jobs FOR EACH ROW EXECUTE FUNCTION seed_job()');
    try {
      await work();
    } finally {
      await pool().query('DROP TRIGGER seed_job ON execution_jobs; DROP FUNCTION seed_job()');
    }
  };

  it('taken over from processes that died under it more often than allowed ends FAILED with TooManyTakeovers', async () => {
    const workflow = await createWorkflow(gql, NAP);
    // Held by a process that has died, its lease run out, and taken over from dead ones before.
    await seedingJobs(
      `NEW.lease_owner := 'dead'; NEW.lease_expires_at := now() - interval '1 second'; NEW.takeovers := ${MAX_TAKEOVERS - 1};`,
      async () => {
        const execution = await ended(gql, (await execute(gql, workflow.id)).id);
        expect(execution.status).toBe('FAILED');
        expect(execution.error).toMatchObject({
          name: 'TooManyTakeovers',
          message: expect.stringContaining(`taken over ${MAX_TAKEOVERS} times`),
        });
        expect(execution.steps).toEqual([]);
      },
    );
    // One taken over fewer times than that runs to its end.
    await seedingJobs(
      `NEW.lease_owner := 'dead'; NEW.lease_expires_at := now() - interval '1 second'; NEW.takeovers := ${MAX_TAKEOVERS - 2};`,
      async () => {
        expect((await ended(gql, (await execute(gql, workflow.id)).id)).status).toBe('SUCCEEDED');
      },
    );
  });

  it('whose own process lost it mid-run (its database gone) is taken up again at once, not after its lease, and not as a takeover', async () => {
    const workflow = await createWorkflow(gql, NAP);
    // One takeover more would end it (TooManyTakeovers); an hour's lease would keep any other process off it.
    await seedingJobs(
      `NEW.lease_owner := '${app.services.engine!.owner}'; NEW.lease_expires_at := now() + interval '1 hour'; NEW.takeovers := ${MAX_TAKEOVERS - 1};`,
      async () => {
        expect((await ended(gql, (await execute(gql, workflow.id)).id)).status).toBe('SUCCEEDED');
      },
    );
  });
});

describe('an execution that no process runs', () => {
  let app: TestApp;
  beforeAll(async () => {
    app = await startTestApp({ runExecutions: false, executionSweepIntervalMs: 200, executionLeaseMs: 1000 });
  });
  afterAll(() => app.close());
  const gql: TestApp['gql'] = (...args) => app.gql(...args);

  it('is timed out at its deadline by the sweep every process runs, with the reason said', async () => {
    expect(app.services.engine).toBeNull();
    const workflow = await createWorkflow(gql, { ...NAP, timeoutMs: 500 });
    const { id } = await execute(gql, workflow.id);
    await sleep(300);
    expect((await gql('query($id: ID!) { execution(id: $id) { status } }', { id })).data!.execution.status).toBe('PENDING');
    const execution = await ended(gql, id, 50);
    expect(execution.status).toBe('TIMED_OUT');
    expect(execution.error.message).toMatch(/did not end within its 500 ms, and no process was running it/);
    expect((await app.database.db.pool.query('SELECT count(*)::int AS n FROM execution_jobs')).rows[0].n).toBe(0);
  });

  it('is timed out too when the process that ran it died, but never while one holds its lease', async () => {
    const workflow = await createWorkflow(gql, { ...NAP, timeoutMs: 300 });
    const [dead, held] = [await execute(gql, workflow.id), await execute(gql, workflow.id)];
    const pool = app.database.db.pool;
    await pool.query(
      `UPDATE execution_jobs SET lease_owner = 'dead', lease_expires_at = now() - interval '1 second' WHERE execution_id = $1`,
      [dead.id],
    );
    await pool.query(
      `UPDATE execution_jobs SET lease_owner = 'alive', lease_expires_at = now() + interval '1 hour' WHERE execution_id = $1`,
      [held.id],
    );
    expect((await ended(gql, dead.id, 50)).status).toBe('TIMED_OUT');
    await sleep(600);
    expect((await gql('query($id: ID!) { execution(id: $id) { status } }', { id: held.id })).data!.execution.status).toBe('PENDING');
  });
});
