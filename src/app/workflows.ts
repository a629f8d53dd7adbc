import { v7 as uuidv7 } from 'uuid';
import { badInput, notFound, refuseNul } from '../domain/errors.ts';
import type { Limits } from './limits.ts';
import type { Workflow as WorkflowRow } from '../generated/prisma/client.ts';
import type { WorkflowRows } from '../store/workflow-rows.ts';
import { workflowAggregate, type Workflow, type WorkflowCommand, type WorkflowState } from '../domain/workflows/workflow.ts';
import type { DefinitionRules } from '../domain/workflows/definition.ts';
import type { CommandHandler, CommandOptions, Projection } from './command-handler.ts';
import type { RequestScope } from './request.ts';
import { projectWorkflow, workflowRow } from './workflow-projection.ts';
import { isUuid } from './ids.ts';
import { WorkflowQuota } from './workflow-quota.ts';

export interface CreateWorkflowInput extends CommandOptions {
  readonly name: string;
  readonly description?: string | null | undefined;
  readonly definition?: unknown;
}

export interface UpdateWorkflowInput extends CommandOptions {
  readonly id: string;
  readonly expectedVersion: number;
  readonly name?: string | null | undefined;
  readonly description?: string | null | undefined;
  readonly definition?: unknown;
}

export interface DeleteWorkflowInput extends CommandOptions {
  readonly id: string;
  readonly expectedVersion: number;
}

const WORKFLOW_ROW: Projection<WorkflowState> = { row: (state) => state && workflowRow(state) };

/**
 * The workflow use cases: each command through the event store and its projection, and the
 * reads of the read model. Deleted workflows are gone from the reads; their events stay.
 */
export class WorkflowService {
  readonly #commands: CommandHandler;
  readonly #rules: Omit<DefinitionRules, 'maxSteps'>;
  readonly #rows: WorkflowRows;
  readonly #limits: Limits;
  readonly #quota: WorkflowQuota;

  constructor(
    commands: CommandHandler,
    rules: Omit<DefinitionRules, 'maxSteps'>,
    rows: WorkflowRows,
    limits: Limits,
    quotaCountTrustMs?: number,
  ) {
    this.#commands = commands;
    this.#rules = rules;
    this.#rows = rows;
    this.#limits = limits;
    this.#quota = new WorkflowQuota((workspaceId) => rows.count({ workspaceId }), quotaCountTrustMs);
  }

  /** An active workflow of the caller's workspace, or null (a malformed id names none). */
  find(id: string, scope: RequestScope): Promise<WorkflowRow | null> {
    return isUuid(id) ? this.#rows.visible(scope.actor.workspaceId, id) : Promise.resolve(null);
  }

  /** A page of the caller's workspace's active workflows, newest first. */
  async page(page: WorkflowPage, scope: RequestScope): Promise<WorkflowRow[]> {
    const filter = this.#filter(page, scope);
    if (page.cursor !== undefined && !isUuid(page.cursor))
      throw badInput(page.take < 0 ? 'before' : 'after', 'is not a cursor of this list');
    return filter ? this.#rows.page({ ...filter, take: page.take, cursor: page.cursor }) : [];
  }

  /** How many active workflows of the caller's workspace match the filter. */
  async count(filter: WorkflowFilter, scope: RequestScope): Promise<number> {
    const checked = this.#filter(filter, scope);
    return checked ? this.#rows.count(checked) : 0;
  }

  /** The filter as the read model takes it; null when it can match nothing (a malformed user id). */
  #filter(filter: WorkflowFilter, scope: RequestScope) {
    refuseNul(filter.nameContains, 'nameContains');
    if (filter.createdById != null && !isUuid(filter.createdById)) return null;
    return {
      workspaceId: scope.actor.workspaceId,
      nameContains: filter.nameContains ?? undefined,
      createdById: filter.createdById ?? undefined,
    };
  }

  /** QUOTA_EXCEEDED when the workspace has as many workflows as its quota allows. */
  async create(input: CreateWorkflowInput, scope: RequestScope): Promise<Workflow> {
    // Time-ordered ids: listing by id is listing by creation.
    const id = uuidv7();
    const { workspaceId } = scope.actor;
    const quota = await this.#quota.toCheck(workspaceId, (await this.#limits.of(workspaceId)).maxWorkflows);
    // Near the quota, the row's statement counts the workspace's workflows, in the append's transaction.
    const project: Projection<WorkflowState> = quota === Infinity ? WORKFLOW_ROW : (tx, state) => projectWorkflow(tx, state, quota);
    const created = await this.#run(
      id,
      { kind: 'create', id, ...input, rules: await this.#rulesFor(scope) },
      scope,
      input.idempotencyKey,
      project,
    );
    this.#quota.created(workspaceId);
    return created;
  }

  async update(input: UpdateWorkflowInput, scope: RequestScope): Promise<Workflow> {
    return this.#run(input.id, { kind: 'update', ...input, rules: await this.#rulesFor(scope) }, scope, input.idempotencyKey);
  }

  /** A definition is checked against the workspace's step budget too: what is sure to run past it is refused. */
  async #rulesFor(scope: RequestScope): Promise<DefinitionRules> {
    return { ...this.#rules, maxSteps: (await this.#limits.of(scope.actor.workspaceId)).maxSteps };
  }

  async delete(input: DeleteWorkflowInput, scope: RequestScope): Promise<Workflow> {
    return this.#run(input.id, { kind: 'delete', ...input }, scope, input.idempotencyKey);
  }

  async #run(
    id: string,
    command: WorkflowCommand,
    scope: RequestScope,
    idempotencyKey: CommandOptions['idempotencyKey'],
    project: Projection<WorkflowState> = WORKFLOW_ROW,
  ): Promise<Workflow> {
    if (!isUuid(id)) throw notFound('workflow', id);
    const { state } = await this.#commands.handle(workflowAggregate, id, command, scope, project, {
      idempotencyKey,
      operation: command.kind,
      createsStream: command.kind === 'create',
    });
    if (state === null) throw notFound('workflow', id);
    return state;
  }
}

export interface WorkflowFilter {
  readonly nameContains?: string | null | undefined;
  readonly createdById?: string | null | undefined;
}

export interface WorkflowPage extends WorkflowFilter {
  /** Rows to read, negative backwards (towards newer ones), as the connection asks. */
  readonly take: number;
  /** A workflow id: the page starts after it (before it, backwards). */
  readonly cursor?: string | undefined;
}
