import { useEffect, useState } from 'preact/hooks';
import { ApiError, type Api } from './api.ts';
import { messageOf } from './format.ts';
import { byState, parseMetrics, type Sample } from './metrics-text.ts';
import { keep, kept } from './session.ts';

// The process this page talks to: its engine as the workspace sees it (`systemStatus`), and
// its /metrics (pool, bulkheads, subscriptions, cache, breakers), read two seconds after the
// last read ended, each read given up after five.

const EVERY_MS = 2000;
const WAIT_MS = 5000;

interface Status {
  readonly systemStatus: {
    readonly version: string;
    readonly engine: {
      readonly active: number;
      readonly queued: number;
      readonly parked: number;
      readonly succeeded: number;
      readonly failed: number;
      readonly cancelled: number;
      readonly timedOut: number;
      readonly stepsInFlight: number;
      readonly stepsQueued: number;
      readonly maxStepsInFlight: number;
      readonly maxExecutions: number;
      readonly circuitBreakers: { readonly host: string; readonly state: string }[];
    } | null;
  };
}

const STATUS = `{ systemStatus { version engine {
  active queued parked succeeded failed cancelled timedOut stepsInFlight stepsQueued maxStepsInFlight maxExecutions
  circuitBreakers { host state }
} } }`;

const GAUGES = [
  ['flowledger_db_pool_connections', 'Database pool'],
  ['flowledger_heavy_reads', 'Heavy reads (replays, log reads)'],
  ['flowledger_live_subscriptions', 'Live subscriptions'],
  ['flowledger_response_cache', 'Response cache'],
  ['flowledger_executions', 'Engine executions'],
  ['flowledger_steps', 'Engine steps'],
  ['flowledger_circuit_breakers', 'Circuit breakers by state'],
] as const;

function Figures({ title, rows }: { title: string; rows: readonly (readonly [string, number | string])[] }) {
  return (
    <table class="figures">
      <caption>{title}</caption>
      <tbody>
        {rows.map(([name, value]) => (
          <tr key={name}>
            <th scope="row">{name}</th>
            <td>{value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function System({ api }: { api: Api }) {
  const [status, setStatus] = useState<Status['systemStatus']>();
  const [samples, setSamples] = useState<Sample[]>();
  const [problem, setProblem] = useState<string>();
  const [needsToken, setNeedsToken] = useState(false);
  const [token, setToken] = useState(kept('metricsToken') ?? '');
  const [applied, setApplied] = useState(token);
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let current = true;
    const read = async () => {
      const signal = AbortSignal.timeout(WAIT_MS);
      try {
        const [next, text] = await Promise.all([
          api.query<Status>(STATUS, {}, signal),
          api.metrics(applied || null, signal).catch((error: unknown) => {
            if (error instanceof ApiError && error.code === 'METRICS_TOKEN_REQUIRED') return null;
            throw error;
          }),
        ]);
        if (!current) return;
        setStatus(next.systemStatus);
        setNeedsToken(text === null);
        setSamples(text === null ? undefined : parseMetrics(text));
        setProblem(undefined);
      } catch (error) {
        if (current) setProblem(messageOf(error));
      }
      if (current) timer = setTimeout(read, EVERY_MS);
    };
    void read();
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [api, applied]);
  const engine = status?.engine;
  const up = samples?.find((sample) => sample.name === 'flowledger_database_up');
  return (
    <section aria-labelledby="system-title" class="panel">
      <h2 id="system-title">System</h2>
      {status && <p class="muted">Flowledger {status.version}, the release of the process that answers</p>}
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      {needsToken && (
        <form
          class="toolbar"
          aria-label="Metrics token"
          onSubmit={(event) => {
            event.preventDefault();
            keep('metricsToken', token);
            setApplied(token);
          }}
        >
          <label>
            /metrics wants its token (METRICS_TOKEN)
            <input type="password" value={token} onInput={(event) => setToken(event.currentTarget.value)} autocomplete="off" />
          </label>
          <button type="submit">Use token</button>
        </form>
      )}
      <div class="grid" data-testid="system">
        {engine === null && <p class="muted">This process leaves executions to workers.</p>}
        {engine && (
          <>
            <Figures
              title="Engine (your workspace)"
              rows={[
                ['active', `${engine.active} of ${engine.maxExecutions}`],
                ['queued', engine.queued],
                ['parked', engine.parked],
                ['succeeded', engine.succeeded],
                ['failed', engine.failed],
                ['cancelled', engine.cancelled],
                ['timed out', engine.timedOut],
                ['steps in flight', `${engine.stepsInFlight} of ${engine.maxStepsInFlight}`],
                ['steps queued', engine.stepsQueued],
              ]}
            />
            <Figures title="Your circuit breakers" rows={engine.circuitBreakers.map(({ host, state }) => [host, state])} />
          </>
        )}
        {up && <Figures title="Database" rows={[['reached at the last check', up.value === 1 ? 'yes' : 'NO']]} />}
        {samples && GAUGES.map(([name, title]) => <Figures key={name} title={title} rows={byState(samples, name)} />)}
      </div>
    </section>
  );
}
