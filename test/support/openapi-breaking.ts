/**
 * What changed between two OpenAPI 3 documents that a client written against the old one could
 * notice: a request may only accept more than before (a wider type, fewer required members), an
 * answer may only promise more (fewer types, no member taken away). Each change names where it
 * is, as a coordinate that stays the same from run to run:
 *
 *   GET /api/x                   the operation (removed, or its path removed)
 *   GET /api/x query.limit       a parameter: its location and name, as the old document spells it
 *   POST /api/x body.name        the request body, or a member inside it (`[]`: an array's items)
 *   GET /api/x 200.items[].id    a response status, or a member of its body
 *   GET /api/x 200 header.ETag   a response header
 *
 * Schemas are followed through `$ref` (local ones, `#/...`), `anyOf`/`oneOf`, `properties` and
 * `items`, down to MAX_DEPTH levels. Paths are matched by their template, so renaming `{id}` in
 * a path (and its parameter with it) is no change: the URL a client sends is the same.
 */

/** A document, or any part of it: read loosely, as JSON. */
type Json = Record<string, any>;
type Direction = 'request' | 'response';
/** The JSON types a schema allows; ANY when it does not restrict them (`{}`). */
type Types = Set<string> | typeof ANY;

export interface ApiChange {
  /** breaking: an old client can fail. dangerous: it may meet what it did not expect (a new enum value in an answer, a changed default). */
  level: 'breaking' | 'dangerous';
  coordinate: string;
  description: string;
}

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];
const MAX_DEPTH = 32;
const ANY = 'any';
const LOWER_BOUNDS = ['minLength', 'minimum', 'exclusiveMinimum', 'minItems', 'minProperties'];
const UPPER_BOUNDS = ['maxLength', 'maximum', 'exclusiveMaximum', 'maxItems', 'maxProperties'];
const EXACT_RULES = ['pattern', 'format', 'const'];

interface Comparison {
  old: Json;
  new: Json;
  changes: ApiChange[];
}

/** Every breaking and dangerous change from `oldDoc` to `newDoc`, in the old document's order. */
export function findOpenApiChanges(oldDoc: Json, newDoc: Json): ApiChange[] {
  const cx: Comparison = { old: oldDoc, new: newDoc, changes: [] };
  const newPaths = new Map(Object.keys(newDoc.paths ?? {}).map((path) => [template(path), path]));
  for (const [oldPath, oldRef] of Object.entries<Json>(oldDoc.paths ?? {})) {
    const oldItem = deref(oldDoc, oldRef) as Json;
    const newPath = newPaths.get(template(oldPath));
    const newItem = newPath === undefined ? undefined : (deref(newDoc, newDoc.paths[newPath]) as Json);
    // A path parameter keeps its place in the template when it is renamed.
    const renamed = new Map(pathNames(oldPath).map((name, i) => [name, pathNames(newPath ?? oldPath)[i]!]));
    for (const method of Object.keys(oldItem).filter((key) => METHODS.includes(key))) {
      const oldOp = oldItem[method] as Json;
      const at = `${method.toUpperCase()} ${oldPath}`;
      const newOp = newItem?.[method] as Json | undefined;
      if (!newItem || !newOp) add(cx, 'breaking', at, newItem ? 'operation removed' : `operation removed (the path ${oldPath} is gone)`);
      else compareOperation(cx, at, { item: oldItem, op: oldOp }, { item: newItem, op: newOp }, renamed);
    }
  }
  return cx.changes;
}

/** Only the changes that can make an old client fail. */
export const findOpenApiBreakingChanges = (oldDoc: Json, newDoc: Json) =>
  findOpenApiChanges(oldDoc, newDoc).filter((change) => change.level === 'breaking');

function add(cx: Comparison, level: ApiChange['level'], coordinate: string, description: string) {
  cx.changes.push({ level, coordinate, description });
}

