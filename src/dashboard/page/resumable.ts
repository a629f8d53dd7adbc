import { ApiError, type Api } from './api.ts';

// A subscription that outlives its connection: when it ends other than by the service's choice
// (a dropped socket, a restart), it subscribes again after a pause, with variables that say
// where it got to. Refusals (a key revoked or expired, a role too low) end it for good.

const REFUSED = new Set(['UNAUTHENTICATED', 'FORBIDDEN', 'BAD_USER_INPUT', 'NOT_FOUND']);
const MAX_PAUSE_MS = 5000;

/** `resumed`: open again after a drop. */
export type ResumableState = 'connecting' | 'open' | 'resumed' | 'reconnecting' | 'refused' | 'ended';

export interface Resumable<T> {
  /** The variables of the next (re)subscription. */
  variables(): Record<string, unknown>;
  next(value: T): void;
  state(state: ResumableState, detail?: string): void;
}

/** Whether a subscription's end is a refusal: an error with one of our codes, or the server's 44xx close. */
function refusal(error: unknown): string | undefined {
  if (error instanceof ApiError) return REFUSED.has(error.code) ? `${error.code}: ${error.message}` : undefined;
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'number' && code >= 4400 && code < 4500 ? `closed ${code}: ${(error as CloseEvent).reason}` : undefined;
}

/** Starts it; the returned function stops it. */
export function resumable<T>(api: Api, query: string, handler: Resumable<T>): () => void {
  let stop: (() => void) | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;
  let stopped = false;
  const open = (resumed: boolean) => {
    let first = true;
    handler.state(resumed ? 'reconnecting' : 'connecting');
    stop = api.subscribe<T>(query, handler.variables(), {
      next(value) {
        if (first) {
          first = false;
          failures = 0;
          handler.state(resumed ? 'resumed' : 'open');
        }
        handler.next(value);
      },
      end(error) {
        if (stopped) return;
        if (error === undefined) return handler.state('ended');
        const refused = refusal(error);
        if (refused) return handler.state('refused', refused);
        failures += 1;
        handler.state('reconnecting');
        timer = setTimeout(() => open(true), Math.min(MAX_PAUSE_MS, 250 * 2 ** (failures - 1)));
      },
    });
  };
  open(false);
  return () => {
    stopped = true;
    clearTimeout(timer);
    stop?.();
  };
}
