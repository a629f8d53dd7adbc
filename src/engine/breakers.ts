import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen, type CircuitBreakerPolicy } from 'cockatiel';
import { LRUCache } from 'lru-cache';
import { ActionError } from './actions/action.ts';

export type BreakerState = 'CLOSED' | 'OPEN' | 'HALF_OPEN' | 'ISOLATED';

const STATES: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: 'CLOSED',
  [CircuitState.Open]: 'OPEN',
  [CircuitState.HalfOpen]: 'HALF_OPEN',
  [CircuitState.Isolated]: 'ISOLATED',
};

export interface BreakerOptions {
  /** Consecutive failures that open a host's breaker. */
  readonly failures: number;
  /** How long it stays open before one call may try the host again. */
  readonly halfOpenAfterMs: number;
}

/** Failures that say the host is unwell: 5xx answers, network errors and timeouts. Not 4xx. */
const hostFailure = handleWhen(
  (error) =>
    (error as { countsAsFailure?: boolean }).countsAsFailure === true ||
    (error as Error).name === 'NetworkError' ||
    (error as Error).name === 'TimeoutError' ||
    (error as Error).name === 'AbortError',
);

/** A call stopped by us (a cancel, a sibling's failure, a shutdown): says nothing of the host. */
class NotTheHost extends Error {}

/** Hosts whose breakers are kept: definitions can name any number of hosts. */
const MAX_HOSTS = 1000;

/** The breakers one workspace's executions call through. */
export interface HostBreakers {
  call<T>(host: string, signal: AbortSignal, cancelled: AbortSignal, work: (signal: AbortSignal) => Promise<T>): Promise<T>;
}

/**
 * One circuit breaker per workspace and host (cockatiel), shared by that workspace's
 * executions in the process: one workspace's failing calls never suspend another's, nor
 * tell it which hosts others call.
 */
export class Breakers {
  readonly #options: BreakerOptions;
  /** By workspace id and host, joined by a space (which neither holds). */
  readonly #byHost = new LRUCache<string, CircuitBreakerPolicy>({ max: MAX_HOSTS });

  constructor(options: BreakerOptions) {
    this.#options = options;
  }

  of(workspaceId: string): HostBreakers {
    return { call: (host, signal, cancelled, work) => this.#call(`${workspaceId} ${host}`, host, signal, cancelled, work) };
  }

  /**
   * Runs a call to host through its breaker. `signal` ends the call (the step's timeout
   * included, which counts against the host); `cancelled` says the run itself stopped it,
   * which does not.
   */
  async #call<T>(key: string, host: string, signal: AbortSignal, cancelled: AbortSignal, work: (signal: AbortSignal) => Promise<T>): Promise<T> {
    let breaker = this.#byHost.get(key);
    if (!breaker) {
      breaker = circuitBreaker(hostFailure, {
        halfOpenAfter: this.#options.halfOpenAfterMs,
        breaker: new ConsecutiveBreaker(this.#options.failures),
      });
      this.#byHost.set(key, breaker);
    }
    try {
      return await breaker.execute(async ({ signal: callSignal }) => {
        try {
          return await work(callSignal);
        } catch (error) {
          throw cancelled.aborted ? new NotTheHost('cancelled', { cause: error }) : error;
        }
      }, signal);
    } catch (error) {
      if (error instanceof NotTheHost) throw error.cause;
      if (error instanceof BrokenCircuitError) throw new ActionError('CircuitOpen', `calls to ${host} are suspended: its circuit breaker is open`);
      throw error;
    }
  }

  /** Every breaker's state, or those of one workspace. */
  states(workspaceId?: string): { host: string; state: BreakerState }[] {
    return [...this.#byHost.entries()]
      .map(([key, breaker]) => ({ key, host: key.slice(key.indexOf(' ') + 1), state: STATES[breaker.state] }))
      .filter(({ key }) => workspaceId === undefined || key.startsWith(`${workspaceId} `))
      .map(({ host, state }) => ({ host, state }))
      .sort((a, b) => a.host.localeCompare(b.host));
  }
}
