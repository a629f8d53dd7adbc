import { executionUpdates } from '../../app/execution-updates.ts';
import { isUuid } from '../../app/ids.ts';
import { NO_ID } from '../../app/workflows.ts';
import { type Execution, type ExecutionError, type Step } from '../../domain/executions/execution.ts';
import { builder } from '../builder.ts';
import { cursors, LIST_PAGES, listConnection, listPage } from '../connections.ts';

const ExecutionStatusEnum = builder.enumType('ExecutionStatus', {
  values: ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'] as const,
});
const StepStatusEnum = builder.enumType('StepStatus', {
  description: 'RETRY_SCHEDULED: the last attempt failed and another is due at retryAt.',
  values: ['RUNNING', 'SUCCEEDED', 'FAILED', 'RETRY_SCHEDULED'] as const,
});

const ExecutionErrorRef = builder.objectRef<ExecutionError>('ExecutionError').implement({
  description: 'What retry and catch rules match on (name), and what happened (message).',
  fields: (t) => ({
    name: t.exposeString('name'),
    message: t.exposeString('message'),
    node: t.string({
      nullable: true,
      description: 'The node it arose at, as a path through maps and branches ("Each#1[3]/Fetch"): set on the error that failed an execution, or a map or parallel step.',
      resolve: (error) => error.node ?? null,
    }),
  }),
});

const StepRef = builder.objectRef<Step>('ExecutionStep').implement({
  description: 'One run of a node (task, map, parallel or wait), across its attempts.',
  fields: (t) => ({
    id: t.exposeString('id', { description: 'Where it ran: "Node#visit", prefixed by the map iteration or branch it ran in.' }),
    node: t.exposeString('node'),
    attempt: t.exposeInt('attempt'),
    status: t.field({ type: StepStatusEnum, resolve: (step) => step.status }),
    input: t.field({ type: 'JSON', nullable: true, resolve: (step) => step.input }),
    output: t.field({ type: 'JSON', nullable: true, resolve: (step) => step.output }),
    error: t.field({ type: ExecutionErrorRef, nullable: true, resolve: (step) => step.error }),
    startedAt: t.expose('startedAt', { type: 'DateTime', description: 'Its first attempt\'s start.' }),
    endedAt: t.expose('endedAt', { type: 'DateTime', nullable: true }),
    retryAt: t.expose('retryAt', { type: 'DateTime', nullable: true }),
    durationMs: t.int({
      nullable: true,
      description: 'From the first attempt\'s start to the last one\'s end.',
      resolve: (step) => (step.endedAt ? step.endedAt.getTime() - step.startedAt.getTime() : null),
    }),
  }),
});

