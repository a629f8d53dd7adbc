import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { ServerResponse } from 'node:http';
import { dirname, join } from 'node:path';

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

const CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

interface Asset {
  readonly type: string;
  readonly body: () => string | Buffer;
}

const FILES = new Map<string, Asset>([
  ['swagger-ui.css', { type: 'text/css; charset=utf-8', body: () => readFileSync(join(DIST, 'swagger-ui.css')) }],
  ['swagger-ui-bundle.js', { type: 'text/javascript; charset=utf-8', body: () => readFileSync(join(DIST, 'swagger-ui-bundle.js')) }],
  ['init.js', { type: 'text/javascript; charset=utf-8', body: () => INIT }],
]);
const read = new Map<string, Buffer>();

/** Answers the docs page and its assets; false for any other path. Assets name the package's version, so they are kept for good. */
export function docsPage(pathname: string, response: ServerResponse): boolean {
  const headers = { 'content-security-policy': CSP, 'x-content-type-options': 'nosniff', 'referrer-policy': 'no-referrer' };
  if (pathname === DOCS_PATH || pathname === `${DOCS_PATH}/`) {
    response.writeHead(200, { ...headers, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
    response.end(PAGE);
    return true;
  }
  const asset = pathname.startsWith(`${ASSETS}/`) ? FILES.get(pathname.slice(ASSETS.length + 1)) : undefined;
  if (!asset) return false;
  const name = pathname.slice(ASSETS.length + 1);
  let body = read.get(name);
  if (!body) read.set(name, (body = Buffer.from(asset.body())));
  response.writeHead(200, {
    ...headers,
    'content-type': asset.type,
    'cache-control': 'public, max-age=31536000, immutable',
    'content-length': body.length,
  });
  response.end(body);
  return true;
}
