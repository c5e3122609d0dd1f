// A config file parsed with the `yaml` package, keeping every node's source range, so that each diagnostic points
// at the exact key or value it is about and fixes can edit the text in place. Scalars resolve as YAML 1.1 as
// PyYAML does (`yes` is true, `12:00:00` is 43200), because dask reads this same file with PyYAML.
import {
  isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument,
  type Document, type Node as YamlNode, type Pair, type Scalar, type YAMLMap, type YAMLSeq,
} from 'yaml';
import { pythonStr } from '../python';
import { construct, ConstructError, PYYAML_OPTIONS, VALUE_KEY } from './pyyaml';

export type PathSegment = string | number;
export type YamlPath = readonly PathSegment[];

/** Offsets into the text, end exclusive (UTF-16 code units, as JavaScript strings and LSP count them). */
export interface OffsetRange {
  readonly start: number;
  readonly end: number;
}
/** 0-based line and character, as in the Language Server Protocol. */
export interface Position {
  line: number;
  character: number;
}
export interface Range {
  start: Position;
  end: Position;
}

export type SyntaxCode = 'yaml/syntax' | 'yaml/duplicate-key' | 'yaml/too-large';
export interface SyntaxProblem {
  range: OffsetRange;
  code: SyntaxCode;
  severity: 'error' | 'warning';
  message: string;
}

/** Where an offset sits: on a key, in a value, or in blank space where a new key (or item) of `path` would go. */
export interface PathAtOffset {
  path: YamlPath;
  kind: 'key' | 'value' | 'new-key' | 'new-item';
  /** The text a completion would replace: the key or scalar under the cursor, else empty at the cursor. */
  range: OffsetRange;
}

/** Bigger texts are not parsed: no sane cluster config comes near, and it keeps every keystroke cheap. */
export const MAX_DOCUMENT_CHARS = 1024 * 1024;
/** Nodes that aliases may expand to: far beyond any real config, far below a "billion laughs". */
const MAX_ALIAS_NODES = 10_000;

const nodeRange = (node: YamlNode): OffsetRange | undefined =>
  node.range ? { start: node.range[0], end: node.range[1] } : undefined;

/** A mapping key as dask sees it: keys become strings in the config, as Python's str() prints them. */
function keyName(pair: Pair): string | undefined {
  const key = pair.key;
  if (isScalar(key)) return typeof key.value === 'symbol' ? (key.value === VALUE_KEY ? '=' : '<<') : pythonStr(key.value);
  return typeof key === 'string' || typeof key === 'number' ? String(key) : undefined;
}

