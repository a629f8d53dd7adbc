import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { ActionError, defineAction } from './action.ts';

export const transform = defineAction('transform', z.record(z.string(), z.unknown()), async (input) => input);

export const sleepAction = defineAction('sleep', z.object({ ms: z.number().int().min(0).max(3_600_000) }).strict(), async ({ ms }, { signal }) => {
  await sleep(ms, undefined, { signal });
  return { sleptMs: ms };
});

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
