import { badInput } from '../errors.ts';

/**
 * What one execution may spend. Fixed when it starts (its ExecutionStarted records them), so a
 * change of limits applies to the executions started after it.
 */
export interface Budget {
  /** Step attempts in all: each retry is one more. */
  readonly maxSteps: number;
  /** Events its stream may hold, its start and end included. */
  readonly maxEvents: number;
  /** Event data its stream may hold, as JSON, in bytes. */
  readonly maxBytes: number;
  /** Its deadline when its definition sets no timeoutMs. */
  readonly timeoutMs: number;
  /** Time its choices' conditions may take, in all. */
  readonly maxConditionMs: number;
}

/** What one workspace may hold at once, and spend per second. */
export interface Quotas {
  /** Executions not yet ended (pending, running, waiting). */
  readonly maxActiveExecutions: number;
  /** Workflows not deleted. */
  readonly maxWorkflows: number;
  /** Steps its executions start per second, in each process that runs them: past it, they wait their turn. */
  readonly maxStepsPerSecond: number;
  /** Data its reads bring per second (event data, states, definitions, inputs, outputs), in each process: past it, reads wait. */
  readonly maxReadBytesPerSecond: number;
  /** Time its conditions take per second, in each process: past it, its choices wait. */
  readonly maxConditionMsPerSecond: number;
  /** Event data its executions write per second, in each process: past it, their next steps wait. */
  readonly maxWriteBytesPerSecond: number;
}

export type WorkspaceLimits = Budget & Quotas;

const DAY = 86_400_000;

/** The range each limit may be set to, defaults and overrides alike. */
export const LIMIT_RANGES: Readonly<Record<keyof WorkspaceLimits, readonly [number, number]>> = {
  maxSteps: [1, 1_000_000],
  maxEvents: [3, 5_000_000],
  maxBytes: [1024, 1024 ** 3],
  timeoutMs: [1000, DAY],
  maxConditionMs: [1, DAY],
  maxActiveExecutions: [1, 1_000_000],
  maxWorkflows: [1, 1_000_000],
  maxStepsPerSecond: [1, 1_000_000],
  maxReadBytesPerSecond: [1024, 1024 ** 3],
  maxConditionMsPerSecond: [1, 1000],
  maxWriteBytesPerSecond: [1024, 1024 ** 3],
};

export const LIMIT_NAMES = Object.keys(LIMIT_RANGES) as (keyof WorkspaceLimits)[];

/**
 * A workspace's overrides, checked: an object of known limits, each an integer in its range.
 * Refused with BAD_USER_INPUT naming the first that is not.
 */
export function checkOverrides(value: unknown): Partial<WorkspaceLimits> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badInput('limits', 'must be a JSON object of limits');
  for (const [name, limit] of Object.entries(value)) {
    const range = Object.hasOwn(LIMIT_RANGES, name) ? LIMIT_RANGES[name as keyof WorkspaceLimits] : undefined;
    if (!range) throw badInput('limits', `${name} is not a limit: the limits are ${LIMIT_NAMES.join(', ')}`);
    if (!Number.isInteger(limit) || (limit as number) < range[0] || (limit as number) > range[1]) {
      throw badInput('limits', `${name} must be an integer from ${range[0]} to ${range[1]}`);
    }
  }
  return value as Partial<WorkspaceLimits>;
}

/** The limits in force: the defaults, with the workspace's overrides over them. */
export function effectiveLimits(defaults: WorkspaceLimits, overrides: unknown): WorkspaceLimits {
  return { ...defaults, ...checkOverrides(overrides) };
}

export const budgetOf = ({ maxSteps, maxEvents, maxBytes, timeoutMs, maxConditionMs }: WorkspaceLimits): Budget => ({
  maxSteps,
  maxEvents,
  maxBytes,
  timeoutMs,
  maxConditionMs,
});
