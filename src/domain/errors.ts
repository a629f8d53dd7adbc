// Every error a client must handle, with the stable code it carries on the wire.
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'VERSION_CONFLICT'
  | 'BAD_USER_INPUT'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'OVERLOADED'
  | 'EXECUTION_FINISHED'
  | 'RATE_LIMITED'
  | 'TOO_MANY_SUBSCRIPTIONS'
  | 'RESPONSE_TOO_LARGE'
  | 'QUOTA_EXCEEDED'
  | 'UNAVAILABLE';

export class AppError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = 'AppError';
    this.code = code;
    this.details = details;
  }
}

export type ExpectedVersion = 'ANY' | 'NO_STREAM' | 'STREAM_EXISTS' | number;

export class VersionConflictError extends AppError {
  readonly expectedVersion: ExpectedVersion;
  readonly actualVersion: number;

  constructor(expectedVersion: ExpectedVersion, actualVersion: number) {
    super('VERSION_CONFLICT', `expected version ${expectedVersion}, but the stream is at version ${actualVersion}`, {
      expectedVersion,
      actualVersion,
    });
    this.expectedVersion = expectedVersion;
    this.actualVersion = actualVersion;
  }
}

export const notFound = (what: string, id: string): AppError => new AppError('NOT_FOUND', `${what} ${id} was not found`, { id });

/** A workspace holds as much of something as its quota allows (docs/security.md). */
export const quotaExceeded = (quota: string, what: string, limit: number): AppError =>
  new AppError('QUOTA_EXCEEDED', `this workspace has ${limit} ${what}, the most its quota allows`, { quota, limit });

export const badInput = (field: string, message: string): AppError => new AppError('BAD_USER_INPUT', `${field}: ${message}`, { field });

export const MAX_NESTING = 64;

/** Half of a UTF-16 surrogate pair without its other half: not text PostgreSQL can store. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

function textProblem(text: string): string | null {
  if (text.includes('\u0000')) return 'must not contain the NUL character';
  if (LONE_SURROGATE.test(text)) return 'must not contain an unpaired UTF-16 surrogate';
  return null;
}

/**
 * PostgreSQL stores no NUL character and no unpaired surrogate in text or jsonb, so a value
 * holding one (in a string or an object key, at any depth) is refused here rather than
 * failing in SQL. So is nesting deeper than MAX_NESTING, which everything after this check
 * may then walk recursively. The walk itself uses a stack, not recursion.
 */
export function refuseNul(value: unknown, field: string): void {
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length > 0) {
    const [current, depth] = pending.pop()!;
    if (typeof current === 'string') {
      const problem = textProblem(current);
      if (problem) throw badInput(field, problem);
    } else if (typeof current === 'object' && current !== null) {
      if (depth >= MAX_NESTING) throw badInput(field, `must not be nested more than ${MAX_NESTING} levels deep`);
      for (const [key, inner] of Object.entries(current)) {
        const problem = textProblem(key);
        if (problem) throw badInput(field, problem);
        pending.push([inner, depth + 1]);
      }
    }
  }
}
