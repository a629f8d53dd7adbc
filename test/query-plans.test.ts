import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type EventStore, LOG_START } from '../src/store/event-store.ts';
import { PostgresEventStore } from '../src/store/events/postgres-event-store.ts';
import { createTestDatabase, type TestDatabase } from './support/database.ts';

const WORKSPACES = 10;
const STREAMS_PER_WORKSPACE = 200;
const EVENTS_PER_STREAM = 50;

let database: TestDatabase;
let store: EventStore;
let workspaceId: string;
let streamId: string;
let actorId: string;
/** One of the ten workspaces seeded first: a tenth of the events, spread over the whole log. */
let busyWorkspaceId: string;

beforeAll(async () => {
  database = await createTestDatabase(2);
  store = new PostgresEventStore(database.db);
  // 100,000 events of 10 workspaces, interleaved, then 500 of a newcomer at the end of the
  // log: the reads of each must go straight to its own, not through everyone else's.
  const seed = `WITH ws AS (SELECT gen_random_uuid() AS id, gen_random_uuid() AS actor FROM generate_series(1, $1)),
          s AS (SELECT ws.id AS workspace_id, ws.actor, gen_random_uuid() AS id FROM ws, generate_series(1, $2)),
          ins AS (INSERT INTO streams (aggregate_type, aggregate_id, workspace_id, version) SELECT 'Workflow', id, workspace_id, $3 FROM s)
     INSERT INTO events (event_id, workspace_id, aggregate_type, aggregate_id, version, event_type, data, metadata, actor_id, created_at, hash)
     SELECT gen_random_uuid(), s.workspace_id, 'Workflow', s.id, v, CASE WHEN v = 1 THEN 'WorkflowCreated' ELSE 'WorkflowUpdated' END,
       jsonb_build_object('v', v), jsonb_build_object('workspaceId', s.workspace_id, 'actorId', s.actor), s.actor,
       now() - make_interval(secs => ($3 - v)), '\\x00'
     FROM s, generate_series(1, $3) AS v ORDER BY random()`;
  await database.db.pool.query(seed, [WORKSPACES, STREAMS_PER_WORKSPACE, EVENTS_PER_STREAM]);
  await database.db.pool.query(seed, [1, 10, EVENTS_PER_STREAM]);
  await database.db.pool.query('ANALYZE');
  const { rows } = await database.db.pool.query(
    'SELECT workspace_id, aggregate_id, actor_id FROM events ORDER BY global_position DESC LIMIT 1',
  );
  ({ workspace_id: workspaceId, aggregate_id: streamId, actor_id: actorId } = rows[0]);
  busyWorkspaceId = (await database.db.pool.query('SELECT workspace_id FROM events ORDER BY global_position LIMIT 1')).rows[0].workspace_id;
}, 60_000);
afterAll(() => database.drop());

interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  Plans?: PlanNode[];
}

/**
 * The statement a store call sends, as it sends it, run under EXPLAIN ANALYZE: its scans of
 * events, and how many rows of events they read only to throw away (another workspace's, say).
 */
async function scansOf(call: () => Promise<unknown>): Promise<{ scans: string[]; discarded: number }> {
  const pool = database.db.pool;
  const original = pool.query.bind(pool);
  let sent: { text: string; values: unknown[] } | undefined;
  (pool as { query: unknown }).query = (text: string | { text: string; values: unknown[] }, values?: unknown[]) => {
    sent ??= typeof text === 'string' ? { text, values: values ?? [] } : text;
    return original(text as string, values);
  };
  try {
    await call();
  } finally {
    (pool as { query: unknown }).query = original;
  }
  const { rows } = await pool.query(`EXPLAIN (ANALYZE, FORMAT JSON) ${sent!.text}`, sent!.values);
  const scans: string[] = [];
  let discarded = 0;
  const walk = (node: PlanNode) => {
    if (node['Relation Name'] === 'events') {
      scans.push(node['Node Type']);
      discarded += (node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0);
    }
    node.Plans?.forEach(walk);
  };
  walk(rows[0]['QUERY PLAN'][0].Plan);
  return { scans, discarded };
}

describe('the hot reads of the event store', () => {
  // The bound every request's read carries: an answer's worth of event data.
  const BYTES = 16 * 1024 * 1024;
  const cases: [string, () => Promise<unknown>][] = [
    ['one stream (events, replay, commands)', () => store.readStream({ type: 'Workflow', id: streamId, workspaceId })],
    [
      'the version of a stream at an instant (replay at)',
      () => store.versionAt({ type: 'Workflow', id: streamId, workspaceId }, new Date(Date.now() - 30_000)),
    ],
    [
      'audit of an old, busy workspace in a past time range',
      () => store.readAudit({ workspaceId: busyWorkspaceId, from: new Date(Date.now() - 60_000), to: new Date(Date.now() - 45_000) }, 21),
    ],
    ["an old, busy workspace's log", () => store.readLog(LOG_START, 21, { workspaceId: busyWorkspaceId })],
    ["a workspace's log (eventLog)", () => store.readLog(LOG_START, 21, { workspaceId }, BYTES)],
    ["a workspace's log by aggregate type", () => store.readLog(LOG_START, 21, { workspaceId, aggregateType: 'Workflow' }, BYTES)],
    ["a workspace's log by event type", () => store.readLog(LOG_START, 21, { workspaceId, types: ['WorkflowCreated'] }, BYTES)],
    [
      "a workspace's log of one aggregate (subscriptions)",
      () => store.readLog(LOG_START, 21, { workspaceId, aggregateId: streamId }, BYTES),
    ],
    ['the shared live tail', () => store.readLog(LOG_START, 500, {}, BYTES)],
    ['the log head', () => store.logHead()],
    ['audit, newest first', () => store.readAudit({ workspaceId }, 21, BYTES)],
    ['audit by actor', () => store.readAudit({ workspaceId, actorId }, 21, BYTES)],
    ['audit by event type', () => store.readAudit({ workspaceId, type: 'WorkflowCreated' }, 21, BYTES)],
    ['audit in a time range', () => store.readAudit({ workspaceId, from: new Date(Date.now() - 5000), to: new Date() }, 21, BYTES)],
    ['latest events of a page of workflows', () => store.latestOfStreams(workspaceId, 'Workflow', [streamId, randomUUID()], 5, BYTES)],
    ['executions of a page (steps)', () => store.readStreams(workspaceId, 'Workflow', [streamId], BYTES)],
  ];
  for (const [name, call] of cases) {
    it(`${name}: no sequential scan of events, and few rows read in vain`, async () => {
      const { scans, discarded } = await scansOf(call);
      expect(scans.length).toBeGreaterThan(0);
      expect(scans).not.toContain('Seq Scan');
      // A workspace holds a tenth of the 100,000 events: reading past the others' shows here.
      expect(discarded).toBeLessThan(1000);
    });
  }
});
