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

  /**
   * Claims up to `limit` executions whose lease is free, has run out, or is this owner's own
   * (a run of its that stopped, say on the database's absence: taken up again at once), and
   * that are due (not parked until later); never one in `running`. Workspaces take turns: each
   * one's oldest job first, then each one's second, and a workspace gets no more than `share`
   * in all, counting the `held` it runs here already. So one workspace's backlog never keeps
   * another's first execution waiting behind it. Taking a lease that ran out under another
   * owner counts as a takeover.
   */
  async claim(owner: string, limit: number, leaseMs: number, fairness: ClaimShare = NO_SHARE): Promise<Claimed[]> {
    const held = [...fairness.held];
    const { rows } = await this.#db.pool.query<{
      execution_id: string;
      workspace_id: string;
      takeovers: number;
      failures: number;
      last_failure: string | null;
    }>(
      `WITH due AS (
         SELECT execution_id, workspace_id, created_at, row_number() OVER (PARTITION BY workspace_id ORDER BY created_at, execution_id) AS turn
         FROM execution_jobs
         WHERE (lease_expires_at IS NULL OR lease_expires_at < now() OR lease_owner = $1) AND (not_before IS NULL OR not_before <= now())
           AND execution_id <> ALL($4::uuid[])
       ), fair AS (
         SELECT due.execution_id, due.turn + coalesce(h.held, 0) AS place, due.created_at
         FROM due LEFT JOIN unnest($5::uuid[], $6::int[]) AS h(workspace_id, held) ON h.workspace_id = due.workspace_id
         WHERE due.turn + coalesce(h.held, 0) <= $7
       )
       UPDATE execution_jobs j SET lease_owner = $1, lease_expires_at = now() + $3 * interval '1 millisecond', not_before = NULL, claims = j.claims + 1,
         takeovers = j.takeovers + (chosen.taken_over)::int
       FROM (
         SELECT j.execution_id, (j.lease_owner IS NOT NULL AND j.lease_owner <> $1) AS taken_over FROM execution_jobs j JOIN fair USING (execution_id)
         WHERE (j.lease_expires_at IS NULL OR j.lease_expires_at < now() OR j.lease_owner = $1) AND (j.not_before IS NULL OR j.not_before <= now())
         ORDER BY fair.place, fair.created_at, fair.execution_id LIMIT $2 FOR UPDATE OF j SKIP LOCKED
       ) chosen
       WHERE j.execution_id = chosen.execution_id
       RETURNING j.execution_id, j.workspace_id, j.takeovers, j.failures, j.last_failure`,
      [owner, limit, leaseMs, fairness.running, held.map(([id]) => id), held.map(([, count]) => count), fairness.share],
    );
    return rows.map((row) => ({
      id: row.execution_id,
      workspaceId: row.workspace_id,
      takeovers: row.takeovers,
      failures: row.failures,
      lastFailure: row.last_failure,
    }));
  }

  /**
   * A run of this owner's ended in an error of the service's: the execution is let go, to be
   * claimed again after `delayMs`, with the failure counted. False when the owner no longer held it.
   */
  async setBack(id: string, owner: string, delayMs: number, failure: string): Promise<boolean> {
    const { rowCount } = await this.#db.pool.query(
      `UPDATE execution_jobs SET lease_owner = NULL, lease_expires_at = NULL, not_before = now() + $3 * interval '1 millisecond',
         failures = failures + 1, last_failure = $4 WHERE execution_id = $1 AND lease_owner = $2`,
      [id, owner, delayMs, failure.slice(0, 1000)],
    );
    return rowCount === 1;
  }

  /**
   * Claims up to `limit` executions past their deadline that no process holds (none runs them,
   * or their last one died), for `owner` to time them out.
   */
  async claimOverdue(owner: string, limit: number, leaseMs: number): Promise<string[]> {
    const { rows } = await this.#db.pool.query<{ execution_id: string }>(
      `UPDATE execution_jobs j SET lease_owner = $1, lease_expires_at = now() + $3 * interval '1 millisecond'
       FROM (SELECT execution_id FROM execution_jobs WHERE deadline < now() AND (lease_expires_at IS NULL OR lease_expires_at < now())
             ORDER BY deadline LIMIT $2 FOR UPDATE SKIP LOCKED) overdue
       WHERE j.execution_id = overdue.execution_id RETURNING j.execution_id`,
      [owner, limit, leaseMs],
    );
    return rows.map((row) => row.execution_id);
  }

  /**
   * Sets a running execution aside until `until` (a long wait): its lease is given back, and no
   * process claims it before then. False when this owner no longer held it.
   */
  async park(id: string, owner: string, until: Date): Promise<boolean> {
    const { rowCount } = await this.#db.pool.query(
      // A run that got as far as a wait has worked: its failures in a row start again.
      'UPDATE execution_jobs SET lease_owner = NULL, lease_expires_at = NULL, not_before = $3, failures = 0 WHERE execution_id = $1 AND lease_owner = $2',
      [id, owner, until],
    );
    return rowCount === 1;
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

  /**
   * Executions no process holds, of one workspace when given: due and waiting for a claim, and
   * parked until a later time; and how long the one due the longest has waited (0 for none).
   */
  async waiting(workspaceId?: string): Promise<Waiting> {
    const { rows } = await this.#db.pool.query<Waiting>(
      `SELECT count(*) FILTER (WHERE not_before IS NULL OR not_before <= now())::int AS queued,
              count(*) FILTER (WHERE not_before > now())::int AS parked,
              coalesce(extract(epoch FROM now() - min(coalesce(not_before, created_at)) FILTER (WHERE not_before IS NULL OR not_before <= now())), 0)::float8 AS "oldestQueuedSeconds"
       FROM execution_jobs WHERE (lease_expires_at IS NULL OR lease_expires_at < now()) AND ($1::uuid IS NULL OR workspace_id = $1)`,
      [workspaceId ?? null],
    );
    return rows[0]!;
  }
}

export interface Waiting {
  readonly queued: number;
  readonly parked: number;
  readonly oldestQueuedSeconds: number;
}

export interface Claimed {
  readonly id: string;
  readonly workspaceId: string;
  /** Claims so far of a lease that had run out under another process. */
  readonly takeovers: number;
  /** Runs in a row that failed by an error of the service's, and the last one's message. */
  readonly failures: number;
  readonly lastFailure: string | null;
}

/** What a claim takes turns with: the executions a process runs already, by workspace, and a workspace's most. */
export interface ClaimShare {
  readonly running: readonly string[];
  readonly held: ReadonlyMap<string, number>;
  readonly share: number;
}

const NO_SHARE: ClaimShare = { running: [], held: new Map(), share: 2 ** 31 - 1 };
