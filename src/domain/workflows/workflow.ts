import type { Aggregate, DomainEvent, EventEnvelope } from '../aggregate.ts';
import { AppError, VersionConflictError, badInput, notFound, refuseNul } from '../errors.ts';
import { validateDefinition, type DefinitionRules } from './definition.ts';
import type { Definition } from './graph.ts';

export const WORKFLOW = 'Workflow';
export const NAME_MAX_LENGTH = 200;
export const DESCRIPTION_MAX_LENGTH = 4000;

export type WorkflowStatus = 'ACTIVE' | 'DELETED';

export interface Workflow {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly definition: Definition;
  readonly status: WorkflowStatus;
  readonly version: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly createdById: string;
  readonly workspaceId: string;
}

/** null until the WorkflowCreated event. */
export type WorkflowState = Workflow | null;

export type WorkflowCreated = DomainEvent<'WorkflowCreated', { id: string; name: string; description: string; definition: Definition }>;
/** Carries only the fields that changed. */
export type WorkflowUpdated = DomainEvent<'WorkflowUpdated', { name?: string; description?: string; definition?: Definition }>;
export type WorkflowDeleted = DomainEvent<'WorkflowDeleted', Record<string, never>>;
export type WorkflowEvent = WorkflowCreated | WorkflowUpdated | WorkflowDeleted;

export type WorkflowCommand =
  | { kind: 'create'; id: string; name: string; description?: string | null; definition?: unknown; rules: DefinitionRules }
  | {
      kind: 'update';
      id: string;
      expectedVersion: number;
      name?: string | null;
      description?: string | null;
      definition?: unknown;
      rules: DefinitionRules;
    }
  | { kind: 'delete'; id: string; expectedVersion: number };

function validName(name: unknown): string {
  if (typeof name !== 'string' || name.trim() === '') throw badInput('name', 'must not be empty');
  if (name.length > NAME_MAX_LENGTH) throw badInput('name', `must be at most ${NAME_MAX_LENGTH} characters`);
  refuseNul(name, 'name');
  return name.trim();
}

function validDescription(description: string | null | undefined): string {
  const value = description ?? '';
  if (value.length > DESCRIPTION_MAX_LENGTH) {
    throw badInput('description', `must be at most ${DESCRIPTION_MAX_LENGTH} characters`);
  }
  refuseNul(value, 'description');
  return value;
}

function existing(state: WorkflowState, id: string, expectedVersion: number): Workflow {
  if (state === null || state.status === 'DELETED') throw notFound('workflow', id);
  if (state.version !== expectedVersion) throw new VersionConflictError(expectedVersion, state.version);
  return state;
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

export function decide(command: WorkflowCommand, state: WorkflowState): WorkflowEvent[] {
  switch (command.kind) {
    case 'create': {
      if (state !== null) throw new AppError('BAD_USER_INPUT', `workflow ${command.id} exists already`);
      return [
        {
          type: 'WorkflowCreated',
          data: {
            id: command.id,
            name: validName(command.name),
            description: validDescription(command.description),
            definition: validateDefinition(command.definition, command.rules),
          },
        },
      ];
    }
    case 'update': {
      const current = existing(state, command.id, command.expectedVersion);
      const changes: WorkflowUpdated['data'] = {};
      if (command.name != null) {
        const name = validName(command.name);
        if (name !== current.name) changes.name = name;
      }
      if (command.description != null) {
        const description = validDescription(command.description);
        if (description !== current.description) changes.description = description;
      }
      if (command.definition != null) {
        const definition = validateDefinition(command.definition, command.rules);
        if (!same(definition, current.definition)) changes.definition = definition;
      }
      // An update that changes nothing records nothing.
      return Object.keys(changes).length === 0 ? [] : [{ type: 'WorkflowUpdated', data: changes }];
    }
    case 'delete': {
      existing(state, command.id, command.expectedVersion);
      return [{ type: 'WorkflowDeleted', data: {} }];
    }
  }
}

export function evolve(state: WorkflowState, event: WorkflowEvent, envelope: EventEnvelope): WorkflowState {
  const touched = { version: envelope.version, updatedAt: envelope.createdAt };
  switch (event.type) {
    case 'WorkflowCreated':
      return {
        ...event.data,
        status: 'ACTIVE',
        createdAt: envelope.createdAt,
        createdById: envelope.metadata.actorId ?? '',
        workspaceId: envelope.metadata.workspaceId,
        ...touched,
      };
    case 'WorkflowUpdated':
      return state && { ...state, ...event.data, ...touched };
    case 'WorkflowDeleted':
      return state && { ...state, status: 'DELETED', ...touched };
  }
}

export const workflowAggregate: Aggregate<WorkflowState, WorkflowCommand, WorkflowEvent> = {
  type: WORKFLOW,
  initialState: null,
  decide,
  evolve,
};
