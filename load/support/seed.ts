import pg from 'pg';

/**
 * Bulk seeding in SQL, for the benchmarks: what the API would have written (streams, events,
 * the workflows read model), a hundred thousand rows a statement. Seeded events carry a
 * placeholder hash, not a chain: the benchmarks measure speed, and verify-audit-trail would
 * report them.
 */
export class Seeder {
  readonly #pool: pg.Pool;
  readonly #workspaceId: string;
  readonly #actorId: string;

  constructor(databaseUrl: string, workspaceId: string, actorId: string) {
    this.#pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
    this.#workspaceId = workspaceId;
    this.#actorId = actorId;
  }

  get pool(): pg.Pool {
    return this.#pool;
  }

  /** `count` workflows, one WorkflowCreated each. */
  async createWorkflows(count: number, definition: unknown): Promise<void> {
    await this.#pool.query(
      `WITH w AS (SELECT gen_random_uuid() AS id, n, now() - make_interval(secs => $1 - n) AS at FROM generate_series(1, $1) AS n),
            s AS (INSERT INTO streams (aggregate_type, aggregate_id, workspace_id, version) SELECT 'Workflow', id, $2, 1 FROM w),
            e AS (INSERT INTO events (event_id, workspace_id, aggregate_type, aggregate_id, version, event_type, data, metadata, actor_id, created_at, hash)
                  SELECT gen_random_uuid(), $2, 'Workflow', id, 1, 'WorkflowCreated',
                    jsonb_build_object('id', id, 'name', 'seeded ' || n, 'description', '', 'definition', $4::jsonb),
                    jsonb_build_object('workspaceId', $2::uuid, 'actorId', $3::uuid, 'requestId', 'seed', 'correlationId', 'seed', 'causationId', 'seed'),
                    $3, at, '\\x00' FROM w ORDER BY n)
       INSERT INTO workflows (id, workspace_id, name, description, definition, status, version, created_at, updated_at, created_by)
       SELECT id, $2, 'seeded ' || n, '', $4::jsonb, 'ACTIVE', 1, at, at, $3 FROM w`,
      [count, this.#workspaceId, this.#actorId, JSON.stringify(definition)],
    );
  }

  /**
   * `perWorkflow` WorkflowUpdated events on each of `workflowIds`, in rounds (of about 100,000
   * events a statement) so that the log interleaves streams, as real traffic does.
   */
  async updateWorkflows(perWorkflow: number, workflowIds: readonly string[]): Promise<void> {
    const round = Math.max(1, Math.min(perWorkflow, Math.floor(100_000 / workflowIds.length)));
    for (let done = 0; done < perWorkflow; done += round) {
      const times = Math.min(round, perWorkflow - done);
      await this.#pool.query(
        `WITH w AS (
           SELECT s.aggregate_id AS id, s.version FROM streams s
           WHERE s.aggregate_type = 'Workflow' AND s.workspace_id = $1 AND s.aggregate_id = ANY($4)
         ), e AS (
           INSERT INTO events (event_id, workspace_id, aggregate_type, aggregate_id, version, event_type, data, metadata, actor_id, created_at, hash)
           SELECT gen_random_uuid(), $1, 'Workflow', w.id, w.version + k, 'WorkflowUpdated',
             jsonb_build_object('description', 'revision ' || (w.version + k)),
             jsonb_build_object('workspaceId', $1::uuid, 'actorId', $2::uuid, 'requestId', 'seed', 'correlationId', 'seed', 'causationId', 'seed'),
             $2, clock_timestamp(), '\\x00'
           FROM w, generate_series(1, $3) AS k ORDER BY k, w.id
         ), s AS (
           UPDATE streams SET version = streams.version + $3 FROM w
           WHERE streams.aggregate_type = 'Workflow' AND streams.aggregate_id = w.id
         )
         UPDATE workflows SET version = w.version + $3, description = 'revision ' || (w.version + $3), updated_at = clock_timestamp()
         FROM w WHERE workflows.id = w.id`,
        [this.#workspaceId, this.#actorId, times, workflowIds],
      );
    }
  }

  async count(): Promise<number> {
    const { rows } = await this.#pool.query<{ n: string }>('SELECT count(*) AS n FROM events');
    return Number(rows[0]!.n);
  }

  async analyze(): Promise<void> {
    await this.#pool.query('ANALYZE');
  }

  close(): Promise<void> {
    return this.#pool.end();
  }
}
