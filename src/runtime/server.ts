import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGraphQLHandler, graphiqlEnabled } from './graphql-handler.ts';
import { describeError, log } from './log.ts';
import type { Services } from './services.ts';
import { answer } from './answer.ts';
import { limitBodies } from './limits.ts';
import { cachedReads } from './cached-reads.ts';
import { attachWebSocket } from './websocket.ts';
import { refusalOnPath, restApi } from '../rest/api.ts';
import { listenWithAcceptors } from './acceptors.ts';
import { graphiqlAssets } from './graphiql.ts';
import { dashboard } from '../dashboard/serve.ts';
import { liveness, readiness } from '../ops/health.ts';
import { tracedRequests } from './tracing.ts';
import { createMetrics, type Metrics } from '../ops/metrics.ts';

export interface RunningServer {
  readonly url: string;
  readonly server: Server;
  close(): Promise<void>;
}

/**
 * The operational endpoints beside the API: /healthz, /readyz and /metrics (GET only).
 * With METRICS_TOKEN set, /metrics wants `Authorization: Bearer <token>`: its figures describe
 * every workspace's load.
 */
function operational(services: Services, metrics: Metrics, next: (request: IncomingMessage, response: ServerResponse) => void) {
  const token = services.config.metricsToken;
  return (request: IncomingMessage, response: ServerResponse) => {
    const path = request.url?.split('?')[0];
    if (request.method !== 'GET' || (path !== '/healthz' && path !== '/readyz' && path !== '/metrics')) return next(request, response);
    if (path === '/healthz') return answer(response, 200, 'application/json', JSON.stringify(liveness().body));
    if (path === '/readyz') {
      void readiness(services.db.connectionString).then(({ status, body }) =>
        answer(response, status, 'application/json', JSON.stringify(body)),
      );
      return;
    }
    if (token && request.headers.authorization !== `Bearer ${token}`)
      return answer(response, 401, 'text/plain', 'a metrics token is required\n');
    void metrics.render().then(
      (text) => answer(response, 200, metrics.contentType, text),
      (error: unknown) => {
        log('error', 'metrics could not be collected', describeError(error));
        answer(response, 500, 'text/plain', 'metrics could not be collected\n');
      },
    );
  };
}

/** HTTP and SSE through Yoga, and graphql-ws on the same path, on one port. */
export async function startServer(services: Services, port: number, host: string): Promise<RunningServer> {
  const metrics = createMetrics(services);
  const yoga = createGraphQLHandler(services, metrics);
  // Persisted operations are Yoga's alone: it refuses any other document before admitting the caller.
  const graphql = cachedReads(services, services.persistedOperations ? null : services.responseCache, yoga, metrics);
  const rest = restApi(services, graphql.endpoint);
  const overHttp = graphql.http(yoga);
  const api = limitBodies(
    services.config.maxBodyBytes,
    metrics.countError,
    (request, response) => rest(request, response, overHttp),
    refusalOnPath,
  );
  const pages = dashboard(graphiqlEnabled(services) ? graphiqlAssets(api) : api);
  // Probes and scrapes come every few seconds and say nothing of a request: they are not traced.
  const server = createServer(operational(services, metrics, services.tracing ? tracedRequests(services.tracing, pages) : pages));
  const acceptors = await listenWithAcceptors(server, port, host);
  const websocket = attachWebSocket(server, yoga, services, metrics.countError);
  const address = server.address() as AddressInfo;
  const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
  return {
    url: `http://${shownHost}:${address.port}/graphql`,
    server,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const acceptor of acceptors) acceptor.close();
      await websocket.close();
      metrics.close();
      server.closeIdleConnections();
      // Open SSE streams and keep-alive requests would hold close() forever.
      setTimeout(() => server.closeAllConnections(), 1000).unref();
      await closed;
    },
  };
}
