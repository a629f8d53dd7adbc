import { AppError } from '../domain/errors.ts';

/** Sizes of values already measured: a value shared between answers is serialized once to weigh it. */
const measured = new WeakMap<object, number>();

/** A value's size as JSON, in bytes. */
export function jsonBytes(value: unknown): number {
  if (value === null || value === undefined) return 4;
  if (typeof value !== 'object') return Buffer.byteLength(JSON.stringify(value));
  let size = measured.get(value);
  if (size === undefined) measured.set(value, (size = Buffer.byteLength(JSON.stringify(value))));
  return size;
}

/** The workspace's read rate (Pace): reads wait their turn, and what an answer holds is charged to it. */
export interface ReadPace {
  turn(): Promise<void>;
  charge(bytes: number): void;
}

/**
 * How much data one answer may still hold (MAX_RESPONSE_BYTES): event data, states,
 * definitions, inputs and outputs. Reads take the remainder as their bound, so that what an
 * answer could not hold is never read; past it, the answer is RESPONSE_TOO_LARGE.
 */
export class AnswerBudget {
  readonly #max: number;
  readonly #pace: ReadPace | undefined;
  #spent = 0;
  #charged = 0;

  constructor(max: number, pace?: ReadPace) {
    this.#max = max;
    this.#pace = pace;
  }

  /**
   * A budget of its own for a subscription's next payload, charged to the same read rate: what
   * a workspace's subscriptions are sent counts like what it reads (a payload shared by
   * identical subscriptions is executed, and charged, once).
   */
  renewed(): AnswerBudget {
    return new AnswerBudget(this.#max, this.#pace);
  }

  /** Waits until the workspace's reads are within its rate: what a heavy read does before it reads. */
  turn(): Promise<void> {
    return this.#pace?.turn() ?? Promise.resolve();
  }

  /** Charges the read rate with what was read for the answer but is not in it (a replay's fold). */
  charge(bytes: number): void {
    this.#charged += bytes;
    this.#pace?.charge(bytes);
  }

  /** What this answer has charged to the read rate: what a kept copy of it charges again when it is sent. */
  get charged(): number {
    return this.#charged;
  }

  /** What a read may still bring: a read that brings more has made the answer too large. */
  get remaining(): number {
    return Math.max(0, this.#max - this.#spent);
  }

  get exceeded(): boolean {
    return this.#spent > this.#max;
  }

  /** Takes `bytes` from the budget; RESPONSE_TOO_LARGE past it. */
  spend(bytes: number): void {
    this.#spent += bytes;
    this.#charged += bytes;
    this.#pace?.charge(bytes);
    if (this.exceeded) throw answerTooLarge(this.#max);
  }

  /** Takes a value's size from the budget, and gives the value back. */
  take<T>(value: T): T {
    this.spend(jsonBytes(value));
    return value;
  }
}

export const answerTooLarge = (max: number) =>
  new AppError('RESPONSE_TOO_LARGE', `the answer would hold more than ${max} bytes of data: ask for fewer items or fields`, { limit: max });
