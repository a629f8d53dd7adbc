import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestApp, type TestApp } from './support/app.ts';
import { browserSuite, CHROMIUM, launchBrowser, openDashboard, otherHosts, recordRequests } from './support/browser.ts';
import { definition } from './support/definitions.ts';
import { createWorkflow, ended, execute, EXECUTION_FIELDS } from './support/executions.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';
import { VERSION } from '../src/version.ts';

let app: TestApp;
let browser: Browser;
let proxy: TcpProxy;
let origin: string;
const contexts: BrowserContext[] = [];
/** Each context's requested URLs; the WebSockets' URLs and the frames sent on them; the pages' errors (console and CSP included). */
const requested: string[][] = [];
const sockets: { url: string; sent: string[] }[] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  app = await startTestApp();
  origin = new URL(app.url).origin;
  // The page reaches the service through a proxy the test can cut: a real dropped WebSocket.
  proxy = await startTcpProxy(origin);
  if (CHROMIUM) browser = await launchBrowser();
});
// A closed tab ends its subscriptions: each test counts only its own.
afterEach(async () => {
  await Promise.all(contexts.splice(0).map((context) => context.close()));
});
afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  await app?.close();
});

/** A new tab on the dashboard, not signed in; what it asks for and sends is kept. */
async function tab(base = origin): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1600 } });
  contexts.push(context);
  requested.push(recordRequests(context));
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
  // Console errors include CSP violations; a refused request (a test's bad key) is an answer, not a page error.
  page.on('console', (message) => {
    if (message.type() === 'error' && !message.text().startsWith('Failed to load resource')) pageErrors.push(message.text());
  });
  page.on('websocket', (socket) => {
    const seen = { url: socket.url(), sent: [] as string[] };
    sockets.push(seen);
    socket.on('framesent', ({ payload }) => seen.sent.push(String(payload)));
  });
  await page.goto(`${base}/dashboard`);
  return page;
}

/** A new tab on the dashboard, signed in with `key`. */
async function open(key: string, base = origin): Promise<Page> {
  const page = await tab(base);
  await openDashboard(page, base, key);
  return page;
}

const createNamed = async (name: string) => (await createWorkflow(app.gql, definition(), name)).id;

/** The ids of the events the live log shows, in its order. */
const shownEvents = (page: Page) =>
  page.locator('[data-event-id]').evaluateAll((rows) => rows.map((row) => row.getAttribute('data-event-id')));

/** The ids of the workspace's events after `cursor`, from the API. */
async function eventIdsAfter(cursor: string | null): Promise<string[]> {
  const { data } = await app.gql('query($after: String) { eventLog(after: $after, first: 100) { edges { node { id } } } }', {
    after: cursor,
  });
  return data!.eventLog.edges.map((edge: { node: { id: string } }) => edge.node.id);
}

const caughtUp = (page: Page) => page.locator('[data-marker="caught-up"]').first().waitFor();