/** safe_load's value with every mapping a plain object keyed by str(key), as dask's config holds it. */
function toConfigValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(toConfigValue);
  if (v instanceof Map) {
    const out: Record<string, unknown> = {};
    for (const [k, item] of v) {
      Object.defineProperty(out, typeof k === 'string' ? k : pythonStr(k), { value: toConfigValue(item), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return v;
}

/**
 * The pair for key `name`, the last one when duplicated (the one that counts); failing an exact match, a key spelled
 * with `_` for `-` or the reverse, which dask's config takes as the same key.
 */
function findPair(map: YAMLMap, name: string): Pair | undefined {
  const canonical = name.replace(/_/g, '-');
  let loose: Pair | undefined;
  for (let i = map.items.length - 1; i >= 0; i--) {
    const key = keyName(map.items[i]);
    if (key === name) return map.items[i];
    if (!loose && key?.replace(/_/g, '-') === canonical) loose = map.items[i];
  }
  return loose;
}

function isEmptyScalar(node: unknown): boolean {
  return isScalar(node) && node.value === null && !!node.range && node.range[0] === node.range[1];
}

export class ConfigDocument {
  readonly lineCounter = new LineCounter();
  readonly doc: Document.Parsed | undefined;
  readonly problems: SyntaxProblem[] = [];
  /**
   * The file as dask would load it with PyYAML (last duplicate key wins, merge keys applied, floats as PyFloat,
   * dates as PyDate); undefined when it cannot be built.
   */
  readonly value: unknown;
  readonly eol: '\n' | '\r\n';

  constructor(readonly text: string) {
    this.eol = text.includes('\r\n') ? '\r\n' : '\n';
    if (text.length > MAX_DOCUMENT_CHARS) {
      this.lineCounter.addNewLine(0);
      this.problems.push({
        range: { start: 0, end: 0 }, code: 'yaml/too-large', severity: 'error',
        message: `This file is ${(text.length / 2 ** 20).toFixed(1)} MiB; files over ${MAX_DOCUMENT_CHARS / 2 ** 20} MiB are not linted.`,
      });
      return;
    }
    try {
      // Duplicate keys are found below in linear time: the parser's own check is quadratic in the size of a mapping.
      this.doc = parseDocument(text, {
        ...PYYAML_OPTIONS, lineCounter: this.lineCounter, prettyErrors: false,
      });
    } catch (e) {
      this.problems.push({ range: { start: 0, end: 0 }, code: 'yaml/syntax', severity: 'error', message: `Could not parse this file: ${(e as Error).message}` });
      return;
    }
    let tooDeep = false;
    for (const err of this.doc.errors) {
      // The parser survives absurd nesting by catching the stack overflow; say what it means, once.
      const deep = /call stack/i.test(err.message);
      if (deep && tooDeep) continue;
      tooDeep ||= deep;
      const message = deep ? 'The file nests too deeply to be read (thousands of levels).' : err.message;
      this.problems.push({ range: { start: err.pos[0], end: err.pos[1] }, code: 'yaml/syntax', severity: 'error', message });
    }
    for (const warn of this.doc.warnings) {
      this.problems.push({ range: { start: warn.pos[0], end: warn.pos[1] }, code: 'yaml/syntax', severity: 'warning', message: warn.message });
    }
    this.findDuplicateKeys();
    if (this.hasSyntaxErrors) return;
    try {
      this.value = toConfigValue(construct(this.doc, MAX_ALIAS_NODES));
    } catch (e) {
      const at = e instanceof ConstructError && e.node ? nodeRange(e.node) : undefined;
      this.problems.push({ range: at ?? this.rootRange(), code: 'yaml/syntax', severity: 'error', message: (e as Error).message });
    }
  }

  /** True when the YAML itself is broken (duplicate keys and warnings aside), so the schema cannot be checked. */
  get hasSyntaxErrors(): boolean {
    return this.problems.some((p) => p.severity === 'error' && p.code !== 'yaml/duplicate-key');
  }

  private findDuplicateKeys(): void {
    const stack: unknown[] = [this.doc?.contents];
    while (stack.length) {
      const node = stack.pop();
      if (isMap(node)) {
        const seen = new Map<string, Pair>();
        for (const pair of node.items) {
          const name = keyName(pair);
          const earlier = name === undefined ? undefined : seen.get(name);
          const keyRange = isScalar(pair.key) ? nodeRange(pair.key) : undefined;
          if (earlier && keyRange && name !== '<<') {
            const line = this.position((earlier.key as Scalar).range?.[0] ?? 0).line + 1;
            this.problems.push({
              range: keyRange, code: 'yaml/duplicate-key', severity: 'error',
              message: `Duplicate key '${name}': it is already set on line ${line}, and only the last value counts.`,
            });
          }
          if (name !== undefined) seen.set(name, pair);
          stack.push(pair.key, pair.value);
        }
      } else if (isSeq(node)) {
        for (const item of node.items) stack.push(item);
      }
    }
  }

  // ---- positions

  /**
   * Where each line starts. Counted from the text itself: the parser's LineCounter misses the line breaks inside
   * the tokens it could not parse, which would put every later problem on the wrong line.
   */
  private starts: number[] | undefined;
  private get lineStarts(): number[] {
    if (this.starts) return this.starts;
    const starts = [0];
    if (this.text.length <= MAX_DOCUMENT_CHARS) {
      for (let i = this.text.indexOf('\n'); i >= 0; i = this.text.indexOf('\n', i + 1)) starts.push(i + 1);
    }
    return (this.starts = starts);
  }

  position(offset: number): Position {
    const at = Math.max(0, Math.min(offset, this.text.length));
    const starts = this.lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid] <= at) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo, character: at - starts[lo] };
  }

  range(r: OffsetRange): Range {
    return { start: this.position(r.start), end: this.position(r.end) };
  }

  offsetAt(pos: Position): number {
    const starts = this.lineStarts;
    if (pos.line < 0) return 0;
    if (pos.line >= starts.length) return this.text.length;
    const lineEnd = pos.line + 1 < starts.length ? starts[pos.line + 1] : this.text.length;
    return Math.min(starts[pos.line] + Math.max(0, pos.character), lineEnd);
  }

  /** Where a problem with the whole file is shown: its first line. */
  rootRange(): OffsetRange {
    const contents = this.doc?.contents;
    const start = contents?.range ? contents.range[0] : 0;
    const eol = this.text.indexOf('\n', start);
    return { start, end: eol < 0 ? this.text.length : eol > start && this.text[eol - 1] === '\r' ? eol - 1 : eol };
  }

  // ---- nodes by path

  private resolve(node: unknown): unknown {
    return isAlias(node) && this.doc ? node.resolve(this.doc) : node;
  }

  /** The pair holding `path`'s last key; with duplicate keys, the last one (the one that counts). */
  pairAt(path: YamlPath): Pair | undefined {
    if (!path.length) return undefined;
    const parent = this.nodeAt(path.slice(0, -1));
    if (!isMap(parent)) return undefined;
    return findPair(parent, String(path[path.length - 1]));
  }

  /** The node at `path` (an object key or a list index at each step), or undefined when there is none. */
  nodeAt(path: YamlPath): YamlNode | undefined {
    let node: unknown = this.doc?.contents ?? undefined;
    for (const seg of path) {
      node = this.resolve(node);
      if (isMap(node)) {
        node = findPair(node, String(seg))?.value ?? undefined;
      } else if (isSeq(node) && typeof seg === 'number') {
        node = node.items[seg];
      } else {
        return undefined;
      }
      if (node === undefined) return undefined;
    }
    return (this.resolve(node) as YamlNode | undefined) ?? undefined;
  }

  /** The source range of the value at `path` (without trailing comments). */
  valueRange(path: YamlPath): OffsetRange | undefined {
    const node = this.nodeAt(path);
    return node ? nodeRange(node) : undefined;
  }

  /** The source range of the key of `path`'s pair. */
  keyRange(path: YamlPath): OffsetRange | undefined {
    const key = this.pairAt(path)?.key;
    return isScalar(key) ? nodeRange(key) : undefined;
  }

  /**
   * Where a problem about `path` belongs: on its value when there is one (a bad value), else on the key of the
   * nearest ancestor that exists (a missing key shows on its parent's key), else on the first line.
   */
  issueRange(path: YamlPath): OffsetRange {
    const pair = this.pairAt(path);
    if (pair && !isEmptyScalar(pair.value) && pair.value) return nodeRange(pair.value as YamlNode) ?? this.rootRange();
    if (pair) return this.keyRange(path) ?? this.rootRange();
    const node = path.length ? this.nodeAt(path) : undefined;
    if (node) return nodeRange(node) ?? this.rootRange();
    for (let n = path.length - 1; n > 0; n--) {
      const parent = path.slice(0, n);
      const r = this.keyRange(parent) ?? (typeof parent[n - 1] === 'number' ? this.valueRange(parent) : undefined);
      if (r) return r;
    }
    return this.rootRange();
  }

  /**
   * The source range of characters [start, end) of a scalar's string value, when the source spells the value
   * literally (plain, or quoted without escapes); otherwise the whole scalar.
   */
  scalarSubRange(node: YamlNode, start: number, end: number): OffsetRange {
    const whole = nodeRange(node) ?? this.rootRange();
    if (!isScalar(node) || typeof node.value !== 'string') return whole;
    const src = this.text.slice(whole.start, whole.end);
    if (node.type === 'PLAIN' && src === node.value) return { start: whole.start + start, end: whole.start + end };
    const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE';
    if (quoted && src.slice(1, -1) === node.value) return { start: whole.start + 1 + start, end: whole.start + 1 + end };
    return whole;
  }

  // ---- the path under a cursor, for completion and hover

  pathAtOffset(offset: number): PathAtOffset {
    const path: PathSegment[] = [];
    let node: unknown = this.doc?.contents;
    descend: while (node) {
      // An alias stands for its anchor's value, which is written elsewhere: the cursor is on the alias itself.
      if (isAlias(node)) return { path, kind: 'value', range: nodeRange(node) ?? { start: offset, end: offset } };
      if (isMap(node)) {
        for (const pair of node.items) {
          const name = keyName(pair);
          if (name === undefined) continue;
          const kr = isScalar(pair.key) ? nodeRange(pair.key) : undefined;
          if (kr && kr.start <= offset && offset <= kr.end) return { path: [...path, name], kind: 'key', range: kr };
          const value = pair.value;
          const vr = isPair(value) || !value ? undefined : nodeRange(value as YamlNode);
          if (vr && !isEmptyScalar(value) && vr.start <= offset && offset <= vr.end) {
            path.push(name);
            node = value;
            continue descend;
          }
          if (kr && kr.end <= offset && (!value || isEmptyScalar(value)) && !this.text.slice(kr.end, offset).includes('\n')) {
            return { path: [...path, name], kind: 'value', range: { start: offset, end: offset } };
          }
        }
        // Between the braces of a flow mapping, indentation says nothing: a new key joins this mapping.
        if (this.insideFlow(node, offset)) return { path, kind: 'new-key', range: { start: offset, end: offset } };
        break;
      }
      if (isSeq(node)) {
        for (let i = 0; i < node.items.length; i++) {
          const item = node.items[i];
          const r = isPair(item) || !item ? undefined : nodeRange(item as YamlNode);
          if (r && r.start <= offset && offset <= r.end && !isEmptyScalar(item)) {
            path.push(i);
            node = item;
            continue descend;
          }
        }
        if (this.insideFlow(node, offset)) return { path, kind: 'new-item', range: { start: offset, end: offset } };
        break;
      }
      if (isScalar(node)) return { path, kind: 'value', range: nodeRange(node) ?? { start: offset, end: offset } };
      break;
    }
    return this.blankContext(offset);
  }

  /** True when the offset is between the brackets of a flow collection (or after an unclosed one's opener). */
  private insideFlow(node: YAMLMap | YAMLSeq, offset: number): boolean {
    const r = nodeRange(node);
    if (!node.flow || !r || offset <= r.start) return false;
    const closer = isMap(node) ? '}' : ']';
    return offset < r.end || (offset === r.end && this.text[r.end - 1] !== closer);
  }

  /** The cursor is in blank space: its indentation says which mapping (or list) a new entry would join. */
  private blankContext(offset: number): PathAtOffset {
    const here = { start: offset, end: offset };
    const lineStart = this.text.lastIndexOf('\n', offset - 1) + 1;
    const before = this.text.slice(lineStart, offset);
    const dash = /^([ \t]*)-[ \t]*$/.exec(before);
    const kind = dash ? 'new-item' : 'new-key';
    const col = dash ? dash[1].length : before.length - before.trimStart().length;
    const lastIndex = (p: YamlPath) => {
      for (let i = p.length - 1; i >= 0; i--) if (typeof p[i] === 'number') return i;
      return -1;
    };
    // Walk up to the nearest less indented line: the key or `-` item the new entry belongs to.
    for (let end = lineStart - 1; end > 0;) {
      const start = this.text.lastIndexOf('\n', end - 1) + 1;
      const line = this.text.slice(start, end).replace(/\r$/, '');
      end = start - 1;
      const content = line.trimStart();
      if (!content || content.startsWith('#')) continue;
      const indent = line.length - content.length;
      const item = /^-(\s+|$)/.exec(content);
      const contentOffset = start + indent + (item ? item[0].length : 0);
      if (indent > col) continue;
      if (indent === col) {
        if (!item) continue; // a sibling key of the same mapping
        const at = this.pathAtOffset(contentOffset);
        const k = lastIndex(at.path);
        return { path: k < 0 ? at.path : at.path.slice(0, k), kind: 'new-item', range: here };
      }
      const at = this.pathAtOffset(contentOffset);
      if (item) {
        const k = lastIndex(at.path);
        return { path: k < 0 ? at.path : at.path.slice(0, k + 1), kind, range: here };
      }
      return { path: at.path, kind, range: here };
    }
    return { path: [], kind, range: here };
  }

  /** True when the node is a flow collection (`[a, b]`, `{a: 1}`) rather than a block one. */
  static isFlow(node: YamlNode): boolean {
    return (isMap(node) || isSeq(node)) && !!(node as YAMLMap | YAMLSeq).flow;
  }
}

export function parseConfigDocument(text: string): ConfigDocument {
  return new ConfigDocument(text);
}
