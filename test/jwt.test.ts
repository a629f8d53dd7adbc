import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { JwtConfig } from '../src/config.ts';
import { startTestApp, type TestApp } from './support/app.ts';
import { definition } from './support/definitions.ts';
import { restClient } from './support/rest.ts';
import { sse } from './support/sse.ts';
import { wsClient } from './support/ws.ts';

const SECRET = 'a shared secret of at least thirty-two bytes';
const ISSUER = 'https://id.example';
const AUDIENCE = 'flowledger';
const base: JwtConfig = {
  secret: undefined,
  publicKeyFile: undefined,
  jwksFile: undefined,
  jwksUrl: undefined,
  issuer: ISSUER,
  audience: AUDIENCE,
  clockToleranceSeconds: 5,
  workspaceClaim: 'workspace',
  roleClaim: 'role',
};

interface Claims {
  sub?: string;
  workspace?: string;
  role?: string;
  name?: string;
  iss?: string;
  aud?: string;
  /** Seconds from now. */
  expiresIn?: number;
  notBeforeIn?: number;
}

async function sign(key: Uint8Array | CryptoKey, alg: 'HS256' | 'RS256', claims: Claims, kid?: string): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const { sub = 'ada', iss = ISSUER, aud = AUDIENCE, expiresIn = 300, notBeforeIn, ...rest } = claims;
  const jwt = new SignJWT({ ...rest })
    .setProtectedHeader({ alg, ...(kid ? { kid } : {}) })
    .setSubject(sub)
    .setIssuer(iss)
    .setAudience(aud)
    .setIssuedAt()
    .setExpirationTime(now + expiresIn);
  if (notBeforeIn !== undefined) jwt.setNotBefore(now + notBeforeIn);
  return jwt.sign(key);
}

const codeOf = (response: { errors?: { extensions: Record<string, any> }[] | undefined }) => response.errors?.[0]?.extensions.code;

