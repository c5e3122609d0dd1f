// Values read from a parsed config (its nodes, so an int and a float stay apart) and written back as YAML text
// that PyYAML reads as the same values.
import { PyDate, PyFloat } from '../python';
import { isAlias, isMap, isScalar, isSeq, type Document, type Scalar } from 'yaml';
import { yamlScalar } from '../config/edits';
import { py, type PyValue } from './value';

export class Unrepresentable extends Error {
  override readonly name = 'Unrepresentable';
}

// PyYAML reads a number as a float only when it has a dot (or is .inf/.nan); hexadecimal 0x1e is still an int.
function isFloatScalar(node: Scalar): boolean {
  if (node.tag === 'tag:yaml.org,2002:float') return true;
  if (node.tag === 'tag:yaml.org,2002:int') return false;
  const value = node.value as number;
  if (!Number.isInteger(value)) return true;
  const src = node.source ?? '';
  return !/^[-+]?0[xob]/i.test(src) && /[.eE]|inf|nan/i.test(src);
}

function scalarValue(node: Scalar): PyValue {
  const v = node.value;
  if (v === null || v === undefined) return py.none;
  if (typeof v === 'boolean') return py.bool(v);
  if (typeof v === 'string') return py.str(v);
  if (typeof v === 'bigint') {
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new Unrepresentable(`the integer ${v} is too large`);
    return py.int(Number(v));
  }
  if (typeof v === 'number') {
    if (isFloatScalar(node)) return py.float(v);
    if (!Number.isSafeInteger(v)) throw new Unrepresentable(`the integer ${node.source ?? v} is too large`);
    return py.int(v);
  }
  // The config reader (config/pyyaml.ts) keeps PyYAML's floats apart from ints.
  if (v instanceof PyFloat) return py.float(v.value);
  if (v instanceof PyDate) throw new Unrepresentable(`${node.source ?? 'this value'} is a date to PyYAML`);
  if (v instanceof Date) throw new Unrepresentable(`${node.source ?? 'this value'} is a date to PyYAML`);
  throw new Unrepresentable(`${node.source ?? 'this value'} is not text, a number, a list or a mapping`);
}

/** The value of a node as PyYAML builds it: aliases followed, merge keys (`<<`) merged, the last duplicate key kept. */
export function fromYamlNode(node: unknown, doc: Document, depth = 0): PyValue {
  if (depth > 50) throw new Unrepresentable('the value nests too deeply');
  const resolved = isAlias(node) ? node.resolve(doc) : node;
  if (resolved === null || resolved === undefined) return py.none;
  if (isScalar(resolved)) return scalarValue(resolved);
  if (isSeq(resolved)) return py.list(resolved.items.map((item) => fromYamlNode(item, doc, depth + 1)));
  if (isMap(resolved)) {
    const own = new Map<string, PyValue>();
    const merged: PyValue[] = [];
    for (const pair of resolved.items) {
      const key = isScalar(pair.key) ? pair.key.value : pair.key;
      if (key === '<<' && isScalar(pair.key) && pair.key.type === 'PLAIN') {
        const source = fromYamlNode(pair.value, doc, depth + 1);
        merged.push(...(source.type === 'list' ? source.items : [source]));
        continue;
      }
      if (typeof key !== 'string' && typeof key !== 'number' && typeof key !== 'boolean') {
        throw new Unrepresentable('a mapping key is not text');
      }
      own.delete(String(key)); // PyYAML keeps the last value of a repeated key
      own.set(String(key), fromYamlNode(pair.value, doc, depth + 1));
    }
    // Explicit keys win over merged ones, and an earlier merged mapping over a later one.
    const entries = new Map<string, PyValue>();
    for (const source of merged) {
      if (source.type !== 'dict') throw new Unrepresentable('a merge key (<<) names something other than a mapping');
      for (const [k, v] of source.entries) if (!entries.has(k) && !own.has(k)) entries.set(k, v);
    }
    for (const [k, v] of own) entries.set(k, v);
    return py.dict([...entries]);
  }
  throw new Unrepresentable('this value cannot be read');
}

// ---- writing

/** A float PyYAML reads back as a float: it needs a dot, also before an exponent (`1e+21` would be a string). */
export function yamlFloat(x: number): string {
  if (Number.isNaN(x)) return '.nan';
  if (!Number.isFinite(x)) return x > 0 ? '.inf' : '-.inf';
  if (Object.is(x, -0)) return '-0.0';
  const s = String(x);
  const [mantissa, exponent] = s.split('e');
  const dotted = mantissa.includes('.') ? mantissa : `${mantissa}.0`;
  return exponent === undefined ? dotted : `${dotted}e${exponent}`;
}

