import type { CatchRule, RetryRule } from '../workflows/graph.ts';

export interface StepError {
  /** What retry and catch rules match on: an action's error name, Timeout, HttpError... */
  readonly name: string;
  readonly message: string;
  /**
   * Where it arose, once it fails a graph: the node's path through maps and branches
   * ("Each#1[3]/Fetch"). A step's own errors leave it out: the step names its node.
   */
  readonly node?: string;
}

export const MAX_RETRY_DELAY_MS = 3_600_000;

const matches = (rule: { readonly errors: readonly string[] }, error: StepError) =>
  rule.errors.includes('*') || rule.errors.includes(error.name);

/**
 * The delay before the attempt after `attempt` failed with error, or null when no rule
 * allows one more. The first rule whose errors match decides. `random` (0..1) is only used
 * with jitter: the delay is then drawn between 0 and the computed one ("full jitter").
 */
export function retryDelay(rules: readonly RetryRule[] | undefined, error: StepError, attempt: number, random: number): number | null {
  const rule = rules?.find((candidate) => matches(candidate, error));
  if (!rule || attempt >= rule.maxAttempts) return null;
  const exponential = (rule.intervalMs ?? 1000) * (rule.backoffRate ?? 2) ** (attempt - 1);
  // An hour at most, as for maxDelayMs: timers past 2^31 ms would fire at once.
  const capped = Math.min(exponential, rule.maxDelayMs ?? MAX_RETRY_DELAY_MS);
  return Math.round(rule.jitter ? capped * random : capped);
}

/** The first catch rule for an error, if any. */
export function catchRule(rules: readonly CatchRule[] | undefined, error: StepError): CatchRule | undefined {
  return rules?.find((rule) => matches(rule, error));
}
