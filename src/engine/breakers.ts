import { BrokenCircuitError, CircuitState, ConsecutiveBreaker, circuitBreaker, handleWhen, type CircuitBreakerPolicy } from 'cockatiel';
import { LRUCache } from 'lru-cache';
import { ActionError } from './actions/action-error.ts';

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

/** Breakers kept per workspace, and workspaces kept: definitions can name any number of hosts. */
export const MAX_HOSTS = 200;
const MAX_WORKSPACES = 1000;

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
  /** By workspace, then host: a workspace calling many hosts evicts only its own breakers. */
  readonly #byWorkspace = new LRUCache<string, LRUCache<string, CircuitBreakerPolicy>>({ max: MAX_WORKSPACES });

  constructor(options: BreakerOptions) {
    this.#options = options;
  }

  of(workspaceId: string): HostBreakers {
    return {
      call: (host, signal, cancelled, work) => {
        let hosts = this.#byWorkspace.get(workspaceId);
        if (!hosts) this.#byWorkspace.set(workspaceId, (hosts = new LRUCache({ max: MAX_HOSTS })));
        return this.#call(hosts, host, signal, cancelled, work);
      },
    };
  }

  /**
   * Runs a call to host through its breaker. `signal` ends the call (the step's timeout
   * included, which counts against the host); `cancelled` says the run itself stopped it,
   * which does not.
   */
  async #call<T>(
    hosts: LRUCache<string, CircuitBreakerPolicy>,
    host: string,
    signal: AbortSignal,
    cancelled: AbortSignal,
    work: (signal: AbortSignal) => Promise<T>,
  ): Promise<T> {
    let breaker = hosts.get(host);
    if (!breaker) {
      breaker = circuitBreaker(hostFailure, {
        halfOpenAfter: this.#options.halfOpenAfterMs,
        breaker: new ConsecutiveBreaker(this.#options.failures),
      });
      hosts.set(host, breaker);
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
      if (error instanceof BrokenCircuitError)
        throw new ActionError('CircuitOpen', `calls to ${host} are suspended: its circuit breaker is open`);
      throw error;
    }
  }

  /** The states of every workspace's breakers, or of one workspace's. */
  states(workspaceId?: string): { host: string; state: BreakerState }[] {
    const workspaces = workspaceId === undefined ? [...this.#byWorkspace.values()] : [this.#byWorkspace.peek(workspaceId)];
    return workspaces
      .flatMap((hosts) => [...(hosts?.entries() ?? [])].map(([host, breaker]) => ({ host, state: STATES[breaker.state] })))
      .sort((a, b) => a.host.localeCompare(b.host));
  }
}
