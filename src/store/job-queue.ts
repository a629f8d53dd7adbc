import type { Database } from './database.ts';

/**
 * Executions waiting to run or running, one row each (written with the execution's events,
 * removed with its last). A process claims rows under a lease it renews while it works; rows
 * whose lease ran out (a crashed or stalled process) are claimed again. FOR UPDATE SKIP
 * LOCKED lets any number of processes claim at once without taking the same row.
 */
export class JobQueue {
  readonly #db: Database;

  constructor(db: Database) {
    this.#db = db;
  }

  /** Claims up to `limit` executions whose lease is free or has run out; never one in `running`. */
  async claim(owner: string, limit: number, leaseMs: number, running: readonly string[] = []): Promise<string[]> {
    const { rows } = await this.#db.pool.query<{ execution_id: string }>(
      `UPDATE execution_jobs SET lease_owner = $1, lease_expires_at = now() + $3 * interval '1 millisecond', claims = claims + 1
       WHERE execution_id IN (
         SELECT execution_id FROM execution_jobs
         WHERE (lease_expires_at IS NULL OR lease_expires_at < now()) AND execution_id <> ALL($4::uuid[])
         ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)
       RETURNING execution_id`,
      [owner, limit, leaseMs, running],
    );
    return rows.map((row) => row.execution_id);
  }

  /** Renews the leases still held; returns those ids. A missing one was lost: taken over, or its execution ended. */
  async renew(owner: string, ids: readonly string[], leaseMs: number): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const { rows } = await this.#db.pool.query<{ execution_id: string }>(
      `UPDATE execution_jobs SET lease_expires_at = now() + $3 * interval '1 millisecond'
       WHERE lease_owner = $1 AND execution_id = ANY($2::uuid[]) RETURNING execution_id`,
      [owner, ids, leaseMs],
    );
    return new Set(rows.map((row) => row.execution_id));
  }

  /**
   * Takes an execution's lease from whoever holds it, for `ms`: that runner's next append
   * fails its fence and it stops, and no process claims the execution meanwhile.
   */
  async hold(id: string, holder: string, ms: number): Promise<void> {
    await this.#db.pool.query(
      `UPDATE execution_jobs SET lease_owner = $2, lease_expires_at = now() + $3 * interval '1 millisecond' WHERE execution_id = $1`,
      [id, holder, ms],
    );
  }

  /** Gives leases back, so that another process may claim them at once. */
  async release(owner: string, ids: readonly string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.#db.pool.query(
      'UPDATE execution_jobs SET lease_owner = NULL, lease_expires_at = NULL WHERE lease_owner = $1 AND execution_id = ANY($2::uuid[])',
      [owner, ids],
    );
  }

  /** Executions no process holds: waiting for a claim (of one workspace, when given). */
  async waiting(workspaceId?: string): Promise<number> {
    const { rows } = await this.#db.pool.query<{ count: string }>(
      `SELECT count(*) FROM execution_jobs j
       WHERE (j.lease_expires_at IS NULL OR j.lease_expires_at < now())
         AND ($1::uuid IS NULL OR EXISTS (SELECT 1 FROM executions e WHERE e.id = j.execution_id AND e.workspace_id = $1))`,
      [workspaceId ?? null],
    );
    return Number(rows[0]!.count);
  }
}
