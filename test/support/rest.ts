import { sseEvents } from './sse.ts';

export interface RestAnswer {
  readonly status: number;
  readonly headers: Headers;
  readonly body: any;
}

export interface RestOptions {
  readonly key?: string | null;
  readonly body?: unknown;
  readonly raw?: string;
  readonly headers?: Record<string, string>;
}

/** A REST client of a test server: JSON in, JSON or a problem out. */
export function restClient(graphqlUrl: string, defaultKey: string) {
  const origin = new URL(graphqlUrl).origin;
  return async (method: string, path: string, options: RestOptions = {}): Promise<RestAnswer> => {
    const key = options.key === undefined ? defaultKey : options.key;
    const body = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
    const response = await fetch(`${origin}${path}`, {
      method,
      headers: {
        ...(key ? { authorization: `Bearer ${key}` } : {}),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...options.headers,
      },
      body,
    });
    const text = await response.text();
    const type = response.headers.get('content-type') ?? '';
    return { status: response.status, headers: response.headers, body: /json/.test(type) && text ? JSON.parse(text) : text };
  };
}

export type Rest = ReturnType<typeof restClient>;

/** GET /api/events/stream, as an EventSource would read it: each event's id, type and data. */
export async function* restStream(
  graphqlUrl: string,
  query: string,
  headers: Record<string, string>,
  signal: AbortSignal,
): AsyncGenerator<{ id: string | undefined; event: string; data: any; status: number }> {
  const response = await fetch(new URL(`/api/events/stream${query}`, graphqlUrl), {
    headers: { accept: 'text/event-stream', ...headers },
    signal,
  });
  if (!response.ok || !response.body) {
    yield { id: undefined, event: 'http-error', data: await response.json(), status: response.status };
    return;
  }
  for await (const { id, event, data } of sseEvents(response.body)) {
    if (data !== undefined) yield { id, event, data: JSON.parse(data), status: response.status };
  }
}
