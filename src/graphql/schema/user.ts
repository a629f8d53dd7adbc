import type { IssuedKey } from '../../app/identity.ts';
import { builder } from '../builder.ts';

export const RoleEnum = builder.enumType('Role', { values: ['VIEWER', 'EDITOR', 'ADMIN'] as const });

export const UserRef = builder.prismaObject('User', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    role: t.expose('role', { type: RoleEnum }),
    workspaceId: t.exposeID('workspaceId'),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const IssuedKeyRef = builder.objectRef<IssuedKey>('IssuedApiKey').implement({
  description: 'A new API key. The key itself is shown only here: only its hash is stored.',
  fields: (t) => ({
    workspaceId: t.exposeID('workspaceId'),
    userId: t.exposeID('userId'),
    keyId: t.exposeID('keyId'),
    apiKey: t.exposeString('apiKey'),
  }),
});

builder.queryFields((t) => ({
  me: t.field({
    type: UserRef,
    description: 'The user whose key made this request.',
    resolve: (_root, _args, { services, scope }) => services.identity.me(scope),
  }),
}));

builder.mutationFields((t) => ({
  createUser: t.field({
    type: IssuedKeyRef,
    authScopes: { role: 'ADMIN' },
    args: {
      input: t.arg({
        required: true,
        type: builder.inputType('CreateUserInput', {
          fields: (f) => ({
            name: f.string({ required: true }),
            role: f.field({ type: RoleEnum, required: true }),
            expiresAt: f.field({ type: 'DateTime', description: 'When its first key stops working.' }),
          }),
        }),
      }),
    },
    description: 'A user of your workspace, with a first API key.',
    resolve: (_root, { input }, { services, scope }) =>
      services.identity.createUser(scope.actor.workspaceId, input.name, input.role, input.expiresAt ?? undefined),
  }),
  issueApiKey: t.field({
    type: IssuedKeyRef,
    authScopes: { role: 'ADMIN' },
    args: { userId: t.arg.id({ required: true }), expiresAt: t.arg({ type: 'DateTime' }) },
    description: 'A new key for a user of your workspace.',
    resolve: (_root, args, { services, scope }) =>
      services.identity.issueKey(String(args.userId), args.expiresAt ?? undefined, scope.actor.workspaceId),
  }),
  revokeApiKey: t.boolean({
    authScopes: { role: 'ADMIN' },
    description: 'Revokes a key; requests with it fail within AUTH_CACHE_TTL_MS.',
    args: { keyId: t.arg.id({ required: true }) },
    resolve: async (_root, args, { services, scope }) => {
      await services.identity.revokeKey(String(args.keyId), scope.actor.workspaceId);
      return true;
    },
  }),
}));
