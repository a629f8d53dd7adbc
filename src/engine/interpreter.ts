import pLimit from 'p-limit';
import { DataPathError, buildInput, readPath, writePath } from '../domain/executions/data.ts';
import { jsonSize } from '../domain/json-size.ts';
import type { Execution, ExecutionError, ProgressEvent } from '../domain/executions/execution.ts';
import { catchRule, retryDelay } from '../domain/executions/retry.ts';
import type { Graph, MapNode, Node, ParallelNode, RetryRule, TaskNode } from '../domain/workflows/graph.ts';
import { ActionError } from './actions/action-error.ts';

// Walks a definition for one execution. Everything it learns is recorded as an event before
// it moves on, and everything it does is looked up in the execution first: started again
// after a crash, it walks the same way, takes the recorded outputs of finished steps instead
// of running them again, and carries on from the first step with no outcome.

/** What the walk needs from the process around it: I/O lives there. */
export interface Runtime {
  /** The execution as of the last recorded event. */
  state(): Execution;
  /** Appends one event; resolves once it and everything recorded before it are stored. */
  record(event: ProgressEvent): Promise<void>;
  /**
   * Records an event without waiting for it to be stored: for what may be lost in a crash
   * because it is redone on resume. Events are stored in order, so the next awaited record
   * (a step's start, before its action runs; the execution's end) stores it first. Throws
   * when recording has stopped.
   */
  note(event: ProgressEvent): void;
  /** Runs a task's action, as step `step`, under the step's timeout; output is plain JSON. */
  act(action: string, input: unknown, timeoutMs: number | undefined, signal: AbortSignal, step: string): Promise<unknown>;
  /**
   * The delay a timer action (sleep) asks for, from its input; null for an action that runs.
   * A timer's step is a wait: it records its deadline, and holds nothing while it waits.
   */
  timer(action: string, input: unknown): number | null;
  /** Waits until `until` (epoch ms). The process may set the execution aside meanwhile, to resume it at that time. */
  pause(until: number, signal: AbortSignal): Promise<void>;
  /** Whether a condition holds, and how long it took (waiting for a worker aside): that counts against the budget. */
  evaluate(condition: string, data: unknown): Promise<{ holds: boolean; ms: number }>;
  /** The largest result a step may give, as JSON; a map or parallel node's list included. */
  readonly maxOutputBytes: number;
  /** The largest input a task's action may get, as JSON (shared parts counted each time they appear). */
  readonly maxInputBytes: number;
  now(): number;
  random(): number;
}

/** The graph failed: an uncaught step error, a fail node, a bad path or an exhausted loop. */
export class Failure extends Error {
  readonly error: ExecutionError;

  constructor(error: ExecutionError) {
    super(error.message);
    this.error = error;
  }
}

/**
 * The largest input a step's event records, as JSON: a task without `input` gets all of the
 * execution's data, and recording it on every step (and attempt) would copy it again and again.
 * A larger one is recorded as its size only; later attempts record nothing (it is the first's).
 */
export const MAX_RECORDED_INPUT_BYTES = 8192;

/** What a step's start records of its input: its size counted no further than `limit`. */
function recorded(input: unknown, attempt: number, limit: number): { input?: unknown; omittedInputBytes?: number } {
  if (attempt > 1) return {};
  const bytes = jsonSize(input ?? null, limit);
  return bytes > MAX_RECORDED_INPUT_BYTES ? { omittedInputBytes: bytes } : { input };
}

/** Map iterations run at once when the node does not say. */
export const DEFAULT_MAP_CONCURRENCY = 10;
export const MAX_MAP_ITEMS = 1000;

export function errorOf(error: unknown): ExecutionError {
  if (error instanceof Failure) return error.error;
  const { name, message } = error instanceof Error ? error : new Error(String(error));
  return { name: name || 'Error', message };
}

/** Data paths that don't fit the data fail the graph, as an uncaught error would. */
function onData<T>(work: () => T): T {
  try {
    return work();
  } catch (error) {
    if (error instanceof DataPathError) throw new Failure({ name: 'DataPathError', message: error.message });
    throw error;
  }
}

