import { readFileSync } from 'node:fs';
import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  importSPKI,
  jwtVerify,
  type CryptoKey,
  type JWTVerifyGetKey,
} from 'jose';
import { v5 as uuidv5 } from 'uuid';
import type { JwtConfig } from '../config.ts';
import { ROLES, type Actor, type Role } from '../domain/identity/roles.ts';
import { isUuid } from './ids.ts';

const SUBJECT_NAMESPACE = '6f1d2c3e-8b7a-4e59-9c1d-2a4b6c8d0e1f';
const JWT_SHAPE = /^[\w-]+\.[\w-]+\.[\w-]+$/;

export interface VerifiedToken {
  readonly actor: Actor;
  /** The subject's display name: the `name` claim, else `sub`. */
  readonly name: string;
  /** Its expiry plus the clock tolerance: when open subscriptions made with it end. */
  readonly validUntil: Date;
}

export type TokenCheck = { readonly token: VerifiedToken } | { readonly refused: string };

export function looksLikeJwt(value: string): boolean {
  return JWT_SHAPE.test(value);
}

/** Token subjects' user ids are name-based UUIDs (version 5); API-key users' are random (version 4). */
export function isTokenSubject(userId: string): boolean {
  return userId[14] === '5';
}

/**
 * The role claims accepted, spelled exactly: no case folding, which would take "admın" (with a
 * dotless ı) for ADMIN.
 */
const ROLE_CLAIMS: Readonly<Record<string, Role>> = Object.fromEntries(
  ROLES.flatMap((role) => [
    [role, role],
    [role.toLowerCase(), role],
  ]),
);

/** The latest expiry a token may carry, in seconds: dates end at the year 9999. */
const LATEST_EXP = Date.parse('9999-12-31T23:59:59Z') / 1000;

/** Text PostgreSQL can store and a person can read: no control characters, no lone surrogates. */
const READABLE = /^[^\p{Cc}\p{Cs}]+$/u;

/**
 * JWT bearer tokens, verified with jose: the algorithm is pinned by the key that is
 * configured (HS256 for a secret, RS256 for a public key or JWKS), and the issuer, audience,
 * expiry and not-before are checked with a bounded clock tolerance.
 */
export class TokenVerifier {
  readonly #config: JwtConfig;
  readonly #secret: Uint8Array | undefined;
  readonly #publicKey: CryptoKey | JWTVerifyGetKey | undefined;

  private constructor(config: JwtConfig, secret: Uint8Array | undefined, publicKey: CryptoKey | JWTVerifyGetKey | undefined) {
    this.#config = config;
    this.#secret = secret;
    this.#publicKey = publicKey;
  }

  static async create(config: JwtConfig): Promise<TokenVerifier> {
    const secret = config.secret === undefined ? undefined : new TextEncoder().encode(config.secret);
    const publicKey = config.publicKeyFile
      ? await importSPKI(readFileSync(config.publicKeyFile, 'utf8'), 'RS256')
      : config.jwksFile
        ? createLocalJWKSet(JSON.parse(readFileSync(config.jwksFile, 'utf8')))
        : config.jwksUrl
          ? createRemoteJWKSet(new URL(config.jwksUrl), { timeoutDuration: 5000 })
          : undefined;
    return new TokenVerifier(config, secret, publicKey);
  }

  async verify(token: string): Promise<TokenCheck> {
    let alg: unknown;
    try {
      alg = decodeProtectedHeader(token).alg;
    } catch {
      return { refused: 'the token is not a JWT' };
    }
    const options = {
      issuer: this.#config.issuer,
      audience: this.#config.audience,
      clockTolerance: this.#config.clockToleranceSeconds,
      requiredClaims: ['sub', 'exp'],
    };
    try {
      const { payload } =
        alg === 'HS256' && this.#secret
          ? await jwtVerify(token, this.#secret, { ...options, algorithms: ['HS256'] })
          : alg === 'RS256' && this.#publicKey
            ? await jwtVerify(token, this.#publicKey as CryptoKey, { ...options, algorithms: ['RS256'] })
            : { payload: undefined };
      if (!payload) return { refused: `tokens signed with ${String(alg)} are not accepted` };
      const workspace = payload[this.#config.workspaceClaim];
      const role = payload[this.#config.roleClaim];
      const subject = payload.sub;
      if (typeof workspace !== 'string' || !isUuid(workspace)) {
        return { refused: `the token's "${this.#config.workspaceClaim}" claim must be a workspace id` };
      }
      const actorRole = typeof role === 'string' && Object.hasOwn(ROLE_CLAIMS, role) ? ROLE_CLAIMS[role]! : undefined;
      if (!actorRole) return { refused: `the token's "${this.#config.roleClaim}" claim must be viewer, editor or admin (or in capitals)` };
      if (!Number.isSafeInteger(payload.exp) || payload.exp! > LATEST_EXP)
        return { refused: 'the token\'s "exp" claim must be a time before the year 10000' };
      if (typeof subject !== 'string' || !READABLE.test(subject)) return { refused: 'the token\'s "sub" claim must be readable text' };
      const name = typeof payload.name === 'string' && READABLE.test(payload.name.trim()) ? payload.name.trim() : subject;
      const workspaceId = workspace.toLowerCase();
      return {
        token: {
          actor: { userId: uuidv5(`${payload.iss}\n${workspaceId}\n${subject}`, SUBJECT_NAMESPACE), workspaceId, role: actorRole },
          name,
          validUntil: new Date((payload.exp! + this.#config.clockToleranceSeconds) * 1000),
        },
      };
    } catch (error) {
      return { refused: `the token was refused: ${(error as Error).message}` };
    }
  }
}