// PyYAML refuses these characters anywhere in a stream, quoted or not, and reads NEL, LS and PS as line breaks:
// they go in double quotes as escapes.
const NOT_LITERAL_TO_PYYAML = /[^\t\n\r\x20-\x7e\xa0-\u2027\u202a-\ud7ff\ue000-\ufffd\u{10000}-\u{10ffff}]/u;

function escaped(ch: string): string {
  const code = ch.codePointAt(0) ?? 0;
  return code > 0xffff ? `\\U${code.toString(16).padStart(8, '0')}` : code > 0xff ? `\\u${code.toString(16).padStart(4, '0')}` : `\\x${code.toString(16).padStart(2, '0')}`;
}

// What PyYAML refuses, and the bidirectional controls that would make a comment or a terminal show other text.
const NOT_INERT = new RegExp(`${NOT_LITERAL_TO_PYYAML.source}|[\\t\\n\\r\\u202a-\\u202e\\u2066-\\u2069]`, 'gu');

/** Source text made safe for a comment line and a terminal: each control character shown as an escape. */
export function inert(text: string): string {
  return text.replace(NOT_INERT, escaped);
}

function doubleQuoted(s: string): string {
  let out = '"';
  for (const ch of s) {
    if (ch === '\\' || ch === '"') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (NOT_LITERAL_TO_PYYAML.test(ch)) out += escaped(ch);
    else out += ch;
  }
  return `${out}"`;
}

// Plain when the config module finds it reads back unchanged, except `=` and `<<`, which PyYAML takes for tags of
// their own (value and merge) and safe_load refuses.
function yamlString(s: string): string {
  if (s === '=' || s === '<<' || NOT_LITERAL_TO_PYYAML.test(s)) return doubleQuoted(s);
  const written = yamlScalar(s);
  return written.startsWith('"') ? doubleQuoted(s) : written;
}

function scalarText(value: Exclude<PyValue, { type: 'list' } | { type: 'dict' }>): string {
  switch (value.type) {
    case 'str':
      return yamlString(value.value);
    case 'int':
      return String(value.value);
    case 'float':
      return yamlFloat(value.value);
    case 'bool':
      return value.value ? 'true' : 'false';
    case 'none':
      return 'null';
  }
}

/** A short rendering for messages: a scalar as written, a collection by its size. */
export function yamlInline(value: PyValue): string {
  if (value.type === 'list') return value.items.length ? `a list of ${value.items.length}` : '[]';
  if (value.type === 'dict') return value.entries.length ? `a mapping of ${value.entries.length}` : '{}';
  return scalarText(value);
}

/**
 * `key: value` lines at `indent`, in block style throughout: PyYAML's flow style forbids more in plain scalars
 * (`?` and `:` starts, `,`) than block style does, and block is what people write.
 */
export function yamlEntries(entries: ReadonlyArray<readonly [string, PyValue]>, indent: string): string[] {
  return entries.flatMap(([key, value]) => withHead(`${indent}${yamlString(key)}:`, value, `${indent}  `));
}

/** `head` followed by the value: on the same line for a scalar or an empty collection, else below it. */
function withHead(head: string, value: PyValue, indent: string): string[] {
  const below = blockLines(value, indent);
  return below ? [head, ...below] : [`${head} ${inlineEmpty(value)}`];
}

function inlineEmpty(value: PyValue): string {
  if (value.type === 'list') return '[]';
  if (value.type === 'dict') return '{}';
  return scalarText(value);
}

/** The lines of a non-empty collection, or undefined for what fits after its key. */
function blockLines(value: PyValue, indent: string): string[] | undefined {
  if (value.type === 'dict' && value.entries.length) return yamlEntries(value.entries, indent);
  if (value.type !== 'list' || !value.items.length) return undefined;
  return value.items.flatMap((item) => {
    const nested = blockLines(item, `${indent}  `);
    if (!nested) return [`${indent}- ${inlineEmpty(item)}`];
    // The first line of the nested collection moves up onto the dash.
    return [`${indent}- ${nested[0].slice(indent.length + 2)}`, ...nested.slice(1)];
  });
}
