import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';
import { freePort } from './ports.ts';

export const ROOT = resolve(import.meta.dirname, '../..');

export interface Finished {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs an npm script of this repo as a user would, and waits for it. */
export function npmRun(script: string, args: string[], env: Record<string, string>): Promise<Finished> {
  return new Promise((done, fail) => {
    const child = spawn('npm', ['run', '--silent', script, '--', ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    child.on('error', fail);
    child.on('close', (code) => done({ code, stdout, stderr }));
  });
}

/**
 * Starts a long-running process and resolves once its output matches `ready`. With `group`,
 * it leads a process group of its own, so that a signal reaches the whole group: `npm run`
 * does not pass SIGTERM on to its script's process through the shell.
 */
export function startProcess(
  command: string,
  args: string[],
  env: Record<string, string>,
  ready: RegExp,
  { group = false } = {},
): Promise<{ child: ChildProcess; output: () => string; stderr: () => string; exited: Promise<number | null> }> {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, detached: group });
  let output = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  return new Promise((resolve, reject) => {
    const check = (chunk: Buffer) => {
      output += chunk;
      if (ready.test(output)) resolve({ child, output: () => output, stderr: () => stderr, exited });
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk;
      check(chunk);
    });
    void exited.then((code) => reject(new Error(`exited with ${code} before it was ready:\n${output}`)));
  });
}

export interface ServerProcess {
  readonly child: ChildProcess;
  readonly url: string;
  /** The admin key the first start on an empty database prints. */
  readonly adminKey: string | undefined;
  readonly exited: Promise<number | null>;
  /** stdout and stderr together, as they came. */
  output(): string;
  /** The log. */
  stderr(): string;
  gql(query: string, variables?: Record<string, unknown>, key?: string): Promise<{ data?: any; errors?: any[] }>;
}

const ADMIN_KEY = /flk_[\w-]{43}/;

/**
 * `npm start` as its own process, on a free port. On an empty database (`firstStart`) it is
 * ready once it has printed the admin key; otherwise once it serves.
 */
export async function startServerProcess(env: Record<string, string>, { firstStart = false } = {}): Promise<ServerProcess> {
  const port = await freePort();
  const ready = firstStart ? new RegExp(`${ADMIN_KEY.source}\n`) : /serving GraphQL/;
  const started = await startProcess(process.execPath, ['src/main.ts'], { HOST: '127.0.0.1', ...env, PORT: String(port) }, ready);
  const url = `http://127.0.0.1:${port}/graphql`;
  const adminKey = ADMIN_KEY.exec(started.output())?.[0];
  return {
    ...started,
    url,
    adminKey,
    async gql(query, variables = {}, key = adminKey) {
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
        body: JSON.stringify({ query, variables }),
      });
      return (await response.json()) as { data?: any; errors?: any[] };
    },
  };
}
