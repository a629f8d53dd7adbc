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
    expect(claims.flat().map((claimed) => claimed.id).sort()).toEqual([a, b].sort());

    await database.db.pool.query(`UPDATE execution_jobs SET lease_owner = 'p9', lease_expires_at = now() - interval '1 second'`);
    expect(await jobs.claim('p9', 10, 60_000, { running: [a, b], held: new Map(), share: 10 })).toEqual([]);
    expect((await jobs.claim('p9', 10, 60_000, { running: [a], held: new Map(), share: 10 })).map((claimed) => claimed.id)).toEqual([b]);
    // a ran out but nobody took it: its owner may still renew it.
    expect(await jobs.renew('p9', [a, b], 60_000)).toEqual(new Set([a, b]));
    expect(await jobs.waiting()).toEqual({ queued: 0, parked: 0 });

    await jobs.hold(b, 'cancel', 60_000);
    expect(await jobs.renew('p9', [b], 60_000)).toEqual(new Set());
    await jobs.release('cancel', [b]);
    expect(await jobs.waiting()).toEqual({ queued: 1, parked: 0 });
  });

  it("takes workspaces in turn, none past its share, and leaves a parked job alone until it is due", async () => {
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
    expect(await jobs.waiting(busy)).toEqual({ queued: 3, parked: 1 });
    expect((await jobs.claim('p2', 10, 60_000)).map((claimed) => claimed.id).sort()).toEqual(backlog.slice(3).sort());
    await database.db.pool.query('UPDATE execution_jobs SET not_before = now() - interval \'1 second\' WHERE execution_id = $1', [backlog[2]]);
    expect((await jobs.claim('p2', 10, 60_000)).map((claimed) => claimed.id)).toEqual([backlog[2]]);
  });
});
