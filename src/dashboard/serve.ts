import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { build } from 'esbuild';
import { contentSecurityPolicy, CSS, JAVASCRIPT, staticAssets, type Asset } from '../runtime/static-assets.ts';

// The dashboard: a Preact page written in TypeScript under page/, bundled by esbuild when it is
// first asked for, and served by this process from the same origin. The bundle's path names a
// hash of its sources and of the packages in it, so a browser may keep it for good.

export const DASHBOARD_PATH = '/dashboard';
const PAGE = join(import.meta.dirname, 'page');
const require = createRequire(import.meta.url);
const versions = ['esbuild', 'preact', 'graphql-ws'].map((name) => (require(`${name}/package.json`) as { version: string }).version);

const sources = readdirSync(PAGE).sort();
const hash = createHash('sha256').update(versions.join());
for (const file of sources) hash.update(file).update(readFileSync(join(PAGE, file)));
const ASSETS = `${DASHBOARD_PATH}/${hash.digest('hex').slice(0, 16)}`;

async function bundle(): Promise<string> {
  const { outputFiles } = await build({
    entryPoints: [join(PAGE, 'main.tsx')],
    bundle: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    jsx: 'automatic',
    jsxImportSource: 'preact',
    minify: true,
    legalComments: 'eof',
    write: false,
    logLevel: 'silent',
  });
  return outputFiles[0]!.text;
}

const HEADERS = {
  // connect-src 'self' covers this origin's WebSocket too (ws: and wss: match http: and https:).
  'content-security-policy': contentSecurityPolicy(["style-src 'self'"]),
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const assets = staticAssets(
  ASSETS,
  new Map<string, Asset>([
    ['app.js', { type: JAVASCRIPT, body: bundle }],
    ['app.css', { type: CSS, body: () => readFileSync(join(PAGE, 'app.css')) }],
  ]),
  HEADERS,
);

const HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Flowledger dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${ASSETS}/app.css">
<script type="module" src="${ASSETS}/app.js"></script>
</head>
<body>
<noscript>The dashboard needs JavaScript.</noscript>
<div id="app"></div>
</body>
</html>
`;

/** Serves the dashboard and its assets on GET; any other request goes on to `next`. */
export function dashboard(next: (request: IncomingMessage, response: ServerResponse) => void) {
  return (request: IncomingMessage, response: ServerResponse) => {
    const path = request.url?.split('?')[0] ?? '';
    if (request.method !== 'GET' || !path.startsWith(DASHBOARD_PATH)) return next(request, response);
    if (path === DASHBOARD_PATH || path === `${DASHBOARD_PATH}/`) {
      response.writeHead(200, { ...HEADERS, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
      response.end(HTML);
      return;
    }
    if (!assets(path, response)) next(request, response);
  };
}