function compareOperation(
  cx: Comparison,
  at: string,
  before: { item: Json; op: Json },
  after: { item: Json; op: Json },
  renamed: Map<string, string>,
) {
  // Parameters: none removed or renamed, none newly required, each accepting at least what it did.
  const oldParameters = parametersOf(cx.old, before.item, before.op);
  const newParameters = parametersOf(cx.new, after.item, after.op);
  for (const [key, parameter] of oldParameters) {
    const where = `${at} ${parameter.in}.${parameter.name}`;
    const now = newParameters.get(
      parameter.in === 'path' ? parameterKey({ ...parameter, name: renamed.get(parameter.name) ?? parameter.name }) : key,
    );
    if (!now) add(cx, 'breaking', where, 'parameter removed or renamed');
    else {
      if (now.required && !parameter.required) add(cx, 'breaking', where, 'parameter is now required');
      compareSchemas(cx, parameter.schema ?? {}, now.schema ?? {}, where, 'request', 0);
    }
  }
  for (const [key, parameter] of newParameters) {
    const known = parameter.in === 'path' ? [...renamed.values()].includes(parameter.name) : oldParameters.has(key);
    if (!known && parameter.required) add(cx, 'breaking', `${at} ${parameter.in}.${parameter.name}`, 'new required parameter');
  }

  // The request body: not newly required, and each media type still accepted, accepting at least what it did.
  const oldBody = deref(cx.old, before.op.requestBody) as Json | undefined;
  const newBody = deref(cx.new, after.op.requestBody) as Json | undefined;
  const body = `${at} body`;
  if (!oldBody) {
    if (newBody?.required) add(cx, 'breaking', body, 'a request body is now required');
  } else if (!newBody) add(cx, 'breaking', body, 'the request body is no longer accepted');
  else {
    if (newBody.required && !oldBody.required) add(cx, 'breaking', body, 'the request body is now required');
    for (const [type, media] of Object.entries<Json>(oldBody.content ?? {})) {
      const now = newBody.content?.[type] as Json | undefined;
      if (!now) add(cx, 'breaking', body, `${type} is no longer accepted`);
      else compareSchemas(cx, media.schema ?? {}, now.schema ?? {}, body, 'request', 0);
    }
  }

  // Responses: no status, header or media type removed, and each body promising at least what it did.
  for (const [status, oldResponse] of Object.entries<Json>(before.op.responses ?? {})) {
    const where = `${at} ${status}`;
    if (!after.op.responses?.[status]) {
      add(cx, 'breaking', where, 'response status removed');
      continue;
    }
    const [then, now] = [deref(cx.old, oldResponse), deref(cx.new, after.op.responses[status])];
    const headers = new Set(Object.keys(now.headers ?? {}).map((name) => name.toLowerCase()));
    for (const name of Object.keys(then.headers ?? {})) {
      if (!headers.has(name.toLowerCase())) add(cx, 'breaking', `${where} header.${name}`, 'response header removed');
    }
    for (const [type, media] of Object.entries<Json>(then.content ?? {})) {
      const answer = now.content?.[type] as Json | undefined;
      if (!answer) add(cx, 'breaking', where, `no longer answers ${type}`);
      else compareSchemas(cx, media.schema ?? {}, answer.schema ?? {}, where, 'response', 0);
    }
  }
}

/**
 * One schema against its next version at `at`. For a request the new one must accept every value
 * the old one did; for a response it must allow no value the old one did not.
 */