type Outcome = { ok: true; output: unknown } | { ok: false; error: ExecutionError };

/** One step through its attempts: recorded outcome, else retry schedule, else a (new) attempt. */
async function runStep(
  rt: Runtime,
  signal: AbortSignal,
  id: string,
  node: string,
  input: unknown,
  work: (signal: AbortSignal) => Promise<unknown>,
  retry?: readonly RetryRule[],
): Promise<Outcome> {
  for (;;) {
    const step = rt.state().steps[id];
    if (step?.status === 'SUCCEEDED') return { ok: true, output: step.output };
    if (step?.status === 'FAILED') {
      const delayMs = retryDelay(retry, step.error!, step.attempt, rt.random());
      if (delayMs === null) return { ok: false, error: step.error! };
      const retryAt = new Date(rt.now() + delayMs).toISOString();
      rt.note({ type: 'StepRetryScheduled', data: { step: id, attempt: step.attempt + 1, delayMs, retryAt } });
      continue;
    }
    let attempt = 1;
    if (step?.status === 'RETRY_SCHEDULED') {
      await rt.pause(step.retryAt!.getTime(), signal);
      attempt = step.attempt + 1;
    } else if (step?.status === 'RUNNING') {
      // Its process stopped mid-attempt: that attempt runs again.
      attempt = step.attempt;
    }
    await rt.record({ type: 'StepStarted', data: { step: id, node, attempt, ...recorded(input, attempt, rt.maxInputBytes) } });
    try {
      const output = await work(signal);
      rt.note({ type: 'StepSucceeded', data: { step: id, output } });
    } catch (error) {
      signal.throwIfAborted();
      rt.note({ type: 'StepFailed', data: { step: id, error: errorOf(error) } });
    }
  }
}

/**
 * A step that waits `ms` (a wait node, a sleep task): its start records its deadline, which a
 * resumed run keeps, and the wait is a pause, during which the process may set the execution
 * aside. A task's timeoutMs and retry rules apply to it as to any task.
 */
function timedStep(
  rt: Runtime,
  signal: AbortSignal,
  id: string,
  node: string,
  ms: number,
  output: unknown,
  task?: TaskNode,
): Promise<Outcome> {
  const recordedUntil = (rt.state().steps[id]?.input as { until?: string } | null | undefined)?.until;
  const until = recordedUntil ?? new Date(rt.now() + ms).toISOString();
  return runStep(
    rt,
    signal,
    id,
    node,
    { ms, until },
    async (inner) => {
      const started = rt.state().steps[id]?.startedAt.getTime() ?? rt.now();
      const limit = task?.timeoutMs === undefined ? Infinity : started + task.timeoutMs;
      await rt.pause(Math.min(Date.parse(until), limit), inner);
      if (limit < Date.parse(until)) throw new ActionError('Timeout', `${node} took longer than ${task!.timeoutMs} ms`);
      return output;
    },
    task?.retry,
  );
}

/** Runs count sub-graphs, at most `concurrency` at once; the first failure stops the rest. */
async function fanOut(
  count: number,
  concurrency: number,
  signal: AbortSignal,
  run: (index: number, signal: AbortSignal) => Promise<unknown>,
): Promise<unknown[]> {
  const stop = new AbortController();
  const inner = AbortSignal.any([signal, stop.signal]);
  const limit = pLimit(concurrency);
  const runs = Array.from({ length: count }, (_, index) =>
    limit(async () => {
      inner.throwIfAborted();
      try {
        return await run(index, inner);
      } catch (error) {
        // At once, before the limit starts the next run: that one must not begin a step.
        stop.abort();
        throw error;
      }
    }),
  );
  try {
    return await Promise.all(runs);
  } catch (error) {
    stop.abort();
    await Promise.allSettled(runs);
    throw error;
  }
}

