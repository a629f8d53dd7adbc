import type { IncomingMessage, ServerResponse } from 'node:http';
import { answer } from './answer.ts';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import type { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Config } from '../config.ts';
import { costLimit } from '../graphql/cost.ts';

/**
 * What one document may ask for, on every transport (the WebSocket path runs the same
 * envelop): depth, aliases, tokens and directives (graphql-armor), and a cost computed from
 * the schema (graphql/cost.ts: every list is paid for by how many items it may hold, a page
 * size in a variable as the largest page), checked before execution. Refusals are GraphQL
 * errors with the code `QUERY_TOO_COMPLEX`. Introspection is exempt from the depth limit
 * (codegen's query is deep) and from the cost (its size is the schema's); its tokens count.
 */
export function documentLimits(config: Config): Plugin[] {
  const tooComplex = (_context: unknown, error: GraphQLError) => {
    (error.extensions as Record<string, unknown>).code = 'QUERY_TOO_COMPLEX';
  };
  const limit = { exposeLimits: true, propagateOnRejection: true, onReject: [tooComplex] };
  const armor = EnvelopArmorPlugin({
    maxDepth: { n: config.maxQueryDepth, ignoreIntrospection: true, flattenFragments: true, ...limit },
    maxAliases: { n: config.maxQueryAliases, ...limit },
    maxTokens: { n: config.maxQueryTokens, ...limit },
    maxDirectives: { n: 20, ...limit },
    costLimit: { enabled: false },
    // Suggestions ("did you mean ...") describe the schema to whoever probes it.
    blockFieldSuggestion: { enabled: config.environment === 'production' },
  }) as Plugin;
  const cost: Plugin = {
    onValidate({ addValidationRule }) {
      addValidationRule(costLimit(config.maxQueryCost));
    },
  };
  return [armor, cost];
}

/** The media type a POST body must have, spelled as Yoga reads it. */
const JSON_BODY = /^application\/json(;|$)/;

/** A refusal as GraphQL clients read one. */
export const graphqlRefusal = (_request: IncomingMessage, _status: number, code: string, message: string) => ({
  type: 'application/json',
  body: JSON.stringify({ errors: [{ message, extensions: { code } }] }),
});

/**
 * Request bodies past `maxBytes` are refused before anything reads them (413). A body must
 * say its length: one sent in chunks is refused (411), as its size could only be learnt by
 * reading it. A POST body must be JSON (415): a form or text/plain body is what a
 * browser sends cross-site without asking, and multipart uploads are not part of this API.
 * Each refusal is counted by its code, as Yoga's errors are.
 */
export function limitBodies(
  maxBytes: number,
  countError: (code: string) => void,
  next: (request: IncomingMessage, response: ServerResponse) => void,
  /** How a refusal reads on this request's path: a GraphQL error, or a problem for REST. */
  refusal: (request: IncomingMessage, status: number, code: string, message: string) => { type: string; body: string } = graphqlRefusal,
) {
  return (request: IncomingMessage, response: ServerResponse) => {
    const refuse = (response: ServerResponse, status: number, code: string, message: string) => {
      countError(code);
      const { type, body } = refusal(request, status, code, message);
      answer(response, status, type, body);
    };
    if (request.method === 'POST' && !JSON_BODY.test(request.headers['content-type'] ?? '')) {
      return refuse(response, 415, 'UNSUPPORTED_MEDIA_TYPE', 'a request body must be JSON: send "Content-Type: application/json"');
    }
    // Any Transfer-Encoding is refused, not only one without a Content-Length: with both, a
    // lenient HTTP parser would take the chunks, and the length checked here would not bound them.
    if (request.headers['transfer-encoding'] !== undefined) {
      return refuse(response, 411, 'LENGTH_REQUIRED', 'a request body must come with a Content-Length, not chunked');
    }
    if (Number(request.headers['content-length'] ?? 0) > maxBytes) {
      return refuse(response, 413, 'PAYLOAD_TOO_LARGE', `the request body is larger than ${maxBytes} bytes`);
    }
    next(request, response);
  };
}
