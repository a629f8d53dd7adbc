import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { usePersistedOperations } from '@graphql-yoga/plugin-persisted-operations';
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export const PERSISTED_QUERY_NOT_FOUND = 'PERSISTED_QUERY_NOT_FOUND';
export const PERSISTED_QUERY_ONLY = 'PERSISTED_QUERY_ONLY';

/**
 * The operations a deployment allows, by the SHA-256 of their text (as clients send it in
 * `extensions.persistedQuery.sha256Hash`): read from a JSON file of `{ "<hash>": "<document>" }`.
 * A hash that is not its document's is refused at start-up, not at the first request.
 */
export class PersistedOperations {
  readonly #documents: ReadonlyMap<string, string>;

  constructor(documents: Record<string, string>) {
    for (const [hash, document] of Object.entries(documents)) {
      if (createHash('sha256').update(document).digest('hex') !== hash) {
        throw new Error(`persisted operation ${hash} is not the SHA-256 of its document`);
      }
    }
    this.#documents = new Map(Object.entries(documents));
  }

  /** The file's operations, and the service's own (`builtIn`: the REST routes' documents). */
  static fromFile(path: string, builtIn: readonly string[] = []): PersistedOperations {
    const own = Object.fromEntries(builtIn.map((document) => [createHash('sha256').update(document).digest('hex'), document]));
    return new PersistedOperations({ ...(JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>), ...own });
  }

  get(hash: string): string | null {
    return this.#documents.get(hash) ?? null;
  }

  /**
   * The document a request names: its persisted operation's, or an error when it sends its own
   * text or a hash that is not on the list.
   */
  resolve(params: { query?: unknown; extensions?: unknown }): string | GraphQLError {
    const hash = (params.extensions as { persistedQuery?: { sha256Hash?: unknown } } | undefined)?.persistedQuery?.sha256Hash;
    if (typeof hash !== 'string') return onlyPersisted();
    return this.get(hash) ?? notFound();
  }

  /** The same rule for HTTP and SSE, through Yoga's plugin. */
  plugin(): Plugin {
    return usePersistedOperations({
      getPersistedOperation: (hash) => this.get(hash),
      allowArbitraryOperations: false,
      customErrors: {
        notFound: () => notFound(),
        persistedQueryOnly: () => onlyPersisted(),
        keyNotFound: () => onlyPersisted(),
      },
    }) as Plugin;
  }
}

const notFound = () =>
  new GraphQLError('this operation is not on the list of persisted operations', {
    extensions: { code: PERSISTED_QUERY_NOT_FOUND, http: { status: 400 } },
  });
const onlyPersisted = () =>
  new GraphQLError('only persisted operations may run here: send extensions.persistedQuery.sha256Hash', {
    extensions: { code: PERSISTED_QUERY_ONLY, http: { status: 400 } },
  });
