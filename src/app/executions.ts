import { v7 as uuidv7 } from 'uuid';
import { VersionConflictError, badInput, notFound } from '../domain/errors.ts';
import { executionAggregate, type Execution, type ExecutionCommand } from '../domain/executions/execution.ts';
import { budgetOf, type WorkspaceLimits } from '../domain/workspaces/limits.ts';
import type { Limits } from './limits.ts';
import type { Definition } from '../domain/workflows/graph.ts';
import type { ExecutionJson, ExecutionRows } from '../store/execution-rows.ts';
import type { JobQueue } from '../store/job-queue.ts';
import type { Execution as ExecutionRow, ExecutionStatus } from '../generated/prisma/client.ts';
import type { CommandHandler, CommandOptions } from './command-handler.ts';
import { projectExecution } from './execution-projection.ts';
import { isUuid } from './ids.ts';
import type { WorkflowService } from './workflows.ts';
import type { RequestScope } from './request.ts';

export interface ExecuteWorkflowInput extends CommandOptions {
  readonly workflowId: string;
  readonly input?: unknown;
}

export interface CancelExecutionInput extends CommandOptions {
  readonly id: string;
  readonly reason?: string | null | undefined;
}

export interface ExecutionPage {
  readonly workflowId?: string | undefined;
  readonly status?: ExecutionStatus | null | undefined;
  /** Rows to read, negative backwards (towards newer ones), as the connection asks. */
  readonly take: number;
  /** An execution id: the page starts after it (before it, backwards). */
  readonly cursor?: string | undefined;
}

const CANCEL_ATTEMPTS = 10;
const CANCEL_HOLDER = 'cancel';
const CANCEL_HOLD_MS = 60_000;

/** What the process running executions is told, so that it need not wait for its next poll. */
export interface ExecutionHooks {
  started(executionId: string): void;
  cancelled(executionId: string): void;
}

/**
 * Starting, cancelling and reading executions, always of the caller's workspace: commands on
 * the Execution aggregate, reads of its read model. Running them is the engine's.
 */
export class ExecutionService {
  readonly #commands: CommandHandler;
  readonly #workflows: WorkflowService;
  readonly #limits: Limits;
  readonly #maxInputBytes: number;
  readonly #hooks: ExecutionHooks;
  readonly #jobs: JobQueue;
  readonly #rows: ExecutionRows;

  constructor(
    commands: CommandHandler,
    workflows: WorkflowService,
    jobs: JobQueue,
    rows: ExecutionRows,
    limits: Limits,
    maxInputBytes: number,
    hooks: ExecutionHooks,
  ) {
    this.#commands = commands;
    this.#rows = rows;
    this.#workflows = workflows;
    this.#jobs = jobs;
    this.#limits = limits;
    this.#maxInputBytes = maxInputBytes;
    this.#hooks = hooks;
  }

  /** An execution of the caller's workspace, without its input and output; null for another's or a malformed id. */
  find(id: string, scope: RequestScope): Promise<ExecutionRow | null> {
    return isUuid(id) ? this.#rows.visible(scope.actor.workspaceId, id) : Promise.resolve(null);
  }

  /** A page of the caller's workspace's executions, newest first, of one workflow and status when given. */
  async page(page: ExecutionPage, scope: RequestScope): Promise<ExecutionRow[]> {
    if (page.cursor !== undefined && !isUuid(page.cursor))
      throw badInput(page.take < 0 ? 'before' : 'after', 'is not a cursor of this list');
    // A malformed workflow id names no workflow: its page is empty.
    if (page.workflowId !== undefined && !isUuid(page.workflowId)) return [];
    return this.#rows.page({
      workspaceId: scope.actor.workspaceId,
      workflowId: page.workflowId,
      status: page.status ?? undefined,
      take: page.take,
      cursor: page.cursor,
    });
  }

  /** One JSON column of these executions of the workspace, by id: what rows are read without. */
  json(workspaceId: string, ids: readonly string[], column: ExecutionJson): Promise<unknown[]> {
    return this.#rows.json(workspaceId, ids, column);
  }

  /**
   * Starts the workflow's current version, with the workspace's budget. The definition is
   * copied into the execution. QUOTA_EXCEEDED when the workspace has as many executions under
   * way as its quota allows.
   */
  async execute(input: ExecuteWorkflowInput, scope: RequestScope): Promise<Execution> {
    const workflow = await this.#workflows.find(input.workflowId, scope);
    if (!workflow) throw notFound('workflow', input.workflowId);
    const limits = await this.#limits.of(scope.actor.workspaceId);
    const id = uuidv7();
    const execution = await this.#run(
      id,
      {
        kind: 'start',
        id,
        workflow: { id: workflow.id, version: workflow.version, definition: workflow.definition as unknown as Definition },
        input: input.input,
        rules: { maxInputBytes: this.#maxInputBytes, budget: budgetOf(limits) },
      },
      scope,
      input.idempotencyKey,
      limits,
    );
    this.#hooks.started(execution.id);
    return execution;
  }

  /**
   * A running execution's stream moves on every few milliseconds, and a cancel that read it a
   * moment ago loses the race to the runner's next append. So after a first conflict the
   * cancel takes the runner's lease (its next append fails and it stops) and decides again
   * on the stream, now quiet. If the execution ended meanwhile: EXECUTION_FINISHED. Should
   * the cancel itself fail then, the lease it took runs out and the execution goes on.
   */
  async cancel(input: CancelExecutionInput, scope: RequestScope): Promise<Execution> {
    if (!isUuid(input.id)) throw notFound('execution', input.id);
    for (let attempt = 1; ; attempt += 1) {
      try {
        const execution = await this.#run(input.id, { kind: 'cancel', id: input.id, reason: input.reason }, scope, input.idempotencyKey);
        this.#hooks.cancelled(execution.id);
        return execution;
      } catch (error) {
        if (!(error instanceof VersionConflictError) || attempt === CANCEL_ATTEMPTS) throw error;
        if (attempt === 1) {
          await this.#jobs.hold(input.id, CANCEL_HOLDER, CANCEL_HOLD_MS);
          this.#hooks.cancelled(input.id);
        }
      }
    }
  }

  /** `quota`: for a start, the limits its workspace's active executions are counted against. */
  async #run(
    id: string,
    command: ExecutionCommand,
    scope: RequestScope,
    idempotencyKey: CommandOptions['idempotencyKey'],
    quota?: WorkspaceLimits,
  ): Promise<Execution> {
    const { state } = await this.#commands
      .handle(executionAggregate, id, command, scope, (tx, next) => projectExecution(tx, next, null, quota?.maxActiveExecutions), {
        idempotencyKey,
        operation: command.kind,
        createsStream: command.kind === 'start',
        otherWriters: true,
      })
      .catch((error: unknown) => {
        // decide knows no id: name the one asked for.
        if ((error as { code?: string }).code === 'NOT_FOUND') throw notFound('execution', id);
        throw error;
      });
    if (state === null) throw notFound('execution', id);
    return state;
  }
}
