import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobQueue } from '../src/store/job-queue.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

let database: TestDatabase;
let jobs: JobQueue;
beforeAll(async () => {
  database = await createTestDatabase(1);
  jobs = new JobQueue(database.db);
});
afterAll(() => database.drop());

let made = 0;
/** A job, each one made a millisecond after the one before: the queue's order is their order. */
const job = async (workspaceId = randomUUID()) => {
  const id = randomUUID();
  made += 1;
  await database.db.pool.query(
    "INSERT INTO execution_jobs (execution_id, workspace_id, created_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')",
    [id, workspaceId, made],
  );
  return id;
};

describe('the job queue', () => {
  it('hands each job to one claimer, takes back run-out leases, but never one its claimer says it still runs', async () => {
    const [a, b] = [await job(), await job()];
    const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => jobs.claim(`p${i}`, 1, 60_000)));
    expect(
      claims
        .flat()
        .map((claimed) => claimed.id)
        .sort(),
    ).toEqual([a, b].sort());

    await database.db.pool.query(`UPDATE execution_jobs SET lease_owner = 'p9', lease_expires_at = now() - interval '1 second'`);
    expect(await jobs.claim('p9', 10, 60_000, { running: [a, b], held: new Map(), share: 10 })).toEqual([]);
    expect((await jobs.claim('p9', 10, 60_000, { running: [a], held: new Map(), share: 10 })).map((claimed) => claimed.id)).toEqual([b]);
    // a ran out but nobody took it: its owner may still renew it.
    expect(await jobs.renew('p9', [a, b], 60_000)).toEqual(new Set([a, b]));
    expect(await jobs.waiting()).toEqual({ queued: 0, parked: 0, oldestQueuedSeconds: 0 });

    await jobs.hold(b, 'cancel', 60_000);
    expect(await jobs.renew('p9', [b], 60_000)).toEqual(new Set());
    await jobs.release('cancel', [b]);
    expect(await jobs.waiting()).toMatchObject({ queued: 1, parked: 0 });
  });

  it('takes workspaces in turn, none past its share, and leaves a parked job alone until it is due', async () => {
    await database.db.pool.query('DELETE FROM execution_jobs');
    const [busy, quiet] = [randomUUID(), randomUUID()];
    const backlog = [];
    for (let n = 0; n < 6; n += 1) backlog.push(await job(busy));
    const lone = await job(quiet);
    const first = await jobs.claim('p1', 3, 60_000, { running: [], held: new Map(), share: 2 });
    // The busy workspace's backlog came first, yet the quiet one's job is in the first claim, and the busy one got only its share.
    expect(first.map((claimed) => claimed.id).sort()).toEqual([backlog[0], backlog[1], lone].sort());
    const next = await jobs.claim('p1', 5, 60_000, { running: first.map((claimed) => claimed.id), held: new Map([[busy, 2]]), share: 3 });
    expect(next.map((claimed) => claimed.id)).toEqual([backlog[2]]);

    expect(await jobs.park(backlog[2]!, 'p1', new Date(Date.now() + 60_000))).toBe(true);
    expect(await jobs.park(backlog[2]!, 'p1', new Date())).toBe(false);
    expect(await jobs.waiting(busy)).toMatchObject({ queued: 3, parked: 1, oldestQueuedSeconds: expect.any(Number) });
    expect((await jobs.claim('p2', 10, 60_000)).map((claimed) => claimed.id).sort()).toEqual(backlog.slice(3).sort());
    await database.db.pool.query("UPDATE execution_jobs SET not_before = now() - interval '1 second' WHERE execution_id = $1", [
      backlog[2],
    ]);
    expect(
      (await jobs.claim('p2', 10, 60_000, { running: backlog.slice(3), held: new Map(), share: 10 })).map((claimed) => claimed.id),
    ).toEqual([backlog[2]]);
  });

  it('counts takeovers of leases that ran out under another owner, not of its own; sets back failed runs with their reason', async () => {
    await database.db.pool.query('DELETE FROM execution_jobs');
    const id = await job();
    const claim = async (owner: string) => (await jobs.claim(owner, 10, 60_000))[0];
    expect(await claim('p1')).toMatchObject({ id, takeovers: 0, failures: 0, lastFailure: null });
    // Its own lease, unexpired: this owner takes it up again (a run of its stopped), no takeover.
    expect(await claim('p1')).toMatchObject({ id, takeovers: 0 });
    expect(await claim('p2')).toBeUndefined();
    await database.db.pool.query(`UPDATE execution_jobs SET lease_expires_at = now() - interval '1 second'`);
    expect(await claim('p2')).toMatchObject({ id, takeovers: 1 });

    expect(await jobs.setBack(id, 'p1', 0, 'not its owner')).toBe(false);
    expect(await jobs.setBack(id, 'p2', 60_000, 'TypeError: x is undefined')).toBe(true);
    expect(await claim('p3')).toBeUndefined();
    expect(await jobs.waiting()).toMatchObject({ queued: 0, parked: 1 });
    await database.db.pool.query(`UPDATE execution_jobs SET not_before = now() - interval '1 second'`);
    // Let go by a setback, it is claimed as any free job: no takeover, one failure and its reason.
    expect(await claim('p3')).toMatchObject({ id, takeovers: 1, failures: 1, lastFailure: 'TypeError: x is undefined' });
    // A run that got as far as a wait has worked: its failures start again.
    expect(await jobs.park(id, 'p3', new Date())).toBe(true);
    expect(await claim('p3')).toMatchObject({ failures: 0 });
  });

  it('hands overdue jobs that no process holds to the sweeper, oldest deadline first', async () => {
    await database.db.pool.query('DELETE FROM execution_jobs');
    const [late, later, held, due] = [await job(), await job(), await job(), await job()];
    await database.db.pool.query(`UPDATE execution_jobs SET deadline = now() - interval '1 minute' WHERE execution_id = $1`, [late]);
    await database.db.pool.query(
      `UPDATE execution_jobs SET deadline = now() - interval '2 minutes', lease_owner = 'dead', lease_expires_at = now() - interval '1 second' WHERE execution_id = $1`,
      [later],
    );
    await database.db.pool.query(
      `UPDATE execution_jobs SET deadline = now() - interval '1 minute', lease_owner = 'alive', lease_expires_at = now() + interval '1 minute' WHERE execution_id = $1`,
      [held],
    );
    await database.db.pool.query(`UPDATE execution_jobs SET deadline = now() + interval '1 minute' WHERE execution_id = $1`, [due]);
    expect(await jobs.claimOverdue('sweeper', 1, 60_000)).toEqual([later]);
    expect(await jobs.claimOverdue('sweeper', 10, 60_000)).toEqual([late]);
    expect(await jobs.claimOverdue('sweeper', 10, 60_000)).toEqual([]);
  });
});