function compareSchemas(cx: Comparison, oldSchema: Json, newSchema: Json, at: string, direction: Direction, depth: number) {
  if (depth > MAX_DEPTH) return;
  const [o, n] = [deref(cx.old, oldSchema), deref(cx.new, newSchema)];
  const [oldTypes, newTypes] = [typesOf(cx.old, o, depth), typesOf(cx.new, n, depth)];
  if (direction === 'request' && !covers(newTypes, oldTypes)) {
    add(cx, 'breaking', at, `type narrowed from ${show(oldTypes)} to ${show(newTypes)}`);
  }
  if (direction === 'response' && !covers(oldTypes, newTypes)) {
    const nullable = oldTypes !== ANY && newTypes !== ANY && !oldTypes.has('null') && newTypes.has('null');
    const onlyNull = nullable && covers(oldTypes, new Set([...newTypes].filter((type) => type !== 'null')));
    add(
      cx,
      'breaking',
      at,
      onlyNull ? `made nullable (${show(oldTypes)} to ${show(newTypes)})` : `type changed from ${show(oldTypes)} to ${show(newTypes)}`,
    );
  }

  const [oldValues, newValues] = [enumOf(cx.old, o, depth), enumOf(cx.new, n, depth)];
  if (direction === 'request' && newValues) {
    const removed = oldValues?.filter((value) => !includes(newValues, value));
    if (!oldValues) add(cx, 'breaking', at, `now accepts only ${list(newValues)}`);
    else if (removed!.length > 0) add(cx, 'breaking', at, `no longer accepts ${list(removed!)}`);
  }
  if (direction === 'response' && oldValues) {
    const added = newValues?.filter((value) => !includes(oldValues, value));
    if (!newValues) add(cx, 'dangerous', at, `may now answer any value, not only ${list(oldValues)}`);
    else if (added!.length > 0) add(cx, 'dangerous', at, `may now answer ${list(added!)}`);
  }
  if (direction === 'request' && o.default !== undefined && JSON.stringify(o.default) !== JSON.stringify(n.default)) {
    add(cx, 'dangerous', at, `default changed from ${JSON.stringify(o.default)} to ${JSON.stringify(n.default) ?? 'none'}`);
  }

  const [oldObject, newObject] = [branch(cx.old, o, 'object', depth), branch(cx.new, n, 'object', depth)];
  if (oldObject && newObject) compareObjects(cx, oldObject, newObject, at, direction, depth);
  const [oldArray, newArray] = [branch(cx.old, o, 'array', depth), branch(cx.new, n, 'array', depth)];
  if (oldArray && newArray) compareSchemas(cx, oldArray.items ?? {}, newArray.items ?? {}, `${at}[]`, direction, depth + 1);

  // A request's limits (lengths, bounds, patterns) may only loosen. An answer's are not promises a client checks.
  if (direction === 'request') {
    const seen = new Set<Json>();
    for (const type of ['string', 'integer', 'number', 'array', 'object']) {
      const [then, now] = [branch(cx.old, o, type, depth), branch(cx.new, n, type, depth)];
      if (!then || !now || seen.has(then)) continue;
      seen.add(then);
      for (const rule of LOWER_BOUNDS)
        if (tighter(then[rule], now[rule], (a, b) => b > a))
          add(cx, 'breaking', at, `${rule} raised from ${then[rule] ?? 'none'} to ${now[rule]}`);
      for (const rule of UPPER_BOUNDS)
        if (tighter(then[rule], now[rule], (a, b) => b < a))
          add(cx, 'breaking', at, `${rule} lowered from ${then[rule] ?? 'none'} to ${now[rule]}`);
      for (const rule of EXACT_RULES) {
        if (now[rule] !== undefined && JSON.stringify(now[rule]) !== JSON.stringify(then[rule])) {
          add(cx, 'breaking', at, `${rule} changed from ${JSON.stringify(then[rule]) ?? 'none'} to ${JSON.stringify(now[rule])}`);
        }
      }
    }
  }
}

function compareObjects(cx: Comparison, o: Json, n: Json, at: string, direction: Direction, depth: number) {
  const [oldProperties, newProperties] = [(o.properties ?? {}) as Json, (n.properties ?? {}) as Json];
  const [oldRequired, newRequired] = [new Set<string>(o.required ?? []), new Set<string>(n.required ?? [])];
  for (const [name, schema] of Object.entries<Json>(oldProperties)) {
    const where = `${at}.${name}`;
    if (!(name in newProperties)) {
      add(
        cx,
        'breaking',
        where,
        direction === 'request' ? 'property removed: a client sending it is refused or ignored' : 'property removed from the answer',
      );
      continue;
    }
    if (direction === 'request' && newRequired.has(name) && !oldRequired.has(name)) add(cx, 'breaking', where, 'property is now required');
    if (direction === 'response' && oldRequired.has(name) && !newRequired.has(name))
      add(cx, 'breaking', where, 'property may now be absent');
    compareSchemas(cx, schema, newProperties[name], where, direction, depth + 1);
  }
  if (direction === 'request') {
    for (const name of newRequired) {
      if (!(name in oldProperties) && !oldRequired.has(name)) add(cx, 'breaking', `${at}.${name}`, 'new required property');
    }
    if (n.additionalProperties === false && o.additionalProperties !== false) {
      add(cx, 'breaking', at, 'no longer accepts properties it does not name');
    }
  }
}

/** A local `$ref` followed (again while it points at another one) to what it names. */
function deref(doc: Json, node: any): any {
  for (let hops = 0; node && typeof node.$ref === 'string'; hops++) {
    const ref: string = node.$ref;
    if (!ref.startsWith('#/')) throw new Error(`only local $refs are followed, not ${ref}`);
    if (hops > MAX_DEPTH) throw new Error(`$ref cycle at ${ref}`);
    node = ref
      .slice(2)
      .split('/')
      .map((part) => decodeURIComponent(part).replaceAll('~1', '/').replaceAll('~0', '~'))
      .reduce<any>((at, part) => at?.[part], doc);
    if (node === undefined) throw new Error(`$ref ${ref} names nothing in the document`);
  }
  return node;
}

