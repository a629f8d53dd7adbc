import type { Aggregate, DomainEvent, EventEnvelope } from '../aggregate.ts';
import { AppError, badInput, refuseNul } from '../errors.ts';
import type { Definition } from '../workflows/graph.ts';
import type { Budget } from '../workspaces/limits.ts';
import type { StepError } from './retry.ts';

export const EXECUTION = 'Execution';

export type ExecutionStatus = 'PENDING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'CANCELLED' | 'TIMED_OUT';
export type StepStatus = 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'RETRY_SCHEDULED';
export type ExecutionError = StepError;

/**
 * One run of a node (task, map, parallel or wait), across its attempts. Its id names where it
 * ran: the node's path through maps and branches, and which visit of the node it is
 * ("Check#2", "Each#1[3]/Fetch#1"), so a resumed run finds it again.
 */
export interface Step {
  readonly id: string;
  readonly node: string;
  readonly attempt: number;
  readonly status: StepStatus;
  /** null when it was larger than a step records (omittedInputBytes says how large). */
  readonly input: unknown;
  readonly omittedInputBytes: number | null;
  readonly output: unknown;
  readonly error: ExecutionError | null;
  readonly startedAt: Date;
  readonly endedAt: Date | null;
  /** When RETRY_SCHEDULED: the next attempt's earliest start. */
  readonly retryAt: Date | null;
}

export interface Execution {
  readonly id: string;
  readonly workflowId: string;
  readonly workflowVersion: number;
  /** The definition as it was when the execution started: later updates don't change a run. */
  readonly definition: Definition;
  readonly input: unknown;
  readonly status: ExecutionStatus;
  readonly output: unknown;
  readonly error: ExecutionError | null;
  /** What it may spend; null for an execution started before budgets were recorded (the process's defaults apply). */
  readonly budget: Budget | null;
  /** Step attempts started, and the time its conditions took: what it has spent of its budget. */
  readonly stepsStarted: number;
  readonly conditionMs: number;
  /** By id, in the order they first started. */
  readonly steps: Readonly<Record<string, Step>>;
  /** The case a choice took, by step id ("Check#2"): -1 for its default. */
  readonly choices: Readonly<Record<string, { readonly next: string }>>;
  /** Map iterations by "step[index]": their output once completed. */
  readonly iterations: Readonly<Record<string, { readonly completed: boolean; readonly output: unknown }>>;
  readonly version: number;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly endedAt: Date | null;
  readonly createdById: string;
  readonly workspaceId: string;
}

export type ExecutionState = Execution | null;

type Event<Type extends string, Data> = DomainEvent<Type, Data>;
export type ExecutionStarted = Event<
  'ExecutionStarted',
  { id: string; workflowId: string; workflowVersion: number; definition: Definition; input: unknown; budget?: Budget }
>;
/** `input` is left out on later attempts (it is the first's) and past what a step records (omittedInputBytes). */
export type StepStarted = Event<
  'StepStarted',
  { step: string; node: string; attempt: number; input?: unknown; omittedInputBytes?: number }
>;
export type StepSucceeded = Event<'StepSucceeded', { step: string; output: unknown }>;
export type StepFailed = Event<'StepFailed', { step: string; error: ExecutionError }>;
export type StepRetryScheduled = Event<'StepRetryScheduled', { step: string; attempt: number; delayMs: number; retryAt: string }>;
export type ChoiceTaken = Event<'ChoiceTaken', { step: string; node: string; case: number; next: string; conditionMs?: number }>;
export type MapIterationStarted = Event<'MapIterationStarted', { step: string; index: number }>;
export type MapIterationCompleted = Event<'MapIterationCompleted', { step: string; index: number; output: unknown }>;
export type ExecutionSucceeded = Event<'ExecutionSucceeded', { output: unknown }>;
export type ExecutionFailed = Event<'ExecutionFailed', { error: ExecutionError }>;
export type ExecutionCancelled = Event<'ExecutionCancelled', { reason: string }>;
export type ExecutionTimedOut = Event<'ExecutionTimedOut', { error: ExecutionError }>;

/** What a runner observes while it runs an execution. */
export type ProgressEvent =
  | StepStarted
  | StepSucceeded
  | StepFailed
  | StepRetryScheduled
  | ChoiceTaken
  | MapIterationStarted
  | MapIterationCompleted
  | ExecutionSucceeded
  | ExecutionFailed
  | ExecutionTimedOut;
export type ExecutionEvent = ExecutionStarted | ExecutionCancelled | ProgressEvent;

