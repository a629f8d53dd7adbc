/** What a load script's run must stay within, or it exits 1. */
export interface Thresholds {
  readonly p95Ms: number;
  readonly p99Ms: number;
  /** Errors over requests. */
  readonly errorRate: number;
}

/** The old system's claim: p95 under 100 ms, p99 under 200 ms, under 1% errors. P95_MS, P99_MS and MAX_ERROR_RATE override. */
export function thresholdsFrom(env: NodeJS.ProcessEnv): Thresholds {
  return {
    p95Ms: Number(env.P95_MS ?? 100),
    p99Ms: Number(env.P99_MS ?? 200),
    errorRate: Number(env.MAX_ERROR_RATE ?? 0.01),
  };
}

export interface Measured {
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly errors: number;
  readonly requests: number;
}

/**
 * The thresholds a run broke, as sentences; none when it passed. `mustBeZero` names counts that
 * fail the run whenever they are not zero (events lost, duplicated, missed, repeated).
 */
export function broken(measured: Measured, thresholds: Thresholds, mustBeZero: Record<string, number> = {}): string[] {
  const failures: string[] = [];
  if (measured.requests === 0) failures.push('no request was answered');
  if (measured.p95Ms >= thresholds.p95Ms) failures.push(`p95 ${measured.p95Ms} ms, not under ${thresholds.p95Ms} ms`);
  if (measured.p99Ms >= thresholds.p99Ms) failures.push(`p99 ${measured.p99Ms} ms, not under ${thresholds.p99Ms} ms`);
  const rate = measured.requests === 0 ? 0 : measured.errors / measured.requests;
  if (rate >= thresholds.errorRate) failures.push(`errors ${(rate * 100).toFixed(2)}%, not under ${thresholds.errorRate * 100}%`);
  for (const [name, value] of Object.entries(mustBeZero)) if (value !== 0) failures.push(`${name}: ${value}, not 0`);
  return failures;
}
