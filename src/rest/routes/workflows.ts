import { z } from 'zod';
import { cursor, pageSize, type Route } from '../route.ts';

const FIELDS = 'id name description definition status version createdAt updatedAt';
const EXAMPLE = {
  id: '0193a4f2-7c1e-7d2a-9b41-5f0e8c6d2a10',
  name: 'triage',
  description: 'Routes a ticket to a queue',
  definition: { startAt: 'Done', nodes: { Done: { type: 'succeed' } } },
  status: 'ACTIVE',
  version: 1,
  createdAt: '2026-12-01T09:30:00.000Z',
  updatedAt: '2026-12-01T09:30:00.000Z',
};
const name = z.string().meta({ description: "The workflow's name.", examples: ['triage'] });
const description = z.string().meta({ description: 'What it is for.', examples: ['Routes a ticket to a queue'] });
const definition = z.record(z.string(), z.unknown()).meta({
  description: 'The workflow graph (docs/definitions.md); 422 with every problem listed if it does not hold together.',
  examples: [EXAMPLE.definition],
});
const ID = { id: "The workflow's id." };
const location = ({ id }: { readonly id: string }) => `/api/agent-builder/workflows/${id}`;
const change = (operation: string, summary: string, body: z.ZodObject, text: string): Route => ({
  method: operation === 'PUT' ? 'PUT' : 'PATCH',
  path: '/api/agent-builder/workflows/{id}',
  operationId: operation === 'PUT' ? 'replaceWorkflow' : 'updateWorkflow',
  summary,
  description: `${text} If-Match must carry the version it changes (the ETag of its last answer).`,
  tag: 'Workflows',
  runs: 'Mutation.updateWorkflow',
  document: `mutation($input: UpdateWorkflowInput!) { updateWorkflow(input: $input) { ${FIELDS} } }`,
  pathParameters: ID,
  body,
  ifMatch: true,
  idempotent: true,
  variables: ({ path, body: given, version, idempotencyKey }) => ({
    input: { ...given, id: path.id, expectedVersion: version, idempotencyKey },
  }),
  answer: 'one',
  refusals: [403, 404, 412, 413, 415, 422, 428],
  example: { ...EXAMPLE, name: 'triage v2', version: 2 },
});

export const workflowRoutes: readonly Route[] = [
  {
    method: 'GET',
    path: '/api/agent-builder/workflows',
    operationId: 'listWorkflows',
    summary: 'List workflows',
    description: "The workspace's active workflows, newest first, a page at a time: pass `nextCursor` as `after` for the next page.",
    tag: 'Workflows',
    runs: 'Query.workflows',
    document: `query($first: Int!, $after: String, $filter: WorkflowFilter) { workflows(first: $first, after: $after, filter: $filter) {
      edges { node { ${FIELDS} } } pageInfo { hasNextPage endCursor } } }`,
    query: z.strictObject({
      limit: pageSize(20),
      after: cursor('The `nextCursor` of the page before.').optional(),
      name_contains: z
        .string()
        .max(200)
        .meta({ description: 'Only workflows whose name contains this, ignoring case.', examples: ['tri'] })
        .optional(),
      created_by: z
        .string()
        .max(64)
        .meta({ description: 'Only workflows this user created (a user id).', examples: ['0193a4f2-0000-7000-8000-000000000001'] })
        .optional(),
    }),
    variables: ({ query }) => ({
      first: query.limit,
      after: query.after,
      filter: { nameContains: query.name_contains, createdById: query.created_by },
    }),
    answer: 'page',
    refusals: [],
    example: { items: [EXAMPLE], nextCursor: 'MDE5M2E0ZjItN2MxZS03ZDJhLTliNDEtNWYwZThjNmQyYTEw' },
  },
  {
    method: 'GET',
    path: '/api/agent-builder/workflows/{id}',
    operationId: 'getWorkflow',
    summary: 'Get a workflow',
    description:
      "One active workflow. Its ETag is its version; If-None-Match with it answers 304 while it is unchanged. A deleted workflow, another workspace's and an unknown id are all 404.",
    tag: 'Workflows',
    runs: 'Query.workflow',
    document: `query($id: ID!) { workflow(id: $id) { ${FIELDS} } }`,
    pathParameters: ID,
    variables: ({ path }) => ({ id: path.id }),
    answer: 'one',
    refusals: [404],
    example: EXAMPLE,
  },
  {
    method: 'POST',
    path: '/api/agent-builder/workflows',
    operationId: 'createWorkflow',
    summary: 'Create a workflow',
    description: "A new workflow at version 1. With an Idempotency-Key, a retry answers the first call's workflow and creates no other.",
    tag: 'Workflows',
    runs: 'Mutation.createWorkflow',
    document: `mutation($input: CreateWorkflowInput!) { createWorkflow(input: $input) { ${FIELDS} } }`,
    body: z.strictObject({ name, description: description.optional(), definition }),
    idempotent: true,
    variables: ({ body, idempotencyKey }) => ({ input: { ...body, idempotencyKey } }),
    answer: 'one',
    status: 201,
    location,
    refusals: [403, 409, 413, 415, 422],
    example: EXAMPLE,
  },
  change('PUT', 'Replace a workflow', z.strictObject({ name, description, definition }), 'Sets its name, description and definition.'),
  change(
    'PATCH',
    'Change a workflow',
    z.strictObject({ name: name.optional(), description: description.optional(), definition: definition.optional() }),
    'Sets the fields given and keeps the others. A change that changes nothing records nothing and answers the workflow as it is.',
  ),
  {
    method: 'DELETE',
    path: '/api/agent-builder/workflows/{id}',
    operationId: 'deleteWorkflow',
    summary: 'Delete a workflow',
    description:
      'A soft delete: gone from the workflow routes, still in its events, replay and the audit log. If-Match must carry its version.',
    tag: 'Workflows',
    runs: 'Mutation.deleteWorkflow',
    document: `mutation($input: DeleteWorkflowInput!) { deleteWorkflow(input: $input) { ${FIELDS} } }`,
    pathParameters: ID,
    ifMatch: true,
    idempotent: true,
    variables: ({ path, version, idempotencyKey }) => ({ input: { id: path.id, expectedVersion: version, idempotencyKey } }),
    answer: 'one',
    refusals: [403, 404, 412, 428],
    example: { ...EXAMPLE, status: 'DELETED', version: 2 },
  },
];
