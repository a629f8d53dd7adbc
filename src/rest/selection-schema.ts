import {
  isEnumType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  Kind,
  parse,
  type GraphQLOutputType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

export type JsonSchema = { readonly [keyword: string]: unknown };

const SCALARS: Record<string, JsonSchema> = {
  ID: { type: 'string' },
  String: { type: 'string' },
  Int: { type: 'integer' },
  Float: { type: 'number' },
  Boolean: { type: 'boolean' },
  DateTime: { type: 'string', format: 'date-time' },
  JSON: {},
};

/**
 * The JSON Schema of what a GraphQL selection answers, read off the schema's types: the REST
 * answers are GraphQL answers, so their documented shape cannot drift from what is served.
 */
function schemaOf(type: GraphQLOutputType, selection: SelectionSetNode | undefined, description?: string | null): JsonSchema {
  const described = (schema: JsonSchema) => (description ? { ...schema, description } : schema);
  if (isNonNullType(type)) return described(nonNull(type.ofType, selection));
  const inner = nonNull(type, selection);
  return described(Object.keys(inner).length === 0 ? inner : { anyOf: [inner, { type: 'null' }] });
}

function nonNull(type: GraphQLOutputType, selection: SelectionSetNode | undefined): JsonSchema {
  if (isListType(type)) return { type: 'array', items: schemaOf(type.ofType, selection) };
  if (isScalarType(type)) return SCALARS[type.name] ?? { type: 'string' };
  if (isEnumType(type)) return { type: 'string', enum: type.getValues().map((value) => value.name) };
  if (!isObjectType(type) || !selection) throw new Error(`cannot describe ${String(type)} without a selection of fields`);
  const fields = type.getFields();
  const properties: Record<string, JsonSchema> = {};
  for (const node of selection.selections) {
    if (node.kind !== Kind.FIELD) throw new Error('REST documents select plain fields only');
    const field = fields[node.name.value];
    if (!field) throw new Error(`${type.name} has no field ${node.name.value}`);
    properties[node.alias?.value ?? node.name.value] = schemaOf(field.type, node.selectionSet, field.description);
  }
  return { type: 'object', properties, required: Object.keys(properties), additionalProperties: false };
}

/** The operation of a document that runs one root field, with that field's answer's schema. */
export function rootFieldSchema(schema: GraphQLSchema, document: string): { readonly field: string; readonly schema: JsonSchema } {
  const operation = parse(document).definitions.find(
    (definition): definition is OperationDefinitionNode => definition.kind === Kind.OPERATION_DEFINITION,
  );
  const root = operation && schema.getRootType(operation.operation);
  const [node, ...others] = operation?.selectionSet.selections ?? [];
  if (!root || !node || others.length > 0 || node.kind !== Kind.FIELD) throw new Error('a REST document runs exactly one root field');
  const field = root.getFields()[node.name.value];
  if (!field) throw new Error(`${root.name} has no field ${node.name.value}`);
  return { field: node.alias?.value ?? node.name.value, schema: schemaOf(field.type, node.selectionSet) };
}
