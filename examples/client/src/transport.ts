import { dataOf, type WireError } from './errors.ts';
import type { TypedDocumentString } from './gql/graphql.ts';

export interface Credentials {
  /** The GraphQL endpoint, such as http://localhost:4000/graphql. */
  readonly url: string;
  /** An API key (or a JWT, where the server accepts them). */
  readonly apiKey: string;
}

/** Runs one typed query or mutation. */
export type Request = <TResult, TVariables>(document: TypedDocumentString<TResult, TVariables>, variables: TVariables) => Promise<TResult>;

/** Queries and mutations as POST requests to the endpoint. */
export function httpTransport({ url, apiKey }: Credentials): Request {
  return async <TResult, TVariables>(document: TypedDocumentString<TResult, TVariables>, variables: TVariables) => {
    const response = await fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'application/graphql-response+json, application/json',
        authorization: `Bearer ${apiKey}`,
      },
      body: JSON.stringify({ query: document.toString(), variables }),
    });
    // Refusals (401, 429, 503...) are GraphQL answers too, with their code: only a body that is
    // not one (a proxy's error page) is reported by its status.
    if (!/json/.test(response.headers.get('content-type') ?? '')) {
      throw new Error(`${url} answered ${response.status} ${response.statusText} without a GraphQL response`);
    }
    return dataOf((await response.json()) as { data?: TResult | null; errors?: readonly WireError[] });
  };
}
