import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';
import { createWorkflow } from './support/executions.ts';
import { definition } from './support/definitions.ts';
import { ROOT } from './support/processes.ts';

const README = readFileSync(join(ROOT, 'README.md'), 'utf8');
const DOCS = readdirSync(join(ROOT, 'docs'))
  .filter((name) => name.endsWith('.md'))
  .map((name) => ({ name: `docs/${name}`, text: readFileSync(join(ROOT, 'docs', name), 'utf8') }));

/** The README's JavaScript examples, in order. */
const examples = [...README.matchAll(/```js\n([\s\S]*?)```/g)].map((match) => match[1]!);

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app.close());

/**
 * Runs a README example as a user would, as a file of its own (inside the project, so that its
 * imports resolve), against this test's server instead of localhost:4000. Resolves with its
 * output once `done` says so, or once it exits.
 */
function runExample(
  code: string,
  done: (stdout: string) => boolean,
  nodeFlags: string[] = [],
): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const folder = join(ROOT, 'node_modules', '.cache', 'readme-examples');
  mkdirSync(folder, { recursive: true });
  const file = join(folder, `example-${process.pid}-${Math.random().toString(36).slice(2)}.mjs`);
  writeFileSync(file, code.replaceAll('localhost:4000', new URL(app.url).host));
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [...nodeFlags, file], { env: { ...process.env, KEY: app.keys.editor } });
    let stdout = '';
    let stderr = '';
    let finished = false;
    const finish = (code: number | null) => {
      if (finished) return;
      finished = true;
      child.kill();
      rmSync(file, { force: true });
      resolve({ stdout, stderr, code });
    };
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
      if (done(stdout)) finish(null);
    });
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('close', (code) => finish(code));
  });
}

describe("the README's examples", () => {
  it('the WebSocket example works on a Node without a WebSocket of its own', async () => {
    const example = examples.find((code) => code.includes('graphql-ws'))!;
    let created = false;
    const { stdout, stderr } = await runExample(
      example,
      (out) => {
        if (!created && out.includes('caughtUp: true')) {
          created = true;
          void createWorkflow((...args) => app.gql(...args), definition(), 'Seen by the README');
        }
        return out.includes("type: 'WorkflowCreated'");
      },
      // Node 20 has no global WebSocket; Node 24 without this flag has one, and would hide its absence.
      ['--no-experimental-websocket'],
    );
    expect(stderr).toBe('');
    expect(stdout).toContain("type: 'WorkflowCreated'");
  });

  it('the pagination example prints every matching workflow, across pages', async () => {
    const names = ['invoice 1', 'invoice 2', 'Invoice 3', 'receipt'];
    const ids = [];
    for (const name of names) ids.push((await createWorkflow((...args) => app.gql(...args), definition(), name)).id);
    const example = examples.find((code) => code.includes('pageInfo'))!;
    // Two a page rather than fifty, so that the loop turns.
    expect(example).toContain('first: 50');
    const { stdout, stderr, code } = await runExample(example.replace('first: 50', 'first: 2'), () => false);
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toEqual([`${ids[2]} Invoice 3`, `${ids[1]} invoice 2`, `${ids[0]} invoice 1`]);
  });
});

describe('the README and docs', () => {
  it('speak of the project: no issue numbers, nothing of the machines it is built on', () => {
    for (const { name, text } of [{ name: 'README.md', text: README }, ...DOCS]) {
      expect(text, name).not.toMatch(/\bissues? \d+|\bissue #\d+/i);
      expect(text, name).not.toMatch(/\b(these|this project's|this machine's|the project's build) machines?\b/i);
    }
  });

  it('say why npm install on an older Node prints EBADENGINE warnings', () => {
    expect(README).toMatch(/`EBADENGINE` warnings[\s\S]{0,200}harmless/);
  });
});
