import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { css, editorWorkerService, favicon, graphqlWorker, js, jsonWorker } from '@graphql-yoga/render-graphiql/graphiql';
import type { GraphiQLOptions } from 'graphql-yoga';
import { contentSecurityPolicy, CSS, JAVASCRIPT, staticAssets, type Asset } from './static-assets.ts';

// GraphiQL served from the server itself, from the npm package's bundle: Yoga's own page loads
// its script from a CDN, which many networks block. The page is small; the bundle is served
// once per release under a versioned path, cached for good.

const { version } = createRequire(import.meta.url)('@graphql-yoga/render-graphiql/package.json') as { version: string };

/** Monaco's workers, by the label it asks for. */
const WORKERS = { editorWorkerService: 'editor.worker.js', json: 'json.worker.js', graphql: 'graphql.worker.js' } as const;

/**
 * The page's script is the bundle between two lines of ours: Monaco told where its workers are,
 * then GraphiQL rendered with the options the page carries as JSON (no inline script, so the
 * page's CSP allows none). The path names the bundle's version and these lines, so that a
 * browser's cached copy is never one of another release.
 */
const before = (base: string) =>
  `self.MonacoEnvironment = { globalAPI: false, getWorkerUrl: (_id, label) => ${JSON.stringify(base)} + '/' + ${JSON.stringify(WORKERS)}[label] };\n`;
const AFTER =
  ";\nYogaGraphiQL.renderYogaGraphiQL(document.getElementById('root'), JSON.parse(document.getElementById('graphiql-options').textContent));\n";

export const GRAPHIQL_ASSETS = `/graphiql/${version}-${createHash('sha256').update(before('')).update(AFTER).digest('hex').slice(0, 12)}`;

const script = () => `${before(GRAPHIQL_ASSETS)}${js}${AFTER}`;

/** The page's Content-Security-Policy, and its workers': nothing but this origin (styles inline, as Monaco sets them). */
export const GRAPHIQL_CSP = contentSecurityPolicy(["worker-src 'self'", "style-src 'self' 'unsafe-inline'", "font-src 'self' data:"]);

const assets = staticAssets(
  GRAPHIQL_ASSETS,
  new Map<string, Asset>([
    ['graphiql.js', { type: JAVASCRIPT, body: script }],
    ['graphiql.css', { type: CSS, body: () => css }],
    ['favicon.ico', { type: 'image/x-icon', body: () => Buffer.from(favicon.slice(favicon.indexOf(',') + 1), 'base64') }],
    [WORKERS.editorWorkerService, { type: JAVASCRIPT, body: () => editorWorkerService }],
    [WORKERS.json, { type: JAVASCRIPT, body: () => jsonWorker }],
    [WORKERS.graphql, { type: JAVASCRIPT, body: () => graphqlWorker }],
  ]),
  // A worker takes its CSP from its own script's response.
  { 'content-security-policy': GRAPHIQL_CSP },
);

const DEFAULT_QUERY = `# Every request needs an API key or a token:
# in Headers below, put yours in place of
# <your API key>, then run this (Ctrl-Enter).
# The first \`npm start\` printed an admin key;
# \`npm run admin -- issue-key\` makes more.
{
  me {
    name
    role
  }
}
`;

/** What the explorer starts with: a query that needs a key, and the header to put it in. */
export const GRAPHIQL_OPTIONS: GraphiQLOptions = {
  title: 'Flowledger GraphiQL',
  defaultQuery: DEFAULT_QUERY,
  headers: JSON.stringify({ Authorization: 'Bearer <your API key>' }, null, 2),
  defaultEditorToolsVisibility: 'headers',
  // SSE carries the Authorization header of the editor, as queries do.
  subscriptionsProtocol: 'SSE',
};

/** The page Yoga answers a browser's GET /graphql with. */
export function renderGraphiQL(options: GraphiQLOptions): string {
  // `<` escaped: the JSON sits in a script element, which a `</script>` inside it would end.
  const json = JSON.stringify(options).replaceAll('<', '\\u003c');
  return `<!doctype html>
<html lang="en">
  <head>
    <meta charset="utf-8" />
    <title>${options.title}</title>
    <link rel="icon" href="${GRAPHIQL_ASSETS}/favicon.ico" />
    <link rel="stylesheet" href="${GRAPHIQL_ASSETS}/graphiql.css" />
  </head>
  <body id="body" class="no-focus-outline">
    <noscript>GraphiQL needs JavaScript.</noscript>
    <div id="root"></div>
    <script type="application/json" id="graphiql-options">${json}</script>
    <script src="${GRAPHIQL_ASSETS}/graphiql.js"></script>
  </body>
</html>
`;
}

/** Serves GraphiQL's assets at GRAPHIQL_ASSETS; any other request goes on to `next`. */
export function graphiqlAssets(next: (request: IncomingMessage, response: ServerResponse) => void) {
  return (request: IncomingMessage, response: ServerResponse) => {
    if (request.method !== 'GET' || !assets(request.url?.split('?')[0] ?? '', response)) next(request, response);
  };
}
