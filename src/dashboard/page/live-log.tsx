import { useState } from 'preact/hooks';
import { MAX_ROWS, type EventFeed, type LogRow } from './event-feed.ts';
import { json, time } from './format.ts';
import { useFeed } from './use-feed.ts';
import { VirtualList } from './virtual-list.tsx';

const STATES = {
  connecting: 'Connecting…',
  open: 'Live',
  resumed: 'Live (reconnected)',
  reconnecting: 'Reconnecting…',
  refused: 'Refused',
  ended: 'Ended',
} as const;

export function StateBadge({ feed }: { feed: EventFeed }) {
  useFeed(feed);
  return (
    <span class={`badge state-${feed.state}`} role="status" data-testid="connection">
      {STATES[feed.state]}
      {feed.reconnects > 0 && ` · ${feed.reconnects} reconnect${feed.reconnects > 1 ? 's' : ''}`}
      {feed.detail && ` · ${feed.detail}`}
    </span>
  );
}

function Row({ row }: { row: LogRow }) {
  if (row.kind !== 'event')
    return (
      <span class={`marker ${row.kind}`} data-marker={row.kind}>
        {time(row.at)}{' '}
        {row.kind === 'caught-up' ? '— caught up: live from here —' : '— connection dropped and resumed from the last cursor —'}
      </span>
    );
  const { event } = row;
  return (
    <span class="event" data-event-id={event.id} data-position={event.globalPosition}>
      <span class="cell time">{time(event.createdAt)}</span>
      <span class="cell kind">{event.aggregateType.toLowerCase()}</span>
      <span class="cell type">{event.type}</span>
      <span class="cell id" title={event.aggregateId}>
        {event.aggregateId.slice(0, 8)} v{event.version}
      </span>
      <span class="cell actor">{event.actor?.name ?? 'engine'}</span>
    </span>
  );
}

export function LiveLog({ feed }: { feed: EventFeed }) {
  useFeed(feed);
  const [aggregateType, setAggregateType] = useState('');
  const [eventType, setEventType] = useState('');
  const [follow, setFollow] = useState(true);
  const [activeKey, setActiveKey] = useState<string>();
  const types = [...new Set(feed.rows.flatMap((row) => (row.kind === 'event' ? [row.event.type] : [])))].sort();
  const rows = feed.rows.filter(
    (row) =>
      row.kind !== 'event' ||
      ((!aggregateType || row.event.aggregateType === aggregateType) && (!eventType || row.event.type === eventType)),
  );
  const active = rows.findIndex((row) => row.key === activeKey);
  const selected = rows[active];
  return (
    <section aria-labelledby="log-title" class="panel">
      <h2 id="log-title">Live log</h2>
      <div class="toolbar">
        <label>
          Aggregate type
          <select value={aggregateType} onChange={(event) => setAggregateType(event.currentTarget.value)}>
            <option value="">All</option>
            <option value="WORKFLOW">Workflows</option>
            <option value="EXECUTION">Executions</option>
          </select>
        </label>
        <label>
          Event type
          <select value={eventType} onChange={(event) => setEventType(event.currentTarget.value)}>
            <option value="">All</option>
            {types.map((type) => (
              <option key={type} value={type}>
                {type}
              </option>
            ))}
          </select>
        </label>
        <label>
          <input type="checkbox" checked={follow} onChange={(event) => setFollow(event.currentTarget.checked)} /> Follow new events
        </label>
        <span class="muted" data-testid="log-count">
          {feed.rows.length} kept{feed.dropped > 0 && `, ${feed.dropped} older left memory (the newest ${MAX_ROWS} stay)`}
        </span>
      </div>
      <div class="split">
        <VirtualList
          label="Events as they commit"
          items={rows}
          rowHeight={26}
          keyOf={(row) => row.key}
          row={(row) => <Row row={row} />}
          active={active}
          onActive={(index) => {
            setActiveKey(rows[index]?.key);
            setFollow(false);
          }}
          follow={follow}
        />
        <aside class="details" aria-label="Selected event">
          {selected?.kind === 'event' ? (
            <>
              <h3>
                {selected.event.type} <span class="muted">v{selected.event.version}</span>
              </h3>
              <p class="muted">
                {selected.event.aggregateType.toLowerCase()} {selected.event.aggregateId} · position {selected.event.globalPosition}
              </p>
              <pre>{json(selected.event.data)}</pre>
            </>
          ) : (
            <p class="muted">Pick an event (arrow keys or a click) to see its data.</p>
          )}
        </aside>
      </div>
    </section>
  );
}