/** An operation's parameters, its path's first and its own over them, by location and name (headers' case ignored). */
function parametersOf(doc: Json, item: Json, op: Json): Map<string, Json> {
  const parameters = new Map<string, Json>();
  for (const parameter of [...(item.parameters ?? []), ...(op.parameters ?? [])].map((p) => deref(doc, p) as Json)) {
    parameters.set(parameterKey(parameter), parameter);
  }
  return parameters;
}

const parameterKey = (parameter: Json) =>
  `${parameter.in}.${parameter.in === 'header' ? String(parameter.name).toLowerCase() : parameter.name}`;
const template = (path: string) => path.replace(/\{[^}]*\}/g, '{}');
const pathNames = (path: string) => [...path.matchAll(/\{([^}]*)\}/g)].map((match) => match[1]!);

function typesOf(doc: Json, schema: Json, depth: number): Types {
  const s = deref(doc, schema) as Json;
  if (depth > MAX_DEPTH) return ANY;
  const nullable = s.nullable === true ? ['null'] : []; // OpenAPI 3.0's spelling of null
  if (typeof s.type === 'string') return new Set([s.type, ...nullable]);
  if (Array.isArray(s.type)) return new Set([...s.type, ...nullable]);
  const options = s.anyOf ?? s.oneOf;
  if (Array.isArray(options)) {
    const types = new Set<string>(nullable);
    for (const option of options) {
      const each = typesOf(doc, option, depth + 1);
      if (each === ANY) return ANY;
      for (const type of each) types.add(type);
    }
    return types;
  }
  if (Array.isArray(s.enum)) return new Set([...s.enum.map(jsonType), ...nullable]);
  if ('const' in s) return new Set([jsonType(s.const), ...nullable]);
  return ANY;
}

/** The values a schema is limited to, when it is limited to a list (null aside, which its types say). */
function enumOf(doc: Json, schema: Json, depth: number): unknown[] | undefined {
  const s = deref(doc, schema) as Json;
  if (depth > MAX_DEPTH) return undefined;
  if (Array.isArray(s.enum)) return s.enum;
  if ('const' in s) return [s.const];
  const options = s.anyOf ?? s.oneOf;
  if (!Array.isArray(options)) return undefined;
  const values: unknown[] = [];
  for (const option of options) {
    const types = typesOf(doc, option, depth + 1);
    if (types !== ANY && types.size === 1 && types.has('null')) continue;
    const each = enumOf(doc, option, depth + 1);
    if (!each) return undefined;
    values.push(...each);
  }
  return values;
}

/** The part of a schema that describes values of one JSON type: itself, or one of its anyOf/oneOf options. */
function branch(doc: Json, schema: Json, type: string, depth: number): Json | undefined {
  const s = deref(doc, schema) as Json;
  if (depth > MAX_DEPTH) return undefined;
  if (s.type !== undefined) return [s.type].flat().includes(type) ? s : undefined;
  const options = s.anyOf ?? s.oneOf;
  if (Array.isArray(options)) {
    for (const option of options) {
      const found = branch(doc, option, type, depth + 1);
      if (found) return found;
    }
    return undefined;
  }
  if (type === 'object' && s.properties) return s;
  if (type === 'array' && s.items) return s;
  return undefined;
}

/** Whether `wide` allows every type `narrow` does (an integer is a number). */
function covers(wide: Types, narrow: Types): boolean {
  if (wide === ANY) return true;
  if (narrow === ANY) return false;
  return [...narrow].every((type) => wide.has(type) || (type === 'integer' && wide.has('number')));
}

/** Whether a numeric limit is new, or moved the tightening way. */
const tighter = (then: unknown, now: unknown, moved: (then: number, now: number) => boolean) =>
  typeof now === 'number' && (typeof then !== 'number' || moved(then, now));

const jsonType = (value: unknown) =>
  value === null ? 'null' : Array.isArray(value) ? 'array' : Number.isInteger(value) ? 'integer' : typeof value;
const includes = (values: unknown[], value: unknown) => values.some((each) => JSON.stringify(each) === JSON.stringify(value));
const show = (types: Types) => (types === ANY ? 'any' : [...types].join('|'));
const list = (values: unknown[]) => values.map((value) => JSON.stringify(value)).join(', ');
