import { randomUUID } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import { generateApiKey, hashApiKey, looksLikeApiKey } from '../domain/identity/api-keys.ts';
import { isRole, type Actor, type Role } from '../domain/identity/roles.ts';
import { badInput, notFound, refuseNul } from '../domain/errors.ts';
import type { Database } from '../store/database.ts';
import { isUuid } from './ids.ts';
import { isTokenSubject } from './tokens.ts';
import type { RequestScope } from './request.ts';
import type { User } from '../generated/prisma/client.ts';

export interface IssuedKey {
  readonly workspaceId: string;
  readonly userId: string;
  readonly keyId: string;
  /** Shown once: only its hash is stored. */
  readonly apiKey: string;
}

export interface CreatedWorkspace {
  readonly workspaceId: string;
  readonly name: string;
}

const BOOTSTRAP_LOCK = 7_316_001;
const MAX_NAME = 200;

type Prisma = Database['prisma'];
type Tx = Pick<Prisma, 'user' | 'workspace'>;

function checkName(name: string, field = 'name'): string {
  refuseNul(name, field);
  const trimmed = name.trim();
  if (trimmed === '' || trimmed.length > MAX_NAME) throw badInput(field, `must be 1 to ${MAX_NAME} characters`);
  return trimmed;
}

/**
 * Workspaces, users and API keys. Credentials are not event-sourced: a replayable log must
 * not hold them. Calls made for a workspace admin pass `within`, their workspace: a user or
 * key of another workspace is then not found.
 */
export class IdentityService {
  readonly #db: Database;
  /** Verified keys for a few seconds: a revoked key stops working within that time. */
  readonly #keys: LRUCache<string, { actor: Actor | null }>;
  /** Token subjects already recorded in users: by user id, the role and name last written. */
  readonly #subjects = new LRUCache<string, string>({ max: 10_000 });

