import { loadConfig, type Config } from '../../src/config.ts';
import { startServer, type RunningServer } from '../../src/runtime/server.ts';
import { startServices, type Services } from '../../src/runtime/services.ts';
import type { IssuedKey } from '../../src/app/identity.ts';
import { openDatabase, type Database, type DatabaseOptions } from '../../src/store/database.ts';
import { createTestDatabase, type TestDatabase } from './database.ts';

export interface GraphQLResponse<T = Record<string, any>> {
  readonly status: number;
  readonly headers: Headers;
  readonly data: T | null | undefined;
  readonly errors: { message: string; path?: string[]; extensions: Record<string, any> }[] | undefined;
}

export interface TestApp {
  readonly url: string;
  readonly services: Services;
  readonly database: TestDatabase;
  /** The workspace of `keys`. */
  readonly workspaceId: string;
  /** Keys by role, each for a user of its own. */
  readonly keys: RoleKeys;
  readonly userIds: RoleKeys;
  /** A new workspace with a user and key per role. */
  createWorkspace(name: string): Promise<{ workspaceId: string; keys: RoleKeys; userIds: RoleKeys }>;
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, key?: string | null): Promise<GraphQLResponse<T>>;
  /** POSTs a raw body, for malformed requests. */
  post(body: string, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

export interface RoleKeys {
  readonly admin: string;
  readonly editor: string;
  readonly viewer: string;
}

async function usersByRole(services: Services, workspaceId: string, admin?: IssuedKey) {
  const [a, editor, viewer] = await Promise.all([
    admin ?? services.identity.createUser(workspaceId, 'admin', 'ADMIN'),
    services.identity.createUser(workspaceId, 'editor', 'EDITOR'),
    services.identity.createUser(workspaceId, 'viewer', 'VIEWER'),
  ]);
  return {
    workspaceId,
    keys: { admin: a.apiKey, editor: editor.apiKey, viewer: viewer.apiKey },
    userIds: { admin: a.userId, editor: editor.userId, viewer: viewer.userId },
  };
}

export interface TestAppOptions {
  /**
   * The service reaches its database through this (a proxy the test controls), with these
   * pool options; `database` stays a direct connection, for the test's own checks.
   */
  readonly via?: (databaseUrl: string) => Promise<{ url: string; options?: DatabaseOptions }>;
}

/** A test's configuration: the defaults, with the workspace rates lifted, then `overrides`. */
export function testConfig(overrides: Partial<Config> = {}): Config {
  const defaults = loadConfig({ NODE_ENV: 'test' });
  // The rates per workspace are sized for a shared server; tests that do not test them should not wait on them.
  const unpaced = {
    ...defaults.limits,
    maxStepsPerSecond: 1_000_000,
    maxReadBytesPerSecond: 1024 ** 3,
    maxConditionMsPerSecond: 1000,
    maxWriteBytesPerSecond: 1024 ** 3,
  };
  return { ...defaults, limits: unpaced, ...overrides };
}

/** The real server on a real port, over a database of its own. */
export async function startTestApp(overrides: Partial<Config> = {}, { via }: TestAppOptions = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  let served: Database = database.db;
  if (via) {
    const { url, options } = await via(database.url);
    served = openDatabase(url, options);
  }
  const services = await startServices(testConfig(overrides), served);
  const server: RunningServer = await startServer(services, 0, '127.0.0.1');
  const admin = (await services.identity.bootstrapAdmin())!;
  const { workspaceId, keys, userIds } = await usersByRole(services, admin.workspaceId, admin);

  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  return {
    url: server.url,
    services,
    database,
    workspaceId,
    keys,
    userIds,
    async createWorkspace(name) {
      return usersByRole(services, (await services.identity.createWorkspace(name)).workspaceId);
    },
    async gql(query, variables, key = keys.editor) {
      const response = await post(JSON.stringify({ query, variables }), key === null ? {} : { authorization: `Bearer ${key}` });
      const body = (await response.json()) as { data?: any; errors?: any };
      return { status: response.status, headers: response.headers, data: body.data, errors: body.errors };
    },
    post,
    async close() {
      await server.close();
      await services.stop();
      if (served !== database.db) await served.close();
      await database.drop();
    },
  };
}
