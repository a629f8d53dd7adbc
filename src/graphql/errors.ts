import { GraphQLError } from 'graphql';
import { PothosValidationError } from '@pothos/core';
import { AppError } from '../domain/errors.ts';
import { isUnavailable, unavailable } from '../store/unavailable.ts';

function rootCause(error: unknown): unknown {
  let current = error;
  while (current instanceof GraphQLError && current.originalError && !(current instanceof PothosValidationError)) {
    current = current.originalError;
  }
  return current;
}

/**
 * The one place errors become wire errors. Our own errors keep their code and details;
 * GraphQL's (syntax, validation, variable coercion) keep their message; anything else is a
 * bug whose message could leak internals, so it is masked and reported.
 */
export function toClientError(error: unknown, onUnexpected: (error: unknown) => void): GraphQLError {
  const located = error instanceof GraphQLError ? error : undefined;
  const withCode = (message: string, extensions: Record<string, unknown>) =>
    new GraphQLError(message, {
      nodes: located?.nodes,
      source: located?.source,
      positions: located?.positions,
      path: located?.path,
      extensions: { ...located?.extensions, ...extensions },
    });

  let cause = rootCause(error);
  // The database gone is no bug: the caller is told to retry, and the process says it once (Database).
  if (!(cause instanceof AppError) && isUnavailable(cause)) cause = unavailable();
  if (cause instanceof AppError) return withCode(cause.message, { ...cause.details, code: cause.code });
  if (cause instanceof PothosValidationError) return withCode(cause.message, { code: 'BAD_USER_INPUT' });
  if (cause instanceof GraphQLError) {
    return withCode(located?.message ?? cause.message, { code: cause.extensions.code ?? 'BAD_USER_INPUT' });
  }
  onUnexpected(cause);
  return withCode('Unexpected error.', { code: 'INTERNAL_SERVER_ERROR' });
}
