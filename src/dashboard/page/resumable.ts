import { ApiError, type Api } from './api.ts';

// A subscription that outlives its connection: when it ends other than by the service's choice
// (a dropped socket, a restart, an overloaded server), it subscribes again after a pause, with
// variables that say where it got to. Refusals (the key, the role, the document) end it for good.

const REFUSED = /^(UNAUTHENTICATED|FORBIDDEN|BAD_USER_INPUT|NOT_FOUND|GRAPHQL_VALIDATION_FAILED|GRAPHQL_PARSE_FAILED|PERSISTED_QUERY_.*)$/;
/** The server's closes that no retry can change: 4400 Bad Request, 4401 Unauthorized, 4403 Forbidden. */
const FATAL_CLOSES = new Set([4400, 4401, 4403]);
const MAX_PAUSE_MS = 5000;
/** How long a subscription must stay open before its pauses start from the shortest again. */
const STABLE_MS = 5000;

/** `resumed`: open again after a drop. */
export type ResumableState = 'connecting' | 'open' | 'resumed' | 'reconnecting' | 'refused' | 'ended';

export interface Resumable<T> {
  /** The variables of the next (re)subscription. */
  variables(): Record<string, unknown>;
  next(value: T): void;
  state(state: ResumableState, detail?: string): void;
}

/** What a refusal says, or undefined for an end worth another try. */
function refusal(error: unknown): string | undefined {
  if (error instanceof ApiError) return REFUSED.test(error.code) ? `${error.code}: ${error.message}` : undefined;
  const { code, reason } = (error ?? {}) as { code?: unknown; reason?: unknown };
  return typeof code === 'number' && FATAL_CLOSES.has(code)
    ? `the service closed the connection (${code} ${String(reason ?? '')})`
    : undefined;
}

/** Starts it; the returned function stops it. */
export function resumable<T>(api: Api, query: string, handler: Resumable<T>): () => void {
  let stop: (() => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stable: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;
  let stopped = false;
  const open = (resumed: boolean) => {
    let first = true;
    handler.state(resumed ? 'reconnecting' : 'connecting');
    stop = api.subscribe<T>(query, handler.variables(), {
      next(value) {
        if (first) {
          first = false;
          stable = setTimeout(() => (failures = 0), STABLE_MS);
          handler.state(resumed ? 'resumed' : 'open');
        }
        handler.next(value);
      },
      end(error) {
        clearTimeout(stable);
        if (stopped) return;
        if (error === undefined) return handler.state('ended');
        const refused = refusal(error);
        if (refused) return handler.state('refused', refused);
        failures += 1;
        handler.state('reconnecting');
        const pause = Math.min(MAX_PAUSE_MS, 250 * 2 ** (failures - 1));
        // Jitter: the tabs a restart dropped do not all come back in the same instant.
        timer = setTimeout(() => open(true), pause / 2 + Math.random() * (pause / 2));
      },
    });
  };
  open(false);
  return () => {
    stopped = true;
    clearTimeout(timer);
    clearTimeout(stable);
    stop?.();
  };
}
