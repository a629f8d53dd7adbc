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
 * A document's cost, from the schema: how many values its answer may hold at most, each
 * field counted once per item of every list around it (itemsOf). `workflows(first: 100) {
 * edges { node { id latestEvents(first: 5) { type } } } }` costs 1 (the connection) + 100 x
 * (edge, node, id) + 100 x 5 x (event, type) = 1,301. Refused before anything runs when over `maxCost`, on
 * every transport (it is a validation rule). Introspection is not counted: its size is the
 * schema's, and it can be turned off.
 */
export function costLimit(maxCost: number) {
  return (context: ValidationContext): ASTVisitor => {
    const schema = context.getSchema();
    const selectionCost = (
      selectionSet: SelectionSetNode,
      type: GraphQLCompositeType,
      times: number,
      seen: ReadonlySet<string>,
    ): number => {
      let cost = 0;
      for (const selection of selectionSet.selections) {
        if (selection.kind === Kind.FIELD) {
          cost += fieldCost(selection, type, times, seen);
        } else if (selection.kind === Kind.INLINE_FRAGMENT) {
          const on = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : type;
          if (on && isCompositeType(on)) cost += selectionCost(selection.selectionSet, on, times, seen);
        } else if (!seen.has(selection.name.value)) {
          const fragment = context.getFragment(selection.name.value);
          const on = fragment && schema.getType(fragment.typeCondition.name.value);
          if (fragment && on && isCompositeType(on))
            cost += selectionCost(fragment.selectionSet, on, times, new Set([...seen, selection.name.value]));
        }
      }
      return cost;
    };
    const fieldCost = (node: FieldNode, parent: GraphQLCompositeType, times: number, seen: ReadonlySet<string>): number => {
      if (node.name.value.startsWith('__')) return 0;
      const field = 'getFields' in parent ? parent.getFields()[node.name.value] : undefined;
      if (!field) return 0;
      const items = times * itemsOf(field, node, parent);
      const type = getNamedType(field.type);
      // A list is as many values as items; a connection is one, and its page sizes its edges.
      const own = isListType(getNullableType(field.type)) ? items : times;
      return own + (node.selectionSet && isCompositeType(type) ? selectionCost(node.selectionSet, type, items, seen) : 0);
    };
    return {
      OperationDefinition(operation) {
        const root = schema.getRootType(operation.operation);
        if (!root) return;
        const cost = selectionCost(operation.selectionSet, root, 1, new Set());
        if (cost > maxCost) {
          context.reportError(
            new GraphQLError(`the document costs ${cost}, more than the limit of ${maxCost}`, {
              nodes: [operation],
              extensions: { code: 'QUERY_TOO_COMPLEX', cost, maxCost },
            }),
          );
        }
      },
    };
  };
}
