import type {
  CreateWorkflowInput,
  ExecuteWorkflowInput,
  ExecutionFieldsFragment,
  ExecutionWithStepsQuery,
  ListWorkflowsQueryVariables,
  UpdateWorkflowInput,
  WorkflowFieldsFragment,
  WorkflowFilter,
} from './gql/graphql.ts';
import { LiveEvents, type LiveEventsOptions } from './live.ts';
import { CreateWorkflow, ExecuteWorkflow, ExecutionWithSteps, ListWorkflows, UpdateWorkflow } from './operations.ts';
import { httpTransport, type Credentials, type Request } from './transport.ts';

export type Workflow = WorkflowFieldsFragment;
export type ExecutionSummary = ExecutionFieldsFragment;
export type Execution = NonNullable<ExecutionWithStepsQuery['execution']>;

/** Flowledger's workflows, executions and live events, typed from schema.graphql. Failures throw FlowledgerError. */
export class FlowledgerClient {
  readonly #credentials: Credentials;
  readonly #request: Request;

  constructor(credentials: Credentials) {
    this.#credentials = credentials;
    this.#request = httpTransport(credentials);
  }

  /** One page, newest first: pass the page's `pageInfo.endCursor` as `after` for the next. */
  async listWorkflows(variables: ListWorkflowsQueryVariables) {
    return (await this.#request(ListWorkflows, variables)).workflows;
  }

  /** Every workflow that matches, newest first, a page at a time. */
  async *allWorkflows(filter: WorkflowFilter = {}, pageSize = 100): AsyncGenerator<Workflow> {
    for (let after: string | null = null; ;) {
      const page = await this.listWorkflows({ first: pageSize, after, filter });
      for (const edge of page.edges) yield edge.node;
      if (!page.pageInfo.hasNextPage) return;
      after = page.pageInfo.endCursor;
    }
  }

  async createWorkflow(input: CreateWorkflowInput): Promise<Workflow> {
    return (await this.#request(CreateWorkflow, { input })).createWorkflow;
  }

  /** Applies only if the workflow is still at `input.expectedVersion`; else FlowledgerError VERSION_CONFLICT, with `actualVersion`. */
  async updateWorkflow(input: UpdateWorkflowInput): Promise<Workflow> {
    return (await this.#request(UpdateWorkflow, { input })).updateWorkflow;
  }

  /** Starts a run of the workflow's current version; it is PENDING, and runs on the server. */
  async executeWorkflow(input: ExecuteWorkflowInput): Promise<ExecutionSummary> {
    return (await this.#request(ExecuteWorkflow, { input })).executeWorkflow;
  }

  /** The execution with its first 100 steps (`stepCount` says how many there are), or null for an unknown id. */
  async execution(id: string): Promise<Execution | null> {
    return (await this.#request(ExecutionWithSteps, { id })).execution;
  }

  /** The global log, live, resuming after lost connections: see LiveEvents. */
  liveEvents(options: LiveEventsOptions = {}): LiveEvents {
    return new LiveEvents(this.#credentials, options);
  }
}
