import pLimit from 'p-limit';
import { AppError } from '../domain/errors.ts';

export type Bulkhead = <T>(work: () => Promise<T>) => Promise<T>;

export interface BulkheadStats {
  readonly active: number;
  readonly queued: number;
  readonly rejected: number;
}

/**
 * At most `concurrency` pieces of work at once and `queue` waiting; past that a caller is
 * refused at once with OVERLOADED instead of piling up behind the others.
 */
export function createBulkhead(concurrency: number, queue: number): Bulkhead & { stats(): BulkheadStats } {
  const limit = pLimit(concurrency);
  let rejected = 0;
  const run = <T>(work: () => Promise<T>): Promise<T> => {
    if (limit.activeCount >= concurrency && limit.pendingCount >= queue) {
      rejected += 1;
      return Promise.reject(new AppError('OVERLOADED', 'too many heavy reads are running; retry shortly'));
    }
    return limit(work);
  };
  return Object.assign(run, {
    stats: () => ({ active: limit.activeCount, queued: limit.pendingCount, rejected }),
  });
}
