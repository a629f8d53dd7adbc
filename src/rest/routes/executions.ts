import { z } from 'zod';
import { cursor, pageSize, type Route } from '../route.ts';

const ERROR = 'error { name message node }';
const FIELDS = `id status version workflowVersion input output ${ERROR} stepCount createdAt updatedAt endedAt workflow { id }`;
const STEPS = `steps(first: 100) { id node attempt status startedAt endedAt durationMs retryAt input output ${ERROR} }`;
const EXAMPLE = {
  id: '0193a4f3-1b2c-7e3d-8f40-6a1b2c3d4e5f',
  status: 'SUCCEEDED',
  version: 4,
  workflowVersion: 1,
  input: { ticket: 42 },
  output: { queue: 'billing' },
  error: null,
  stepCount: 1,
  createdAt: '2026-12-01T09:31:00.000Z',
  updatedAt: '2026-12-01T09:31:00.120Z',
  endedAt: '2026-12-01T09:31:00.120Z',
  workflow: { id: '0193a4f2-7c1e-7d2a-9b41-5f0e8c6d2a10' },
};
const STEP = {
  id: 'Route#1',
  node: 'Route',
  attempt: 1,
  status: 'SUCCEEDED',
  startedAt: '2026-12-01T09:31:00.010Z',
  endedAt: '2026-12-01T09:31:00.110Z',
  durationMs: 100,
  retryAt: null,
  input: { ticket: 42 },
  output: { queue: 'billing' },
  error: null,
};
const location = ({ id }: { readonly id: string }) => `/api/agent-builder/executions/${id}`;

export const executionRoutes: readonly Route[] = [
  {
    method: 'POST',
    path: '/api/agent-builder/workflows/{id}/execute',
    operationId: 'executeWorkflow',
    summary: 'Run a workflow',
    description:
      "Starts the workflow's current version and answers at once (202): follow the execution at its Location. With an Idempotency-Key, a retry answers the same execution and starts no other.",
    tag: 'Executions',
    runs: 'Mutation.executeWorkflow',
    document: `mutation($input: ExecuteWorkflowInput!) { executeWorkflow(input: $input) { ${FIELDS} } }`,
    pathParameters: { id: "The workflow's id." },
    body: z.strictObject({
      input: z
        .unknown()
        .meta({ description: "The execution's input: any JSON value.", examples: [{ ticket: 42 }] })
        .optional(),
    }),
    idempotent: true,
    variables: ({ path, body, idempotencyKey }) => ({ input: { workflowId: path.id, input: body.input, idempotencyKey } }),
    answer: 'one',
    status: 202,
    location,
    refusals: [403, 404, 409, 413, 415, 422],
    example: { ...EXAMPLE, status: 'PENDING', version: 1, output: null, stepCount: 0, endedAt: null },
  },
  {
    method: 'GET',
    path: '/api/agent-builder/executions',
    operationId: 'listExecutions',
    summary: 'List executions',
    description: "The workspace's executions, newest first, a page at a time: pass `nextCursor` as `after` for the next page.",
    tag: 'Executions',
    runs: 'Query.executions',
    document: `query($first: Int!, $after: String, $workflowId: ID, $status: ExecutionStatus) {
      executions(first: $first, after: $after, workflowId: $workflowId, status: $status) { edges { node { ${FIELDS} } } pageInfo { hasNextPage endCursor } } }`,
    query: z.strictObject({
      limit: pageSize(20),
      after: cursor('The `nextCursor` of the page before.').optional(),
      workflow_id: z
        .string()
        .max(64)
        .meta({ description: "Only this workflow's executions.", examples: [EXAMPLE.workflow.id] })
        .optional(),
      status: z
        .enum(['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'])
        .meta({ description: 'Only executions in this status.', examples: ['RUNNING'] })
        .optional(),
    }),
    variables: ({ query }) => ({ first: query.limit, after: query.after, workflowId: query.workflow_id, status: query.status }),
    answer: 'page',
    refusals: [],
    example: { items: [EXAMPLE], nextCursor: null },
  },
  {
    method: 'GET',
    path: '/api/agent-builder/executions/{id}',
    operationId: 'getExecution',
    summary: 'Get an execution and its steps',
    description: 'One execution with its first 100 steps, in the order they started. Its ETag is its version.',
    tag: 'Executions',
    runs: 'Query.execution',
    document: `query($id: ID!) { execution(id: $id) { ${FIELDS} ${STEPS} } }`,
    pathParameters: { id: "The execution's id." },
    variables: ({ path }) => ({ id: path.id }),
    answer: 'one',
    refusals: [404],
    example: { ...EXAMPLE, steps: [STEP] },
  },
  {
    method: 'POST',
    path: '/api/agent-builder/executions/{id}/cancel',
    operationId: 'cancelExecution',
    summary: 'Cancel an execution',
    description: 'Ends a pending or running execution as CANCELLED; 409 (EXECUTION_FINISHED) when it has ended.',
    tag: 'Executions',
    runs: 'Mutation.cancelExecution',
    document: `mutation($input: CancelExecutionInput!) { cancelExecution(input: $input) { ${FIELDS} } }`,
    pathParameters: { id: "The execution's id." },
    body: z.strictObject({
      reason: z
        .string()
        .max(1000)
        .meta({ description: 'Why, for the audit log.', examples: ['superseded'] })
        .optional(),
    }),
    idempotent: true,
    variables: ({ path, body, idempotencyKey }) => ({ input: { id: path.id, reason: body.reason, idempotencyKey } }),
    answer: 'one',
    refusals: [403, 404, 409, 413, 415],
    example: { ...EXAMPLE, status: 'CANCELLED', output: null, error: { name: 'Cancelled', message: 'superseded', node: null } },
  },
];
