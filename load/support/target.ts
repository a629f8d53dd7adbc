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
  const post = (body: string) =>
    fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` }, body });
  return {
    url,
    wsUrl: url.replace(/^http/, 'ws'),
    key,
    post,
    async gql(query, variables = {}) {
      const response = await post(JSON.stringify({ query, variables }));
      const body = (await response.json()) as { data?: unknown; errors?: unknown };
      if (body.errors) throw new Error(JSON.stringify(body.errors));
      return body.data;
    },
  };
}

export const body = (query: string, variables: Record<string, unknown> = {}) => JSON.stringify({ query, variables });
export const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)]!;