/** A map's or parallel's list of outputs is a step's result too: the same size limit holds. */
function limited(rt: Runtime, outputs: unknown[]): unknown[] {
  if (jsonSize(outputs, rt.maxOutputBytes) > rt.maxOutputBytes)
    throw new Failure({ name: 'OutputTooLarge', message: `the outputs are more than ${rt.maxOutputBytes} bytes` });
  return outputs;
}

async function mapItems(rt: Runtime, node: MapNode, items: unknown[], id: string, signal: AbortSignal): Promise<unknown[]> {
  return limited(
    rt,
    await fanOut(items.length, node.maxConcurrency ?? DEFAULT_MAP_CONCURRENCY, signal, async (index, inner) => {
      const key = `${id}[${index}]`;
      const recorded = rt.state().iterations[key];
      if (recorded?.completed) return recorded.output;
      if (!recorded) rt.note({ type: 'MapIterationStarted', data: { step: id, index } });
      const output = await runGraph(rt, node.iterator, items[index], `${key}/`, inner);
      rt.note({ type: 'MapIterationCompleted', data: { step: id, index, output } });
      return output;
    }),
  );
}

async function runBranches(rt: Runtime, node: ParallelNode, data: unknown, id: string, signal: AbortSignal): Promise<unknown[]> {
  return limited(
    rt,
    await fanOut(node.branches.length, node.maxConcurrency ?? node.branches.length, signal, (index, inner) =>
      runGraph(rt, node.branches[index]!, data, `${id}(${index})/`, inner),
    ),
  );
}

/** Where a node's result goes: nowhere without a resultPath, the whole data with `$`. */
const place = (data: unknown, path: string | undefined, value: unknown) =>
  path === undefined ? data : onData(() => writePath(data, path, value));

/** Runs one node that is a step; returns the data after it and the node's name to go to. */
async function runNode(
  rt: Runtime,
  node: Exclude<Node, { type: 'choice' | 'succeed' | 'fail' }>,
  name: string,
  id: string,
  data: unknown,
  signal: AbortSignal,
): Promise<{ data: unknown; next?: string | undefined }> {
  const after = (output: unknown, resultPath?: string) => ({ data: place(data, resultPath, output), next: node.next });
  const failed = (outcome: Outcome): never => {
    throw new Failure((outcome as { error: ExecutionError }).error);
  };
  switch (node.type) {
    case 'task': {
      let outcome: Outcome;
      try {
        const input = buildInput(node.input ?? '$', data);
        if (jsonSize(input, rt.maxInputBytes) > rt.maxInputBytes)
          throw new ActionError('InputTooLarge', `${name}: the input is more than ${rt.maxInputBytes} bytes`);
        const delayMs = rt.timer(node.action, input);
        outcome =
          delayMs === null
            ? await runStep(rt, signal, id, name, input, (inner) => rt.act(node.action, input, node.timeoutMs, inner, id), node.retry)
            : await timedStep(rt, signal, id, name, delayMs, { sleptMs: delayMs }, node);
      } catch (error) {
        // A path that does not fit the data, an input too large, or a timer's input its action refuses: the step fails before it starts.
        if (!(error instanceof DataPathError) && !(error instanceof ActionError)) throw error;
        outcome = { ok: false, error: errorOf(error) };
      }
      if (outcome.ok) return after(outcome.output, node.resultPath);
      const rule = catchRule(node.catch, outcome.error);
      if (!rule) return failed(outcome);
      return { data: place(data, rule.resultPath, outcome.error), next: rule.next };
    }
    case 'wait': {
      const outcome = await timedStep(rt, signal, id, name, node.ms, null);
      return outcome.ok ? after(null) : failed(outcome);
    }
    case 'map': {
      const items = onData(() => readPath(data, node.itemsPath));
      if (!Array.isArray(items)) throw new Failure({ name: 'InvalidItems', message: `${name}: ${node.itemsPath} is not a list` });
      if (items.length > MAX_MAP_ITEMS) throw new Failure({ name: 'InvalidItems', message: `${name}: more than ${MAX_MAP_ITEMS} items` });
      const outcome = await runStep(rt, signal, id, name, items, (inner) => mapItems(rt, node, items, id, inner));
      return outcome.ok ? after(outcome.output, node.resultPath) : failed(outcome);
    }
    case 'parallel': {
      const outcome = await runStep(rt, signal, id, name, null, (inner) => runBranches(rt, node, data, id, inner));
      return outcome.ok ? after(outcome.output, node.resultPath) : failed(outcome);
    }
  }
}

