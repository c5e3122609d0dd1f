// YAML read as PyYAML's safe_load reads it (YAML 1.1), because dask reads the same file with PyYAML: the `yaml`
// package parses (and keeps source ranges), these tags resolve plain scalars with PyYAML's own patterns, and
// `construct` builds values as PyYAML's SafeConstructor does (merge keys, last duplicate wins, Python types).
import {
  isAlias, isMap, isScalar, isSeq, parseDocument, type Document, type DocumentOptions, type ParseOptions, type SchemaOptions, type Node as YamlNode, type ScalarTag, type Tags,
} from 'yaml';
import { PyDate, PyDateTime, PyFloat } from '../python';

const BOOL = /^(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF)$/;
const INT = /^(?:[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)$/;
const FLOAT = /^(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
const NULL = /^(?:~|null|Null|NULL|)$/;
const TIMESTAMP = /^(?:[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)$/;
const TIMESTAMP_PARTS = /^([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})(?:(?:[Tt]|[ \t]+)([0-9]{1,2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]*))?(?:[ \t]*(Z|([-+])([0-9]{1,2})(?::([0-9]{2}))?))?)?$/;

/** The value of a plain `=` (YAML 1.1's "value" tag): a key it is the string `=`; safe_load refuses it as a value. */
export const VALUE_KEY = Symbol('=');

type OnError = (message: string) => void;

function splitSign(text: string): { sign: 1 | -1; rest: string } {
  const sign = text[0] === '-' ? -1 : 1;
  return { sign, rest: text[0] === '-' || text[0] === '+' ? text.slice(1) : text };
}

/** An int as PyYAML's construct_yaml_int builds it; a bigint beyond 2^53, where a JavaScript number is inexact. */
export function constructInt(text: string, onError: OnError = throwError): number | bigint {
  const { sign, rest } = splitSign(text.replace(/_/g, ''));
  let n: bigint;
  try {
    if (rest === '0') n = 0n;
    else if (rest.startsWith('0b')) n = BigInt(`0b${rest.slice(2)}`);
    else if (rest.startsWith('0x')) n = BigInt(`0x${rest.slice(2)}`);
    else if (rest[0] === '0') n = BigInt(`0o${rest.slice(1) || '0'}`);
    else if (rest.includes(':')) n = rest.split(':').reduce((acc, part) => acc * 60n + BigInt(part), 0n);
    else n = BigInt(rest);
  } catch {
    onError(`'${text}' is not a valid integer (PyYAML fails on it)`);
    return 0;
  }
  n *= BigInt(sign);
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

/** A float as PyYAML's construct_yaml_float builds it (sexagesimal parts summed in its order). */
export function constructFloat(text: string): PyFloat {
  const { sign, rest } = splitSign(text.replace(/_/g, '').toLowerCase());
  if (rest === '.inf') return new PyFloat(sign * Infinity);
  if (rest === '.nan') return new PyFloat(NaN);
  if (rest.includes(':')) {
    let value = 0;
    let base = 1;
    for (const part of rest.split(':').reverse()) {
      value += Number(part) * base;
      base *= 60;
    }
    return new PyFloat(sign * value);
  }
  return new PyFloat(sign * Number(rest));
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const isLeap = (y: number) => (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;

/** A date or datetime as construct_yaml_timestamp builds it; out-of-range fields fail, as Python's datetime does. */
export function constructTimestamp(text: string, onError: OnError = throwError): PyDate | null {
  const m = TIMESTAMP_PARTS.exec(text);
  if (!m) {
    onError(`'${text}' is not a timestamp`);
    return null;
  }
  const [year, month, day] = [m[1], m[2], m[3]].map(Number);
  const dim = month === 2 && isLeap(year) ? 29 : DAYS_IN_MONTH[month - 1];
  if (year < 1 || month < 1 || month > 12 || day < 1 || day > dim) {
    onError(`'${text}' is not a real date (PyYAML fails on it)`);
    return null;
  }
  if (m[4] === undefined) return new PyDate(year, month, day);
  const [hour, minute, second] = [m[4], m[5], m[6]].map(Number);
  const microsecond = Number((m[7] ?? '').slice(0, 6).padEnd(6, '0'));
  let offset: number | undefined;
  if (m[9]) {
    offset = (Number(m[10]) * 60 + Number(m[11] ?? 0)) * (m[9] === '-' ? -1 : 1);
  } else if (m[8]) {
    offset = 0;
  }
  if (hour > 23 || minute > 59 || second > 59 || (offset !== undefined && Math.abs(offset) >= 24 * 60)) {
    onError(`'${text}' is not a real time (PyYAML fails on it)`);
    return null;
  }
  return new PyDateTime(year, month, day, hour, minute, second, microsecond, offset);
}

function throwError(message: string): never {
  throw new Error(message);
}

const scalarTag = (tag: string, test: RegExp, resolve: (s: string, onError: OnError) => unknown): ScalarTag => ({
  tag: `tag:yaml.org,2002:${tag}`, default: true, test, resolve,
});

const PYYAML_SCALARS: ScalarTag[] = [
  scalarTag('null', NULL, () => null),
  scalarTag('bool', BOOL, (s) => /^(?:yes|true|on)$/i.test(s)),
  scalarTag('int', INT, constructInt),
  scalarTag('float', FLOAT, constructFloat),
  scalarTag('timestamp', TIMESTAMP, constructTimestamp),
  scalarTag('value', /^=$/, () => VALUE_KEY),
];
const REPLACED = new Set(PYYAML_SCALARS.map((t) => t.tag));

/** The `yaml` package's 1.1 tags with the scalar ones replaced by PyYAML's resolvers and constructors. */
export function pyyamlTags(tags: Tags): Tags {
  return [...tags.filter((t) => typeof t !== 'object' || !REPLACED.has(t.tag)), ...PYYAML_SCALARS];
}

/** A mapping as safe_load returns it: keys in first-seen order, the last value of a duplicate key. */
export type PyMap = Map<unknown, unknown>;

export class ConstructError extends Error {
  constructor(message: string, readonly node?: YamlNode) {
    super(message);
  }
}

const isMergeKey = (key: unknown) => isScalar(key) && typeof key.value === 'symbol' && key.value !== VALUE_KEY;

/** What makes two Python keys the same dict key (scalars only: a list or dict is unhashable). */
function keyIdentity(key: unknown, node: unknown): string {
  if (key === null) return 'None';
  if (typeof key === 'string') return `s${key}`;
  if (typeof key === 'boolean') return `n${key ? 1 : 0}`; // True == 1 in Python
  if (typeof key === 'number' || typeof key === 'bigint') return `n${key}`;
  if (key instanceof PyFloat) return Number.isInteger(key.value) ? `n${key.value}` : `f${key.value}`;
  if (key instanceof PyDate) return `d${key}`;
  throw new ConstructError('found an unhashable key (a list or mapping as a key)', node as YamlNode);
}

/**
 * Build the document's value as safe_load does. Maps are `Map`s (keys keep their Python types). Aliases are expanded
 * with a budget, so that a "billion laughs" is refused instead of filling memory.
 */
export function construct(doc: Document.Parsed, maxAliasNodes = 10_000): unknown {
  let budget = maxAliasNodes;
  const active = new Set<unknown>();

  const build = (node: unknown, viaAlias: boolean): unknown => {
    if (node === null || node === undefined) return null;
    if (isAlias(node)) {
      const target = node.resolve(doc);
      if (!target) throw new ConstructError(`Unresolved alias (no anchor '${node.source}')`, node);
      if (active.has(target)) throw new ConstructError(`The alias *${node.source} refers to itself`, node);
      return build(target, true);
    }
    if (viaAlias && --budget < 0) throw new ConstructError('Excessive alias count: aliases expand to too many values (a "billion laughs")');
    if (isScalar(node)) {
      if (node.value === VALUE_KEY) throw new ConstructError("A plain '=' is not a value PyYAML can read: quote it", node);
      // PyYAML resolves a plain `<<` as a merge key wherever it is; as a value it has no constructor.
      if (node.type === 'PLAIN' && node.value === '<<') throw new ConstructError("A plain '<<' is a merge key, not a value: quote it", node);
      return node.value;
    }
    active.add(node);
    try {
      if (isSeq(node)) return node.items.map((item) => build(item, viaAlias));
      if (isMap(node)) {
        const out: PyMap = new Map();
        const ids = new Map<string, unknown>();
        for (const [k, v, merged] of flatten(node)) {
          const key = isScalar(k) && k.value === VALUE_KEY ? '=' : build(k, viaAlias || merged);
          const id = keyIdentity(key, k);
          const value = build(v, viaAlias || merged);
          const existing = ids.get(id);
          if (existing === undefined && !ids.has(id)) {
            ids.set(id, key);
            out.set(key, value);
          } else {
            out.set(existing, value);
          }
        }
        return out;
      }
    } finally {
      active.delete(node);
    }
    throw new ConstructError('A node PyYAML cannot build', node as YamlNode);
  };

  /** PyYAML's flatten_mapping: merged pairs first (later merges win, within a list the first), then the map's own. */
  const flatten = (node: YamlNode): [key: unknown, value: unknown, merged: boolean][] => {
    if (!isMap(node)) return [];
    const merged: [unknown, unknown, boolean][] = [];
    const own: [unknown, unknown, boolean][] = [];
    for (const pair of node.items) {
      if (!isMergeKey(pair.key)) {
        own.push([pair.key, pair.value, false]);
        continue;
      }
      const deref = (n: unknown) => (isAlias(n) ? n.resolve(doc) : n);
      const value = deref(pair.value);
      if (isMap(value)) {
        merged.push(...flatten(value).map(([k, v]) => [k, v, true] as [unknown, unknown, boolean]));
      } else if (isSeq(value)) {
        const parts = value.items.map((item) => {
          const m = deref(item);
          if (!isMap(m)) throw new ConstructError('A merge key (<<) takes a mapping or a list of mappings', item as YamlNode);
          return flatten(m);
        });
        for (const part of parts.reverse()) merged.push(...part.map(([k, v]) => [k, v, true] as [unknown, unknown, boolean]));
      } else {
        throw new ConstructError('A merge key (<<) takes a mapping or a list of mappings', (value ?? pair.key) as YamlNode);
      }
    }
    return [...merged, ...own];
  };

  return build(doc.contents, false);
}

/** The parse options that make the `yaml` package read as PyYAML does (duplicate keys are left to the caller). */
export const PYYAML_OPTIONS: ParseOptions & DocumentOptions & SchemaOptions = {
  version: '1.1', customTags: pyyamlTags, merge: true, uniqueKeys: false,
};

/** `yaml.safe_load(text)`: the value, or a thrown error where PyYAML raises. */
export function safeLoad(text: string): unknown {
  const doc = parseDocument(text, PYYAML_OPTIONS);
  if (doc.errors.length) throw doc.errors[0];
  return construct(doc);
}
