import { createHash, randomBytes } from 'node:crypto';

const PREFIX = 'flk_';

/** 256 random bits: a fast hash is enough at rest, as nothing shorter can be guessed. */
export function generateApiKey(): string {
  return PREFIX + randomBytes(32).toString('base64url');
}

export function hashApiKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

export function looksLikeApiKey(value: string): boolean {
  return value.startsWith(PREFIX) && value.length === PREFIX.length + 43;
}
