// Every error a client must handle, with the stable code it carries on the wire.
export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'VERSION_CONFLICT'
  | 'BAD_USER_INPUT'
  | 'IDEMPOTENCY_KEY_REUSED'
  | 'OVERLOADED'
  | 'EXECUTION_FINISHED';

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

export const notFound = (what: string, id: string): AppError =>
  new AppError('NOT_FOUND', `${what} ${id} was not found`, { id });

export const badInput = (field: string, message: string): AppError =>
  new AppError('BAD_USER_INPUT', `${field}: ${message}`, { field });

export const MAX_NESTING = 64;

/**
 * PostgreSQL stores no NUL character in text or jsonb, so a value holding one (in a string
 * or an object key, at any depth) is refused here rather than failing in SQL. So is nesting
 * deeper than MAX_NESTING, which everything after this check may then walk recursively.
 * The walk itself uses a stack, not recursion.
 */
export function refuseNul(value: unknown, field: string): void {
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length > 0) {
    const [current, depth] = pending.pop()!;
    if (typeof current === 'string') {
      if (current.includes('\u0000')) throw badInput(field, 'must not contain the NUL character');
    } else if (typeof current === 'object' && current !== null) {
      if (depth >= MAX_NESTING) throw badInput(field, `must not be nested more than ${MAX_NESTING} levels deep`);
      for (const [key, inner] of Object.entries(current)) {
        if (key.includes('\u0000')) throw badInput(field, 'must not contain the NUL character');
        pending.push([inner, depth + 1]);
      }
    }
  }
}
