// What the schema says about a place in the file: description, type, default, allowed and suggested values, and
// the keys a mapping takes. Hover, completion and "did you mean" all read it, so they never disagree with the
// schema that validates the file.
import { z } from 'zod';
import type { YamlPath } from './document';
import { clusterConfigSchema, DEPRECATED_PBS_KEYS } from './schema';

export interface SchemaKey {
  name: string;
  type: string;
  description?: string;
  required: boolean;
  hasDefault: boolean;
  default?: unknown;
  /** The key that replaces this deprecated one. */
  deprecatedBy?: string;
}

export interface SchemaInfo {
  path: YamlPath;
  /** `string`, `integer`, `number`, `boolean`, `list`, `mapping`, `any`, or several joined by ` | `. */
  type: string;
  description?: string;
  required: boolean;
  hasDefault: boolean;
  default?: unknown;
  /** The only values allowed (enums). */
  allowedValues?: readonly string[];
  /** Values worth offering, such as Gadi's queue names. */
  examples?: readonly unknown[];
  deprecatedBy?: string;
  /** For a mapping with known keys: those keys. */
  keys?: SchemaKey[];
  /** For a mapping: whether keys not in `keys` are allowed (dask's other config sections, say). */
  openKeys?: boolean;
}

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
  options?: z.ZodType[];
  entries?: Record<string, string | number>;
  defaultValue?: unknown;
  catchall?: z.ZodType;
}

const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;
const WRAPPERS = new Set(['optional', 'default', 'nullable', 'readonly', 'prefault', 'catch', 'nonoptional']);

interface Unwrapped {
  core: z.ZodType;
  optional: boolean;
  hasDefault: boolean;
  default?: unknown;
  description?: string;
  examples?: readonly unknown[];
}

/** Strip optional/default wrappers, keeping the outermost description and examples. */
function unwrap(schema: z.ZodType): Unwrapped {
  const out: Unwrapped = { core: schema, optional: false, hasDefault: false };
  let s = schema;
  for (let guard = 0; guard < 20; guard++) {
    const meta = z.globalRegistry.get(s) as { description?: string; examples?: readonly unknown[] } | undefined;
    out.description ??= meta?.description;
    out.examples ??= meta?.examples;
    const d = defOf(s);
    if (d.type === 'optional') out.optional = true;
    if (d.type === 'default') {
      out.hasDefault = true;
      out.default = d.defaultValue;
    }
    if (WRAPPERS.has(d.type) && d.innerType) s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = d.in;
    else break;
  }
  out.core = s;
  return out;
}

function typeName(core: z.ZodType): string {
  const d = defOf(core);
  switch (d.type) {
    case 'number':
      return (core as z.ZodNumber).isInt ? 'integer' : 'number';
    case 'array':
      return 'list';
    case 'object':
    case 'record':
      return 'mapping';
    case 'unknown':
    case 'any':
      return 'any';
    case 'enum':
      return 'string';
    case 'union':
      return [...new Set((d.options ?? []).map((o) => typeName(unwrap(o).core)))].join(' | ');
    default:
      return d.type;
  }
}

/** The schema that applies at `path`, or undefined where the schema has nothing to say. */
function schemaAt(path: YamlPath): { schema: z.ZodType; parentIsPbs: boolean } | undefined {
  let schema: z.ZodType = clusterConfigSchema;
  for (let i = 0; i < path.length; i++) {
    const core = unwrap(schema).core;
    const d = defOf(core);
    const seg = path[i];
    let next: z.ZodType | undefined;
    // dask's config takes `_` and `-` in a key alike: `death_timeout` is `death-timeout`.
    if (d.type === 'object') next = d.shape?.[String(seg)] ?? (i === 2 && path[0] === 'jobqueue' && path[1] === 'pbs' ? d.shape?.[String(seg).replace(/_/g, '-')] : undefined);
    else if (d.type === 'array') next = d.element;
    else if (d.type === 'record') next = d.valueType;
    if (!next) return undefined;
    schema = next;
  }
  return { schema, parentIsPbs: path.length === 3 && path[0] === 'jobqueue' && path[1] === 'pbs' };
}

function keysOf(core: z.ZodType, isPbs: boolean): SchemaKey[] | undefined {
  const d = defOf(core);
  if (d.type !== 'object' || !d.shape) return undefined;
  return Object.entries(d.shape).map(([name, field]) => {
    const u = unwrap(field);
    const key: SchemaKey = {
      name, type: typeName(u.core), description: u.description,
      required: !u.optional && !u.hasDefault, hasDefault: u.hasDefault,
    };
    if (u.hasDefault) key.default = u.default;
    if (isPbs && DEPRECATED_PBS_KEYS[name]) key.deprecatedBy = DEPRECATED_PBS_KEYS[name];
    return key;
  });
}

/** What the schema says about the value at `path` (object keys and list indexes), or undefined if nothing. */
export function schemaInfo(path: YamlPath): SchemaInfo | undefined {
  const found = schemaAt(path);
  if (!found) return undefined;
  const u = unwrap(found.schema);
  const d = defOf(u.core);
  const info: SchemaInfo = {
    path, type: typeName(u.core), required: !u.optional && !u.hasDefault, hasDefault: u.hasDefault,
  };
  if (u.description) info.description = u.description;
  if (u.hasDefault) info.default = u.default;
  if (u.examples) info.examples = u.examples;
  if (d.type === 'enum' && d.entries) info.allowedValues = Object.values(d.entries).map(String);
  const pbsKey = found.parentIsPbs ? String(path[2]).replace(/_/g, '-') : undefined;
  if (pbsKey && DEPRECATED_PBS_KEYS[pbsKey]) info.deprecatedBy = DEPRECATED_PBS_KEYS[pbsKey];
  const isPbs = path.length === 2 && path[0] === 'jobqueue' && path[1] === 'pbs';
  const keys = keysOf(u.core, isPbs);
  if (keys) {
    info.keys = keys;
    info.openKeys = defOf(d.catchall ?? z.never()).type !== 'never';
  } else if (d.type === 'record') {
    info.openKeys = true;
  }
  return info;
}

/** The keys the mapping at `path` knows, or undefined when it is not a mapping with known keys. */
export function knownKeys(path: YamlPath): string[] | undefined {
  return schemaInfo(path)?.keys?.map((k) => k.name);
}
