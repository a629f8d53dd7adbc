import { AppError } from '../domain/errors.ts';
import { FairLimit } from '../engine/fair-limit.ts';

/** Runs a workspace's heavy work within the bound. */
export type Bulkhead = <T>(workspaceId: string, work: () => Promise<T>) => Promise<T>;

export interface BulkheadStats {
  readonly active: number;
  readonly queued: number;
  readonly rejected: number;
}

/**
 * At most `concurrency` pieces of work at once and `queue` waiting; past that a caller is
 * refused at once with OVERLOADED instead of piling up behind the others. Shared fairly: one
 * workspace runs at most half of the places and holds at most half of the queue, and a place
 * that frees goes to the workspace that waited longest, so another's read always finds room.
 */
export function createBulkhead(concurrency: number, queue: number): Bulkhead & { stats(): BulkheadStats } {
  const limit = new FairLimit(concurrency, Math.max(1, Math.ceil(concurrency / 2)));
  const queueShare = Math.max(1, Math.ceil(queue / 2));
  let rejected = 0;
  const run = <T>(workspaceId: string, work: () => Promise<T>): Promise<T> => {
    if (!limit.hasRoomFor(workspaceId) && (limit.pending >= queue || limit.pendingOf(workspaceId) >= queueShare)) {
      rejected += 1;
      return Promise.reject(new AppError('OVERLOADED', 'too many heavy reads are running; retry shortly'));
    }
    return limit.run(workspaceId, work);
  };
  return Object.assign(run, {
    stats: () => ({ active: limit.active, queued: limit.pending, rejected }),
  });
}
