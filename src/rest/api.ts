import type { IncomingMessage, ServerResponse } from 'node:http';
import { schema } from '../graphql/schema/index.ts';
import type { AppServices } from '../runtime/services.ts';
import { VERSION } from '../version.ts';
import { graphqlRefusal } from '../runtime/limits.ts';
import { DOCS_PATH, docsPage } from './docs-page.ts';
import { eventStream, STREAM_OPERATION, STREAM_PATH } from './event-stream.ts';
import type { GraphQLEndpoint } from './graphql-call.ts';
import { restRoutes } from './handler.ts';
import { openApiDocument } from './openapi.ts';
import { problem, sendProblem } from './problem.ts';
import { ROUTES } from './routes/index.ts';
export const OPENAPI_PATH = '/api/openapi.json';

/** The OpenAPI document, as served and as kept beside schema.graphql (openapi.json). */
export const printOpenApi = () =>
  `${JSON.stringify(openApiDocument(schema, ROUTES, VERSION, { [STREAM_PATH]: STREAM_OPERATION }), null, 2)}\n`;

/** A refusal of the HTTP layer (a body too large, not JSON) as a problem on REST paths, as GraphQL's error elsewhere. */
export function refusalOnPath(request: IncomingMessage, status: number, code: string, message: string) {
  if (!request.url?.startsWith('/api/')) return graphqlRefusal(request, status, code, message);
  return { type: 'application/problem+json', body: JSON.stringify(problem(status, code, message)) };
}

/** Everything under /api/: the routes, the event stream, the OpenAPI document and its page. */
export function restApi(services: AppServices, endpoint: GraphQLEndpoint) {
  const routes = restRoutes(services, endpoint, ROUTES);
  const stream = eventStream(services, endpoint);
  const document = Buffer.from(printOpenApi());
  return (request: IncomingMessage, response: ServerResponse, next: (request: IncomingMessage, response: ServerResponse) => void) => {
    if (!request.url?.startsWith('/api/')) return next(request, response);
    const url = new URL(request.url, 'http://localhost');
    if (request.method === 'GET' && url.pathname === OPENAPI_PATH) {
      response.writeHead(200, { 'content-type': 'application/json', 'content-length': document.length, 'cache-control': 'no-cache' });
      return response.end(document);
    }
    if (request.method === 'GET' && url.pathname === STREAM_PATH) return stream(request, response, url);
    if (request.method === 'GET' && url.pathname.startsWith(DOCS_PATH) && docsPage(url.pathname, response)) return;
    if (routes(request, response)) return;
    sendProblem(response, problem(404, 'NOT_FOUND', `no route at ${url.pathname}: the routes are listed at ${OPENAPI_PATH}`));
  };
}