export const ExecutionRef = builder.prismaObject('Execution', {
  description: 'One run of a workflow: its summary, and its steps as its events tell them.',
  fields: (t) => ({
    id: t.exposeID('id'),
    workflow: t.relation('workflow'),
    workflowVersion: t.exposeInt('workflowVersion', { description: 'The workflow version it runs: later updates do not change it.' }),
    status: t.expose('status', { type: ExecutionStatusEnum }),
    input: t.field({ type: 'JSON', resolve: (execution) => execution.input }),
    output: t.field({ type: 'JSON', nullable: true, resolve: (execution) => execution.output }),
    error: t.field({ type: ExecutionErrorRef, nullable: true, resolve: (execution) => execution.error as ExecutionError | null }),
    version: t.exposeInt('version', { description: 'Its event stream\'s version.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    endedAt: t.expose('endedAt', { type: 'DateTime', nullable: true }),
    createdBy: t.relation('createdBy'),
    steps: t.field({
      type: [StepRef],
      description: 'In the order they first started.',
      // A folded execution (a mutation's result, a subscription's update) has its steps already.
      resolve: async (execution, _args, { loaders }) =>
        Object.values((execution as Partial<Execution>).steps ?? (await loaders.execution.load(execution.id))?.steps ?? {}),
    }),
  }),
});

const ExecuteWorkflowInput = builder.inputType('ExecuteWorkflowInput', {
  fields: (t) => ({
    workflowId: t.id({ required: true }),
    input: t.field({ type: 'JSON', description: 'A JSON object: the execution\'s data at its start. Default {}.' }),
    idempotencyKey: t.string({ description: 'Retrying with the same key returns the same execution and starts no other.' }),
  }),
});

const CancelExecutionInput = builder.inputType('CancelExecutionInput', {
  fields: (t) => ({
    id: t.id({ required: true }),
    reason: t.string(),
    idempotencyKey: t.string(),
  }),
});

// The domain's Execution has the read model's shape (and more), so mutation results resolve as it.
const asRow = (execution: Execution) => execution as unknown as Execution & { input: never; output: never; error: never };

builder.queryFields((t) => ({
  execution: t.prismaField({
    type: 'Execution',
    nullable: true,
    description: 'null for an unknown id.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (query, _root, args, { services, scope }) =>
      services.db.prisma.execution.findFirst({
        ...query,
        where: { id: isUuid(String(args.id)) ? String(args.id) : NO_ID, workspaceId: scope.actor.workspaceId },
      }),
  }),
  executions: t.connection(
    {
      type: ExecutionRef,
      description: `${LIST_PAGES} Executions accumulate without bound, so this list has no totalCount (counting would walk them all): narrow it by workflow or status, and page.`,
      args: { workflowId: t.arg.id(), status: t.arg({ type: ExecutionStatusEnum }) },
      resolve: async (_root, args, { services, scope }) => {
        const page = listPage(args, cursors.execution);
        const workflowId = args.workflowId == null ? undefined : String(args.workflowId);
        const rows = await services.db.prisma.execution.findMany({
          where: {
            workspaceId: scope.actor.workspaceId,
            ...(workflowId === undefined ? {} : { workflowId: isUuid(workflowId) ? workflowId : NO_ID }),
            ...(args.status ? { status: args.status } : {}),
            ...(page.cursor === undefined ? {} : { id: page.backward ? { gt: page.cursor } : { lt: page.cursor } }),
          },
          orderBy: { id: page.backward ? 'asc' : 'desc' },
          take: page.size + 1,
        });
        return listConnection(page.backward ? rows.reverse() : rows, page);
      },
    },
    { name: 'QueryExecutionsConnection' },
  ),
}));

builder.mutationFields((t) => ({
  executeWorkflow: t.field({
    type: ExecutionRef,
    authScopes: { role: 'EDITOR' },
    description: 'Starts the workflow\'s current version; the execution then runs in a server or worker process.',
    args: { input: t.arg({ type: ExecuteWorkflowInput, required: true }) },
    resolve: async (_root, { input }, { services, scope }) =>
      asRow(await services.executions.execute({ ...input, workflowId: String(input.workflowId) }, scope)),
  }),
  cancelExecution: t.field({
    type: ExecutionRef,
    authScopes: { role: 'EDITOR' },
    description: 'Ends a pending or running execution as CANCELLED; its running step is stopped. EXECUTION_FINISHED if it has ended.',
    args: { input: t.arg({ type: CancelExecutionInput, required: true }) },
    resolve: async (_root, { input }, { services, scope }) =>
      asRow(await services.executions.cancel({ ...input, id: String(input.id) }, scope)),
  }),
}));

builder.subscriptionFields((t) => ({
  executionUpdated: t.field({
    type: ExecutionRef,
    description: 'The execution now, then again after each of its events; ends after it ends.',
    args: { id: t.arg.id({ required: true }) },
    subscribe: (_root, args, { services, scope, stillAuthorized, subscription }) =>
      subscription((onEnd) =>
        executionUpdates(services.history, services.live, scope.actor.workspaceId, String(args.id), stillAuthorized, onEnd),
      ),
    resolve: (update) => {
      if (update instanceof Error) throw update;
      return asRow(update);
    },
  }),
}));
