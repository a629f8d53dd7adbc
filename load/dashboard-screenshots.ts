import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { CHROMIUM, launchBrowser, openDashboard } from '../test/support/browser.ts';
import { startBenchServer } from './support/server.ts';

// npm run docs:screenshots: the dashboard's panels, as PNGs in docs/screenshots/, from a fresh
// server with a little history: workflows, their updates, and an execution that retries and fails.

const OUT = join(import.meta.dirname, '../docs/screenshots');
const CREATE = 'mutation($input: CreateWorkflowInput!) { createWorkflow(input: $input) { id } }';
const UPDATE =
  'mutation($id: ID!, $v: Int!, $d: String!) { updateWorkflow(input: { id: $id, expectedVersion: $v, description: $d }) { version } }';
const EXECUTE = 'mutation($id: ID!) { executeWorkflow(input: { workflowId: $id, input: { order: 42 } }) { id } }';
const FLAKY = {
  startAt: 'Reserve',
  nodes: {
    Reserve: { type: 'task', action: 'sleep', input: { ms: 300 }, next: 'Charge' },
    Charge: {
      type: 'task',
      action: 'fail',
      input: { error: 'PaymentDeclined', message: 'card declined' },
      retry: [{ errors: ['PaymentDeclined'], maxAttempts: 3, intervalMs: 400, backoffRate: 2 }],
      end: true,
    },
  },
};

if (!CHROMIUM) throw new Error('no Chromium: apt-get install chromium, or set CHROMIUM_PATH');
mkdirSync(OUT, { recursive: true });
const server = await startBenchServer();
const browser = await launchBrowser();
try {
  const page = await browser.newPage({ viewport: { width: 1400, height: 820 } });
  await openDashboard(page, new URL(server.url).origin, server.key);
  await page.locator('[data-marker="caught-up"]').waitFor();
  const { createWorkflow: order } = await server.gql(CREATE, { input: { name: 'Order intake', definition: FLAKY } });
  for (const name of ['Nightly report', 'Refund review'])
    await server.gql(CREATE, { input: { name, definition: { startAt: 'Done', nodes: { Done: { type: 'succeed' } } } } });
  for (let version = 1; version <= 3; version += 1) await server.gql(UPDATE, { id: order.id, v: version, d: `revision ${version}` });
  const { executeWorkflow: run } = await server.gql(EXECUTE, { id: order.id });
  await sleep(3000);
  await page.getByRole('listbox', { name: 'Events as they commit' }).focus();
  await page.keyboard.press('End');
  await page.screenshot({ path: join(OUT, 'live-log.png') });

  await page.getByRole('tab', { name: 'Executions' }).click();
  await page.locator(`tr[data-execution-id="${run.id}"] button`).click();
  await page.getByTestId('execution-error').waitFor();
  await page.screenshot({ path: join(OUT, 'execution-timeline.png') });

  await page.getByRole('tab', { name: 'Time travel' }).click();
  await page.getByLabel('Id').fill(order.id);
  await page.getByRole('button', { name: 'Load' }).click();
  await page.getByRole('slider').focus();
  await page.keyboard.press('ArrowLeft');
  await page.getByTestId('state').waitFor();
  await sleep(300);
  await page.screenshot({ path: join(OUT, 'time-travel.png') });

  await page.getByRole('tab', { name: 'Audit' }).click();
  const verify = page.getByRole('form', { name: 'Verify a hash chain' });
  await verify.getByLabel('Id').fill(order.id);
  await verify.getByRole('button', { name: 'Verify chain' }).click();
  await page.getByRole('form', { name: 'Filter the audit log' }).getByRole('button', { name: 'Show' }).click();
  await page.locator('.audit tbody tr').first().waitFor();
  await page.screenshot({ path: join(OUT, 'audit.png') });

  await page.getByRole('tab', { name: 'System' }).click();
  await page.getByText('Live subscriptions').waitFor();
  await page.screenshot({ path: join(OUT, 'system.png') });
  console.log(`screenshots in ${OUT}`);
} finally {
  await browser.close();
  await server.stop();
}
