import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { build } from 'esbuild';
import { answer } from '../runtime/answer.ts';
import { describeError, log } from '../runtime/log.ts';
import { contentSecurityPolicy, CSS, JAVASCRIPT, staticAssets } from '../runtime/static-assets.ts';

// The dashboard: a Preact page written in TypeScript under page/, bundled by esbuild once, when
// it is first asked for, and served by this process from the same origin. Its assets' path
// names a hash of the bundle itself, so a browser may keep them for good.

export const DASHBOARD_PATH = '/dashboard';
const PAGE = join(import.meta.dirname, 'page');
/** After a failed build, how long requests get its failure before another build is tried. */
const RETRY_MS = 10_000;

const HEADERS = {
  // connect-src 'self' covers this origin's WebSocket too (ws: and wss: match http: and https:).
  'content-security-policy': contentSecurityPolicy(["style-src 'self'"]),
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

const html = (assets: string) => `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Flowledger dashboard</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="${assets}/app.css">
<script type="module" src="${assets}/app.js"></script>
</head>
<body>
<noscript>The dashboard needs JavaScript.</noscript>
<div id="app"></div>
</body>
</html>
`;

interface Built {
  readonly html: string;
  readonly assets: ReturnType<typeof staticAssets>;
}

async function make(): Promise<Built> {
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
  const script = outputFiles[0]!.text;
  const css = readFileSync(join(PAGE, 'app.css'));
  const prefix = `${DASHBOARD_PATH}/${createHash('sha256').update(script).update(css).digest('hex').slice(0, 16)}`;
  const files = new Map([
    ['app.js', { type: JAVASCRIPT, body: () => script }],
    ['app.css', { type: CSS, body: () => css }],
  ]);
  return { html: html(prefix), assets: staticAssets(prefix, files, HEADERS) };
}

let built: Promise<Built> | undefined;
const page = (): Promise<Built> =>
  (built ??= make().catch((error: unknown) => {
    setTimeout(() => (built = undefined), RETRY_MS).unref();
    throw error;
  }));

/** Serves the dashboard and its assets on GET and HEAD; any other request goes on to `next`. */
export function dashboard(next: (request: IncomingMessage, response: ServerResponse) => void) {
  return (request: IncomingMessage, response: ServerResponse) => {
    const path = request.url?.split('?')[0] ?? '';
    const method = request.method;
    if ((method !== 'GET' && method !== 'HEAD') || (path !== DASHBOARD_PATH && !path.startsWith(`${DASHBOARD_PATH}/`)))
      return next(request, response);
    page().then(
      (made) => {
        if (path === DASHBOARD_PATH || path === `${DASHBOARD_PATH}/`) {
          response.writeHead(200, { ...HEADERS, 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' });
          response.end(made.html);
        } else if (!made.assets(path, response)) next(request, response);
      },
      (error: unknown) => {
        log('error', 'the dashboard could not be built', describeError(error));
        answer(response, 500, 'text/plain', 'the dashboard could not be built\n');
      },
    );
  };
}