export interface StartRules {
  readonly maxInputBytes: number;
  /** The workspace's budget, recorded with the start. */
  readonly budget: Budget;
}

export type ExecutionCommand =
  | {
      kind: 'start';
      id: string;
      workflow: { id: string; version: number; definition: Definition };
      input: unknown;
      rules: StartRules;
    }
  | { kind: 'cancel'; id: string; reason?: string | null | undefined }
  | { kind: 'progress'; event: ProgressEvent };

export const MAX_REASON_LENGTH = 1000;
const TERMINAL: ReadonlySet<ExecutionStatus> = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT']);

export const hasEnded = (status: ExecutionStatus): boolean => TERMINAL.has(status);
export const isFinished = (state: ExecutionState): boolean => state !== null && hasEnded(state.status);

function running(state: ExecutionState): Execution {
  if (state === null) throw new AppError('NOT_FOUND', 'the execution was not found');
  if (isFinished(state)) {
    throw new AppError('EXECUTION_FINISHED', `execution ${state.id} has ended already: ${state.status}`, { status: state.status });
  }
  return state;
}

/** The runner's events must follow each step's life: started, then one outcome, then maybe a retry. */
function checkProgress(state: Execution, event: ProgressEvent): void {
  const step = 'step' in event.data ? state.steps[event.data.step] : undefined;
  const expect = (ok: boolean) => {
    if (!ok) throw new Error(`${event.type} does not follow step ${(event.data as { step?: string }).step}'s ${step?.status ?? 'absence'}`);
  };
  switch (event.type) {
    case 'StepSucceeded':
    case 'StepFailed':
      return expect(step?.status === 'RUNNING');
    case 'StepRetryScheduled':
      return expect(step?.status === 'FAILED' && event.data.attempt === step.attempt + 1);
    case 'StepStarted':
      // A new step; the next attempt after a retry; or the same attempt again after a crash.
      return expect(
        step === undefined ||
          (step.status === 'RETRY_SCHEDULED' && event.data.attempt === step.attempt + 1) ||
          (step.status === 'RUNNING' && event.data.attempt === step.attempt),
      );
    default:
  }
}

export function decide(command: ExecutionCommand, state: ExecutionState): ExecutionEvent[] {
  switch (command.kind) {
    case 'start': {
      if (state !== null) throw new AppError('BAD_USER_INPUT', `execution ${command.id} exists already`);
      const input = command.input ?? {};
      if (typeof input !== 'object' || Array.isArray(input)) throw badInput('input', 'must be a JSON object');
      refuseNul(input, 'input');
      const bytes = Buffer.byteLength(JSON.stringify(input));
      if (bytes > command.rules.maxInputBytes) {
        throw badInput('input', `is ${bytes} bytes, more than the limit of ${command.rules.maxInputBytes}`);
      }
      // The input is the stream's first event data: an execution that could not write one more event is refused now.
      if (bytes >= command.rules.budget.maxBytes) {
        throw badInput(
          'input',
          `is ${bytes} bytes, more than the execution's budget of ${command.rules.budget.maxBytes} bytes of event data`,
        );
      }
      const { workflow } = command;
      return [
        {
          type: 'ExecutionStarted',
          data: {
            id: command.id,
            workflowId: workflow.id,
            workflowVersion: workflow.version,
            definition: workflow.definition,
            input,
            budget: command.rules.budget,
          },
        },
      ];
    }
    case 'cancel': {
      running(state);
      const reason = command.reason ?? '';
      if (reason.length > MAX_REASON_LENGTH) throw badInput('reason', `must be at most ${MAX_REASON_LENGTH} characters`);
      refuseNul(reason, 'reason');
      return [{ type: 'ExecutionCancelled', data: { reason } }];
    }
    case 'progress': {
      checkProgress(running(state), command.event);
      return [command.event];
    }
  }
}

/** The records of an execution that grow with it: one entry per step, choice or iteration. */
interface Records {
  readonly steps: Execution['steps'];
  readonly choices: Execution['choices'];
  readonly iterations: Execution['iterations'];
}

/** How an entry is set: in a copy of its record (evolve), or in place in a record a fold owns. */
type Put = <K extends keyof Records>(state: Execution, record: K, id: string, value: Records[K][string]) => Execution;

const copying: Put = (state, record, id, value) => ({ ...state, [record]: { ...state[record], [id]: value } });
const inPlace: Put = (state, record, id, value) => {
  (state[record] as Record<string, unknown>)[id] = value;
  return state;
};

