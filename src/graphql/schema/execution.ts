import { executionUpdates } from '../../app/execution-updates.ts';
import { type Execution, type ExecutionError, type Step } from '../../domain/executions/execution.ts';
import { builder } from '../builder.ts';
import { cursors, LIST_PAGES, listConnection, listPage, MAX_PAGE_SIZE, pageSize } from '../connections.ts';
import type { ExecutionJson } from '../../store/execution-rows.ts';
import type { GraphQLContext } from '../context.ts';
import type { Execution as ExecutionRow } from '../../generated/prisma/client.ts';
import { badInput } from '../../domain/errors.ts';

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
      description:
        'The node it arose at, as a path through maps and branches ("Each#1[3]/Fetch"): set on the error that failed an execution, or a map or parallel step.',
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
    input: t.field({
      type: 'JSON',
      nullable: true,
      description: 'null when it was larger than a step records: see omittedInputBytes.',
      resolve: (step) => step.input,
    }),
    omittedInputBytes: t.int({
      nullable: true,
      description: 'Set when its input was larger than a step records (8 KiB as JSON): its size. Later attempts had the same input.',
      resolve: (step) => step.omittedInputBytes ?? null,
    }),
    output: t.field({ type: 'JSON', nullable: true, resolve: (step) => step.output }),
    error: t.field({ type: ExecutionErrorRef, nullable: true, resolve: (step) => step.error }),
    startedAt: t.expose('startedAt', { type: 'DateTime', description: "Its first attempt's start." }),
    endedAt: t.expose('endedAt', { type: 'DateTime', nullable: true }),
    retryAt: t.expose('retryAt', { type: 'DateTime', nullable: true }),
    durationMs: t.int({
      nullable: true,
      description: "From the first attempt's start to the last one's end.",
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
    input: t.field({ type: 'JSON', resolve: (execution, _args, context) => jsonColumn(execution, 'input', context) }),
    output: t.field({ type: 'JSON', nullable: true, resolve: (execution, _args, context) => jsonColumn(execution, 'output', context) }),
    error: t.field({ type: ExecutionErrorRef, nullable: true, resolve: (execution) => execution.error as ExecutionError | null }),
    version: t.exposeInt('version', { description: "Its event stream's version." }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime' }),
    endedAt: t.expose('endedAt', { type: 'DateTime', nullable: true }),
    createdBy: t.relation('createdBy'),
    steps: t.field({
      type: [StepRef],
      description:
        'In the order they first started: `first` (0 to 100) of them after the step whose id is `after`. stepCount says how many there are.',
      args: { first: t.arg.int({ defaultValue: MAX_PAGE_SIZE }), after: t.arg.string({ description: "A step's id." }) },
      resolve: async (execution, args, context) => {
        const steps = Object.values(await stepsOf(execution, context));
        const from = args.after == null ? 0 : steps.findIndex((step) => step.id === args.after) + 1;
        if (from === 0 && args.after != null) throw badInput('after', 'is not a step of this execution');
        return steps.slice(from, from + pageSize(args.first));
      },
    }),
    stepCount: t.int({
      description: 'How many steps it has run (each across its attempts).',
      resolve: async (execution, _args, context) => Object.keys(await stepsOf(execution, context)).length,
    }),
  }),
});

/**
 * Its steps, charged to the answer: a folded execution (a mutation's result, a subscription's
 * update) has them already; a row's are folded from its events, weighed by their data.
 */
async function stepsOf(execution: { id: string }, { loaders, answer }: GraphQLContext): Promise<Execution['steps']> {
  const folded = (execution as Partial<Execution>).steps;
  if (folded) return answer.take(folded);
  const loaded = await loaders.execution.load(execution.id);
  answer.spend(loaded.bytes);
  return loaded.state?.steps ?? {};
}

/**
 * An execution's input or output. Rows are read without them (they may be large): the answer
 * is charged their stored size first, then they are loaded, a page's at once.
 */
async function jsonColumn(execution: ExecutionRow, column: ExecutionJson, { loaders, answer }: GraphQLContext): Promise<unknown> {
  if (column in execution) return answer.take(execution[column]);
  answer.spend(column === 'input' ? execution.inputBytes : execution.outputBytes);
  return loaders.executionJson(column).load(execution.id);
}

const ExecuteWorkflowInput = builder.inputType('ExecuteWorkflowInput', {
  fields: (t) => ({
    workflowId: t.id({ required: true }),
    input: t.field({ type: 'JSON', description: "A JSON object: the execution's data at its start. Default {}." }),
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

// The domain's Execution has the read model's shape (and more, but not the sizes, which only a
// row without its input and output needs), so mutation results resolve as it.
const asRow = (execution: Execution) => execution as unknown as ExecutionRow;

builder.queryFields((t) => ({
  execution: t.field({
    type: ExecutionRef,
    nullable: true,
    description: 'null for an unknown id.',
    args: { id: t.arg.id({ required: true }) },
    resolve: (_root, args, { services, scope }) => services.executions.find(String(args.id), scope),
  }),
  executions: t.connection(
    {
      type: ExecutionRef,
      description: `${LIST_PAGES} Executions accumulate without bound, so this list has no totalCount (counting would walk them all): narrow it by workflow or status, and page.`,
      args: { workflowId: t.arg.id(), status: t.arg({ type: ExecutionStatusEnum }) },
      resolve: async (_root, args, { services, scope }) => {
        const page = listPage(args, cursors.execution);
        const rows = await services.executions.page(
          {
            workflowId: args.workflowId == null ? undefined : String(args.workflowId),
            status: args.status,
            take: page.backward ? -(page.size + 1) : page.size + 1,
            cursor: page.cursor,
          },
          scope,
        );
        return listConnection(rows, page);
      },
    },
    { name: 'QueryExecutionsConnection' },
  ),
}));

builder.mutationFields((t) => ({
  executeWorkflow: t.field({
    type: ExecutionRef,
    authScopes: { role: 'EDITOR' },
    description: "Starts the workflow's current version; the execution then runs in a server or worker process.",
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
    subscribe: (_root, args, { services, scope, stillAuthorized, subscription, answer }) =>
      subscription((onEnd) =>
        executionUpdates(services.history, services.live, scope.actor.workspaceId, String(args.id), stillAuthorized, answer, onEnd),
      ),
    resolve: (update) => {
      if (update instanceof Error) throw update;
      return asRow(update);
    },
  }),
}));
