import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';
import { contentSecurityPolicy, CSS, JAVASCRIPT, staticAssets, type Asset } from '../runtime/static-assets.ts';

// Swagger UI, from the swagger-ui-dist package, served by the server itself: no CDN, and a
// Content-Security-Policy that lets the page reach this origin only.

const require = createRequire(import.meta.url);
const DIST = dirname(require.resolve('swagger-ui-dist/package.json'));
const { version } = require('swagger-ui-dist/package.json') as { version: string };

export const DOCS_PATH = '/api/docs';
const ASSETS = `${DOCS_PATH}/${version}`;

/** The page's own script: no inline script, so the CSP allows none. The key typed into Authorize is kept for the tab only. */
const INIT = `window.ui = SwaggerUIBundle({ url: '/api/openapi.json', dom_id: '#ui', deepLinking: true, persistAuthorization: false, tryItOutEnabled: false });\n`;

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Flowledger REST API</title>
<link rel="stylesheet" href="${ASSETS}/swagger-ui.css">
</head>
<body>
<div id="ui"></div>
<script src="${ASSETS}/swagger-ui-bundle.js"></script>
<script src="${ASSETS}/init.js"></script>
</body>
</html>
`;

const CSP = contentSecurityPolicy(["style-src 'self' 'unsafe-inline'"]);
const HEADERS = { 'content-security-policy': CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };

const assets = staticAssets(
  ASSETS,
  new Map<string, Asset>([
    ['swagger-ui.css', { type: CSS, body: () => readFileSync(join(DIST, 'swagger-ui.css')) }],
    ['swagger-ui-bundle.js', { type: JAVASCRIPT, body: () => readFileSync(join(DIST, 'swagger-ui-bundle.js')) }],
    ['init.js', { type: JAVASCRIPT, body: () => INIT }],
  ]),
  HEADERS,
);

/** Answers the docs page and its assets; false for any other path. */
export function docsPage(pathname: string, response: ServerResponse): boolean {
  if (pathname === DOCS_PATH || pathname === `${DOCS_PATH}/`) {
    response.writeHead(200, { ...HEADERS, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
    response.end(PAGE);
    return true;
  }
  return assets(pathname, response);
}
