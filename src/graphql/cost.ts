import {
  getNamedType,
  getNullableType,
  GraphQLError,
  isListType,
  Kind,
  type ASTVisitor,
  type FieldNode,
  type GraphQLCompositeType,
  type GraphQLField,
  type SelectionSetNode,
  type ValidationContext,
  isCompositeType,
} from 'graphql';
import { DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from './connections.ts';

/** Declared on a list field without a `first` argument: how many items it may hold at most. */
export interface ListBound {
  readonly maxItems: number;
}

const OBJECT_COST = 2;
const SCALAR_COST = 1;
const DEPTH_FACTOR = 1.5;

/**
 * How many items a field's selection is paid for: its literal `first` or `last`; a page size
 * in a variable as the largest page (its value is not known yet); without one, the argument's
 * default, or the page default. A list field with no page argument declares its bound
 * (`extensions.maxItems`); a connection's edges are paid for by the connection's `first`.
 */
export function itemsOf(field: GraphQLField<unknown, unknown>, node: FieldNode, parent: GraphQLCompositeType): number {
  const page = field.args.find((arg) => arg.name === 'first' || arg.name === 'last');
  if (page) {
    const given = node.arguments?.find((arg) => arg.name.value === 'first' || arg.name.value === 'last')?.value;
    if (given?.kind === Kind.INT) return Math.max(1, Number(given.value));
    if (given?.kind === Kind.VARIABLE) return MAX_PAGE_SIZE;
    const fallback = field.args.find((arg) => arg.name === 'first')?.defaultValue;
    return typeof fallback === 'number' ? Math.max(1, fallback) : DEFAULT_PAGE_SIZE;
  }
  if (!isListType(getNullableType(field.type))) return 1;
  if (field.name === 'edges' && parent.name.endsWith('Connection')) return 1;
  const declared = (field.extensions as { maxItems?: unknown } | undefined)?.maxItems;
  return typeof declared === 'number' ? declared : UNDECLARED_LIST;
}

/** What a list field that declares no bound is paid for: enough that one cannot go unnoticed. */
export const UNDECLARED_LIST = 1000;

/**
 * A document's cost, from the schema: each object 2, each scalar 1, children weighed 1.5 times
 * their parent per level, and each selection multiplied by how many items it may hold (itemsOf).
 * Refused before anything runs when over `maxCost`, on every transport (it is a validation rule).
 * Introspection is not counted: its size is the schema's, and it can be turned off.
 */
export function costLimit(maxCost: number, onReject: (error: GraphQLError) => void) {
  return (context: ValidationContext): ASTVisitor => {
    const fragments = new Map<string, number>();
    const selectionCost = (selectionSet: SelectionSetNode, type: GraphQLCompositeType, seen: ReadonlySet<string>): number => {
      let cost = 0;
      for (const selection of selectionSet.selections) {
        if (selection.kind === Kind.FIELD) cost += fieldCost(selection, type, seen);
        else if (selection.kind === Kind.INLINE_FRAGMENT) {
          const on = selection.typeCondition ? context.getSchema().getType(selection.typeCondition.name.value) : type;
          if (on && isCompositeType(on)) cost += selectionCost(selection.selectionSet, on, seen);
        } else if (!seen.has(selection.name.value)) {
          const name = selection.name.value;
          const fragment = context.getFragment(name);
          const on = fragment && context.getSchema().getType(fragment.typeCondition.name.value);
          if (fragment && on && isCompositeType(on)) cost += selectionCost(fragment.selectionSet, on, new Set([...seen, name]));
        }
      }
      return cost;
    };
    const fieldCost = (node: FieldNode, parent: GraphQLCompositeType, seen: ReadonlySet<string>): number => {
      if (node.name.value.startsWith('__')) return 0;
      const field = 'getFields' in parent ? parent.getFields()[node.name.value] : undefined;
      if (!field) return 0;
      const type = getNamedType(field.type);
      if (!node.selectionSet || !isCompositeType(type)) return SCALAR_COST * itemsOf(field, node, parent);
      return (OBJECT_COST + DEPTH_FACTOR * selectionCost(node.selectionSet, type, seen)) * itemsOf(field, node, parent);
    };
    return {
      OperationDefinition(operation) {
        const root = context.getSchema().getRootType(operation.operation);
        if (!root) return;
        const cost = Math.round(selectionCost(operation.selectionSet, root, new Set()));
        fragments.clear();
        if (cost > maxCost) {
          const error = new GraphQLError(`the document costs ${cost}, more than the limit of ${maxCost}`, {
            nodes: [operation],
            extensions: { code: 'QUERY_TOO_COMPLEX', cost, maxCost },
          });
          onReject(error);
          context.reportError(error);
        }
      },
    };
  };
}
