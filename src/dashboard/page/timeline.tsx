import { useEffect, useState } from 'preact/hooks';
import type { Api } from './api.ts';
import { dateTime, duration, messageOf, time } from './format.ts';
import { resumable, type ResumableState } from './resumable.ts';

// One execution as a timeline of its steps, from `executionUpdated` (the execution again after
// each of its events), with each retry's delay and error read from its events as they come.

interface ExecutionError {
  readonly name: string;
  readonly message: string;
  readonly node: string | null;
}

export interface Step {
  readonly id: string;
  readonly node: string;
  readonly attempt: number;
  readonly status: string;
  readonly startedAt: string;
  readonly endedAt: string | null;
  readonly durationMs: number | null;
  readonly retryAt: string | null;
  readonly error: ExecutionError | null;
}

export interface Execution {
  readonly id: string;
  readonly status: string;
  readonly version: number;
  readonly createdAt: string;
  readonly endedAt: string | null;
  readonly stepCount: number;
  readonly workflowVersion: number;
  readonly workflow: { readonly id: string; readonly name: string };
  readonly error: ExecutionError | null;
  readonly steps: readonly Step[];
}

interface Retry {
  readonly attempt: number;
  readonly delayMs: number;
  readonly error?: ExecutionError;
}

const SUBSCRIPTION = `subscription Timeline($id: ID!) {
  executionUpdated(id: $id) {
    id status version createdAt endedAt stepCount workflowVersion workflow { id name }
    error { name message node }
    steps(first: 100) { id node attempt status startedAt endedAt durationMs retryAt error { name message node } }
  }
}`;

const EVENTS = `query Retries($id: ID!, $from: Int!, $after: String) {
  events(aggregateType: EXECUTION, aggregateId: $id, fromVersion: $from, after: $after, first: 100) {
    edges { node { type version data } }
    pageInfo { hasNextPage endCursor }
  }
}`;

interface EventPage {
  readonly events: {
    readonly edges: { readonly node: { readonly type: string; readonly version: number; readonly data: Record<string, unknown> } }[];
    readonly pageInfo: { readonly hasNextPage: boolean; readonly endCursor: string | null };
  };
}

export const ENDED = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT']);

/** Reads the execution's retry events from version `from` into `retries` (by step); returns the last version read. */
async function readRetries(api: Api, id: string, from: number, retries: Map<string, Retry[]>, failed: Map<string, ExecutionError>) {
  let after: string | null = null;
  let last = from - 1;
  for (;;) {
    const page: EventPage = await api.query<EventPage>(EVENTS, { id, from, after });
    for (const { node } of page.events.edges) {
      last = node.version;
      const step = String(node.data.step);
      if (node.type === 'StepFailed') failed.set(step, node.data.error as ExecutionError);
      if (node.type === 'StepRetryScheduled') {
        const list = retries.get(step) ?? [];
        list.push({ attempt: Number(node.data.attempt), delayMs: Number(node.data.delayMs), error: failed.get(step) });
        retries.set(step, list);
      }
    }
    if (!page.events.pageInfo.hasNextPage) return last;
    after = page.events.pageInfo.endCursor;
  }
}