describe.skipIf(!CHROMIUM)(browserSuite('the dashboard in a browser'), () => {
  it('keeps the key for the tab only: not in any URL, sent as a bearer token on HTTP and in the WebSocket init; a bad key is refused', async () => {
    const page = await open(app.keys.viewer);
    expect(page.url()).toBe(`${origin}/dashboard`);
    expect(await page.evaluate(() => sessionStorage.getItem('flowledger.key'))).toBe(app.keys.viewer);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    await caughtUp(page);
    expect(requested.flat().filter((url) => url.includes(app.keys.viewer))).toEqual([]);
    const socket = sockets.at(-1)!;
    expect(socket.url).toBe(`${origin.replace('http', 'ws')}/graphql`);
    expect(JSON.parse(socket.sent[0]!)).toEqual({ type: 'connection_init', payload: { authorization: `Bearer ${app.keys.viewer}` } });
    const other = await tab();
    await other.getByLabel('API key or token').fill('fl_not-a-key');
    await other.getByRole('button', { name: 'Open' }).click();
    await expect.poll(() => other.getByRole('alert').textContent()).toMatch(/key/i);
    expect(await other.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it('signs out, forgetting the key and the cursor, when the key is revoked during the session', async () => {
    const issued = await app.services.identity.createUser(app.workspaceId, 'short-lived', 'VIEWER');
    const page = await open(issued.apiKey);
    await caughtUp(page);
    expect(await page.evaluate(() => sessionStorage.getItem('flowledger.cursor'))).not.toBeNull();
    await app.services.identity.revokeKey(issued.keyId);
    // The open subscription ends at its next check of the key, and the page goes back to sign-in.
    await page.getByLabel('API key or token').waitFor({ timeout: 15_000 });
    await expect.poll(() => page.getByRole('alert').textContent()).toMatch(/^Signed out/);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
  });

  it('shows an event created through the API within two seconds', async () => {
    const page = await open(app.keys.viewer);
    await caughtUp(page);
    const id = await createNamed('appears');
    const started = Date.now();
    await page
      .locator(`[data-event-id]`, { hasText: 'WorkflowCreated' })
      .filter({ hasText: id.slice(0, 8) })
      .waitFor({ timeout: 2000 });
    expect(Date.now() - started).toBeLessThan(2000);
    // Filters: executions only hides it; its type brings it back.
    await page.getByLabel('Aggregate type').selectOption('EXECUTION');
    expect(await page.locator('[data-event-id]').count()).toBe(0);
    await page.getByLabel('Aggregate type').selectOption('');
    await page.getByLabel('Event type').selectOption('WorkflowCreated');
    expect(await page.locator('[data-event-id]').count()).toBeGreaterThan(0);
  });

  it('continues after a dropped WebSocket from its last cursor, with no gap and no repeat, and says it reconnected', async () => {
    const page = await open(app.keys.viewer, new URL(proxy.url).origin);
    await caughtUp(page);
    const start = await page.evaluate(() => sessionStorage.getItem('flowledger.cursor'));
    const before = [await createNamed('before 1'), await createNamed('before 2')];
    await expect.poll(() => shownEvents(page)).toHaveLength(2);
    // Cut every connection and hold the new ones, so that these writes land while the page is away.
    proxy.stall();
    proxy.cutAll();
    await page.getByTestId('connection').filter({ hasText: 'Reconnecting' }).waitFor();
    const during = [await createNamed('during 1'), await createNamed('during 2'), await createNamed('during 3')];
    proxy.resume();
    await page.getByTestId('connection').filter({ hasText: '1 reconnect' }).waitFor();
    const after = [await createNamed('after 1')];
    const expected = await eventIdsAfter(start);
    expect(expected).toHaveLength(before.length + during.length + after.length);
    await expect.poll(() => shownEvents(page)).toEqual(expected);
    expect(await page.locator('[data-marker="reconnected"]').count()).toBe(1);
  });

  it("updates an execution's steps live until it ends, and then shows what execution(id) returns", async () => {
    const workflow = await createWorkflow(
      app.gql,
      {
        startAt: 'Rest',
        nodes: {
          Rest: { type: 'task', action: 'sleep', input: { ms: 1500 }, next: 'Flaky' },
          Flaky: {
            type: 'task',
            action: 'fail',
            input: { error: 'Boom', message: 'it broke' },
            retry: [{ errors: ['Boom'], maxAttempts: 3, intervalMs: 500, backoffRate: 1 }],
            end: true,
          },
        },
      },
      'flaky run',
    );
    const page = await open(app.keys.editor);
    await page.getByRole('tab', { name: 'Executions' }).click();
    const started = await execute(app.gql, workflow.id);
    await page.getByRole('button', { name: 'flaky run' }).first().click();
    const timeline = page.locator(`[data-execution-id="${started.id}"]`).last();
    await timeline.getByTestId('execution-status').waitFor();
    // Every status a step showed, recorded in the page as the DOM changes: nothing is missed between two looks.
    await timeline.evaluate((element) => {
      const seen = new Set<string>();
      (window as unknown as { seen: Set<string> }).seen = seen;
      const look = () => element.querySelectorAll('[data-field="status"]').forEach((cell) => seen.add(cell.textContent ?? ''));
      look();
      new MutationObserver(look).observe(element, { subtree: true, childList: true, characterData: true });
    });
    const final = await ended(app.gql, started.id);
    await timeline.getByTestId('execution-status').filter({ hasText: 'FAILED' }).waitFor();
    // It showed steps running and waiting for a retry before the end.
    const seen = await page.evaluate(() => [...(window as unknown as { seen: Set<string> }).seen]);
    expect(seen).toContain('RUNNING');
    expect(seen).toContain('RETRY_SCHEDULED');
    expect(final.status).toBe('FAILED');
    await expect
      .poll(() =>
        timeline.locator('tr[data-step-id]').evaluateAll((rows) =>
          rows.map((row) => {
            const field = (name: string) => row.querySelector(`[data-field="${name}"]`)!;
            return {
              id: row.getAttribute('data-step-id'),
              node: field('node').textContent,
              attempt: Number(field('attempt').textContent),
              status: field('status').textContent,
              durationMs: Number(field('durationMs').getAttribute('data-value')),
            };
          }),
        ),
      )
      .toEqual(
        final.steps.map(({ id, node, attempt, status, durationMs }: Record<string, unknown>) => ({
          id,
          node,
          attempt,
          status,
          durationMs,
        })),
      );
    await expect.poll(() => timeline.getByTestId('execution-error').textContent()).toBe('Boom: it broke (at Flaky)');
    await expect
      .poll(() => timeline.locator('tr[data-step-id^="Flaky"] [data-field="retries"]').textContent())
      .toBe('attempt 2 after 500 ms (Boom)attempt 3 after 500 ms (Boom)');
    const { data } = await app.gql(`query($id: ID!) { execution(id: $id) { ${EXECUTION_FIELDS} } }`, { id: started.id });
    expect(data!.execution).toEqual(final);
  });

  it('shows, at each version of the slider, the state replay returns, its changes and the event that made it', async () => {
    const id = await createNamed('travelling');
    for (let version = 1; version <= 3; version += 1) {
      if (version === 2) await new Promise((resolve) => setTimeout(resolve, 1100));
      const { errors } = await app.gql(
        'mutation($id: ID!, $v: Int!, $d: String!) { updateWorkflow(input: { id: $id, expectedVersion: $v, description: $d }) { version } }',
        {
          id,
          v: version,
          d: `step ${version}`,
        },
      );
      expect(errors).toBeUndefined();
    }
    const page = await open(app.keys.viewer);
    await page.getByRole('tab', { name: 'Time travel' }).click();
    await page.getByLabel('Id').fill(id);
    await page.getByRole('button', { name: 'Load' }).click();
    const slider = page.getByRole('slider');
    await slider.focus();
    await page.keyboard.press('Home');
    const { data } = await app.gql(
      'query($id: ID!) { events(aggregateType: WORKFLOW, aggregateId: $id) { edges { node { type createdAt } } } }',
      { id },
    );
    const events = data!.events.edges.map((edge: { node: { type: string; createdAt: string } }) => edge.node);
    for (let version = 1; version <= 4; version += 1) {
      if (version > 1) await page.keyboard.press('ArrowRight');
      const replay = await app.gql(
        'query($id: ID!, $v: Int!) { replay(aggregateType: WORKFLOW, aggregateId: $id, toVersion: $v) { state } }',
        { id, v: version },
      );
      await expect
        .poll(async () => JSON.parse((await page.getByTestId('state').textContent()) ?? 'null'))
        .toEqual(replay.data!.replay.state);
      expect(await page.getByTestId('event').textContent()).toContain(events[version - 1].type);
      const changes = await page.getByTestId('changes').textContent();
      expect(changes).toContain(version === 1 ? '(state)' : 'description');
    }
    // An instant between the second and third versions: the second.
    const second = new Date(events[1].createdAt);
    const local = new Date(Math.ceil(second.getTime() / 1000) * 1000 - second.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
    expect(Date.parse(events[2].createdAt)).toBeGreaterThan(Math.ceil(second.getTime() / 1000) * 1000);
    await page.getByLabel('At', { exact: true }).fill(local);
    await page.getByRole('button', { name: 'Go' }).click();
    await expect.poll(() => page.getByRole('slider').inputValue()).toBe('2');
  });

  it('shows the first break verifyAuditTrail finds in a chain edited with SQL', async () => {
    const id = await createNamed('audited');
    const { errors } = await app.gql(
      'mutation($id: ID!) { updateWorkflow(input: { id: $id, expectedVersion: 1, description: "x" }) { version } }',
      { id },
    );
    expect(errors).toBeUndefined();
    const page = await open(app.keys.admin);
    await page.getByRole('tab', { name: 'Audit' }).click();
    const form = page.getByRole('form', { name: 'Verify a hash chain' });
    await form.getByLabel('Id').fill(id);
    await form.getByRole('button', { name: 'Verify chain' }).click();
    await expect.poll(() => page.getByTestId('chain').textContent()).toBe('Intact: 2 events checked.');
    const { rows } = await app.database.db.pool.query(
      `UPDATE events SET data = jsonb_set(data, '{description}', '"forged"') WHERE aggregate_id = $1 AND version = 2 RETURNING event_id`,
      [id],
    );
    await form.getByRole('button', { name: 'Verify chain' }).click();
    const report = (
      await app.gql(
        'query($id: ID!) { verifyAuditTrail(aggregateType: WORKFLOW, aggregateId: $id) { eventsChecked firstBreak { version reason eventId } } }',
        { id },
        app.keys.admin,
      )
    ).data!.verifyAuditTrail;
    expect(report.firstBreak).toEqual({ version: 2, reason: 'HASH_MISMATCH', eventId: rows[0].event_id });
    await expect
      .poll(() => page.getByTestId('chain').textContent())
      .toBe(`Broken at version 2: HASH_MISMATCH (event ${rows[0].event_id}), ${report.eventsChecked} events checked.`);
    // The audit log, filtered by user and event type.
    const filters = page.getByRole('form', { name: 'Filter the audit log' });
    await filters.getByLabel('User id').fill(app.userIds.editor);
    await filters.getByLabel('Event type').fill('WorkflowUpdated');
    await filters.getByRole('button', { name: 'Show' }).click();
    await expect.poll(() => page.locator('.audit tbody tr').count()).toBeGreaterThan(0);
    for (const text of await page.locator('.audit tbody tr').allTextContents()) expect(text).toMatch(/editor.*WorkflowUpdated/);
  });

  it("shows a viewer no control it may not use, an editor its Run and Cancel, and an admin the system's figures", async () => {
    const workflow = await createWorkflow(
      app.gql,
      { startAt: 'Nap', nodes: { Nap: { type: 'task', action: 'sleep', input: { ms: 20_000 }, end: true } } },
      'long nap',
    );
    const started = await execute(app.gql, workflow.id);
    const viewer = await open(app.keys.viewer);
    expect(await viewer.getByRole('tab').allTextContents()).toEqual(['Live log', 'Executions', 'Time travel']);
    await viewer.getByRole('tab', { name: 'Executions' }).click();
    await viewer.locator(`tr[data-execution-id="${started.id}"] button`).click();
    await viewer.getByTestId('execution-status').filter({ hasText: 'RUNNING' }).waitFor();
    expect(await viewer.getByRole('button', { name: /^(Run|Cancel execution)$/ }).count()).toBe(0);
    expect(await viewer.getByRole('form', { name: 'Run a workflow' }).count()).toBe(0);
    const editor = await open(app.keys.editor);
    expect(await editor.getByRole('tab').count()).toBe(3);
    await editor.getByRole('tab', { name: 'Executions' }).click();
    await editor.getByRole('button', { name: 'Run', exact: true }).waitFor();
    await editor.locator(`tr[data-execution-id="${started.id}"] button`).click();
    await editor.getByRole('button', { name: 'Cancel execution' }).click();
    // The cancel reaches the viewer's page too, live.
    await viewer.getByTestId('execution-status').filter({ hasText: 'CANCELLED' }).waitFor();
    expect((await ended(app.gql, started.id)).status).toBe('CANCELLED');
    const admin = await open(app.keys.admin);
    await admin.getByRole('tab', { name: 'System' }).click();
    await expect.poll(() => admin.getByTestId('system').textContent()).toMatch(/Live subscriptionsopen[1-9]/);
    expect(await admin.getByTestId('system').textContent()).toMatch(/Engine \(your workspace\)active\d+ of \d+/);
    await expect
      .poll(() => admin.getByText(/^Flowledger \d/).textContent())
      .toBe(`Flowledger ${VERSION}, the release of the process that answers`);
  });

  it('labels every control, and reaches each by keyboard', async () => {
    const id = await createNamed('by keyboard');
    const page = await open(app.keys.admin);
    // Each panel with the controls that appear once it is used.
    const panels: [string, () => Promise<void>][] = [
      ['Live log', async () => {}],
      ['Executions', async () => {}],
      [
        'Time travel',
        async () => {
          await page.getByRole('form', { name: 'Pick an aggregate' }).getByLabel('Id').fill(id);
          await page.getByRole('button', { name: 'Load' }).click();
          await page.getByRole('slider').waitFor();
        },
      ],
      [
        'Audit',
        async () => {
          await page.getByRole('form', { name: 'Filter the audit log' }).getByRole('button', { name: 'Show' }).click();
          await page.locator('.audit tbody tr').first().waitFor();
        },
      ],
      ['System', () => page.getByText('Live subscriptions').waitFor()],
    ];
    for (const [name, use] of panels) {
      await page.getByRole('tab', { name }).click();
      await page.getByRole('heading', { name }).waitFor();
      await use();
      const controls = page.locator('button, input, select, textarea, [tabindex="0"]').filter({ visible: true });
      const unlabelled = await controls.evaluateAll((elements) =>
        elements
          .filter((element) => {
            const named = element.getAttribute('aria-label') || element.getAttribute('aria-labelledby');
            if (element instanceof HTMLButtonElement) return !named && !element.textContent?.trim();
            return !named && !(element as HTMLInputElement).labels?.length;
          })
          .map((element) => element.outerHTML.slice(0, 80)),
      );
      expect(unlabelled, name).toEqual([]);
      // Tab from the panel's tab: every control is reached (the other tabs are reached with the arrow keys).
      const count = await controls.evaluateAll((elements) => {
        elements.forEach((element, index) => element.setAttribute('data-probe', String(index)));
        return elements.filter((element) => (element as HTMLElement).tabIndex >= 0).length;
      });
      await page.getByRole('tab', { name }).focus();
      const reached = new Set<string>();
      // A date-and-time input takes a Tab for each of its fields.
      for (let press = 0; press < count + 20 && reached.size < count; press += 1) {
        await page.keyboard.press('Tab');
        const probe = await page.evaluate(() => document.activeElement?.getAttribute('data-probe'));
        if (probe) reached.add(probe);
      }
      expect(reached.size, name).toBe(count);
    }
    // The tabs move with the arrow keys; in the live log, the arrows and End move through the rows.
    await page.getByRole('tab', { name: 'System' }).focus();
    await page.keyboard.press('ArrowRight');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Live log');
    await page.keyboard.press('Enter');
    await createNamed('by keyboard, live');
    const list = page.getByRole('listbox', { name: 'Events as they commit' });
    await list.locator('[data-event-id]').first().waitFor();
    await list.focus();
    await page.keyboard.press('End');
    await expect.poll(() => page.getByRole('complementary', { name: 'Selected event' }).textContent()).toContain('WorkflowCreated');
  });

  it('serves the page with a policy that allows this origin only, its assets for good, and nothing under another hash', async () => {
    const answer = await fetch(`${origin}/dashboard`);
    expect(answer.status).toBe(200);
    expect(answer.headers.get('content-security-policy')).toMatch(/default-src 'none'.*script-src 'self'.*connect-src 'self'/);
    expect(answer.headers.get('referrer-policy')).toBe('no-referrer');
    expect(answer.headers.get('cache-control')).toBe('no-cache');
    const html = await answer.text();
    const script = /src="([^"]+\/app\.js)"/.exec(html)![1]!;
    const asset = await fetch(`${origin}${script}`);
    expect(asset.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    expect((await asset.text()).length).toBeGreaterThan(10_000);
    expect((await fetch(`${origin}/dashboard`, { method: 'HEAD' })).status).toBe(200);
    expect((await fetch(`${origin}/dashboard/0000000000000000/app.js`)).status).toBe(404);
    expect((await fetch(`${origin}${script.replace('app.js', '..%2Fserve.ts')}`)).status).toBe(404);
    expect((await fetch(`${origin}/dashboardx`)).status).toBe(404);
  });

  it('asked no other host, and threw no error, in any of these tests', () => {
    const urls = requested.flat();
    expect(urls.length).toBeGreaterThan(20);
    expect(otherHosts(urls, origin).filter((host) => host !== new URL(proxy.url).host)).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
