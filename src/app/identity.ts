import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { generateApiKey, hashApiKey, looksLikeApiKey } from '../domain/identity/api-keys.ts';
import { isRole, type Actor, type Role } from '../domain/identity/roles.ts';
import { badInput, notFound, refuseNul } from '../domain/errors.ts';
import type { Database } from '../store/database.ts';
import { isUuid } from './ids.ts';

export interface IssuedKey {
  readonly userId: string;
  readonly keyId: string;
  /** Shown once: only its hash is stored. */
  readonly apiKey: string;
}

const BOOTSTRAP_LOCK = 7_316_001;

/** Users and API keys. Credentials are not event-sourced: a replayable log must not hold them. */
export class IdentityService {
  readonly #db: Database;
  /** Verified keys for a few seconds: a revoked key stops working within that time. */
  readonly #cache: LRUCache<string, { actor: Actor | null }>;

  constructor(db: Database, cacheTtlMs: number) {
    this.#db = db;
    this.#cache = new LRUCache({
      max: 10_000,
      ttl: Math.max(cacheTtlMs, 1),
      fetchMethod: (hash) => this.#lookUp(hash),
    });
  }

  async createUser(name: string, role: string, expiresAt?: Date): Promise<IssuedKey> {
    if (name.trim() === '' || name.length > 200) throw badInput('name', 'must be 1 to 200 characters');
    if (!isRole(role)) throw badInput('role', 'must be VIEWER, EDITOR or ADMIN');
    refuseNul(name, 'name');
    return insertUser(this.#db.prisma, name.trim(), role, expiresAt);
  }

  async issueKey(userId: string, expiresAt?: Date): Promise<IssuedKey> {
    if (!isUuid(userId) || !(await this.#db.prisma.user.findUnique({ where: { id: userId } }))) {
      throw notFound('user', userId);
    }
    const { apiKey, ...key } = newKey(expiresAt);
    await this.#db.prisma.apiKey.create({ data: { ...key, userId } });
    return { userId, keyId: key.id, apiKey };
  }

  async revokeKey(keyId: string): Promise<void> {
    const { count } = isUuid(keyId)
      ? await this.#db.prisma.apiKey.updateMany({ where: { id: keyId, revokedAt: null }, data: { revokedAt: new Date() } })
      : { count: 0 };
    if (count === 0) throw notFound('active API key', keyId);
    this.#cache.clear();
  }

  /** The actor a key stands for, or null for a missing, unknown, revoked or expired key. */
  async authenticate(apiKey: string): Promise<Actor | null> {
    if (!looksLikeApiKey(apiKey)) return null;
    // fetch() runs one lookup per key at a time: ten thousand subscriptions re-checking one
    // key when the cache expires cost one query, not ten thousand.
    const entry = await this.#cache.fetch(hashApiKey(apiKey));
    return entry?.actor ?? null;
  }

  async #lookUp(hash: string): Promise<{ actor: Actor | null }> {
    const key = await this.#db.prisma.apiKey.findUnique({ where: { hash }, include: { user: true } });
    const valid = key !== null && key.revokedAt === null && (key.expiresAt === null || key.expiresAt > new Date());
    return { actor: valid ? { userId: key.user.id, role: key.user.role as Role } : null };
  }

  /** On a database with no users, creates an admin and returns its key; otherwise nothing. */
  async bootstrapAdmin(): Promise<IssuedKey | null> {
    return this.#db.prisma.$transaction(async (tx) => {
      // Two processes starting on one empty database must not both create an admin.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${BOOTSTRAP_LOCK})`;
      if ((await tx.user.count()) > 0) return null;
      return insertUser(tx, 'admin', 'ADMIN');
    });
  }
}

function newKey(expiresAt?: Date) {
  const apiKey = generateApiKey();
  return { id: randomUUID(), hash: hashApiKey(apiKey), expiresAt: expiresAt ?? null, apiKey };
}

async function insertUser(
  prisma: Pick<Database['prisma'], 'user'>,
  name: string,
  role: Role,
  expiresAt?: Date,
): Promise<IssuedKey> {
  const userId = randomUUID();
  const { apiKey, ...key } = newKey(expiresAt);
  await prisma.user.create({ data: { id: userId, name, role, apiKeys: { create: key } } });
  return { userId, keyId: key.id, apiKey };
}
