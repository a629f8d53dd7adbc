import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { browserSuite, CHROMIUM, launchBrowser, otherHosts, recordRequests } from './support/browser.ts';

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp({ environment: 'development', introspection: true });
});
afterAll(() => app.close());

describe.skipIf(!CHROMIUM)(browserSuite('GraphiQL in a real browser'), () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await launchBrowser();
  });
  afterAll(() => browser.close());

  it('renders with nothing from another host, says where the key goes, and runs { me { name } } with one', async () => {
    const context = await browser.newContext();
    const urls = recordRequests(context);
    const page = await context.newPage();
    await page.goto(app.url, { waitUntil: 'load' });

    // The headers editor is open, with the Authorization header to complete.
    // Editors lay out spaces as no-break spaces.
    const text = async (selector: string) => (await page.locator(selector).textContent())?.replaceAll('\u00a0', ' ');
    await expect.poll(() => text('.graphiql-editor-tool')).toContain('"Authorization": "Bearer <your API key>"');
    expect(await text('.graphiql-query-editor')).toContain('in Headers below');

    const replace = async (editor: string, text: string) => {
      await page.locator(editor).locator('.graphiql-editor:not(.hidden) .view-lines').click();
      await page.keyboard.press('Control+A');
      await page.keyboard.press('Backspace');
      // Inserted as a paste would be: the editor's auto-closing brackets do not apply.
      await page.keyboard.insertText(text);
    };
    await replace('.graphiql-query-editor', '{ me { name } }');
    await replace('.graphiql-editor-tool', JSON.stringify({ Authorization: `Bearer ${app.keys.viewer}` }));
    await page.getByRole('button', { name: /Execute query/ }).click();
    await expect.poll(() => text('.result-window'), { timeout: 10_000 }).toContain('"name": "viewer"');

    expect(urls.length).toBeGreaterThan(3);
    expect(otherHosts(urls, app.url)).toEqual([]);
    await context.close();
  });
});

describe('GraphiQL over HTTP', () => {
  it('is a small page whose assets come from this server, cached for good, under a CSP that allows nothing else', async () => {
    const page = await fetch(app.url, { headers: { accept: 'text/html' } });
    expect(page.status).toBe(200);
    const html = await page.text();
    expect(html.length).toBeLessThan(10_000);
    expect(html).not.toMatch(/https?:\/\//);
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toMatch(/https?:|\*/);
    expect(page.headers.get('x-frame-options')).toBe('DENY');
    const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
    expect(assets).toHaveLength(3);
    for (const path of assets) {
      const asset = await fetch(new URL(path, app.url));
      expect(asset.status).toBe(200);
      expect(asset.headers.get('cache-control')).toContain('immutable');
      expect((await asset.arrayBuffer()).byteLength).toBeGreaterThan(1000);
    }
  });

  it('is not served outside development', async () => {
    const production = await startTestApp({ environment: 'production', introspection: false });
    try {
      const page = await fetch(production.url, { headers: { accept: 'text/html' } });
      expect(page.headers.get('content-type') ?? '').not.toContain('text/html');
      const html = await (await fetch(app.url, { headers: { accept: 'text/html' } })).text();
      const script = /src="([^"]+)"/.exec(html)![1]!;
      expect((await fetch(new URL(script, production.url))).status).toBe(404);
    } finally {
      await production.close();
    }
  });
});
