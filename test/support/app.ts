import { loadConfig, type Config } from '../../src/config.ts';
import { startServer, type RunningServer } from '../../src/runtime/server.ts';
import { startServices, type Services } from '../../src/runtime/services.ts';
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
  /** Keys by role, each for a user of its own. */
  readonly keys: { admin: string; editor: string; viewer: string };
  readonly userIds: { admin: string; editor: string; viewer: string };
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, key?: string | null): Promise<GraphQLResponse<T>>;
  /** POSTs a raw body, for malformed requests. */
  post(body: string, headers?: Record<string, string>): Promise<Response>;
  close(): Promise<void>;
}

/** The real server on a real port, over a database of its own. */
export async function startTestApp(overrides: Partial<Config> = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  const config = { ...loadConfig({ NODE_ENV: 'test' }), ...overrides };
  const services = await startServices(config, database.db);
  const server: RunningServer = await startServer(services, 0, '127.0.0.1');
  const admin = (await services.identity.bootstrapAdmin())!;
  const editor = await services.identity.createUser('editor', 'EDITOR');
  const viewer = await services.identity.createUser('viewer', 'VIEWER');
  const keys = { admin: admin.apiKey, editor: editor.apiKey, viewer: viewer.apiKey };

  const post = (body: string, headers: Record<string, string> = {}) =>
    fetch(server.url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  return {
    url: server.url,
    services,
    database,
    keys,
    userIds: { admin: admin.userId, editor: editor.userId, viewer: viewer.userId },
    async gql(query, variables, key = keys.editor) {
      const response = await post(
        JSON.stringify({ query, variables }),
        key === null ? {} : { authorization: `Bearer ${key}` },
      );
      const body = (await response.json()) as { data?: any; errors?: any };
      return { status: response.status, headers: response.headers, data: body.data, errors: body.errors };
    },
    post,
    async close() {
      await server.close();
      await services.stop();
      await database.drop();
    },
  };
}
