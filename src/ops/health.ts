import pg from 'pg';
import { pendingMigrations } from '../store/migrations.ts';
import { VERSION } from '../version.ts';

export interface HealthAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** /healthz: the process is up and its event loop answers, and which release it runs. Nothing else is asked. */
export function liveness(): HealthAnswer {
  return { status: 200, body: { status: 'ok', version: VERSION } };
}

const READY_TIMEOUT_MS = 2000;

/**
 * /readyz: the database answers (within 2 s) and has every migration of this code applied.
 * A load balancer sends nothing to a process that answers 503. The check has a connection of
 * its own, with time limits, rather than one of the pool: a pool busy with requests is not a
 * reason to be taken out of service, and a probe must not wait in its queue.
 */
export async function readiness(connectionString: string): Promise<HealthAnswer> {
  const client = new pg.Client({ connectionString, connectionTimeoutMillis: READY_TIMEOUT_MS, statement_timeout: READY_TIMEOUT_MS });
  try {
    await client.connect();
    const pending = await pendingMigrations(client);
    return pending.length === 0
      ? { status: 200, body: { status: 'ready' } }
      : { status: 503, body: { status: 'migrations pending', pending } };
  } catch (error) {
    return { status: 503, body: { status: 'database unreachable', error: (error as Error).message } };
  } finally {
    await client.end().catch(() => {});
  }
}
