import { WORKFLOW, type Workflow } from '../../domain/workflows/workflow.ts';
import { builder } from '../builder.ts';
import { cursors, LIST_PAGES, listConnection, listPage, pageSize } from '../connections.ts';
import { EventRef } from './event.ts';
import { spentBytes } from '../../store/event-store.ts';

const WorkflowStatusEnum = builder.enumType('WorkflowStatus', { values: ['ACTIVE', 'DELETED'] as const });

const WorkflowRef = builder.prismaObject('Workflow', {
  description: 'A workflow as of its latest event (the read model).',
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    description: t.exposeString('description'),
    definition: t.field({ type: 'JSON', resolve: (workflow, _args, { answer }) => answer.take(workflow.definition) }),
    status: t.expose('status', { type: WorkflowStatusEnum }),
    version: t.exposeInt('version'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    createdBy: t.relation('createdBy'),
    latestEvents: t.field({
      type: [EventRef],
      description: 'Its newest events, newest first.',
      args: { first: t.arg.int({ defaultValue: 5 }) },
      resolve: async (workflow, args, { loaders, answer }) => {
        const events = await loaders.latestEvents(WORKFLOW, pageSize(args.first)).load(workflow.id);
        answer.spend(spentBytes(events));
        return events;
      },
    }),
  }),
});

const WorkflowFilter = builder.inputType('WorkflowFilter', {
  fields: (t) => ({
    nameContains: t.string({ description: 'Case-insensitive.' }),
    createdById: t.id(),
  }),
});

builder.queryFields((t) => ({
  // Read with plain SQL (store/workflow-rows.ts), not by a Prisma query; relations it selects
  // (createdBy) are loaded by the Prisma plugin.
  workflow: t.field({
    type: WorkflowRef,
    nullable: true,
    description: 'null for an unknown or deleted workflow.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, { services, scope }) => services.workflows.find(String(args.id), scope),
  }),
  workflows: t.connection(
    {
      type: WorkflowRef,
      description: LIST_PAGES,
      args: { filter: t.arg({ type: WorkflowFilter }) },
      resolve: async (_root, args, { services, scope }) => {
        const page = listPage(args, cursors.workflow);
        const filter = {
          nameContains: args.filter?.nameContains,
          createdById: args.filter?.createdById == null ? undefined : String(args.filter.createdById),
        };
        const rows = await services.workflows.page(
          { ...filter, take: page.backward ? -(page.size + 1) : page.size + 1, cursor: page.cursor },
          scope,
        );
        return { ...listConnection(rows, page), totalCount: () => services.workflows.count(filter, scope) };
      },
    },
    {
      fields: (t) => ({
        totalCount: t.int({
          description:
            "Active workflows that match the filter, over every page: one count over the workspace's workflows, made only when asked for.",
          resolve: (connection) => connection.totalCount(),
        }),
      }),
    },
  ),
}));

const IDEMPOTENCY_KEY = 'Retrying with the same key returns the first result and writes nothing.';
const DEFINITION = 'The workflow graph, described in docs/definitions.md; refused with every problem listed if it does not hold together.';

const CreateWorkflowInput = builder.inputType('CreateWorkflowInput', {
  fields: (t) => ({
    name: t.string({ required: true }),
    description: t.string(),
    definition: t.field({ type: 'JSON', required: true, description: DEFINITION }),
    idempotencyKey: t.string({ description: IDEMPOTENCY_KEY }),
  }),
});

const UpdateWorkflowInput = builder.inputType('UpdateWorkflowInput', {
  fields: (t) => ({
    id: t.id({ required: true }),
    expectedVersion: t.int({ required: true }),
    name: t.string(),
    description: t.string(),
    definition: t.field({ type: 'JSON', description: DEFINITION }),
    idempotencyKey: t.string({ description: IDEMPOTENCY_KEY }),
  }),
});

const DeleteWorkflowInput = builder.inputType('DeleteWorkflowInput', {
  fields: (t) => ({
    id: t.id({ required: true }),
    expectedVersion: t.int({ required: true }),
    idempotencyKey: t.string({ description: IDEMPOTENCY_KEY }),
  }),
});

// The domain's Workflow has the read model's shape, so the mutation results resolve as it.
const asRow = (workflow: Workflow) => workflow as Workflow & { definition: never };

builder.mutationFields((t) => ({
  createWorkflow: t.field({
    type: WorkflowRef,
    authScopes: { role: 'EDITOR' },
    args: { input: t.arg({ type: CreateWorkflowInput, required: true }) },
    resolve: async (_root, { input }, { services, scope }) => asRow(await services.workflows.create(input, scope)),
  }),
  updateWorkflow: t.field({
    type: WorkflowRef,
    authScopes: { role: 'EDITOR' },
    args: { input: t.arg({ type: UpdateWorkflowInput, required: true }) },
    resolve: async (_root, { input }, { services, scope }) =>
      asRow(await services.workflows.update({ ...input, id: String(input.id) }, scope)),
  }),
  deleteWorkflow: t.field({
    type: WorkflowRef,
    authScopes: { role: 'EDITOR' },
    description: 'Soft delete: gone from the workflow queries, still in events, replay and audit.',
    args: { input: t.arg({ type: DeleteWorkflowInput, required: true }) },
    resolve: async (_root, { input }, { services, scope }) =>
      asRow(await services.workflows.delete({ ...input, id: String(input.id) }, scope)),
  }),
}));
