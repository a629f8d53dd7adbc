import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

/**
 * Chromium for the page tests: CHROMIUM_PATH, else a system Chromium (Debian's `chromium`
 * package; .ci/run installs it). playwright-core drives it and downloads nothing. Without one,
 * the browser tests are skipped and their title says why.
 */
export const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome']
  .filter((path): path is string => Boolean(path))
  .find((path) => existsSync(path));

export const browserSuite = (title: string) =>
  CHROMIUM ? title : `${title} (skipped: no Chromium; apt-get install chromium, or set CHROMIUM_PATH)`;

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM!,
    // The tests run as root (no sandbox then), on machines whose network may be closed: nothing
    // in the background may try to reach Google's hosts.
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

/** Every URL a browser context asks for (pages and their workers alike). */
export function recordRequests(context: BrowserContext): string[] {
  const urls: string[] = [];
  context.on('request', (request) => urls.push(request.url()));
  return urls;
}

/** The hosts of those URLs that are not `origin`'s; data: and blob: URLs leave no host. */
export function otherHosts(urls: readonly string[], origin: string): string[] {
  const own = new URL(origin).host;
  return [...new Set(urls.filter((url) => /^(https?|wss?):/.test(url)).map((url) => new URL(url).host))].filter((host) => host !== own);
}

/** Opens the dashboard at `origin` in `page` and signs in with `key`, as a person would. */
export async function openDashboard(page: Page, origin: string, key: string): Promise<void> {
  await page.goto(`${origin}/dashboard`);
  await page.getByLabel('API key or token').fill(key);
  await page.getByRole('button', { name: 'Open' }).click();
  await page.getByTestId('who').waitFor();
}
