import { builder } from '../builder.ts';

export const RoleEnum = builder.enumType('Role', { values: ['VIEWER', 'EDITOR', 'ADMIN'] as const });

export const UserRef = builder.prismaObject('User', {
  fields: (t) => ({
    id: t.exposeID('id'),
    name: t.exposeString('name'),
    role: t.expose('role', { type: RoleEnum }),
    createdAt: t.expose('createdAt', { type: 'DateTime' }),
  }),
});

const IssuedKeyRef = builder.objectRef<{ userId: string; keyId: string; apiKey: string }>('IssuedApiKey').implement({
  description: 'A new API key. The key itself is shown only here: only its hash is stored.',
  fields: (t) => ({
    userId: t.exposeID('userId'),
    keyId: t.exposeID('keyId'),
    apiKey: t.exposeString('apiKey'),
  }),
});

builder.queryFields((t) => ({
  me: t.prismaField({
    type: 'User',
    description: 'The user whose key made this request.',
    resolve: (query, _root, _args, { services, scope }) =>
      services.db.prisma.user.findUniqueOrThrow({ ...query, where: { id: scope.actor.userId } }),
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
    resolve: (_root, { input }, { services }) =>
      services.identity.createUser(input.name, input.role, input.expiresAt ?? undefined),
  }),
  issueApiKey: t.field({
    type: IssuedKeyRef,
    authScopes: { role: 'ADMIN' },
    args: { userId: t.arg.id({ required: true }), expiresAt: t.arg({ type: 'DateTime' }) },
    resolve: (_root, args, { services }) => services.identity.issueKey(String(args.userId), args.expiresAt ?? undefined),
  }),
  revokeApiKey: t.boolean({
    authScopes: { role: 'ADMIN' },
    description: 'Revokes a key; requests with it fail within AUTH_CACHE_TTL_MS.',
    args: { keyId: t.arg.id({ required: true }) },
    resolve: async (_root, args, { services }) => {
      await services.identity.revokeKey(String(args.keyId));
      return true;
    },
  }),
}));
