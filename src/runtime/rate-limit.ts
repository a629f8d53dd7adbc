import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { Pace } from '../app/pace.ts';
import { AppError } from '../domain/errors.ts';

/** How long an operation may wait for its workspace's rate before it is refused. */
const MAX_WAIT_MS = 1000;

/**
 * Operations per API key and per workspace (whose admin may make many keys), per second, in
 * this process. A key past its rate is refused (rate-limiter-flexible). A workspace's
 * operations are paced instead: a tenth of a second's worth may go at once, the rest wait
 * their turn, so that a workspace that sends its whole second at once does not hold the
 * process for the others; one that would wait over a second is refused. Refusals are
 * RATE_LIMITED, over HTTP 429 with Retry-After.
 */
export class RateLimit {
  readonly #perKey: RateLimiterMemory;
  readonly #perWorkspace = new Pace('operations per second (RATE_LIMIT_PER_WORKSPACE_PER_SECOND)', MAX_WAIT_MS, 0.1);
  readonly #workspaceRate: number;

  constructor(perKey: number, perWorkspace: number) {
    this.#perKey = new RateLimiterMemory({ points: perKey, duration: 1 });
    this.#workspaceRate = perWorkspace;
  }

  async take(key: string, workspaceId: string): Promise<void> {
    try {
      await this.#perKey.consume(key);
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      const retryAfterSeconds = Math.max(1, Math.ceil(error.msBeforeNext / 1000));
      throw new AppError('RATE_LIMITED', `too many requests for this API key: retry in ${retryAfterSeconds} s`, {
        retryAfterSeconds,
        http: { status: 429, headers: { 'Retry-After': String(retryAfterSeconds) } },
      });
    }
    await this.#perWorkspace.take(workspaceId, 1, this.#workspaceRate);
  }
}
