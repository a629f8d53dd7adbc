import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('has defaults for everything but the database', () => {
    expect(loadConfig({})).toMatchObject({ environment: 'development', port: 4000, databaseUrl: undefined, dataDir: '.data' });
  });

  it('reads settings from the environment', () => {
    const config = loadConfig({
      NODE_ENV: 'production',
      PORT: '8080',
      DATABASE_URL: 'postgres://x/y',
      LIVE_BUFFER_LIMIT: '10',
      LIVE_BATCH_SIZE: '10',
    });
    expect(config).toMatchObject({ environment: 'production', port: 8080, databaseUrl: 'postgres://x/y', liveBufferLimit: 10 });
  });

  it('refuses a setting it cannot use, naming it, rather than starting with a surprise', () => {
    expect(() => loadConfig({ PORT: 'eighty' })).toThrow(/PORT must be an integer/);
    expect(() => loadConfig({ LIVE_BUFFER_LIMIT: '0' })).toThrow(/LIVE_BUFFER_LIMIT must be an integer of at least 1/);
    expect(() => loadConfig({ NODE_ENV: 'staging' })).toThrow(/NODE_ENV must be development, production or test/);
    expect(() => loadConfig({ LIVE_BUFFER_LIMIT: '100', LIVE_BATCH_SIZE: '500' })).toThrow(
      /LIVE_BUFFER_LIMIT \(100\) must be at least LIVE_BATCH_SIZE/,
    );
  });

  it('takes JWT settings only whole and strong', () => {
    const jwt = { JWT_SECRET: 's'.repeat(32), JWT_ISSUER: 'https://id.example', JWT_AUDIENCE: 'flowledger' };
    expect(loadConfig({}).jwt).toBeUndefined();
    expect(loadConfig(jwt).jwt).toMatchObject({
      issuer: 'https://id.example',
      clockToleranceSeconds: 30,
      workspaceClaim: 'workspace',
      roleClaim: 'role',
    });
    expect(() => loadConfig({ ...jwt, JWT_SECRET: 'short' })).toThrow(/JWT_SECRET must be at least 32 bytes/);
    expect(() => loadConfig({ ...jwt, JWT_AUDIENCE: '' })).toThrow(/JWT_ISSUER and JWT_AUDIENCE are required/);
    expect(() => loadConfig({ ...jwt, JWT_CLOCK_TOLERANCE_S: '3600' })).toThrow(/at most 300/);
    expect(() => loadConfig({ ...jwt, JWT_JWKS_URL: 'https://id.example/jwks', JWT_JWKS_FILE: 'keys.json' })).toThrow(/only one of/);
    expect(() => loadConfig({ ...jwt, JWT_PUBLIC_KEY_FILE: 'key.pem' })).toThrow(/only one of JWT_SECRET/);
  });
});
