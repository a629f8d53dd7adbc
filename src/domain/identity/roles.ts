// Roles are ordered: each one can do everything the one before it can.
export const ROLES = ['VIEWER', 'EDITOR', 'ADMIN'] as const;
export type Role = (typeof ROLES)[number];

/** Who makes a request: a user of one workspace, with one role in it. */
export interface Actor {
  readonly userId: string;
  readonly workspaceId: string;
  readonly role: Role;
}

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

export function hasRole(actor: Actor | null, needed: Role): boolean {
  return actor !== null && ROLES.indexOf(actor.role) >= ROLES.indexOf(needed);
}