describe('HS256 tokens', () => {
  let app: TestApp;
  const secret = new TextEncoder().encode(SECRET);
  const token = (claims: Claims = {}) => sign(secret, 'HS256', { workspace: app.workspaceId, role: 'editor', ...claims });
  beforeAll(async () => {
    app = await startTestApp({ jwt: { ...base, secret: SECRET } });
  });
  afterAll(() => app.close());

  it("act as the token's subject, in its workspace, with its role; the subject is recorded once", async () => {
    const jwt = await token({ sub: 'ada@example', name: 'Ada' });
    const me = await app.gql('{ me { id name role workspaceId } }', {}, jwt);
    expect(me.data!.me).toMatchObject({ name: 'Ada', role: 'EDITOR', workspaceId: app.workspaceId });
    const created = await app.gql(
      'mutation($d: JSON!) { createWorkflow(input: { name: "by token", definition: $d }) { createdBy { id name } } }',
      { d: definition() },
      jwt,
    );
    expect(created.data!.createWorkflow.createdBy).toEqual({ id: me.data!.me.id, name: 'Ada' });
    // The same subject again: the same user, and no other row.
    const users = await app.database.snapshot();
    expect((await app.gql('{ me { id } }', {}, await token({ sub: 'ada@example', name: 'Ada' }))).data!.me.id).toBe(me.data!.me.id);
    expect((await app.database.snapshot()).users).toBe(users.users);
    // Roles follow the token, and the recorded user follows them, back and forth.
    for (const role of ['VIEWER', 'admin', 'viewer']) {
      const me = await app.gql('{ me { role } }', {}, await token({ sub: 'ada@example', name: 'Ada', role }));
      expect(me.data!.me.role).toBe(role.toUpperCase());
    }
    const viewer = await token({ sub: 'ada@example', name: 'Ada', role: 'VIEWER' });
    expect(
      codeOf(
        await app.gql('mutation($d: JSON!) { createWorkflow(input: { name: "x", definition: $d }) { id } }', { d: definition() }, viewer),
      ),
    ).toBe('FORBIDDEN');
    // A key would outlive the token's say on the subject: none is issued.
    const key = await app.gql('mutation($u: ID!) { issueApiKey(userId: $u) { apiKey } }', { u: me.data!.me.id }, app.keys.admin);
    expect(key.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'userId' });
    // The workspace id is read in any case, as one user.
    const shouting = await token({ sub: 'ada@example', name: 'Ada', workspace: app.workspaceId.toUpperCase() });
    expect((await app.gql('{ me { id } }', {}, shouting)).data!.me.id).toBe(me.data!.me.id);
    // A name that is not readable text gives way to the subject.
    const nul = await app.gql('{ me { name } }', {}, await token({ sub: 'nul@example', name: 'A\u0000da' }));
    expect(nul.data!.me.name).toBe('nul@example');
  });

  it('work over REST as over GraphQL: the same subject, role and refusals', async () => {
    const rest = restClient(app.url, await token({ sub: 'rest@example', name: 'Rest' }));
    const created = await rest('POST', '/api/agent-builder/workflows', { body: { name: 'by token over REST', definition: definition() } });
    expect(created.status).toBe(201);
    const me = await app.gql('{ me { id } }', {}, await token({ sub: 'rest@example', name: 'Rest' }));
    const byGraphql = await app.gql('query($id: ID!) { workflow(id: $id) { createdBy { id } } }', { id: created.body.id }, app.keys.admin);
    expect(byGraphql.data!.workflow.createdBy.id).toBe(me.data!.me.id);
    const viewer = await token({ sub: 'rest@example', role: 'viewer' });
    const refused = await rest('POST', '/api/agent-builder/workflows', { key: viewer, body: { name: 'x', definition: definition() } });
    expect([refused.status, refused.body.code]).toEqual([403, 'FORBIDDEN']);
    const expired = await token({ sub: 'rest@example', expiresIn: -3600 });
    const late = await rest('GET', '/api/agent-builder/workflows', { key: expired });
    expect([late.status, late.body.code]).toEqual([401, 'UNAUTHENTICATED']);
  });

  it('are refused, writing nothing, when signed with another key, for another issuer or audience, expired, early, or unsigned', async () => {
    const before = await app.database.snapshot();
    const now = Math.floor(Date.now() / 1000);
    const unsigned = `${Buffer.from(JSON.stringify({ alg: 'none' })).toString('base64url')}.${Buffer.from(
      JSON.stringify({ sub: 'x', iss: ISSUER, aud: AUDIENCE, exp: now + 60, workspace: app.workspaceId, role: 'admin' }),
    ).toString('base64url')}.`;
    const refused = [
      await sign(new TextEncoder().encode('another secret, also thirty-two bytes long'), 'HS256', {
        workspace: app.workspaceId,
        role: 'admin',
      }),
      await token({ iss: 'https://evil.example' }),
      await token({ aud: 'someone-else' }),
      await token({ expiresIn: -60 }),
      await token({ notBeforeIn: 60 }),
      await token({ workspace: 'not-a-uuid' }),
      await token({ workspace: crypto.randomUUID() }),
      await token({ role: 'superuser' }),
      // Unicode case folding would make these ADMIN.
      await token({ role: 'adm\u0131n' }),
      await token({ role: 'Admin' }),
      await token({ role: 'admin ' }),
      // Past what a date can hold: over HTTP it would have worked, its subscriptions would have ended at once.
      await token({ expiresIn: 1e308 }),
      await token({ expiresIn: 1e13 }),
      await sign(secret, 'HS256', { workspace: app.workspaceId, role: ['admin'] as unknown as string }),
      await new SignJWT({ workspace: app.workspaceId, role: 'admin' })
        .setProtectedHeader({ alg: 'HS256' })
        .setIssuer(ISSUER)
        .setAudience(AUDIENCE)
        .setExpirationTime('5m')
        .sign(secret),
      unsigned,
      'a.b.c',
    ];
    for (const jwt of refused) {
      const response = await app.gql(
        'mutation($d: JSON!) { createWorkflow(input: { name: "x", definition: $d }) { id } }',
        { d: definition() },
        jwt,
      );
      expect([response.status, codeOf(response)], jwt).toEqual([401, 'UNAUTHENTICATED']);
    }
    expect(await app.database.snapshot()).toEqual(before);
    // Within the clock tolerance (5 s), a just-expired or almost-valid token still works.
    expect(codeOf(await app.gql('{ me { id } }', {}, await token({ expiresIn: -2 })))).toBeUndefined();
    expect(codeOf(await app.gql('{ me { id } }', {}, await token({ notBeforeIn: 2 })))).toBeUndefined();
  });

  it('work over WebSocket and SSE, and a subscription ends when its token expires', async () => {
    const query = 'subscription { events { caughtUp } }';
    // Expired, but inside the tolerance for 4 s more: long enough to open both on a loaded machine.
    const shortLived = await token({ sub: 'brief', role: 'viewer', expiresIn: -1 });
    const client = wsClient(app.url, shortLived);
    try {
      const overWs = client.iterate({ query });
      const overSse = sse(app.url, query, {}, { authorization: `Bearer ${shortLived}` });
      expect((await overWs.next()).value!.data!.events.caughtUp).toBe(true);
      expect((await overSse.next()).value.data.data.events.caughtUp).toBe(true);
      // Past exp + tolerance the next authorization check (each live-log poll) ends both.
      const wsEnd = await overWs.next().catch((errors) => ({ value: { errors } }));
      expect(JSON.stringify(wsEnd.value)).toMatch(/UNAUTHENTICATED/);
      const sseEnd = await overSse.next();
      expect(JSON.stringify(sseEnd.value)).toMatch(/UNAUTHENTICATED/);
    } finally {
      await client.dispose();
    }
    const refused = await sse(app.url, query, {}, { authorization: `Bearer ${await token({ aud: 'x' })}` }).next();
    expect(refused.value).toMatchObject({ event: 'http-error', data: { status: 401 } });
  });
});

