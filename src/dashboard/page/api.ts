import { createClient, type Client } from 'graphql-ws/client';

/** A refusal from the service, with its stable code. */
export class ApiError extends Error {
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.code = code;
  }
}

export type ConnectionState = 'connecting' | 'connected' | 'closed';

export interface Sink<T> {
  next(value: T): void;
  /** The subscription ended: `error` unset when the service completed it. */
  end(error?: unknown): void;
}

interface Answer {
  data?: unknown;
  errors?: { message: string; extensions?: { code?: string } }[];
}

const failure = (answer: Answer) => {
  const [first] = answer.errors ?? [];
  return new ApiError(first?.extensions?.code ?? 'ERROR', first?.message ?? 'no answer');
};

/**
 * The service as the page sees it: GraphQL over HTTP on /graphql and graphql-ws on the same
 * path, both carrying the key as a bearer token. The WebSocket client does not retry by itself:
 * a dropped connection ends every subscription, and each resumes from where it got to (a
 * retry of graphql-ws's would send each subscription again as it first was, from its first cursor).
 */
export class Api {
  readonly #authorization: string;
  readonly #ws: Client;
  readonly #listeners = new Set<(state: ConnectionState) => void>();

  constructor(key: string) {
    this.#authorization = `Bearer ${key}`;
    const url = new URL('/graphql', location.href);
    url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
    const tell = (state: ConnectionState) => () => this.#listeners.forEach((listener) => listener(state));
    this.#ws = createClient({
      url: url.href,
      connectionParams: { authorization: this.#authorization },
      lazy: true,
      retryAttempts: 0,
      keepAlive: 10_000,
      on: { connecting: tell('connecting'), connected: tell('connected'), closed: tell('closed') },
    });
  }

  /** Tells `listener` each change of the WebSocket's state, until the returned function is called. */
  onConnection(listener: (state: ConnectionState) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  async query<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const response = await fetch('/graphql', {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: this.#authorization },
      body: JSON.stringify({ query, variables }),
    });
    const answer = (await response.json().catch(() => ({ errors: [{ message: `HTTP ${response.status}` }] }))) as Answer;
    if (answer.errors?.length) throw failure(answer);
    return answer.data as T;
  }

  /** The Prometheus text of /metrics, which wants the metrics token when one is configured. */
  async metrics(token: string | null): Promise<string> {
    const response = await fetch('/metrics', { headers: { authorization: token ? `Bearer ${token}` : this.#authorization } });
    if (!response.ok) throw new ApiError(response.status === 401 ? 'METRICS_TOKEN_REQUIRED' : 'ERROR', await response.text());
    return response.text();
  }

  /** `sink.end` is called once: an error sent as a result ends the subscription too. */
  subscribe<T>(query: string, variables: Record<string, unknown>, sink: Sink<T>): () => void {
    let ended = false;
    const end = (error?: unknown) => {
      if (ended) return;
      ended = true;
      stop();
      sink.end(error);
    };
    const stop = this.#ws.subscribe<T>(
      { query, variables },
      {
        next: (answer) => {
          if (ended) return;
          if (answer.errors?.length) end(failure(answer as Answer));
          else sink.next(answer.data as T);
        },
        error: (error) => end(error),
        complete: () => end(),
      },
    );
    return () => {
      ended = true;
      stop();
    };
  }

  dispose(): void {
    void this.#ws.dispose();
  }
}
