import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startTestApp, type TestApp } from './support/app.ts';
import { browserSuite, CHROMIUM, launchBrowser, openDashboard, otherHosts, recordRequests } from './support/browser.ts';
import { definition } from './support/definitions.ts';
import { createWorkflow, ended, execute, EXECUTION_FIELDS } from './support/executions.ts';
import { startTcpProxy, type TcpProxy } from './support/tcp-proxy.ts';

let app: TestApp;
let browser: Browser;
let proxy: TcpProxy;
let origin: string;
const contexts: BrowserContext[] = [];
/** Each context's requested URLs, and the page errors it threw. */
const requested: string[][] = [];
const pageErrors: string[] = [];

beforeAll(async () => {
  app = await startTestApp();
  origin = new URL(app.url).origin;
  // The page reaches the service through a proxy the test can cut: a real dropped WebSocket.
  proxy = await startTcpProxy(origin);
  if (CHROMIUM) browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  await app?.close();
});

/** A new tab on the dashboard, signed in with `key`; every URL it asks for is kept. */
async function open(key: string, base = origin): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 1600 } });
  contexts.push(context);
  requested.push(recordRequests(context));
  const page = await context.newPage();
  page.on('pageerror', (error) => pageErrors.push(error.message));
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
  it('keeps the key for the tab only: not in the URL, sent as a bearer token on HTTP and WebSocket; a bad key is refused with its code', async () => {
    const page = await open(app.keys.viewer);
    expect(page.url()).toBe(`${origin}/dashboard`);
    expect(await page.evaluate(() => sessionStorage.getItem('flowledger.key'))).toBe(app.keys.viewer);
    expect(await page.evaluate(() => localStorage.length)).toBe(0);
    await caughtUp(page);
    expect(requested.flat().filter((url) => url.includes(app.keys.viewer))).toEqual([]);
    const context = await browser.newContext();
    contexts.push(context);
    const other = await context.newPage();
    await other.goto(`${origin}/dashboard`);
    await other.getByLabel('API key or token').fill('fl_not-a-key');
    await other.getByRole('button', { name: 'Open' }).click();
    await expect.poll(() => other.getByRole('alert').textContent()).toMatch(/key/i);
    expect(await other.evaluate(() => sessionStorage.getItem('flowledger.key'))).toBeNull();
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
    const seen = new Set<string>();
    for (;;) {
      const status = await timeline.getByTestId('execution-status').textContent();
      for (const text of await timeline.locator('[data-field="status"]').allTextContents()) seen.add(text);
      if (status && !['PENDING', 'RUNNING'].includes(status)) break;
      await page.waitForTimeout(50);
    }
    // It showed steps running and waiting for a retry before the end.
    expect(seen).toContain('RUNNING');
    expect(seen).toContain('RETRY_SCHEDULED');
    const final = await ended(app.gql, started.id);
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
    const retries = await timeline.locator('tr[data-step-id^="Flaky"] [data-field="retries"]').textContent();
    expect(retries).toBe('attempt 2 after 500 ms (Boom)attempt 3 after 500 ms (Boom)');
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
  });

  it('labels every control and reaches each by keyboard', async () => {
    const page = await open(app.keys.admin);
    for (const tab of ['Live log', 'Executions', 'Time travel', 'Audit', 'System']) {
      await page.getByRole('tab', { name: tab }).click();
      await page.getByRole('heading', { name: tab }).waitFor();
      const unlabelled = await page.locator('button, input, select, textarea, [tabindex]').evaluateAll((controls) =>
        controls
          .filter((control) => {
            const element = control as HTMLInputElement;
            const named = element.labels?.length || control.getAttribute('aria-label') || control.getAttribute('aria-labelledby');
            return !named && !control.textContent?.trim();
          })
          .map((control) => control.outerHTML.slice(0, 80)),
      );
      expect(unlabelled, tab).toEqual([]);
    }
    // Tabs move with the arrow keys; Tab reaches the live log's list, whose rows move with the arrows.
    await page.getByRole('tab', { name: 'System' }).focus();
    await page.keyboard.press('ArrowRight');
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Live log');
    await page.keyboard.press('Enter');
    await createNamed('by keyboard');
    const list = page.getByRole('listbox', { name: 'Events as they commit' });
    await list.locator('[data-event-id]').first().waitFor();
    await list.focus();
    await page.keyboard.press('End');
    await expect.poll(() => page.getByRole('complementary', { name: 'Selected event' }).textContent()).toContain('WorkflowCreated');
  });

  it('asked no other host, and threw no error, in any of these tests', () => {
    const urls = requested.flat();
    expect(urls.length).toBeGreaterThan(20);
    expect(otherHosts(urls, origin).filter((host) => host !== new URL(proxy.url).host)).toEqual([]);
    expect(pageErrors).toEqual([]);
  });
});
