import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from './support/app.ts';

const ROOT = join(import.meta.dirname, '..');
const { version } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };

let app: TestApp;
beforeAll(async () => {
  app = await startTestApp();
});
afterAll(() => app?.close());

describe("the service's version", () => {
  it("is package.json's wherever the service shows it: health, metrics, GraphQL and the OpenAPI document", async () => {
    const origin = new URL(app.url).origin;
    expect(await (await fetch(`${origin}/healthz`)).json()).toEqual({ status: 'ok', version });
    expect(await (await fetch(`${origin}/metrics`)).text()).toMatch(
      new RegExp(`^flowledger_build_info\\{version="${version.replaceAll('.', '\\.')}",pid="${process.pid}"\\} 1$`, 'm'),
    );
    const { data } = await app.gql('{ systemStatus { version } }', {}, app.keys.admin);
    expect(data!.systemStatus.version).toBe(version);
    const served = (await (await fetch(`${origin}/api/openapi.json`)).json()) as { info: { version: string } };
    expect(served.info.version).toBe(version);
    expect((JSON.parse(readFileSync(join(ROOT, 'openapi.json'), 'utf8')) as { info: { version: string } }).info.version).toBe(version);
  });

  it('is written nowhere in the code but package.json', () => {
    const files = readdirSync(join(ROOT, 'src'), { recursive: true, encoding: 'utf8' }).filter(
      (file) => /\.tsx?$/.test(file) && !file.startsWith('generated'),
    );
    expect(files.length).toBeGreaterThan(50);
    // The version anywhere (`'1.2.3'`, `'flowledger/1.2.3'`, a template), not a longer number that holds it.
    const literal = new RegExp(`(?<![\\d.])${version.replaceAll('.', '\\.')}(?![\\d.])`);
    for (const file of files) expect(readFileSync(join(ROOT, 'src', file), 'utf8'), file).not.toMatch(literal);
  });
});
