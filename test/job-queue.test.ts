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

const job = async () => {
  const id = randomUUID();
  await database.db.pool.query('INSERT INTO execution_jobs (execution_id, workspace_id) VALUES ($1, $2)', [id, randomUUID()]);
  return id;
};

describe('the job queue', () => {
  it('hands each job to one claimer, takes back run-out leases, but never one its claimer says it still runs', async () => {
    const [a, b] = [await job(), await job()];
    const claims = await Promise.all(Array.from({ length: 8 }, (_, i) => jobs.claim(`p${i}`, 1, 60_000)));
    expect(claims.flat().sort()).toEqual([a, b].sort());

    await database.db.pool.query(`UPDATE execution_jobs SET lease_owner = 'p9', lease_expires_at = now() - interval '1 second'`);
    expect(await jobs.claim('p9', 10, 60_000, [a, b])).toEqual([]);
    expect((await jobs.claim('p9', 10, 60_000, [a])).sort()).toEqual([b]);
    // a ran out but nobody took it: its owner may still renew it.
    expect(await jobs.renew('p9', [a, b], 60_000)).toEqual(new Set([a, b]));
    expect(await jobs.waiting()).toBe(0);

    await jobs.hold(b, 'cancel', 60_000);
    expect(await jobs.renew('p9', [b], 60_000)).toEqual(new Set());
    await jobs.release('cancel', [b]);
    expect(await jobs.waiting()).toBe(1);
  });
});
