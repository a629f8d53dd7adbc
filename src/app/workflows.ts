import { v7 as uuidv7 } from 'uuid';
import { badInput, notFound, refuseNul } from '../domain/errors.ts';
import type { Workflow as WorkflowRow } from '../generated/prisma/client.ts';
import type { WorkflowRows } from '../store/workflow-rows.ts';
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

/**
 * The workflow use cases: each command through the event store and its projection, and the
 * reads of the read model. Deleted workflows are gone from the reads; their events stay.
 */
export class WorkflowService {
  readonly #commands: CommandHandler;
  readonly #rules: DefinitionRules;
  readonly #rows: WorkflowRows;

  constructor(commands: CommandHandler, rules: DefinitionRules, rows: WorkflowRows) {
    this.#commands = commands;
    this.#rules = rules;
    this.#rows = rows;
  }

  /** An active workflow of the caller's workspace, or null (a malformed id names none). */
  find(id: string, scope: RequestScope): Promise<WorkflowRow | null> {
    return isUuid(id) ? this.#rows.visible(scope.actor.workspaceId, id) : Promise.resolve(null);
  }

  /** A page of the caller's workspace's active workflows, newest first. */
  async page(page: WorkflowPage, scope: RequestScope): Promise<WorkflowRow[]> {
    refuseNul(page.nameContains, 'nameContains');
    // Pothos decodes a cursor into whatever JSON it holds: only an id string is one of ours.
    if (page.cursor !== undefined && (typeof page.cursor !== 'string' || !isUuid(page.cursor))) {
      throw badInput(page.take < 0 ? 'before' : 'after', 'is not a cursor of this list');
    }
    if (page.createdById != null && !isUuid(page.createdById)) return [];
    return this.#rows.page({
      workspaceId: scope.actor.workspaceId,
      take: page.take,
      cursor: page.cursor as string | undefined,
      nameContains: page.nameContains ?? undefined,
      createdById: page.createdById ?? undefined,
    });
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

export interface WorkflowPage {
  /** Rows to read, negative backwards (Relay's `last`), as the connection asks. */
  readonly take: number;
  readonly cursor?: unknown;
  readonly nameContains?: string | null | undefined;
  readonly createdById?: string | null | undefined;
}

/** Matches no row: a malformed id finds nothing rather than failing the query. */
export const NO_ID = '00000000-0000-0000-0000-000000000000';
