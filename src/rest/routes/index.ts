import { eventRoutes, STREAM_DOCUMENT } from './events.ts';
import { executionRoutes } from './executions.ts';
import { workflowRoutes } from './workflows.ts';

export const ROUTES = [...workflowRoutes, ...executionRoutes, ...eventRoutes];

/** Every GraphQL document the REST routes run: a deployment that allows only persisted operations allows these too. */
export const REST_DOCUMENTS: readonly string[] = [...ROUTES.map((route) => route.document), STREAM_DOCUMENT];