  constructor(db: Database, cacheTtlMs: number) {
    this.#db = db;
    this.#keys = new LRUCache({
      max: 10_000,
      ttl: Math.max(cacheTtlMs, 1),
      fetchMethod: (hash) => this.#lookUp(hash),
    });
  }

  async createWorkspace(name: string): Promise<CreatedWorkspace> {
    const checked = checkName(name);
    try {
      const workspace = await this.#db.prisma.workspace.create({ data: { id: randomUUID(), name: checked } });
      return { workspaceId: workspace.id, name: workspace.name };
    } catch (error) {
      // The name's unique index decides, also between two admins creating it at once.
      if ((error as { code?: string }).code === 'P2002') throw badInput('name', `a workspace named "${checked}" exists already`);
      throw error;
    }
  }

  listWorkspaces() {
    return this.#db.prisma.workspace.findMany({ orderBy: { createdAt: 'asc' } });
  }

  /** A workspace's users, oldest first, with their keys (never the keys themselves: only their hashes are stored). */
  /** The user the request's credential stands for. */
  me(scope: RequestScope): Promise<User> {
    return this.#db.prisma.user.findUniqueOrThrow({ where: { id: scope.actor.userId } });
  }

  /** These users of the workspace, by id (null for an id not of this workspace). */
  async users(workspaceId: string, ids: readonly string[]): Promise<(User | null)[]> {
    const found = new Map(
      (await this.#db.prisma.user.findMany({ where: { id: { in: [...ids] }, workspaceId } })).map((user) => [user.id, user]),
    );
    return ids.map((id) => found.get(id) ?? null);
  }

  async listUsers(workspaceId: string) {
    await this.requireWorkspace(workspaceId);
    const users = await this.#db.prisma.user.findMany({
      where: { workspaceId },
      include: { apiKeys: { orderBy: { createdAt: 'asc' } } },
      orderBy: { createdAt: 'asc' },
    });
    return users.map(({ id, name, role, createdAt, apiKeys }) => ({
      userId: id,
      name,
      role,
      createdAt,
      keys: apiKeys.map((key) => ({ keyId: key.id, createdAt: key.createdAt, expiresAt: key.expiresAt, revokedAt: key.revokedAt })),
    }));
  }

  /** Refuses a workspace id that names no workspace (NOT_FOUND). */
  async requireWorkspace(workspaceId: string): Promise<void> {
    if (!(await this.#workspaceExists(workspaceId))) throw notFound('workspace', workspaceId);
  }

  async #workspaceExists(workspaceId: string): Promise<boolean> {
    return isUuid(workspaceId) && (await this.#db.prisma.workspace.findUnique({ where: { id: workspaceId } })) !== null;
  }

  async createUser(workspaceId: string, name: string, role: string, expiresAt?: Date): Promise<IssuedKey> {
    const checked = checkName(name);
    if (!isRole(role)) throw badInput('role', 'must be VIEWER, EDITOR or ADMIN');
    await this.requireWorkspace(workspaceId);
    return insertUser(this.#db.prisma, workspaceId, checked, role, expiresAt);
  }

  async issueKey(userId: string, expiresAt?: Date, within?: string): Promise<IssuedKey> {
    const user = isUuid(userId) ? await this.#db.prisma.user.findUnique({ where: { id: userId } }) : null;
    if (!user || (within !== undefined && user.workspaceId !== within)) throw notFound('user', userId);
    // A key would outlive what the identity provider says of the subject (a demotion, an expiry).
    if (isTokenSubject(userId)) throw badInput('userId', 'this user signs in with tokens from the identity provider: it gets no API keys');
    const { apiKey, ...key } = newKey(expiresAt);
    await this.#db.prisma.apiKey.create({ data: { ...key, userId } });
    return { workspaceId: user.workspaceId, userId, keyId: key.id, apiKey };
  }

  async revokeKey(keyId: string, within?: string): Promise<void> {
    const { count } = isUuid(keyId)
      ? await this.#db.prisma.apiKey.updateMany({
          where: { id: keyId, revokedAt: null, ...(within === undefined ? {} : { user: { workspaceId: within } }) },
          data: { revokedAt: new Date() },
        })
      : { count: 0 };
    if (count === 0) throw notFound('active API key', keyId);
    this.#keys.clear();
  }

  /**
   * The actor a key stands for, or null for a missing, unknown, revoked or expired key. A
   * caller that hashed the key already (for its rate limit) passes the hash.
   */
  async authenticate(apiKey: string, hash = hashApiKey(apiKey)): Promise<Actor | null> {
    if (!looksLikeApiKey(apiKey)) return null;
    // fetch() runs one lookup per key at a time: ten thousand subscriptions re-checking one
    // key when the cache expires cost one query, not ten thousand.
    const entry = await this.#keys.fetch(hash);
    return entry?.actor ?? null;
  }

  async #lookUp(hash: string): Promise<{ actor: Actor | null }> {
    const key = await this.#db.prisma.apiKey.findUnique({ where: { hash }, include: { user: true } });
    const valid = key !== null && key.revokedAt === null && (key.expiresAt === null || key.expiresAt > new Date());
    return { actor: valid ? { userId: key.user.id, workspaceId: key.user.workspaceId, role: key.user.role as Role } : null };
  }

  /**
   * Records a token's subject in users, so that what it creates names an existing user. Its
   * role and name follow the latest token. False when the token's workspace does not exist.
   */
  async recordSubject(actor: Actor, name: string): Promise<boolean> {
    const recorded = JSON.stringify([actor.role, name]);
    if (this.#subjects.get(actor.userId) === recorded) return true;
    if (!(await this.#workspaceExists(actor.workspaceId))) return false;
    const fields = { name: name.slice(0, MAX_NAME), role: actor.role };
    await this.#db.prisma.user.upsert({
      where: { id: actor.userId },
      create: { id: actor.userId, workspaceId: actor.workspaceId, ...fields },
      update: fields,
    });
    this.#subjects.set(actor.userId, recorded);
    return true;
  }

  /** On a database with no users, creates a "default" workspace and its admin, and returns the key. */
  async bootstrapAdmin(): Promise<IssuedKey | null> {
    return this.#db.prisma.$transaction(async (tx) => {
      // Two processes starting on one empty database must not both create an admin.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(${BOOTSTRAP_LOCK})`;
      if ((await tx.user.count()) > 0) return null;
      const workspace =
        (await tx.workspace.findUnique({ where: { name: 'default' } })) ??
        (await tx.workspace.create({ data: { id: randomUUID(), name: 'default' } }));
      return insertUser(tx, workspace.id, 'admin', 'ADMIN');
    });
  }
}

function newKey(expiresAt?: Date) {
  const apiKey = generateApiKey();
  return { id: randomUUID(), hash: hashApiKey(apiKey), expiresAt: expiresAt ?? null, apiKey };
}

async function insertUser(prisma: Tx, workspaceId: string, name: string, role: Role, expiresAt?: Date): Promise<IssuedKey> {
  const userId = randomUUID();
  const { apiKey, ...key } = newKey(expiresAt);
  await prisma.user.create({ data: { id: userId, workspaceId, name, role, apiKeys: { create: key } } });
  return { workspaceId, userId, keyId: key.id, apiKey };
}
