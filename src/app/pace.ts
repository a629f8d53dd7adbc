import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '../domain/errors.ts';

/** A workspace's allowance of something per second (steps, bytes read, operations): up to its burst may be spent at once. */
interface Allowance {
  /** What is left now; below zero, what callers have taken ahead of time. */
  tokens: number;
  at: number;
}

/**
 * Rates per workspace, kept by making callers wait rather than by refusing them: each
 * workspace gets `perSecond` a second, of which `burstSeconds`' worth may go at once; what one
 * takes ahead of its rate is waited for by its next callers, in order, and other workspaces
 * are not concerned. A wait longer than `maxWaitMs` is refused with RATE_LIMITED instead.
 */
export class Pace {
  readonly #allowances = new Map<string, Allowance>();
  readonly #maxWaitMs: number;
  readonly #burstSeconds: number;
  readonly #what: string;

  constructor(what: string, maxWaitMs: number, burstSeconds = 1) {
    this.#what = what;
    this.#maxWaitMs = maxWaitMs;
    this.#burstSeconds = burstSeconds;
  }

  #refilled(key: string, perSecond: number): Allowance {
    const now = performance.now();
    const burst = Math.max(1, perSecond * this.#burstSeconds);
    let allowance = this.#allowances.get(key);
    if (!allowance) this.#allowances.set(key, (allowance = { tokens: burst, at: now }));
    allowance.tokens = Math.min(burst, allowance.tokens + ((now - allowance.at) / 1000) * perSecond);
    allowance.at = now;
    // Full allowances are forgotten: a workspace that stopped costs no memory.
    if (allowance.tokens >= burst && this.#allowances.size > 10_000) this.#allowances.delete(key);
    return allowance;
  }

  /** Takes `amount` of the workspace's allowance, waiting for it when its rate is spent. */
  async take(key: string, amount: number, perSecond: number, signal?: AbortSignal): Promise<void> {
    const allowance = this.#refilled(key, perSecond);
    const waitMs = ((amount - allowance.tokens) / perSecond) * 1000;
    if (waitMs > this.#maxWaitMs) throw this.#refusal(waitMs);
    allowance.tokens -= amount;
    if (waitMs <= 0) return;
    try {
      await sleep(waitMs, undefined, { signal });
    } catch (error) {
      allowance.tokens += amount;
      throw error;
    }
  }

  /** Waits until the workspace has spent no more than its rate, then lets the caller go (it charges after, with `charge`). */
  async turn(key: string, perSecond: number): Promise<void> {
    const allowance = this.#refilled(key, perSecond);
    const waitMs = (-allowance.tokens / perSecond) * 1000;
    if (waitMs > this.#maxWaitMs) throw this.#refusal(waitMs);
    if (waitMs > 0) await sleep(waitMs);
  }

  /** Takes what was spent, for the next callers to wait for. */
  charge(key: string, amount: number, perSecond: number): void {
    this.#refilled(key, perSecond).tokens -= amount;
  }

  #refusal(waitMs: number): AppError {
    const retryAfterSeconds = Math.max(1, Math.ceil(waitMs / 1000));
    return new AppError('RATE_LIMITED', `this workspace has used its ${this.#what} for now: retry in ${retryAfterSeconds} s`, {
      retryAfterSeconds,
      http: { status: 429, headers: { 'Retry-After': String(retryAfterSeconds) } },
    });
  }
}
