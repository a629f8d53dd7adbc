import { useEffect, useState } from 'preact/hooks';
import type { Api } from './api.ts';
import { diff } from './diff.ts';
import { dateTime, instant, json, messageOf } from './format.ts';

// Time travel: an aggregate's state at a version (a slider over its versions) or at an instant,
// the changes from the version before, and the event that made it: `replay` and `events`.

type AggregateType = 'WORKFLOW' | 'EXECUTION';

interface Made {
  readonly id: string;
  readonly type: string;
  readonly version: number;
  readonly createdAt: string;
  readonly actor: { readonly name: string } | null;
  readonly data: unknown;
}

interface Point {
  readonly now: { readonly version: number; readonly state: unknown };
  readonly before: { readonly version: number; readonly state: unknown };
  readonly made: { readonly edges: { readonly node: Made }[] };
}

const POINT = `query Point($type: AggregateType!, $id: ID!, $version: Int!, $previous: Int!) {
  now: replay(aggregateType: $type, aggregateId: $id, toVersion: $version) { version state }
  before: replay(aggregateType: $type, aggregateId: $id, toVersion: $previous) { version state }
  made: events(aggregateType: $type, aggregateId: $id, fromVersion: $version, first: 1) {
    edges { node { id type version createdAt actor { name } data } }
  }
}`;

const HEAD =
  'query Head($type: AggregateType!, $id: ID!, $at: DateTime) { replay(aggregateType: $type, aggregateId: $id, at: $at) { version } }';

export function TimeTravel({ api }: { api: Api }) {
  const [type, setType] = useState<AggregateType>('WORKFLOW');
  const [id, setId] = useState('');
  const [target, setTarget] = useState<{ type: AggregateType; id: string; latest: number }>();
  const [version, setVersion] = useState(0);
  const [at, setAt] = useState('');
  const [point, setPoint] = useState<Point>();
  const [problem, setProblem] = useState<string>();
  const [recent, setRecent] = useState<{ id: string; name: string }[]>([]);
  useEffect(() => {
    void api
      .query<{ workflows: { edges: { node: { id: string; name: string } }[] } }>('{ workflows(first: 20) { edges { node { id name } } } }')
      .then(
        ({ workflows }) => setRecent(workflows.edges.map(({ node }) => node)),
        () => setRecent([]),
      );
  }, [api]);
  useEffect(() => {
    if (!target || version < 1) return setPoint(undefined);
    let current = true;
    // A slider dragged fast asks once it rests.
    const timer = setTimeout(() => {
      api.query<Point>(POINT, { type: target.type, id: target.id, version, previous: version - 1 }).then(
        (answer) => current && setPoint(answer),
        (error: unknown) => current && setProblem(messageOf(error)),
      );
    }, 120);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [api, target, version]);
  const load = async (event: Event) => {
    event.preventDefault();
    setProblem(undefined);
    try {
      const { replay } = await api.query<{ replay: { version: number } }>(HEAD, { type, id: id.trim() });
      if (replay.version === 0) throw new Error('No events: the id names nothing of this type in your workspace.');
      setTarget({ type, id: id.trim(), latest: replay.version });
      setVersion(replay.version);
    } catch (error) {
      setTarget(undefined);
      setProblem(messageOf(error));
    }
  };
  const jump = async (event: Event) => {
    event.preventDefault();
    if (!target || !at) return;
    try {
      const { replay } = await api.query<{ replay: { version: number } }>(HEAD, { type: target.type, id: target.id, at: instant(at) });
      setVersion(replay.version);
      if (replay.version === 0) setProblem('It had no events yet at that instant.');
    } catch (error) {
      setProblem(messageOf(error));
    }
  };
  const made = point?.made.edges[0]?.node;
  const changes = point ? diff(point.before.state, point.now.state) : [];
  return (
    <section aria-labelledby="travel-title" class="panel">
      <h2 id="travel-title">Time travel</h2>
      <form class="toolbar" onSubmit={load} aria-label="Pick an aggregate">
        <label>
          Type
          <select value={type} onChange={(event) => setType(event.currentTarget.value as AggregateType)}>
            <option value="WORKFLOW">Workflow</option>
            <option value="EXECUTION">Execution</option>
          </select>
        </label>
        <label>
          Id
          <input
            value={id}
            list="recent-workflows"
            onInput={(event) => setId(event.currentTarget.value)}
            size={38}
            spellcheck={false}
            required
          />
        </label>
        <datalist id="recent-workflows">
          {recent.map((workflow) => (
            <option key={workflow.id} value={workflow.id}>
              {workflow.name}
            </option>
          ))}
        </datalist>
        <button type="submit">Load</button>
      </form>
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      {target && (
        <>
          <div class="toolbar">
            <label class="grow">
              Version {version} of {target.latest}
              <input
                type="range"
                min={1}
                max={target.latest}
                step={1}
                value={version}
                onInput={(event) => setVersion(Number(event.currentTarget.value))}
                aria-valuetext={`version ${version} of ${target.latest}`}
              />
            </label>
            <form onSubmit={jump} aria-label="Go to an instant" class="inline">
              <label>
                At
                <input type="datetime-local" step={1} value={at} onInput={(event) => setAt(event.currentTarget.value)} />
              </label>
              <button type="submit">Go</button>
            </form>
          </div>
          {point && point.now.version === version && (
            <div class="columns">
              <div>
                <h3>State at version {point.now.version}</h3>
                <pre data-testid="state">{json(point.now.state)}</pre>
              </div>
              <div>
                <h3>Changes from version {point.before.version}</h3>
                <ul class="changes" data-testid="changes">
                  {changes.length === 0 && <li class="muted">none</li>}
                  {changes.map((change) => (
                    <li key={change.path} class={change.kind}>
                      <code>{change.path}</code> {change.kind}
                      {change.kind !== 'added' && <pre>- {json(change.before)}</pre>}
                      {change.kind !== 'removed' && <pre>+ {json(change.after)}</pre>}
                    </li>
                  ))}
                </ul>
                {made && (
                  <>
                    <h3>Made by</h3>
                    <p data-testid="event">
                      <strong>{made.type}</strong> v{made.version} · {dateTime(made.createdAt)} · {made.actor?.name ?? 'engine'}
                    </p>
                    <pre>{json(made.data)}</pre>
                  </>
                )}
              </div>
            </div>
          )}
        </>
      )}
    </section>
  );
}