describe('RS256 tokens', () => {
  const dir = mkdtempSync(join(tmpdir(), 'flowledger-jwt-'));
  let keys: { publicKey: CryptoKey; privateKey: CryptoKey };
  let jwksServer: ReturnType<typeof createServer>;
  let jwksUrl: string;
  beforeAll(async () => {
    keys = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(keys.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
    writeFileSync(join(dir, 'public.pem'), await exportSPKI(keys.publicKey));
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
    jwksServer = createServer((_request, response) => response.end(JSON.stringify({ keys: [jwk] })));
    await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
    jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks.json`;
  });
  afterAll(() => new Promise<void>((resolve) => jwksServer.close(() => resolve())));

  for (const source of ['publicKeyFile', 'jwksFile', 'jwksUrl'] as const) {
    it(`verify with a key from ${source}, and refuse an HS256 token made with the public key`, async () => {
      const value = source === 'jwksUrl' ? jwksUrl : join(dir, source === 'publicKeyFile' ? 'public.pem' : 'jwks.json');
      const app = await startTestApp({ jwt: { ...base, [source]: value } });
      try {
        const claims = { workspace: app.workspaceId, role: 'admin', sub: 'grace' };
        const good = await sign(keys.privateKey, 'RS256', claims, 'k1');
        expect((await app.gql('{ me { role } }', {}, good)).data!.me.role).toBe('ADMIN');
        // Algorithm confusion: the public key used as an HMAC secret.
        const pem = new TextEncoder().encode(await exportSPKI(keys.publicKey));
        const confused = await sign(pem, 'HS256', claims);
        expect(codeOf(await app.gql('{ me { role } }', {}, confused))).toBe('UNAUTHENTICATED');
        const other = (await generateKeyPair('RS256')).privateKey;
        expect(codeOf(await app.gql('{ me { role } }', {}, await sign(other, 'RS256', claims, 'k1')))).toBe('UNAUTHENTICATED');
        // API keys keep working next to tokens.
        expect(codeOf(await app.gql('{ me { id } }', {}, app.keys.viewer))).toBeUndefined();
      } finally {
        await app.close();
      }
    });
  }
});
