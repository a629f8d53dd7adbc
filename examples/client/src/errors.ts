/** The codes the server puts in `extensions.code` (README, "Errors"): stable, unlike messages. */
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'VERSION_CONFLICT'
  | 'BAD_USER_INPUT'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'OVERLOADED'
  | 'UNAVAILABLE'
  | 'EXECUTION_FINISHED'
  | 'RATE_LIMITED'
  | 'TOO_MANY_SUBSCRIPTIONS'
  | 'QUOTA_EXCEEDED'
  | 'RESPONSE_TOO_LARGE'
  | 'PERSISTED_QUERY_ONLY'
  | 'PERSISTED_QUERY_NOT_FOUND'
  | 'QUERY_TOO_COMPLEX'
  | 'PAYLOAD_TOO_LARGE'
  | 'LENGTH_REQUIRED'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'GRAPHQL_PARSE_FAILED'
  | 'GRAPHQL_VALIDATION_FAILED'
  | 'BAD_REQUEST'
  | 'INTERNAL_SERVER_ERROR';

/** A GraphQL error as it comes over the wire. */
export interface WireError {
  readonly message: string;
  readonly path?: readonly (string | number)[] | undefined;
  readonly extensions?: Readonly<Record<string, unknown>> | undefined;
}

/**
 * A GraphQL error the server answered with. `extensions` holds the code's details, such as
 * `expectedVersion` and `actualVersion` for VERSION_CONFLICT or `retryAfterSeconds` for UNAVAILABLE.
 */
export class FlowledgerError extends Error {
  override readonly name = 'FlowledgerError';
  readonly code: ErrorCode;
  readonly extensions: Readonly<Record<string, unknown>>;
  readonly path: readonly (string | number)[] | undefined;

  constructor(error: WireError) {
    super(error.message);
    this.extensions = error.extensions ?? {};
    // Every error of the server carries a code; the list above is the one it documents.
    this.code = this.extensions.code as ErrorCode;
    this.path = error.path;
  }
}

/** The data of an answer, or its first error thrown: an operation here succeeds whole or not at all. */
export function dataOf<T>(result: { readonly data?: T | null | undefined; readonly errors?: readonly WireError[] | undefined }): T {
  const [error] = result.errors ?? [];
  if (error) throw new FlowledgerError(error);
  if (result.data == null) throw new Error('the server answered with neither data nor errors');
  return result.data;
}
