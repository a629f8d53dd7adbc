import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { definition } from './support/definitions.ts';
import { createWorkflow } from './support/executions.ts';
import { restStream } from './support/rest.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ rateLimitPerSecond: 0, livePollIntervalMs: 100 });
});
afterAll(() => app.close());

const auth = (key = app.keys.viewer) => ({ authorization: `Bearer ${key}` });
const create = (name: string) => createWorkflow(app.gql, definition(), name);

describe('GET /api/events/stream', () => {
  it('sends the stored events after a cursor, then caught-up, then new ones live; Last-Event-ID resumes with no gap and no repeat', async () => {
    const first = await create('stream-0');
    const log = await app.gql('query($id: ID!) { events(aggregateType: WORKFLOW, aggregateId: $id) { edges { node { logCursor } } } }', {
      id: first.id,
    });
    const from = log.data!.events.edges[0].node.logCursor as string;
    const names = Array.from({ length: 5 }, (_, i) => `stream-${i + 1}`);
    for (const name of names.slice(0, 2)) await create(name);

    const abort = new AbortController();
    const stream = restStream(
      app.url,
      `?after=${encodeURIComponent(from)}&aggregate_type=Workflow&types=WorkflowCreated`,
      auth(),
      abort.signal,
    );
    const seen: { id: string; name: string }[] = [];
    const next = async () => (await stream.next()).value!;
    for (let i = 0; i < 2; i += 1) {
      const item = await next();
      expect(item.event).toBe('message');
      seen.push({ id: item.id!, name: item.data.data.name });
    }
    const marker = await next();
    expect(marker.event).toBe('caught-up');
    await create(names[2]!);
    const live = await next();
    seen.push({ id: live.id!, name: live.data.data.name });
    expect(live.data).toMatchObject({ type: 'WorkflowCreated', aggregateType: 'WORKFLOW' });
    abort.abort();

    // Written while the client is away: the resumed stream starts right after what it saw.
    for (const name of names.slice(3)) await create(name);
    const again = new AbortController();
    const resumed = restStream(
      app.url,
      '?aggregate_type=Workflow&types=WorkflowCreated',
      { ...auth(), 'last-event-id': seen.at(-1)!.id },
      again.signal,
    );
    for (let i = 0; i < 2; i += 1) seen.push({ id: '', name: (await resumed.next()).value!.data.data.name });
    expect((await resumed.next()).value!.event).toBe('caught-up');
    again.abort();
    expect(seen.map((item) => item.name)).toEqual(names);
  });

  it('refuses what it cannot serve, before the stream starts, as problems', async () => {
    const abort = new AbortController();
    const first = async (query: string, headers: Record<string, string>) =>
      (await restStream(app.url, query, headers, abort.signal).next()).value!;
    expect(await first('', {})).toMatchObject({ status: 401, data: { code: 'UNAUTHENTICATED' } });
    expect(await first('?aggregate_type=Process', auth())).toMatchObject({ status: 400, data: { code: 'BAD_USER_INPUT' } });
    expect(await first('?since=1', auth())).toMatchObject({ status: 400, data: { code: 'BAD_USER_INPUT' } });
    expect(await first('?after=not-a-cursor', auth())).toMatchObject({ status: 422, data: { code: 'BAD_USER_INPUT' } });
    abort.abort();
  });
});
