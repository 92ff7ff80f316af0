/**
 * What an operation costs to answer, before it runs: every field resolved counts 1, and a list
 * field taking `first` or `last` counts its whole selection that many times. The count uses the
 * request's variables and the schema's argument defaults, so `events { seq }` costs its default
 * page of 100 and `events(first: $n)` what `$n` says. Introspection (`__schema`, `__type`) is free:
 * GraphiQL and code generators must always get the schema.
 */
import {
  Kind,
  getNamedType,
  getNullableType,
  isCompositeType,
  isInterfaceType,
  isListType,
  isObjectType,
  valueFromAST,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLArgument,
  type GraphQLCompositeType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

const PAGE_ARGUMENTS = ['first', 'last'];
const FREE_FIELDS = new Set(['__schema', '__type']);

export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operation: OperationDefinitionNode,
  variables: Readonly<Record<string, unknown>> | null | undefined,
): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
  }
  const variableDefaults = new Map((operation.variableDefinitions ?? []).map((definition) => [definition.variable.name.value, definition.defaultValue]));
  // A fragment spread many times is counted once per spread but walked once.
  const fragmentCosts = new Map<string, number>();

  const pageSize = (field: FieldNode, argument: GraphQLArgument): number | null => {
    const node = field.arguments?.find((candidate) => candidate.name.value === argument.name);
    let value: unknown = argument.defaultValue;
    if (node?.value.kind === Kind.VARIABLE) {
      const name = node.value.name.value;
      const given = variables?.[name];
      const fallback = variableDefaults.get(name);
      value = given !== undefined ? given : fallback ? valueFromAST(fallback, argument.type) : argument.defaultValue;
    } else if (node) {
      value = valueFromAST(node.value, argument.type);
    }
    return typeof value === 'number' && Number.isFinite(value) ? Math.max(0, value) : null;
  };

  const fieldCost = (field: FieldNode, parent: GraphQLCompositeType): number => {
    const name = field.name.value;
    if (FREE_FIELDS.has(name)) return 0;
    const definition = isObjectType(parent) || isInterfaceType(parent) ? parent.getFields()[name] : undefined;
    if (!definition) return 1; // __typename, or a field validation has already refused
    const type = getNamedType(definition.type);
    const inner = field.selectionSet && isCompositeType(type) ? selectionCost(field.selectionSet, type) : 0;
    let times = 1;
    if (isListType(getNullableType(definition.type))) {
      for (const argument of definition.args) {
        if (!PAGE_ARGUMENTS.includes(argument.name)) continue;
        times = Math.max(times, pageSize(field, argument) ?? 1);
      }
    }
    return (1 + inner) * times;
  };

  const typeCondition = (name: string | undefined, parent: GraphQLCompositeType): GraphQLCompositeType => {
    const type = name === undefined ? undefined : schema.getType(name);
    return type && isCompositeType(type) ? type : parent;
  };

  const selectionCost = (selectionSet: SelectionSetNode, parent: GraphQLCompositeType): number => {
    let cost = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        cost += fieldCost(selection, parent);
      } else if (selection.kind === Kind.INLINE_FRAGMENT) {
        cost += selectionCost(selection.selectionSet, typeCondition(selection.typeCondition?.name.value, parent));
      } else {
        const name = selection.name.value;
        const fragment = fragments.get(name);
        if (!fragment) continue;
        let known = fragmentCosts.get(name);
        if (known === undefined) {
          fragmentCosts.set(name, 0); // a cycle (refused by validation anyway) must not recurse forever
          known = selectionCost(fragment.selectionSet, typeCondition(fragment.typeCondition.name.value, parent));
          fragmentCosts.set(name, known);
        }
        cost += known;
      }
    }
    return cost;
  };

  const root = schema.getRootType(operation.operation);
  return root ? selectionCost(operation.selectionSet, root) : 0;
}
