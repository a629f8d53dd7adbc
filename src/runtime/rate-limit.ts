import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { AppError } from '../domain/errors.ts';

/**
 * Operations per API key, and per workspace (whose admin may make many keys), per second, in
 * this process (rate-limiter-flexible). Past either limit an operation is refused with
 * RATE_LIMITED, and over HTTP with 429 and Retry-After.
 */
export class RateLimit {
  readonly #perKey: RateLimiterMemory;
  readonly #perWorkspace: RateLimiterMemory;

  constructor(perKey: number, perWorkspace: number) {
    this.#perKey = new RateLimiterMemory({ points: perKey, duration: 1 });
    this.#perWorkspace = new RateLimiterMemory({ points: perWorkspace, duration: 1 });
  }

  async take(key: string, workspaceId: string): Promise<void> {
    await this.#consume(this.#perKey, key, 'this API key');
    await this.#consume(this.#perWorkspace, workspaceId, 'this workspace');
  }

  async #consume(limiter: RateLimiterMemory, key: string, whose: string): Promise<void> {
    try {
      await limiter.consume(key);
    } catch (error) {
      if (!(error instanceof RateLimiterRes)) throw error;
      const retryAfterSeconds = Math.max(1, Math.ceil(error.msBeforeNext / 1000));
      throw new AppError('RATE_LIMITED', `too many requests for ${whose}: retry in ${retryAfterSeconds} s`, {
        retryAfterSeconds,
        http: { status: 429, headers: { 'Retry-After': String(retryAfterSeconds) } },
      });
    }
  }
}
