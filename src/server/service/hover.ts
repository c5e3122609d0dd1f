// Hover in a cluster config: on a key, what the schema says about it; on a value, the key's docs plus what the
// value means (a queue's limits, a size in bytes, a walltime in hours); on a directive, what each qsub option and
// PBS resource in it asks for.
import { MarkupKind, type Hover, type Position } from 'vscode-languageserver-types';
import { isScalar } from 'yaml';
import {
  MAX_DOCUMENT_CHARS, parseDirective, schemaInfo, type ConfigDocument, type OffsetRange, type YamlPath,
} from '../../core/config';
import { formatBytes, formatWalltime, parseBytes, parseWalltime } from '../../core/units';
import { documentFor } from './cache';
import { code, keyMarkdown, optionMarkdown, queueMarkdown } from './markdown';

function markdown(cd: ConfigDocument, value: string, range: OffsetRange): Hover {
  return { contents: { kind: MarkupKind.Markdown, value }, range: cd.range(range) };
}

/** The key a value belongs to: a list item's is its list's key. */
function ownerKey(path: YamlPath): YamlPath {
  let end = path.length;
  while (end > 0 && typeof path[end - 1] === 'number') end--;
  return path.slice(0, end);
}

function keyDoc(path: YamlPath): string | undefined {
  const info = path.length ? schemaInfo(path) : undefined;
  return info && keyMarkdown(path, info);
}

const isPbsKey = (path: YamlPath, key: string) => path.length === 3 && path[0] === 'jobqueue' && path[1] === 'pbs' && path[2] === key;

/** What a scalar value means, beyond the key's docs. */
function valueFacts(path: YamlPath, value: unknown): string | undefined {
  if (isPbsKey(path, 'queue') && typeof value === 'string') return queueMarkdown(value);
  const key = path[path.length - 1];
  const isWalltime = key === 'walltime' && (path[0] === 'scheduler' || isPbsKey(path, 'walltime'));
  try {
    if (isPbsKey(path, 'memory') && (typeof value === 'string' || typeof value === 'number')) {
      const bytes = parseBytes(value);
      return `${code(String(value))} is ${bytes.toLocaleString('en-US')} bytes (${formatBytes(bytes)}) as dask reads it.`;
    }
    if (isWalltime && (typeof value === 'string' || typeof value === 'number')) {
      const seconds = parseWalltime(value);
      return `${code(String(value))} is ${formatWalltime(seconds)} (${seconds.toLocaleString('en-US')} seconds).`;
    }
  } catch {
    // Not a valid size or walltime: the diagnostic on it says why.
  }
  return undefined;
}

const isDirectiveItem = (path: YamlPath) =>
  path.length === 4 && path[0] === 'jobqueue' && path[1] === 'pbs' && (path[2] === 'job-extra-directives' || path[2] === 'job-extra') &&
  typeof path[3] === 'number';

function directiveHover(cd: ConfigDocument, path: YamlPath, offset: number, range: OffsetRange): Hover | null {
  const node = cd.nodeAt(path);
  if (!isScalar(node) || typeof node.value !== 'string' || !node.range) return null;
  const value = node.value;
  const parsed = parseDirective(value);
  if (!parsed.options.length) {
    const doc = keyDoc(ownerKey(path));
    return doc ? markdown(cd, doc, range) : null;
  }
  // Offsets inside the directive map to the text only when the source spells the value literally.
  const src = cd.text.slice(node.range[0], node.range[1]);
  const quoted = node.type === 'QUOTE_DOUBLE' || node.type === 'QUOTE_SINGLE';
  const base = node.type === 'PLAIN' && src === value ? node.range[0] : quoted && src.slice(1, -1) === value ? node.range[0] + 1 : undefined;
  if (base !== undefined) {
    const rel = offset - base;
    const option = parsed.options.find((o) => o.span.start <= rel && rel <= o.span.end);
    if (option) {
      const resource = option.resources?.find((r) => r.span.start <= rel && rel <= r.span.end);
      const span = resource?.span ?? option.span;
      return markdown(cd, optionMarkdown(option, resource?.name), { start: base + span.start, end: base + span.end });
    }
  }
  return markdown(cd, parsed.options.map((o) => optionMarkdown(o)).join('\n\n---\n\n'), range);
}

/** Hover at `position` (0-based line and UTF-16 character), or null where there is nothing to say. */
export function hover(text: string, position: Position): Hover | null {
  if (text.length > MAX_DOCUMENT_CHARS) return null;
  const cd = documentFor(text);
  const offset = cd.offsetAt(position);
  const at = cd.pathAtOffset(offset);
  if (at.kind === 'key') {
    const doc = keyDoc(at.path);
    return doc ? markdown(cd, doc, at.range) : null;
  }
  // Blank space says nothing; nor does a bare word where the whole file should be a mapping.
  if (at.kind !== 'value' || !at.path.length || at.range.start === at.range.end) return null;
  if (isDirectiveItem(at.path)) return directiveHover(cd, at.path, offset, at.range);
  const node = cd.nodeAt(at.path);
  const facts = isScalar(node) ? valueFacts(at.path, node.value) : undefined;
  const doc = keyDoc(ownerKey(at.path));
  const parts = [facts, doc].filter((p): p is string => !!p);
  return parts.length ? markdown(cd, parts.join('\n\n---\n\n'), at.range) : null;
}