function finished(state: Execution, status: ExecutionStatus, at: Date, change: Partial<Execution>): Execution {
  return { ...state, ...change, status, endedAt: at };
}

function apply(state: Execution, event: ExecutionEvent, at: Date, put: Put): Execution {
  const step = (id: string, change: (current: Step | undefined) => Step) => put(state, 'steps', id, change(state.steps[id]));
  switch (event.type) {
    case 'ExecutionStarted':
      return state;
    case 'StepStarted': {
      const { node, attempt } = event.data;
      const recorded = 'input' in event.data || event.data.omittedInputBytes !== undefined;
      const next = step(event.data.step, (previous) => ({
        id: event.data.step,
        node,
        attempt,
        input: recorded ? (event.data.input ?? null) : (previous?.input ?? null),
        omittedInputBytes: recorded ? (event.data.omittedInputBytes ?? null) : (previous?.omittedInputBytes ?? null),
        status: 'RUNNING',
        output: null,
        error: null,
        startedAt: previous?.startedAt ?? at,
        endedAt: null,
        retryAt: null,
      }));
      return { ...next, stepsStarted: next.stepsStarted + 1 };
    }
    case 'StepSucceeded':
      return step(event.data.step, (current) => ({ ...current!, status: 'SUCCEEDED', output: event.data.output, endedAt: at }));
    case 'StepFailed':
      return step(event.data.step, (current) => ({ ...current!, status: 'FAILED', error: event.data.error, endedAt: at }));
    case 'StepRetryScheduled':
      return step(event.data.step, (current) => ({ ...current!, status: 'RETRY_SCHEDULED', retryAt: new Date(event.data.retryAt) }));
    case 'ChoiceTaken': {
      const next = put(state, 'choices', event.data.step, { next: event.data.next });
      return { ...next, conditionMs: next.conditionMs + (event.data.conditionMs ?? 0) };
    }
    case 'MapIterationStarted':
      return put(state, 'iterations', `${event.data.step}[${event.data.index}]`, { completed: false, output: null });
    case 'MapIterationCompleted':
      return put(state, 'iterations', `${event.data.step}[${event.data.index}]`, { completed: true, output: event.data.output });
    case 'ExecutionSucceeded':
      return finished(state, 'SUCCEEDED', at, { output: event.data.output });
    case 'ExecutionFailed':
      return finished(state, 'FAILED', at, { error: event.data.error });
    case 'ExecutionTimedOut':
      return finished(state, 'TIMED_OUT', at, { error: event.data.error });
    case 'ExecutionCancelled':
      return finished(state, 'CANCELLED', at, { error: { name: 'Cancelled', message: event.data.reason || 'cancelled' } });
  }
}

function evolveWith(state: ExecutionState, event: ExecutionEvent, envelope: EventEnvelope, put: Put): ExecutionState {
  const at = envelope.createdAt;
  if (event.type === 'ExecutionStarted') {
    const { budget, ...started } = event.data;
    return {
      ...started,
      status: 'PENDING',
      output: null,
      error: null,
      budget: budget ?? null,
      stepsStarted: 0,
      conditionMs: 0,
      steps: {},
      choices: {},
      iterations: {},
      version: envelope.version,
      createdAt: at,
      updatedAt: at,
      endedAt: null,
      createdById: envelope.metadata.actorId ?? '',
      workspaceId: envelope.metadata.workspaceId,
    };
  }
  if (state === null) return null;
  const next = apply(state, event, at, put);
  return { ...next, status: next.status === 'PENDING' ? 'RUNNING' : next.status, version: envelope.version, updatedAt: at };
}

export function evolve(state: ExecutionState, event: ExecutionEvent, envelope: EventEnvelope): ExecutionState {
  return evolveWith(state, event, envelope, copying);
}

/**
 * Many events at once, as evolve would give them one by one: the records are copied once and
 * then filled in place, so a long execution folds in time linear in its events, not quadratic.
 */
export function evolveAll(state: ExecutionState, events: readonly { event: ExecutionEvent; envelope: EventEnvelope }[]): ExecutionState {
  let current = state && { ...state, steps: { ...state.steps }, choices: { ...state.choices }, iterations: { ...state.iterations } };
  for (const { event, envelope } of events) current = evolveWith(current, event, envelope, inPlace);
  return current;
}

export const executionAggregate: Aggregate<ExecutionState, ExecutionCommand, ExecutionEvent> = {
  type: EXECUTION,
  initialState: null,
  decide,
  evolve,
  evolveAll,
};
