import { useState } from 'preact/hooks';
import type { Api } from './api.ts';
import { dateTime, instant, messageOf } from './format.ts';

// Who did what (`auditLog`, newest first, a page at a time), and one aggregate's hash chain
// checked again (`verifyAuditTrail`), naming its first break.

interface Entry {
  readonly id: string;
  readonly type: string;
  readonly aggregateType: string;
  readonly aggregateId: string;
  readonly version: number;
  readonly createdAt: string;
  readonly actor: { readonly id: string; readonly name: string } | null;
}

interface Page {
  readonly auditLog: {
    readonly edges: { readonly node: Entry }[];
    readonly pageInfo: { readonly hasNextPage: boolean; readonly endCursor: string | null };
  };
}

interface Report {
  readonly verifyAuditTrail: {
    readonly intact: boolean;
    readonly eventsChecked: number;
    readonly firstBreak: { readonly reason: string; readonly version: number; readonly eventId: string | null } | null;
  };
}

const LOG = `query Audit($userId: ID, $eventType: String, $from: DateTime, $to: DateTime, $after: String) {
  auditLog(first: 50, userId: $userId, eventType: $eventType, from: $from, to: $to, after: $after) {
    edges { node { id type aggregateType aggregateId version createdAt actor { id name } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

const VERIFY = `query Verify($type: AggregateType!, $id: ID!) {
  verifyAuditTrail(aggregateType: $type, aggregateId: $id) { intact eventsChecked firstBreak { reason version eventId } }
}`;

function Verify({ api }: { api: Api }) {
  const [type, setType] = useState('WORKFLOW');
  const [id, setId] = useState('');
  const [report, setReport] = useState<Report['verifyAuditTrail']>();
  const [problem, setProblem] = useState<string>();
  const verify = async (event: Event) => {
    event.preventDefault();
    setProblem(undefined);
    setReport(undefined);
    try {
      setReport((await api.query<Report>(VERIFY, { type, id: id.trim() })).verifyAuditTrail);
    } catch (error) {
      setProblem(messageOf(error));
    }
  };
  return (
    <form class="toolbar" onSubmit={verify} aria-label="Verify a hash chain">
      <label>
        Type
        <select value={type} onChange={(event) => setType(event.currentTarget.value)}>
          <option value="WORKFLOW">Workflow</option>
          <option value="EXECUTION">Execution</option>
        </select>
      </label>
      <label>
        Id
        <input value={id} onInput={(event) => setId(event.currentTarget.value)} size={38} spellcheck={false} required />
      </label>
      <button type="submit">Verify chain</button>
      <output data-testid="chain" role="status">
        {problem && <span class="error">{problem}</span>}
        {report?.intact && <span class="ok">Intact: {report.eventsChecked} events checked.</span>}
        {report?.firstBreak && (
          <span class="error">
            Broken at version {report.firstBreak.version}: {report.firstBreak.reason}
            {report.firstBreak.eventId && ` (event ${report.firstBreak.eventId})`}, {report.eventsChecked} events checked.
          </span>
        )}
      </output>
    </form>
  );
}

/** Entries the page holds at most: past them, narrower filters. */
const MAX_ENTRIES = 500;

type Filters = { readonly userId: string; readonly eventType: string; readonly from: string; readonly to: string };

export function Audit({ api }: { api: Api }) {
  const [filters, setFilters] = useState<Filters>({ userId: '', eventType: '', from: '', to: '' });
  const [entries, setEntries] = useState<readonly Entry[]>([]);
  // The next page: its cursor with the filters it belongs to.
  const [next, setNext] = useState<{ after: string; filters: Filters } | null>(null);
  const [loading, setLoading] = useState(false);
  const [problem, setProblem] = useState<string>();
  const read = async (applied: Filters, after: string | null) => {
    setProblem(undefined);
    setLoading(true);
    try {
      const { auditLog } = await api.query<Page>(LOG, {
        userId: applied.userId.trim() || null,
        eventType: applied.eventType.trim() || null,
        from: instant(applied.from) ?? null,
        to: instant(applied.to) ?? null,
        after,
      });
      const page = auditLog.edges.map(({ node }) => node);
      setEntries((held) => (after ? [...held, ...page] : page));
      const more = auditLog.pageInfo.hasNextPage && auditLog.pageInfo.endCursor;
      setNext(more ? { after: more, filters: applied } : null);
    } catch (error) {
      setProblem(messageOf(error));
    } finally {
      setLoading(false);
    }
  };
  const field = (name: keyof typeof filters, label: string, isInstant = false) => {
    const onInput = (event: { currentTarget: HTMLInputElement }) => setFilters({ ...filters, [name]: event.currentTarget.value });
    return (
      <label>
        {label}
        {isInstant ? (
          <input type="datetime-local" step={1} value={filters[name]} onInput={onInput} />
        ) : (
          <input value={filters[name]} onInput={onInput} />
        )}
      </label>
    );
  };
  return (
    <section aria-labelledby="audit-title" class="panel">
      <h2 id="audit-title">Audit</h2>
      <Verify api={api} />
      <form
        class="toolbar"
        aria-label="Filter the audit log"
        onSubmit={(event) => {
          event.preventDefault();
          void read(filters, null);
        }}
      >
        {field('userId', 'User id')}
        {field('eventType', 'Event type')}
        {field('from', 'From', true)}
        {field('to', 'To', true)}
        <button type="submit" disabled={loading}>
          Show
        </button>
      </form>
      {problem && (
        <p class="error" role="alert">
          {problem}
        </p>
      )}
      <table class="audit">
        <thead>
          <tr>
            <th scope="col">When</th>
            <th scope="col">Who</th>
            <th scope="col">Event</th>
            <th scope="col">Aggregate</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((entry) => (
            <tr key={entry.id} data-event-id={entry.id}>
              <td>{dateTime(entry.createdAt)}</td>
              <td title={entry.actor?.id}>{entry.actor?.name ?? 'engine'}</td>
              <td>
                {entry.type} v{entry.version}
              </td>
              <td>
                {entry.aggregateType.toLowerCase()} {entry.aggregateId}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {next && entries.length < MAX_ENTRIES && (
        <button type="button" disabled={loading} onClick={() => void read(next.filters, next.after)}>
          Older
        </button>
      )}
      {next && entries.length >= MAX_ENTRIES && <p class="muted">The first {MAX_ENTRIES} are shown: narrow the filters for the rest.</p>}
    </section>
  );
}
