import { z } from 'zod';
import { jsonSize } from '../../domain/json-size.ts';
import { ActionError } from './action-error.ts';
import { defineAction, defineTimer } from './action.ts';

/** A log line's fields, as JSON, at most: what a tenant writes into the server's log is bounded like its message. */
const MAX_LOG_FIELDS_BYTES = 8192;

export const transform = defineAction('transform', z.record(z.string(), z.unknown()), async (input) => input);

/** Waits `ms` (at most an hour) as a wait node does; its result is `{ sleptMs }`. */
export const sleepAction = defineTimer('sleep', z.object({ ms: z.number().int().min(0).max(3_600_000) }).strict(), ({ ms }) => ms);

export const log = defineAction(
  'log',
  z
    .object({
      message: z.string().max(10_000),
      fields: z
        .record(z.string(), z.unknown())
        .refine((fields) => jsonSize(fields, MAX_LOG_FIELDS_BYTES) <= MAX_LOG_FIELDS_BYTES, `at most ${MAX_LOG_FIELDS_BYTES} bytes as JSON`)
        .optional(),
    })
    .strict(),
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
