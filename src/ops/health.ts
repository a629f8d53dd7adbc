import type { Database } from '../store/database.ts';
import { pendingMigrations } from '../store/migrations.ts';

export interface HealthAnswer {
  readonly status: number;
  readonly body: Record<string, unknown>;
}

/** /healthz: the process is up and its event loop answers. Nothing else is asked. */
export function liveness(): HealthAnswer {
  return { status: 200, body: { status: 'ok' } };
}

const READY_TIMEOUT_MS = 2000;

/**
 * /readyz: the database answers (within 2 s) and has every migration of this code applied.
 * A load balancer sends nothing to a process that answers 503.
 */
export async function readiness(db: Database): Promise<HealthAnswer> {
  try {
    const pending = await Promise.race([
      pendingMigrations(db.pool),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS).unref()),
    ]);
    return pending.length === 0
      ? { status: 200, body: { status: 'ready' } }
      : { status: 503, body: { status: 'migrations pending', pending } };
  } catch (error) {
    return { status: 503, body: { status: 'database unreachable', error: (error as Error).message } };
  }
}
