import { parseArgs } from 'node:util';
import { appendLoad } from './append.ts';
import { ramp, readMix, workflowIds } from './read-mix.ts';
import { longWorkflow, replayLoad } from './replay.ts';
import { subscriptionLoad } from './subscriptions.ts';
import { broken, thresholdsFrom, type Measured } from './support/thresholds.ts';
import { targetAt, type Target } from './support/target.ts';

// npm run load -- <script> [--url http://host:port/graphql] [--key KEY]
// Drives a running server (TARGET_URL and API_KEY work too) and exits 1 when a threshold
// fails: p95 under P95_MS (100), p99 under P99_MS (200), errors under MAX_ERROR_RATE (0.01),
// and nothing lost, duplicated, missed or repeated. Knobs by environment, per script below.
const env = process.env;
const number = (name: string, fallback: number) => Number(env[name] ?? fallback);

interface Run {
  readonly measured: Measured & object;
  readonly mustBeZero?: Record<string, number>;
}

const scripts: Record<string, (target: Target) => Promise<Run>> = {
  // VUS (200) virtual users, ramped over SECONDS (30).
  'read-mix': async (target) => {
    const ids = await workflowIds(target, 1000);
    return { measured: await readMix(target, ids, ramp(number('VUS', 200), number('SECONDS', 30))) };
  },
  // WRITERS (50) concurrent writers for SECONDS (30), on the caller's first TARGETS (WRITERS * 4) workflows.
  append: async (target) => {
    const writers = number('WRITERS', 50);
    const measured = await appendLoad(target, await workflowIds(target, number('TARGETS', writers * 4)), writers, number('SECONDS', 30));
    return { measured, mustBeZero: { 'events lost': measured.lost, 'events duplicated': measured.duplicated } };
  },
  // WORKFLOW (an id) or a new workflow of VERSIONS (10000) events; REQUESTS (500) of each read, CONCURRENCY (8) at a time.
  replay: async (target) => {
    const id = env.WORKFLOW ?? (await longWorkflow(target, number('VERSIONS', 10_000)));
    return { measured: await replayLoad(target, id, number('REQUESTS', 500), number('CONCURRENCY', 8)) };
  },
  // SUBSCRIBERS (1000) for SECONDS (30) while RATE (100) workflows a second are created; CLIENT=go runs them in Go.
  subscriptions: async (target) => {
    const measured = await subscriptionLoad(target, {
      subscribers: number('SUBSCRIBERS', 1000),
      rate: number('RATE', 100),
      seconds: number('SECONDS', 30),
      client: env.CLIENT === 'go' ? 'go' : 'node',
    });
    return { measured, mustBeZero: { 'deliveries missed': measured.missed, 'deliveries repeated': measured.repeated } };
  },
};

const { values, positionals } = parseArgs({ options: { url: { type: 'string' }, key: { type: 'string' } }, allowPositionals: true });
const script = scripts[positionals[0] ?? ''];
const url = values.url ?? env.TARGET_URL ?? 'http://127.0.0.1:4000/graphql';
const key = values.key ?? env.API_KEY;
if (!script || !key) {
  console.error(
    `usage: npm run load -- <${Object.keys(scripts).join('|')}> [--url ${url}] --key <API key or token> (or TARGET_URL, API_KEY)`,
  );
  process.exit(2);
}

const target = targetAt(url, key);
try {
  await target.gql('{ me { id } }');
} catch (error) {
  console.error(`cannot use ${url} with that key: ${(error as Error).message}`);
  process.exit(2);
}
const thresholds = thresholdsFrom(env);
const { measured, mustBeZero } = await script(target);
const failures = broken(measured, thresholds, mustBeZero);
console.log(JSON.stringify({ script: positionals[0], url, ...measured, thresholds, passed: failures.length === 0 }, null, 2));
for (const failure of failures) console.error(`threshold failed: ${failure}`);
process.exit(failures.length === 0 ? 0 : 1);