/** Walks one graph from its start to its end; returns its output. `scope` prefixes its step ids. */
export async function runGraph(rt: Runtime, graph: Graph, input: unknown, scope: string, signal: AbortSignal): Promise<unknown> {
  const visits = new Map<string, number>();
  let data = input;
  let name = graph.startAt;
  for (;;) {
    signal.throwIfAborted();
    const step = await runVisit(rt, graph, name, visits, data, scope, signal).catch((error: unknown) => {
      // A failure names the node it arose at: the innermost one, for one from inside a map or branch.
      throw error instanceof Failure && error.error.node === undefined ? new Failure({ ...error.error, node: `${scope}${name}` }) : error;
    });
    if ('output' in step) return step.output;
    data = step.data;
    name = step.next;
  }
}

/** One visit of a node: its graph's output, or the data after it and the node to go to. */
async function runVisit(
  rt: Runtime,
  graph: Graph,
  name: string,
  visits: Map<string, number>,
  data: unknown,
  scope: string,
  signal: AbortSignal,
): Promise<{ output: unknown } | { data: unknown; next: string }> {
  const node = graph.nodes[name]!;
  const visit = (visits.get(name) ?? 0) + 1;
  visits.set(name, visit);
  if (node.maxVisits !== undefined && visit > node.maxVisits) {
    throw new Failure({
      name: 'MaxVisitsExceeded',
      message: `node ${scope}${name} would run more than its maxVisits of ${node.maxVisits}`,
    });
  }
  const id = `${scope}${name}#${visit}`;
  switch (node.type) {
    case 'succeed':
      return { output: onData(() => readPath(data, node.outputPath ?? '$')) };
    case 'fail':
      throw new Failure({ name: node.error, message: node.cause ?? node.error });
    case 'choice': {
      let next = rt.state().choices[id]?.next;
      if (next === undefined) {
        let conditionMs = 0;
        let taken = -1;
        for (const [index, option] of node.cases.entries()) {
          const { holds, ms } = await rt.evaluate(option.condition, data).catch((error: unknown) => {
            throw new Failure(errorOf(error));
          });
          conditionMs += ms;
          if (holds) {
            taken = index;
            break;
          }
        }
        next = taken === -1 ? node.default : node.cases[taken]!.next;
        // The conditions' time counts against the execution's budget.
        rt.note({ type: 'ChoiceTaken', data: { step: id, node: name, case: taken, next, conditionMs: Math.round(conditionMs) } });
      }
      return { data, next };
    }
    default: {
      const result = await runNode(rt, node, name, id, data, signal);
      return result.next === undefined ? { output: result.data } : { data: result.data, next: result.next };
    }
  }
}

/** Runs an execution to its end and records the outcome. Throws only when it was stopped. */
export async function runExecution(rt: Runtime, signal: AbortSignal): Promise<void> {
  const { definition, input } = rt.state();
  let outcome: ProgressEvent;
  try {
    const output = await runGraph(rt, definition, input, '', signal);
    if (jsonSize(output ?? null, rt.maxOutputBytes) > rt.maxOutputBytes)
      throw new Failure({ name: 'OutputTooLarge', message: `the output is more than ${rt.maxOutputBytes} bytes` });
    outcome = { type: 'ExecutionSucceeded', data: { output } };
  } catch (error) {
    if (!(error instanceof Failure)) throw error;
    outcome = { type: 'ExecutionFailed', data: { error: error.error } };
  }
  await rt.record(outcome);
}
