import { Agent, request } from 'node:http';

/** A running server that the load scripts and benchmarks drive: its GraphQL URL and a key. */
export interface Target {
  readonly url: string;
  readonly wsUrl: string;
  /** An API key or a bearer token, sent as `Authorization: Bearer <key>`. */
  readonly key: string;
  /** POSTs a GraphQL request body with the key. */
  post(body: string): Promise<Response>;
  /** Runs one operation; throws with the errors when it has any. */
  gql(query: string, variables?: Record<string, unknown>): Promise<any>;
}

export function targetAt(url: string, key: string): Target {
  // node:http on kept-alive sockets rather than fetch: the load generator shares the machine
  // with the server, and fetch spent about twice the CPU per request.
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${key}` };
  const post = (body: string, retry = true): Promise<Response> =>
    new Promise<Response>((resolve, reject) => {
      // A server that stops answering fails the request, rather than hanging the run.
      const sent = request(
        url,
        { method: 'POST', agent, timeout: 30_000, headers: { ...headers, 'content-length': Buffer.byteLength(body) } },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () => resolve(new Response(Buffer.concat(chunks), { status: answer.statusCode! })));
          answer.on('error', reject);
        },
      );
      sent.on('timeout', () => sent.destroy(new Error('no answer within 30 s')));
      sent.on('error', (error: NodeJS.ErrnoException) => {
        // A kept-alive socket the server closed as idle just as it was reused: the request never
        // reached the server, so it is sent again once (as Node's documentation advises).
        if (retry && sent.reusedSocket && error.code === 'ECONNRESET') resolve(post(body, false));
        else reject(error);
      });
      sent.end(body);
    });
  return {
    url,
    wsUrl: url.replace(/^http/, 'ws'),
    key,
    post,
    async gql(query, variables = {}) {
      const response = await post(body(query, variables));
      const answer = (await response.json()) as { data?: unknown; errors?: unknown };
      if (answer.errors) throw new Error(JSON.stringify(answer.errors));
      return answer.data;
    },
  };
}

export const body = (query: string, variables: Record<string, unknown> = {}) => JSON.stringify({ query, variables });
export const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
