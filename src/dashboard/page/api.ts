import { createClient, type Client } from 'graphql-ws/client';

/** A refusal from the service, with its stable code. */
export class ApiError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export interface Sink<T> {
  next(value: T): void;
  /** The subscription ended: `error` unset when the service completed it. */
  end(error?: unknown): void;
}

interface GraphQLError {
  readonly message: string;
  readonly extensions?: { readonly code?: string };
}

const failure = (errors: readonly GraphQLError[] | undefined) => {
  const [first] = errors ?? [];
  return new ApiError(first?.extensions?.code ?? 'ERROR', first?.message ?? 'no answer');
};

/** The server's closes that mean the key is not (or no longer) good: 4401 Unauthorized, 4403 Forbidden. */
const KEY_REFUSED = new Set([4401, 4403]);
const PONG_WAIT_MS = 5000;

/**
 * The service as the page sees it: GraphQL over HTTP on /graphql and graphql-ws on the same
 * path, both carrying the key as a bearer token. The WebSocket client does not retry by itself:
 * a dropped connection ends every subscription, and each resumes from where it got to (a
 * retry of graphql-ws's sends each subscription again as it first was, from its first cursor).
 * A key the service refuses, on either transport, calls `onRefused` once.
 */
export class Api {
  readonly #authorization: string;
  readonly #ws: Client;
  readonly #open = new Set<(error: unknown) => void>();
  readonly #onRefused: (reason: string) => void;
  #closed = false;

  constructor(key: string, onRefused: (reason: string) => void) {
    this.#authorization = `Bearer ${key}`;
    this.#onRefused = onRefused;
    const url = new URL('/graphql', location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    let pongWait: ReturnType<typeof setTimeout> | undefined;
    this.#ws = createClient({
      url: url.href,
      connectionParams: { authorization: this.#authorization },
      lazy: true,
      retryAttempts: 0,
      connectionAckWaitTimeout: 10_000,
      keepAlive: 10_000,
      on: {
        // A socket that stops answering pings is dead (a laptop asleep, a lost NAT entry): close it, so that its subscriptions resume.
        ping: (received) => {
          if (!received) pongWait = setTimeout(() => this.#ws.terminate(), PONG_WAIT_MS);
        },
        pong: (received) => {
          if (received) clearTimeout(pongWait);
        },
        closed: (event) => {
          clearTimeout(pongWait);
          const code = (event as { code?: number } | undefined)?.code;
          if (code !== undefined && KEY_REFUSED.has(code)) return this.#refuse(`the service closed the connection (${code})`);
          // graphql-ws resubscribes by itself after a normal close (1000), with each subscription's
          // first variables: end them here instead, so that each resumes from where it got to. A
          // copy, because an ended subscription that resubscribes at once joins the set.
          if (code === 1000) for (const end of Array.from(this.#open)) end(event);
        },
      },
    });
  }

  async query<T>(query: string, variables: Record<string, unknown> = {}, signal?: AbortSignal): Promise<T> {
    const response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: this.#authorization },
      body: JSON.stringify({ query, variables }),
      signal,
    });
    const answer = (await response.json().catch(() => ({ errors: [{ message: `HTTP ${response.status}` }] }))) as {
      data?: unknown;
      errors?: GraphQLError[];
    };
    if (answer.errors?.length) throw this.#checked(failure(answer.errors));
    return answer.data as T;
  }

  /** The Prometheus text of /metrics, sent the metrics token when one is given. */
  async metrics(token: string | null, signal?: AbortSignal): Promise<string> {
    const response = await fetch('/metrics', { headers: token ? { authorization: `Bearer ${token}` } : {}, signal });
    if (!response.ok) throw new ApiError(response.status === 401 ? 'METRICS_TOKEN_REQUIRED' : 'ERROR', await response.text());
    return response.text();
  }

  /** `sink.end` is called once: an error sent as a result ends the subscription too. */
  subscribe<T>(query: string, variables: Record<string, unknown>, sink: Sink<T>): () => void {
    let ended = false;
    const end = (error?: unknown) => {
      if (ended) return;
      ended = true;
      this.#open.delete(end);
      stop();
      sink.end(error === undefined ? undefined : this.#checked(error));
    };
    this.#open.add(end);
    const stop = this.#ws.subscribe<T>(
      { query, variables },
      {
        next: (answer) => {
          if (ended) return;
          if (answer.errors?.length) end(failure(answer.errors));
          else sink.next(answer.data as T);
        },
        // A subscription refused at its start ends with the list of its errors.
        error: (error) => end(Array.isArray(error) ? failure(error as GraphQLError[]) : error),
        complete: () => end(),
      },
    );
    return () => {
      ended = true;
      this.#open.delete(end);
      stop();
    };
  }

  dispose(): void {
    this.#closed = true;
    void this.#ws.dispose();
  }

  /** An UNAUTHENTICATED answer means the key is gone (revoked, expired): the page signs out. */
  #checked(error: unknown): unknown {
    if (error instanceof ApiError && error.code === 'UNAUTHENTICATED') this.#refuse(error.message);
    return error;
  }

  #refuse(reason: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#onRefused(reason);
  }
}
