import { z } from 'zod';
import { ActionError, defineAction, defineTimer } from './action.ts';

export const transform = defineAction('transform', z.record(z.string(), z.unknown()), async (input) => input);

/** Waits `ms` (at most an hour) as a wait node does; its result is `{ sleptMs }`. */
export const sleepAction = defineTimer('sleep', z.object({ ms: z.number().int().min(0).max(3_600_000) }).strict(), ({ ms }) => ms);

export const log = defineAction(
  'log',
  z.object({ message: z.string().max(10_000), fields: z.record(z.string(), z.unknown()).optional() }).strict(),
  async ({ message, fields }, context) => {
    context.log(message, fields ?? {});
    return null;
  },
);

export const fail = defineAction(
  'fail',
  z.object({ error: z.string().min(1).max(200), message: z.string().max(10_000).optional() }).strict(),
  async ({ error, message }) => {
    throw new ActionError(error, message ?? error);
  },
);
