/** The p-th percentile (nearest rank) of values sorted ascending, in their unit; 0 for none. */
function ranked(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

/** The p-th percentile (nearest rank) of some values, in their unit; 0 for none. */
export function percentile(values: readonly number[], p: number): number {
  return ranked(
    [...values].sort((a, b) => a - b),
    p,
  );
}

/** p50, p95 and p99 of latencies in milliseconds, sorted once. */
export function latencySummary(latencies: readonly number[]): { p50Ms: number; p95Ms: number; p99Ms: number } {
  const sorted = [...latencies].sort((a, b) => a - b);
  return { p50Ms: ms(ranked(sorted, 50)), p95Ms: ms(ranked(sorted, 95)), p99Ms: ms(ranked(sorted, 99)) };
}

/** Milliseconds, rounded to a tenth. */
export const ms = (value: number): number => Math.round(value * 10) / 10;
