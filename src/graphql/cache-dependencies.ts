import {
  getArgumentValues,
  getNamedType,
  getOperationAST,
  getVariableValues,
  isObjectType,
  Kind,
  TypeInfo,
  visit,
  visitWithTypeInfo,
  type DocumentNode,
  type GraphQLSchema,
} from 'graphql';
import type { Dependencies } from '../app/response-cache.ts';
import { aggregateTag, listTag, logTag } from '../app/cache-tags.ts';
import { isUuid } from '../app/ids.ts';

/**
 * What a query's answer depends on, from its document: the tags whose events invalidate it
 * (app/cache-tags.ts), [] for an answer no event changes, or null when it may not be kept.
 *
 * Root fields name what they read: one aggregate (`workflow`, `execution`, `events`, `replay`),
 * a workspace's list of one type, or its whole log. Below the root the document cannot say
 * which aggregate a field reaches (an execution's workflow), so an object type read there
 * depends on every aggregate of its type in the workspace. A replay to a fixed version is
 * the stream's past: nothing changes it. Users are rows, not events, so an answer that reads
 * one is not kept; nor is anything outside these fields (systemStatus, verifyAuditTrail, me).
 */
export function dependenciesOf(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | undefined,
  workspaceId: string,
): Dependencies {
  const operation = getOperationAST(document, operationName);
  const query = schema.getQueryType();
  if (!operation || operation.operation !== 'query' || !query) return null;
  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables ?? {});
  if (coerced.errors) return null;
  const values = coerced.coerced;
  const tags = new Set<string>();
  let keepable = true;
  const typeInfo = new TypeInfo(schema);
  const visitor = visitWithTypeInfo(typeInfo, {
    Field(node) {
      if (!keepable) return false;
      const parent = typeInfo.getParentType();
      const field = typeInfo.getFieldDef();
      if (!field || node.name.value.startsWith('__')) return undefined;
      const named = getNamedType(field.type);
      if (named.name === 'User') keepable = false;
      else if (parent === query) {
        const root = rootDependencies(node.name.value, getArgumentValues(field, node, values), workspaceId);
        if (root === null) keepable = false;
        else for (const tag of root) tags.add(tag);
      } else if (isObjectType(named) && (named.name === 'Workflow' || named.name === 'Execution')) {
        tags.add(listTag(workspaceId, named.name));
      }
      return undefined;
    },
  });
  // Fragments are walked as written, with their type conditions: those the operation does not
  // spread can only add tags, never make an answer look less dependent than it is.
  for (const definition of [operation, ...document.definitions.filter((d) => d.kind === Kind.FRAGMENT_DEFINITION)])
    visit(definition, visitor);
  return keepable ? [...tags] : null;
}

/** An id as events carry it: the database spells uuids in lower case, whatever the client wrote. */
const idOf = (value: unknown) => (isUuid(String(value)) ? String(value).toLowerCase() : String(value));

function rootDependencies(field: string, args: Record<string, unknown>, workspaceId: string): readonly string[] | null {
  switch (field) {
    case 'workflow':
      return [aggregateTag(workspaceId, 'Workflow', idOf(args.id))];
    case 'execution':
      return [aggregateTag(workspaceId, 'Execution', idOf(args.id))];
    case 'workflows':
      return [listTag(workspaceId, 'Workflow')];
    case 'executions':
      return [listTag(workspaceId, 'Execution')];
    case 'events':
      return [aggregateTag(workspaceId, String(args.aggregateType), idOf(args.aggregateId))];
    case 'replay':
      return args.toVersion != null && args.at == null
        ? []
        : [aggregateTag(workspaceId, String(args.aggregateType), idOf(args.aggregateId))];
    case 'eventLog':
    case 'auditLog':
      return [logTag(workspaceId)];
    default:
      return null;
  }
}
