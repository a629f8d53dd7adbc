import type { Action, Timer } from './action.ts';
import { fail, log, sleepAction, transform } from './builtins.ts';
import { httpRequest } from './http-request.ts';

/** The actions a task may name. Adding one is adding it here: definitions are validated against these names. */
export const ACTIONS: ReadonlyMap<string, Action | Timer> = new Map(
  ([httpRequest, transform, sleepAction, log, fail] as (Action<never> | Timer<never>)[]).map((action) => [
    action.name,
    action as Action | Timer,
  ]),
);
