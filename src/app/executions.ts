import { v7 as uuidv7 } from 'uuid';
import { notFound } from '../domain/errors.ts';
import { executionAggregate, type Execution, type ExecutionCommand, type StartRules } from '../domain/executions/execution.ts';
import type { Definition } from '../domain/workflows/definition.ts';
import type { Database } from '../store/database.ts';
import type { CommandHandler, CommandOptions } from './command-handler.ts';
import { projectExecution } from './execution-projection.ts';
import { isUuid } from './ids.ts';
import type { RequestScope } from './request.ts';

export interface ExecuteWorkflowInput extends CommandOptions {
  readonly workflowId: string;
  readonly input?: unknown;
}

export interface CancelExecutionInput extends CommandOptions {
  readonly id: string;
  readonly reason?: string | null | undefined;
}

/** What the process running executions is told, so that it need not wait for its next poll. */
export interface ExecutionHooks {
  started(executionId: string): void;
  cancelled(executionId: string): void;
}

/** Starting and cancelling executions: commands on the Execution aggregate. Running them is the engine's. */
export class ExecutionService {
  readonly #commands: CommandHandler;
  readonly #db: Database;
  readonly #rules: StartRules;
  readonly #hooks: ExecutionHooks;

  constructor(commands: CommandHandler, db: Database, rules: StartRules, hooks: ExecutionHooks) {
    this.#commands = commands;
    this.#db = db;
    this.#rules = rules;
    this.#hooks = hooks;
  }

  /** Starts the workflow's current version. The definition is copied into the execution. */
  async execute(input: ExecuteWorkflowInput, scope: RequestScope): Promise<Execution> {
    const workflow = isUuid(input.workflowId) ? await this.#db.prisma.workflow.findUnique({ where: { id: input.workflowId } }) : null;
    if (!workflow || workflow.status !== 'ACTIVE') throw notFound('workflow', input.workflowId);
    const id = uuidv7();
    const execution = await this.#run(
      id,
      {
        kind: 'start',
        id,
        workflow: { id: workflow.id, version: workflow.version, definition: workflow.definition as unknown as Definition },
        input: input.input,
        rules: this.#rules,
      },
      scope,
      input.idempotencyKey,
    );
    this.#hooks.started(execution.id);
    return execution;
  }

  async cancel(input: CancelExecutionInput, scope: RequestScope): Promise<Execution> {
    if (!isUuid(input.id)) throw notFound('execution', input.id);
    const execution = await this.#run(input.id, { kind: 'cancel', id: input.id, reason: input.reason }, scope, input.idempotencyKey);
    this.#hooks.cancelled(execution.id);
    return execution;
  }

  async #run(id: string, command: ExecutionCommand, scope: RequestScope, idempotencyKey: CommandOptions['idempotencyKey']): Promise<Execution> {
    const { state } = await this.#commands
      .handle(executionAggregate, id, command, scope, (tx, next) => projectExecution(tx, next), {
        idempotencyKey,
        operation: command.kind,
        createsStream: command.kind === 'start',
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
