import SchemaBuilder from '@pothos/core';
import PrismaPlugin from '@pothos/plugin-prisma';
import RelayPlugin from '@pothos/plugin-relay';
import ScopeAuthPlugin from '@pothos/plugin-scope-auth';
import type PrismaTypes from '../generated/pothos-prisma-types.ts';
import { getDatamodel } from '../generated/pothos-prisma-types.ts';
import { AppError } from '../domain/errors.ts';
import { hasRole, type Role } from '../domain/identity/roles.ts';
import { relationClient, type GraphQLContext } from './context.ts';
import { log } from '../runtime/log.ts';

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  PrismaTypes: PrismaTypes;
  AuthScopes: { role: Role };
  DefaultEdgesNullability: false;
  DefaultFieldNullability: false;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
  };
}>({
  plugins: [ScopeAuthPlugin, PrismaPlugin, RelayPlugin],
  defaultFieldNullability: false,
  scopeAuth: {
    authScopes: (context) => ({ role: (needed: Role) => hasRole(context.scope.actor, needed) }),
    unauthorizedError: (_parent, _context, info) =>
      new AppError('FORBIDDEN', `your role may not use ${info.parentType.name}.${info.fieldName}`),
  },
  prisma: {
    // The client comes with the request's services, so one process can serve several databases (tests).
    client: relationClient,
    dmmf: getDatamodel(),
    // A resolver that builds a Prisma query and drops it wastes the work: said in the JSON log
    // (Pothos's own 'warn' writes plain text to the console).
    onUnusedQuery:
      process.env.NODE_ENV === 'production'
        ? null
        : (info) => log('warn', 'a Prisma query was built but not used', { field: `${info.parentType.name}.${info.fieldName}` }),
  },
  relay: {
    clientMutationId: 'omit',
    cursorType: 'String',
    edgesFieldOptions: { nullable: false },
    nodeQueryOptions: false,
    nodesQueryOptions: false,
  },
});

builder.queryType({});
builder.mutationType({});
