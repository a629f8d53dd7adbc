import { z } from 'zod';
import type { HostBreakers } from '../breakers.ts';
import type { OutboundPolicy } from './outbound.ts';
import { ActionError } from './action-error.ts';

export interface ActionContext {
  /** Aborted on the step's timeout, a cancel, or the process losing the execution. */
  readonly signal: AbortSignal;
  /** Aborted when the run stopped the step (not its timeout): the action's target did nothing wrong. */
  readonly cancelled: AbortSignal;
  readonly breakers: HostBreakers;
  /** Where an outbound call may connect (HTTP_ALLOWED_HOSTS, and no local address unless named). */
  readonly outbound: OutboundPolicy;
  readonly log: (message: string, fields: Record<string, unknown>) => void;
  /**
   * The same for every attempt of this step, on any process that runs it: what a target told
   * of it (http.request's Idempotency-Key) can tell a call it has seen from a new one.
   */
  readonly idempotencyKey: string;
}

export interface Action<Input = unknown> {
  readonly name: string;
  readonly input: z.ZodType<Input>;
  run(input: Input, context: ActionContext): Promise<unknown>;
}

/** One action: a name, the schema its input must meet, and the function that runs it. */
export function defineAction<Schema extends z.ZodType>(
  name: string,
  input: Schema,
  run: (input: z.output<Schema>, context: ActionContext) => Promise<unknown>,
): Action<z.output<Schema>> {
  return { name, input: input as z.ZodType<z.output<Schema>>, run };
}

/**
 * An action that only waits: its step is a wait (its deadline recorded, nothing held while it
 * waits), not work that takes one of the process's step slots.
 */
export interface Timer<Input = unknown> {
  readonly name: string;
  readonly input: z.ZodType<Input>;
  delayMs(input: Input): number;
}

export function defineTimer<Schema extends z.ZodType>(
  name: string,
  input: Schema,
  delayMs: (input: z.output<Schema>) => number,
): Timer<z.output<Schema>> {
  return { name, input: input as z.ZodType<z.output<Schema>>, delayMs };
}

export const isTimer = (entry: Action | Timer): entry is Timer => 'delayMs' in entry;

/** An input built from the data, as the action's schema takes it: one it refuses fails the step. */
export function parseInput<Input>(action: Action<Input> | Timer<Input>, input: unknown): Input {
  const parsed = action.input.safeParse(input);
  if (!parsed.success) {
    throw new ActionError('InvalidInput', `${action.name}: ${z.prettifyError(parsed.error).replaceAll('\n', '; ')}`);
  }
  return parsed.data;
}

/** Runs an action on an input built from the data: an input the schema refuses fails the step. */
export async function runAction(action: Action, input: unknown, context: ActionContext): Promise<unknown> {
  return action.run(parseInput(action, input), context);
}
