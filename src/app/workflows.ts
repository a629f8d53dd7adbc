import { v7 as uuidv7 } from 'uuid';
import { notFound, refuseNul } from '../domain/errors.ts';
import { workflowAggregate, type Workflow, type WorkflowCommand } from '../domain/workflows/workflow.ts';
import type { DefinitionRules } from '../domain/workflows/definition.ts';
import type { CommandHandler, CommandOptions } from './command-handler.ts';
import type { RequestScope } from './request.ts';
import { projectWorkflow } from './workflow-projection.ts';
import { isUuid } from './ids.ts';

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

/** The workflow use cases: each one command through the event store and its projection. */
export class WorkflowService {
  readonly #commands: CommandHandler;
  readonly #rules: DefinitionRules;

  constructor(commands: CommandHandler, rules: DefinitionRules) {
    this.#commands = commands;
    this.#rules = rules;
  }

  async create(input: CreateWorkflowInput, scope: RequestScope): Promise<Workflow> {
    // Time-ordered ids: listing by id is listing by creation.
    const id = uuidv7();
    return this.#run(id, { kind: 'create', id, ...input, rules: this.#rules }, scope, input.idempotencyKey);
  }

  async update(input: UpdateWorkflowInput, scope: RequestScope): Promise<Workflow> {
    return this.#run(input.id, { kind: 'update', ...input, rules: this.#rules }, scope, input.idempotencyKey);
  }

  async delete(input: DeleteWorkflowInput, scope: RequestScope): Promise<Workflow> {
    return this.#run(input.id, { kind: 'delete', ...input }, scope, input.idempotencyKey);
  }

  async #run(id: string, command: WorkflowCommand, scope: RequestScope, idempotencyKey: CommandOptions['idempotencyKey']): Promise<Workflow> {
    if (!isUuid(id)) throw notFound('workflow', id);
    const { state } = await this.#commands.handle(workflowAggregate, id, command, scope, projectWorkflow, {
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

/** The workspace's workflows; deleted ones are gone from the workflow queries, their events stay. */
export function visibleWorkflows(workspaceId: string, filter: WorkflowFilter = {}) {
  refuseNul(filter.nameContains, 'nameContains');
  return {
    workspaceId,
    status: 'ACTIVE' as const,
    ...(filter.nameContains ? { name: { contains: filter.nameContains, mode: 'insensitive' as const } } : {}),
    ...(filter.createdById ? { createdById: isUuid(filter.createdById) ? filter.createdById : NO_ID } : {}),
  };
}

/** Matches no row: a malformed id finds nothing rather than failing the query. */
export const NO_ID = '00000000-0000-0000-0000-000000000000';
