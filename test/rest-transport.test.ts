import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startTestApp } from './support/app.ts';
import { browserSuite, CHROMIUM, launchBrowser, otherHosts, recordRequests } from './support/browser.ts';
import { definition } from './support/definitions.ts';
import { restClient } from './support/rest.ts';

// What REST shares with the other transports: rate limits, the persisted-operations lock, and
// the server's own pages.

describe('REST beside GraphQL', () => {
  it('counts against the same rate limit as GraphQL: a key past it is refused on both, 429 with Retry-After', async () => {
    const app = await startTestApp({ rateLimitPerSecond: 4 });
    try {
      const rest = restClient(app.url, app.keys.viewer);
      const answers = [];
      for (let i = 0; i < 3; i += 1) answers.push((await rest('GET', '/api/agent-builder/workflows')).status);
      answers.push((await app.gql('{ me { id } }', {}, app.keys.viewer)).status);
      const refused = await rest('GET', '/api/agent-builder/workflows');
      const alsoRefused = await app.gql('{ me { id } }', {}, app.keys.viewer);
      expect(answers).toEqual([200, 200, 200, 200]);
      expect([refused.status, refused.body.code, refused.headers.get('content-type')]).toEqual([
        429,
        'RATE_LIMITED',
        'application/problem+json',
      ]);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(alsoRefused.errors?.[0]?.extensions.code).toBe('RATE_LIMITED');
    } finally {
      await app.close();
    }
  });

  it('still serves its routes where only persisted operations may run, and GraphQL documents of a client are refused there', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'persisted-')), 'operations.json');
    writeFileSync(file, '{}');
    const app = await startTestApp({ persistedOperationsFile: file });
    try {
      const rest = restClient(app.url, app.keys.editor);
      const made = await rest('POST', '/api/agent-builder/workflows', { body: { name: 'locked', definition: definition() } });
      expect(made.status).toBe(201);
      expect((await rest('GET', `/api/agent-builder/workflows/${made.body.id}`)).body.name).toBe('locked');
      const own = await app.gql('{ workflows(first: 1) { edges { node { id } } } }');
      expect(own.errors?.[0]?.extensions.code).toBe('PERSISTED_QUERY_ONLY');
    } finally {
      await app.close();
    }
  });

  it('serves its docs page and every asset the page names from its own origin, with a CSP to match', async () => {
    const app = await startTestApp();
    try {
      const page = await fetch(new URL('/api/docs', app.url));
      expect(page.status).toBe(200);
      expect(page.headers.get('content-security-policy')).toContain("script-src 'self'");
      const html = await page.text();
      const assets = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((match) => match[1]!);
      expect(assets.length).toBe(3);
      for (const asset of assets) {
        expect(asset.startsWith('/api/docs/')).toBe(true);
        const served = await fetch(new URL(asset, app.url));
        expect([asset, served.status]).toEqual([asset, 200]);
        expect(served.headers.get('cache-control')).toContain('immutable');
      }
      expect((await fetch(new URL('/api/docs/0.0.0/swagger-ui-bundle.js', app.url))).status).toBe(404);
    } finally {
      await app.close();
    }
  });

  it.skipIf(!CHROMIUM)(browserSuite('renders the docs page in a browser from the document it serves, asking no other host'), async () => {
    const app = await startTestApp();
    const browser = await launchBrowser();
    try {
      const context = await browser.newContext();
      const urls = recordRequests(context);
      const page = await context.newPage();
      const errors: string[] = [];
      page.on('pageerror', (error) => errors.push(error.message));
      await page.goto(new URL('/api/docs', app.url).toString());
      await page.getByText('Flowledger REST API').first().waitFor();
      await page.getByText('/api/agent-builder/workflows/{id}/execute').first().waitFor();
      expect(errors).toEqual([]);
      expect(urls.some((url) => url.endsWith('/api/openapi.json'))).toBe(true);
      expect(otherHosts(urls, new URL(app.url).origin)).toEqual([]);
    } finally {
      await browser.close();
      await app.close();
    }
  });
});
