// Text edits that change one thing in a config file and leave the rest of the text (comments, quoting, layout)
// alone. Each works in block and flow style; quick fixes are built from them.
import { isMap, isScalar, isSeq, parseDocument, type Node as YamlNode } from 'yaml';
import { ConfigDocument, type Position, type Range, type YamlPath } from './document';

/** Replace text[start, end) with newText. */
export interface OffsetEdit {
  start: number;
  end: number;
  newText: string;
  /**
   * Order among insertions at the same offset, lowest first. A new key goes after items appended to a list that
   * ends at the same place, or the items would land in the new key's value.
   */
  order?: number;
}

export type YamlValue = string | number | boolean | readonly string[];

// ---- scalars

const PLAIN_START_FORBIDDEN = /^[!&*|>'"%@`#,[\]{}]|^[-?:](\s|$)/;

/** True when `s` can be written unquoted and read back (as YAML 1.1) as the same string. */
function plainSafe(s: string, flow: boolean): boolean {
  if (!s || s !== s.trim() || /[\r\n\t]/.test(s) || PLAIN_START_FORBIDDEN.test(s)) return false;
  if (s.includes(': ') || s.includes(' #') || s.endsWith(':')) return false;
  if (flow && /[,[\]{}]/.test(s)) return false;
  try {
    const doc = parseDocument(flow ? `[${s}]` : `k: ${s}`, { version: '1.1' });
    const v = doc.toJS() as unknown;
    return !doc.errors.length && (flow ? Array.isArray(v) && v.length === 1 && v[0] === s : (v as Record<string, unknown>)?.k === s);
  } catch {
    return false;
  }
}

/** A value written as YAML: plain when that reads back unchanged, else double-quoted. */
export function yamlScalar(value: string | number | boolean, flow = false): string {
  if (typeof value !== 'string') return String(value);
  return plainSafe(value, flow) ? value : JSON.stringify(value);
}

function yamlFlowList(items: readonly string[]): string {
  return `[${items.map((i) => yamlScalar(i, true)).join(', ')}]`;
}

// ---- positions in the text

/** True when the node at `path`, or a collection around it, is written in flow style. */
function inFlow(cd: ConfigDocument, path: YamlPath): boolean {
  for (let n = path.length; n >= 0; n--) {
    const node = cd.nodeAt(path.slice(0, n));
    if (node && ConfigDocument.isFlow(node)) return true;
  }
  return false;
}

/** End of the line holding the node's last non-blank character (before its line break). */
function endOfLastLine(text: string, node: YamlNode): number {
  const [start, end] = node.range ?? [0, 0];
  let pos = end;
  while (pos > start && /\s/.test(text[pos - 1])) pos--;
  return lineEnd(text, pos);
}

function lineEnd(text: string, pos: number): number {
  const nl = text.indexOf('\n', pos);
  if (nl < 0) return text.length;
  return text[nl - 1] === '\r' ? nl - 1 : nl;
}

function lineStart(text: string, pos: number): number {
  return text.lastIndexOf('\n', pos - 1) + 1;
}

/** Column of an offset (characters since its line began). */
function column(text: string, pos: number): number {
  return pos - lineStart(text, pos);
}

/** Offset just after the last element of a flow collection, and the text that must precede a new element. */
function flowInsertion(text: string, node: YamlNode): { at: number; sep: string } | undefined {
  const [start, end] = node.range ?? [0, 0];
  const close = text[end - 1];
  if (close !== ']' && close !== '}') return undefined;
  let pos = end - 1;
  while (pos > start && /\s/.test(text[pos - 1])) pos--;
  const prev = text[pos - 1];
  return { at: pos, sep: prev === '[' || prev === '{' ? '' : prev === ',' ? ' ' : ', ' };
}

// ---- edits

/** Replace the scalar at `path`, keeping its quoting style where the new value allows. */
export function replaceScalar(cd: ConfigDocument, path: YamlPath, value: string | number | boolean): OffsetEdit | undefined {
  const node = cd.nodeAt(path);
  if (!node?.range || !isScalar(node)) return undefined;
  const [start, end] = node.range;
  let newText: string;
  if (typeof value === 'string' && node.type === 'QUOTE_DOUBLE') newText = JSON.stringify(value);
  else if (typeof value === 'string' && node.type === 'QUOTE_SINGLE' && !/[\r\n]/.test(value)) newText = `'${value.replace(/'/g, "''")}'`;
  else newText = yamlScalar(value, inFlow(cd, path));
  // A block scalar's range swallows its final line break: keep it.
  const old = cd.text.slice(start, end);
  if (/\n$/.test(old) && !newText.endsWith('\n')) newText += old.endsWith('\r\n') ? '\r\n' : '\n';
  return { start, end, newText };
}

/** Rename the key of `path`'s pair. */
export function renameKey(cd: ConfigDocument, path: YamlPath, newKey: string): OffsetEdit | undefined {
  const r = cd.keyRange(path);
  return r && { start: r.start, end: r.end, newText: yamlScalar(newKey, inFlow(cd, path.slice(0, -1))) };
}

/** `key: value` written at `indent` (lists in block style unless in a flow collection), without a leading break. */
function renderPair(cd: ConfigDocument, key: string, value: YamlValue, indent: string, flow: boolean): string {
  if (Array.isArray(value)) {
    if (flow || !value.length) return `${yamlScalar(key, flow)}: ${yamlFlowList(value)}`;
    return `${yamlScalar(key)}:` + (value as readonly string[]).map((v) => `${cd.eol}${indent}  - ${yamlScalar(v)}`).join('');
  }
  return `${yamlScalar(key, flow)}: ${yamlScalar(value as string | number | boolean, flow)}`;
}

/** Add `key: value` at the end of the mapping at `mapPath` (which must not hold `key` yet). */
export function insertKey(cd: ConfigDocument, mapPath: YamlPath, key: string, value: YamlValue): OffsetEdit | undefined {
  const map = cd.nodeAt(mapPath);
  if (!isMap(map) || !map.range) return undefined;
  if (map.flow) {
    const ins = flowInsertion(cd.text, map);
    return ins && { start: ins.at, end: ins.at, newText: `${ins.sep}${renderPair(cd, key, value, '', true)}` };
  }
  if (!map.items.length) return undefined;
  const firstKey = map.items[0].key as YamlNode | null;
  const indent = ' '.repeat(column(cd.text, firstKey?.range?.[0] ?? map.range[0]));
  const at = endOfLastLine(cd.text, map);
  return { start: at, end: at, newText: `${cd.eol}${indent}${renderPair(cd, key, value, indent, inFlow(cd, mapPath))}`, order: 1 };
}

/** Replace the pair of `path` (key and value) with `key: value`, in place. */
export function replacePair(cd: ConfigDocument, path: YamlPath, key: string, value: YamlValue): OffsetEdit | undefined {
  const pair = cd.pairAt(path);
  const keyNode = pair?.key as YamlNode | undefined;
  if (!pair || !keyNode?.range) return undefined;
  const valueNode = pair.value as YamlNode | null;
  const end = valueNode?.range && valueNode.range[1] > keyNode.range[1] ? valueNode.range[1] : keyNode.range[1];
  const indent = ' '.repeat(column(cd.text, keyNode.range[0]));
  let stop = end;
  while (stop > keyNode.range[0] && /\s/.test(cd.text[stop - 1])) stop--;
  return { start: keyNode.range[0], end: stop, newText: renderPair(cd, key, value, indent, inFlow(cd, path.slice(0, -1))) };
}

/** Set `key` in the mapping at `mapPath`: replace its scalar value, or add the key. */
export function setKey(cd: ConfigDocument, mapPath: YamlPath, key: string, value: string | number | boolean): OffsetEdit | undefined {
  const path = [...mapPath, key];
  const pair = cd.pairAt(path);
  if (!pair) return insertKey(cd, mapPath, key, value);
  if (isScalar(pair.value) && pair.value.value !== null) return replaceScalar(cd, path, value);
  return fillEmptyValue(cd, path, yamlScalar(value, inFlow(cd, mapPath)));
}

/** `key:` with nothing after it: write the value after the colon. */
function fillEmptyValue(cd: ConfigDocument, path: YamlPath, newText: string): OffsetEdit | undefined {
  const kr = cd.keyRange(path);
  if (!kr) return undefined;
  const colon = cd.text.indexOf(':', kr.end);
  if (colon < 0) return undefined;
  return { start: colon + 1, end: colon + 1, newText: ` ${newText}` };
}

/** Append strings to the list at `seqPath`; creates the key (as a new list) when it is absent or empty. */
export function appendItems(cd: ConfigDocument, seqPath: YamlPath, values: readonly string[]): OffsetEdit | undefined {
  if (!values.length) return undefined;
  const pair = cd.pairAt(seqPath);
  if (!pair) return insertKey(cd, seqPath.slice(0, -1), String(seqPath[seqPath.length - 1]), values);
  const seq = cd.nodeAt(seqPath);
  if (!seq || (isScalar(seq) && seq.value === null)) return fillEmptyValue(cd, seqPath, yamlFlowList(values));
  if (!isSeq(seq) || !seq.range) return undefined;
  if (seq.flow || !seq.items.length) {
    const ins = seq.flow ? flowInsertion(cd.text, seq) : undefined;
    return ins && { start: ins.at, end: ins.at, newText: ins.sep + values.map((v) => yamlScalar(v, true)).join(', ') };
  }
  const indent = ' '.repeat(column(cd.text, seq.range[0]));
  const at = endOfLastLine(cd.text, seq);
  return { start: at, end: at, newText: values.map((v) => `${cd.eol}${indent}- ${yamlScalar(v)}`).join('') };
}

/** The whole lines [start of `from`'s line, end of `to`'s line + line break], when `from` begins its line. */
function wholeLines(text: string, from: number, to: YamlNode | number, prefix: RegExp): OffsetEdit | undefined {
  const ls = lineStart(text, from);
  if (!prefix.test(text.slice(ls, from))) return undefined;
  const end = typeof to === 'number' ? lineEnd(text, to) : endOfLastLine(text, to);
  const withBreak = text.startsWith('\r\n', end) ? end + 2 : text[end] === '\n' ? end + 1 : end;
  return { start: ls, end: withBreak, newText: '' };
}

/** In a flow collection, an element [start, end) together with the comma that separates it from a neighbour. */
function flowElement(text: string, container: YamlNode, start: number, end: number): OffsetEdit {
  const after = /^\s*,\s*/.exec(text.slice(end, container.range?.[1]));
  if (after) return { start, end: end + after[0].length, newText: '' };
  const before = /,\s*$/.exec(text.slice(container.range?.[0] ?? 0, start));
  return { start: before ? start - before[0].length : start, end, newText: '' };
}

/** Remove the pair of `path` (its key, value and, in block style, its lines). */
export function removeKey(cd: ConfigDocument, path: YamlPath): OffsetEdit | undefined {
  const pair = cd.pairAt(path);
  const map = cd.nodeAt(path.slice(0, -1));
  const key = pair?.key as YamlNode | undefined;
  if (!pair || !key?.range || !map) return undefined;
  const value = pair.value as YamlNode | null;
  const valueEnd = value?.range && value.range[1] > key.range[1] ? value.range[1] : key.range[1];
  if (ConfigDocument.isFlow(map)) return flowElement(cd.text, map, key.range[0], valueEnd);
  const last = value?.range && value.range[1] > key.range[1] ? value : valueEnd;
  return wholeLines(cd.text, key.range[0], last, /^\s*$/);
}

/** Remove item `path` from its list. */
export function removeItem(cd: ConfigDocument, path: YamlPath): OffsetEdit | undefined {
  const seq = cd.nodeAt(path.slice(0, -1));
  const item = cd.nodeAt(path);
  if (!isSeq(seq) || !item?.range) return undefined;
  if (seq.flow) return flowElement(cd.text, seq, item.range[0], item.range[1]);
  return wholeLines(cd.text, item.range[0], item, /^\s*-\s*$/);
}

// ---- applying

/** Apply LSP-style edits (0-based line/character ranges) to a text. */
export function applyTextEdits(text: string, edits: readonly { range: Range; newText: string }[]): string {
  const starts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) starts.push(i + 1);
  const offset = (p: Position) =>
    p.line >= starts.length ? text.length : Math.min(starts[p.line] + p.character, p.line + 1 < starts.length ? starts[p.line + 1] : text.length);
  return applyOffsetEdits(text, edits.map((e) => ({ start: offset(e.range.start), end: offset(e.range.end), newText: e.newText })));
}

