import { useEffect, useState } from 'preact/hooks';
import type { Api } from './api.ts';
import type { EventFeed } from './event-feed.ts';
import { duration, messageOf, time } from './format.ts';
import { Timeline } from './timeline.tsx';

// The newest executions with their status, read again (at most twice a second) whenever the
// live log carries an execution's event; one of them as a timeline.

const STATUSES = ['PENDING', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED', 'TIMED_OUT'];
const REFRESH_MS = 500;

interface Row {
  readonly id: string;
  readonly status: string;
  readonly createdAt: string;
  readonly endedAt: string | null;
  readonly stepCount: number;
  readonly workflow: { readonly name: string };
  readonly createdBy: { readonly name: string };
}

const LIST = `query Executions($status: ExecutionStatus) {
  executions(first: 50, status: $status) {
    edges { node { id status createdAt endedAt stepCount workflow { name } createdBy { name } } }
  }
}`;

function RunForm({ api, onStarted }: { api: Api; onStarted: (id: string) => void }) {
  const [workflows, setWorkflows] = useState<{ id: string; name: string }[]>([]);
  const [workflowId, setWorkflowId] = useState('');
  const [input, setInput] = useState('{}');
  const [problem, setProblem] = useState<string>();
  useEffect(() => {
    void api
      .query<{ workflows: { edges: { node: { id: string; name: string } }[] } }>('{ workflows(first: 100) { edges { node { id name } } } }')
      .then(
        ({ workflows }) => setWorkflows(workflows.edges.map(({ node }) => node)),
        (error: unknown) => setProblem(messageOf(error)),
      );
  }, [api]);
  const run = async (event: Event) => {
    event.preventDefault();
    setProblem(undefined);
    try {
      const parsed: unknown = JSON.parse(input);
      const { executeWorkflow } = await api.query<{ executeWorkflow: { id: string } }>(
        'mutation($input: ExecuteWorkflowInput!) { executeWorkflow(input: $input) { id } }',
        { input: { workflowId, input: parsed } },
      );
      onStarted(executeWorkflow.id);
    } catch (error) {
      setProblem(messageOf(error));
    }
  };
  return (
    <form class="toolbar" onSubmit={run} aria-label="Run a workflow">
      <label>
        Workflow
        <select required value={workflowId} onChange={(event) => setWorkflowId(event.currentTarget.value)}>
          <option value="">Choose…</option>
          {workflows.map((workflow) => (
            <option key={workflow.id} value={workflow.id}>
              {workflow.name}
            </option>
          ))}
        </select>
      </label>
      <label>
        Input (JSON)
        <input value={input} onInput={(event) => setInput(event.currentTarget.value)} spellcheck={false} />
      </label>
      <button type="submit">Run</button>
      {problem && (
        <span class="error" role="alert">
          {problem}
        </span>
      )}
    </form>
  );
}

export function Executions({ api, feed, canRun }: { api: Api; feed: EventFeed; canRun: boolean }) {
  const [status, setStatus] = useState('');
  const [rows, setRows] = useState<readonly Row[]>([]);
  const [selected, setSelected] = useState<string>();
  const [problem, setProblem] = useState<string>();
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let closed = false;
    const load = () => {
      timer = undefined;
      api.query<{ executions: { edges: { node: Row }[] } }>(LIST, { status: status || null }).then(
        ({ executions }) => !closed && setRows(executions.edges.map(({ node }) => node)),
        (error: unknown) => setProblem(messageOf(error)),
      );
    };
    load();
    const stop = feed.onEvent((event) => {
      if (event.aggregateType === 'EXECUTION' && !timer) timer = setTimeout(load, REFRESH_MS);
    });
    return () => {
      closed = true;
      stop();
      clearTimeout(timer);
    };
  }, [api, feed, status]);
  return (
    <section aria-labelledby="executions-title" class="panel">
      <h2 id="executions-title">Executions</h2>
      {canRun && <RunForm api={api} onStarted={setSelected} />}
      <div class="toolbar">
        <label>
          Status
          <select value={status} onChange={(event) => setStatus(event.currentTarget.value)}>
            <option value="">All</option>
            {STATUSES.map((value) => (
              <option key={value} value={value}>
                {value}
              </option>
            ))}
          </select>
        </label>
        {problem && (
          <span class="error" role="alert">
            {problem}
          </span>
        )}
      </div>
      <div class="stack">
        <table class="executions">
          <caption class="muted">The 50 newest; pick one for its timeline.</caption>
          <thead>
            <tr>
              <th scope="col">Workflow</th>
              <th scope="col">Status</th>
              <th scope="col">Started</th>
              <th scope="col">Took</th>
              <th scope="col">Steps</th>
              <th scope="col">By</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.id} data-execution-id={row.id} class={row.id === selected ? 'active' : ''}>
                <td>
                  <button type="button" class="link" aria-pressed={row.id === selected} onClick={() => setSelected(row.id)}>
                    {row.workflow.name}
                  </button>
                </td>
                <td>
                  <span class={`badge status-${row.status}`}>{row.status}</span>
                </td>
                <td>{time(row.createdAt)}</td>
                <td>{row.endedAt && duration(Date.parse(row.endedAt) - Date.parse(row.createdAt))}</td>
                <td>{row.stepCount}</td>
                <td>{row.createdBy.name}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <div class="details">
          {selected ? <Timeline api={api} id={selected} canCancel={canRun} /> : <p class="muted">No execution picked.</p>}
        </div>
      </div>
    </section>
  );
}
