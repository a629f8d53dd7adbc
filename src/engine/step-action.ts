import { TaskCancelledError, TimeoutStrategy, timeout } from 'cockatiel';
import { v5 as uuidv5 } from 'uuid';
import { refuseNul } from '../domain/errors.ts';
import type { Execution } from '../domain/executions/execution.ts';
import { jsonSize } from '../domain/json-size.ts';
import { ACTIONS } from './actions/index.ts';
import { ActionError } from './actions/action-error.ts';
import { isTimer, runAction } from './actions/action.ts';
import type { OutboundPolicy } from './actions/outbound.ts';
import type { Breakers } from './breakers.ts';

/** Steps' idempotency keys are name-based UUIDs of their execution and step, in this namespace. */
const IDEMPOTENCY_KEYS = '5d0c6a4e-8a6f-4f3b-9a3e-1c2b7f9e4d21';

/** What a step's action is run with: the process's breakers and outbound policy, its output bound and log. */
export interface StepTools {
  readonly breakers: Breakers;
  readonly outbound: OutboundPolicy;
  readonly maxOutputBytes: number;
  readonly log: (level: 'info' | 'error', message: string, fields: Record<string, unknown>) => void;
}

/**
 * Runs one task's action within its timeout, and checks what it returned: no larger than the
 * output bound, and storable, so that what the store would refuse fails the step rather than
 * every append after it.
 */
export async function runStep(
  { breakers, outbound, maxOutputBytes, log }: StepTools,
  { workspaceId, id: executionId }: Execution,
  name: string,
  input: unknown,
  timeoutMs: number,
  signal: AbortSignal,
  step: string,
): Promise<unknown> {
  const action = ACTIONS.get(name);
  if (!action || isTimer(action)) throw new ActionError('UnknownAction', `no action is registered as ${name}`);
  let output: unknown;
  try {
    output = await timeout(timeoutMs, TimeoutStrategy.Aggressive).execute(
      ({ signal: stepSignal }) =>
        runAction(action, input, {
          signal: stepSignal,
          cancelled: signal,
          breakers: breakers.of(workspaceId),
          outbound: outbound,
          // What a definition writes is data in a line of ours, never the line's own fields.
          log: (text, fields) => log('info', 'an action logged', { workspaceId, executionId, action: name, text, fields }),
          idempotencyKey: uuidv5(`${executionId}/${step}`, IDEMPOTENCY_KEYS),
        }),
      signal,
    );
  } catch (error) {
    if (error instanceof TaskCancelledError && !signal.aborted)
      throw new ActionError('Timeout', `${name} took longer than ${timeoutMs} ms`);
    throw error;
  }
  // Measured before it is written out: a transform's output may share parts of the data many times over.
  if (jsonSize(output ?? null, maxOutputBytes) > maxOutputBytes) {
    throw new ActionError('OutputTooLarge', `${name} returned more than ${maxOutputBytes} bytes`);
  }
  const stored = JSON.parse(JSON.stringify(output ?? null));
  // What the store would refuse fails the step, rather than every append after it.
  try {
    refuseNul(stored, 'output');
  } catch (error) {
    throw new ActionError('InvalidOutput', `${name}: ${(error as Error).message}`);
  }
  return stored;
}