/** Apply non-overlapping edits to a text. */
export function applyOffsetEdits(text: string, edits: readonly OffsetEdit[]): string {
  let out = text;
  for (const e of mergeEdits(text, edits).reverse()) out = out.slice(0, e.start) + e.newText + out.slice(e.end);
  return out;
}

/** Merge edits that overlap or touch into one, so that any client applies them the same way. */
export function mergeEdits(text: string, edits: readonly OffsetEdit[]): OffsetEdit[] {
  const sorted = [...edits].sort((a, b) => a.start - b.start || a.end - b.end || (a.order ?? 0) - (b.order ?? 0));
  const out: OffsetEdit[] = [];
  for (const e of sorted) {
    const prev = out[out.length - 1];
    if (prev && e.start <= prev.end) {
      const start = prev.start;
      const end = Math.max(prev.end, e.end);
      const local = [{ ...prev, start: 0, end: prev.end - start }, { ...e, start: e.start - start, end: e.end - start }];
      // Apply in order of position: insertions at the same point keep the order they were given in.
      let merged = '';
      let cursor = 0;
      const region = text.slice(start, end);
      for (const l of local) {
        merged += region.slice(cursor, Math.max(cursor, l.start)) + l.newText;
        cursor = Math.max(cursor, l.end);
      }
      merged += region.slice(cursor);
      out[out.length - 1] = { start, end, newText: merged };
    } else {
      out.push({ start: e.start, end: e.end, newText: e.newText });
    }
  }
  return out;
}