export function Timeline({ api, id, canCancel }: { api: Api; id: string; canCancel: boolean }) {
  const [execution, setExecution] = useState<Execution>();
  const [retries, setRetries] = useState<ReadonlyMap<string, Retry[]>>(new Map());
  const [state, setState] = useState<ResumableState>('connecting');
  const [problem, setProblem] = useState<string>();
  useEffect(() => {
    setExecution(undefined);
    setRetries(new Map());
    setProblem(undefined);
    // Reads still under way when another execution is picked must not paint it.
    let live = true;
    const known = new Map<string, Retry[]>();
    const failed = new Map<string, ExecutionError>();
    let read = 0;
    let reading = Promise.resolve();
    const stop = resumable<{ executionUpdated: Execution }>(api, SUBSCRIPTION, {
      variables: () => ({ id }),
      next: ({ executionUpdated }) => {
        setExecution(executionUpdated);
        const to = executionUpdated.version;
        reading = reading
          .then(async () => {
            if (!live || to <= read) return;
            // The read may go past `to`: events committed since this update was sent.
            read = await readRetries(api, id, read + 1, known, failed);
            if (live) setRetries(new Map(known));
          })
          .catch((error: unknown) => {
            if (live) setProblem(messageOf(error));
          });
      },
      state: (next, detail) => {
        setState(next);
        if (detail) setProblem(detail);
      },
    });
    return () => {
      live = false;
      stop();
    };
  }, [api, id]);
  if (!execution)
    return problem ? (
      <p class="error" role="alert">
        {problem}
      </p>
    ) : (
      <p class="muted">Loading the execution…</p>
    );
  const start = Date.parse(execution.createdAt);
  const end = execution.endedAt ? Date.parse(execution.endedAt) : Date.now();
  const span = Math.max(1, end - start);
  const cancel = async () => {
    try {
      await api.query('mutation($id: ID!) { cancelExecution(input: { id: $id }) { id } }', { id });
    } catch (error) {
      setProblem(messageOf(error));
    }
  };
  return (
    <section class="timeline" aria-label="Execution timeline" data-execution-id={execution.id}>
      <h3>
        {execution.workflow.name} <span class="muted">v{execution.workflowVersion}</span>{' '}
        <span class={`badge status-${execution.status}`} data-testid="execution-status">
          {execution.status}
        </span>
        {!ENDED.has(execution.status) && state !== 'open' && <span class="muted"> ({state})</span>}
      </h3>
      <p class="muted">
        {execution.id} · started {dateTime(execution.createdAt)}
        {execution.endedAt && ` · ended ${time(execution.endedAt)} after ${duration(end - start)}`} · {execution.stepCount} step
        {execution.stepCount === 1 ? '' : 's'}
        {execution.stepCount > execution.steps.length && ` (the first ${execution.steps.length} shown)`}
      </p>
      {execution.error && (
        <p class="error" role="alert" data-testid="execution-error">
          {execution.error.name}: {execution.error.message}
          {execution.error.node && ` (at ${execution.error.node})`}
        </p>
      )}
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      {canCancel && !ENDED.has(execution.status) && (
        <button type="button" onClick={cancel}>
          Cancel execution
        </button>
      )}
      <table class="steps">
        <thead>
          <tr>
            <th scope="col">Step</th>
            <th scope="col">Node</th>
            <th scope="col">Attempt</th>
            <th scope="col">Status</th>
            <th scope="col">Duration</th>
            <th scope="col">Retries</th>
            <th scope="col">Error</th>
            <th scope="col">When</th>
          </tr>
        </thead>
        <tbody>
          {execution.steps.map((step) => {
            const from = Date.parse(step.startedAt) - start;
            const to = (step.endedAt ? Date.parse(step.endedAt) : end) - start;
            return (
              <tr key={step.id} data-step-id={step.id}>
                <td data-field="id">{step.id}</td>
                <td data-field="node">{step.node}</td>
                <td data-field="attempt">{step.attempt}</td>
                <td data-field="status">
                  <span class={`badge status-${step.status}`}>{step.status}</span>
                </td>
                <td data-field="durationMs" data-value={step.durationMs ?? ''}>
                  {duration(step.durationMs)}
                </td>
                <td data-field="retries">
                  {(retries.get(step.id) ?? []).map((retry) => (
                    <div key={retry.attempt}>
                      attempt {retry.attempt} after {duration(retry.delayMs)}
                      {retry.error && ` (${retry.error.name})`}
                    </div>
                  ))}
                  {step.retryAt && <div>next at {time(step.retryAt)}</div>}
                </td>
                <td data-field="error">{step.error && `${step.error.name}: ${step.error.message}`}</td>
                <td class="bar-cell" aria-hidden="true">
                  <div
                    class="bar"
                    style={{ marginLeft: `${(100 * from) / span}%`, width: `${Math.max(0.5, (100 * (to - from)) / span)}%` }}
                  />
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}
