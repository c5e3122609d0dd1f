// Completion in a cluster config: the keys a mapping takes (with their docs, minus those already there), values
// for keys with known choices (queues, interface, placement, site, booleans, defaults), and `#PBS` directive
// snippets inside `job-extra-directives`. Everything is read from the schema and the queue table in the core.
import {
  CompletionItemKind, CompletionItemTag, InsertTextFormat, InsertTextMode, MarkupKind,
  type Command, type CompletionItem, type CompletionList, type Position, type Range,
} from 'vscode-languageserver-types';
import { isMap, isScalar, isSeq } from 'yaml';
import {
  ConfigDocument, detectSite, GADI_DEFAULT_QUEUE, GADI_QUEUE_NAMES, gadiQueue, MAX_DOCUMENT_CHARS, parseDirective,
  PBS_RESOURCES, QSUB_OPTIONS, schemaInfo, yamlScalar,
  type OffsetRange, type PathAtOffset, type SchemaKey, type YamlPath,
} from '../../core/config';
import { parseBytes, pbsFormatBytesCeil } from '../../core/units';
import { documentFor } from './cache';
import { code, keyMarkdown, keySummary, queueMarkdown } from './markdown';

/** Asks the editor for value suggestions right after a key is inserted (VS Code's built-in command). */
const SUGGEST_AGAIN: Command = { title: 'Suggest', command: 'editor.action.triggerSuggest' };
const INDENT = '  ';
const GiB = 2 ** 30;

interface Context {
  cd: ConfigDocument;
  text: string;
  offset: number;
  lineStart: number;
  /** The text of the cursor's line up to the cursor. */
  before: string;
  at: PathAtOffset;
}

const EMPTY: CompletionList = { isIncomplete: false, items: [] };

/** Completion at `position` (0-based line and UTF-16 character) in a config's text. */
export function completion(text: string, position: Position): CompletionList {
  if (text.length > MAX_DOCUMENT_CHARS) return EMPTY;
  const cd = documentFor(text);
  const offset = cd.offsetAt(position);
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  const before = text.slice(lineStart, offset);
  if (inComment(before)) return EMPTY;
  const ctx: Context = { cd, text, offset, lineStart, before, at: cd.pathAtOffset(offset) };
  const items = itemsFor(ctx);
  return items.length ? { isIncomplete: false, items } : EMPTY;
}

function itemsFor(ctx: Context): CompletionItem[] {
  const { at } = ctx;
  // On a list's own key the user is renaming the key; anywhere below it, writing an item.
  const onListKey = at.kind === 'key' && at.path.length === 3;
  if (!onListKey && isListOf(at.path, DIRECTIVE_LISTS)) return directiveItems(ctx);
  if (!onListKey && isListOf(at.path, SKIP_LISTS)) return skipItems(ctx);
  switch (at.kind) {
    case 'key':
      return keyItems(ctx, at.path.slice(0, -1), at.range, at.range);
    case 'new-key':
      return blankBefore(ctx.before) ? keyItems(ctx, at.path, at.range) : [];
    case 'value':
      // A bare word where a mapping belongs is a key being typed (`co` at the top, before its colon); but not
      // after `jobqueue: `, where a block mapping cannot start.
      if (schemaInfo(at.path)?.keys) {
        return blankBefore(ctx.text.slice(ctx.lineStart, at.range.start)) && at.range.start < at.range.end ? keyItems(ctx, at.path, at.range) : [];
      }
      return valueItems(ctx, at.path, at.range);
    default:
      return [];
  }
}

// ---- where the cursor is

/** True when the cursor is in a comment: a `#` at the line's start or after a blank, outside quotes. */
function inComment(before: string): boolean {
  let quote = '';
  for (let i = 0; i < before.length; i++) {
    const c = before[i];
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === '#' && (i === 0 || /\s/.test(before[i - 1]))) {
      return true;
    }
  }
  return false;
}

/** A new key goes at the start of a line or after `{`/`,` in a flow mapping, not after a value (`cores: 48 |`). */
function blankBefore(before: string): boolean {
  return /^\s*$/.test(before) || /[{,]\s*$/.test(before);
}

const DIRECTIVE_LISTS = ['job-extra-directives', 'job-extra'];
const SKIP_LISTS = ['job-directives-skip', 'header-skip'];

/** True at, or anywhere inside, one of `jobqueue.pbs`'s lists named in `names`. */
function isListOf(path: YamlPath, names: readonly string[]): boolean {
  return path.length >= 3 && path[0] === 'jobqueue' && path[1] === 'pbs' && names.includes(String(path[2]));
}

/** The string value of the scalar at `path`, if it is one. */
function scalarAt(cd: ConfigDocument, path: YamlPath): unknown {
  const node = cd.nodeAt(path);
  return isScalar(node) ? node.value : undefined;
}

/** A quote opening the text at `start`, if any. */
function quoteAt(text: string, start: number): string | undefined {
  const c = text[start];
  return c === '"' || c === "'" ? c : undefined;
}

/** The part of a scalar's range between its quotes (or all of it when unquoted), clipped to the cursor. */
function insideQuotes(text: string, range: OffsetRange, offset: number): { range: OffsetRange; quoted: boolean } {
  const q = quoteAt(text, range.start);
  if (!q) return { range: { start: range.start, end: range.end }, quoted: false };
  const start = Math.min(range.start + 1, offset);
  const end = range.end - 1 > start && text[range.end - 1] === q ? range.end - 1 : range.end;
  return { range: { start, end: Math.max(start, end) }, quoted: true };
}

// ---- keys

function presentKeys(cd: ConfigDocument, path: YamlPath, except?: OffsetRange): Set<string> {
  const node = path.length ? cd.nodeAt(path) : cd.doc?.contents;
  const names = new Set<string>();
  if (!isMap(node)) return names;
  for (const pair of node.items) {
    if (!isScalar(pair.key)) continue;
    const r = pair.key.range;
    if (except && r && r[0] === except.start) continue;
    // dask's config takes `_` and `-` alike: a `death_timeout` already set is `death-timeout`.
    names.add(String(pair.key.value).replace(/_/g, '-'));
  }
  return names;
}

/** Snippet text needs `$`, `}` and `\` escaped. */
function escapeSnippet(s: string): string {
  return s.replace(/[$}\\]/g, '\\$&');
}

function keyItems(ctx: Context, mappingPath: YamlPath, replace: OffsetRange, current?: OffsetRange): CompletionItem[] {
  const info = schemaInfo(mappingPath);
  if (!info?.keys) return [];
  const { cd, text } = ctx;
  const present = presentKeys(cd, mappingPath, current);
  const lineEnd = text.indexOf('\n', replace.end);
  const after = text.slice(replace.end, lineEnd < 0 ? text.length : lineEnd);
  const hasColon = /^[ \t]*:/.test(after);
  const mapping = mappingPath.length ? cd.nodeAt(mappingPath) : cd.doc?.contents;
  const flow = (isMap(mapping) || isSeq(mapping)) && !!mapping.flow;
  const keyLineStart = text.lastIndexOf('\n', replace.start - 1) + 1;
  const indent = ' '.repeat(Math.max(0, replace.start - keyLineStart));
  const range = cd.range(replace);
  return info.keys
    .filter((k) => !present.has(k.name.replace(/_/g, '-')))
    .map((k) => keyItem(k, [...mappingPath, k.name], { range, hasColon, flow, indent }));
}

interface KeyPlace {
  range: Range;
  hasColon: boolean;
  flow: boolean;
  indent: string;
}

function keyItem(key: SchemaKey, path: YamlPath, place: KeyPlace): CompletionItem {
  const info = schemaInfo(path);
  const name = escapeSnippet(key.name);
  let insert: string;
  let suggestAgain = false;
  if (place.hasColon) {
    insert = name;
  } else if (key.type === 'mapping') {
    insert = place.flow ? `${name}: {$0}` : `${name}:\n${place.indent}${INDENT}$0`;
  } else if (key.type === 'list') {
    insert = place.flow ? `${name}: [$0]` : `${name}:\n${place.indent}${INDENT}- $0`;
    suggestAgain = isListOf(path, DIRECTIVE_LISTS) || isListOf(path, SKIP_LISTS);
  } else {
    insert = `${name}: $0`;
    suggestAgain = valueCandidates(undefined, path).length > 0;
  }
  const item: CompletionItem = {
    label: key.name,
    kind: CompletionItemKind.Property,
    detail: keySummary(key),
    documentation: { kind: MarkupKind.Markdown, value: keyMarkdown(path, info ?? key) },
    textEdit: { range: place.range, newText: insert },
    insertTextFormat: InsertTextFormat.Snippet,
    // The indentation of later lines is already absolute.
    insertTextMode: InsertTextMode.asIs,
    filterText: key.name,
    // Required keys first, deprecated ones last.
    sortText: `${key.deprecatedBy ? 9 : key.required ? 0 : 1}_${key.name}`,
  };
  if (key.deprecatedBy) item.tags = [CompletionItemTag.Deprecated];
  if (suggestAgain) item.command = SUGGEST_AGAIN;
  return item;
}

// ---- values

interface ValueCandidate {
  value: string | number | boolean;
  detail?: string;
  doc?: string;
}

function pbsQueueName(cd: ConfigDocument | undefined): string | undefined {
  if (!cd) return undefined;
  const queue = scalarAt(cd, ['jobqueue', 'pbs', 'queue']);
  if (typeof queue === 'string') return queue;
  return detectSite(scalarAt(cd, ['site']), scalarAt(cd, ['connection', 'host'])) === 'gadi' ? GADI_DEFAULT_QUEUE : undefined;
}

/** What is worth offering as the value at `path`; `cd` adds what the rest of the file suggests. */
function valueCandidates(cd: ConfigDocument | undefined, path: YamlPath): ValueCandidate[] {
  const info = schemaInfo(path);
  if (!info || info.keys || info.type === 'mapping' || info.type === 'list') return [];
  const out: ValueCandidate[] = [];
  const isPbs = path.length === 3 && path[0] === 'jobqueue' && path[1] === 'pbs';
  const key = String(path[path.length - 1]);
  if (isPbs && key === 'queue') {
    for (const name of GADI_QUEUE_NAMES) out.push({ value: name, detail: 'Gadi queue', doc: queueMarkdown(name) });
  }
  const queue = isPbs && (key === 'cores' || key === 'memory') ? gadiQueue(pbsQueueName(cd) ?? '') : undefined;
  if (queue && key === 'cores') out.push({ value: queue.coresPerNode, detail: `a whole ${queue.name} node` });
  if (queue && key === 'memory') out.push({ value: `${queue.memPerNode / GiB}GB`, detail: `a whole ${queue.name} node` });
  for (const v of info.allowedValues ?? []) out.push({ value: v });
  if (info.type.split(' | ').includes('boolean')) out.push({ value: true }, { value: false });
  for (const v of info.examples ?? []) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out.push({ value: v });
  }
  const d = info.default;
  if (info.hasDefault && (typeof d === 'string' || typeof d === 'number' || typeof d === 'boolean')) {
    out.push({ value: d, detail: 'default' });
  }
  const seen = new Set<string>();
  return out.filter((c) => !seen.has(String(c.value)) && !!seen.add(String(c.value)));
}

function valueItems(ctx: Context, path: YamlPath, replace: OffsetRange): CompletionItem[] {
  const candidates = valueCandidates(ctx.cd, path);
  if (!candidates.length) return [];
  const info = schemaInfo(path);
  const keyDoc = info ? keyMarkdown(path, info) : undefined;
  const { range, quoted } = insideQuotes(ctx.text, replace, ctx.offset);
  // Right after `key:` a value needs its blank, or YAML reads `key:value` as one word.
  const lead = range.start === range.end && ctx.text[range.start - 1] === ':' ? ' ' : '';
  const flow = ctx.cd.nodeAt(path.slice(0, -1));
  const inFlow = (isMap(flow) || isSeq(flow)) && !!flow.flow;
  return candidates.map((c, i) => {
    const label = String(c.value);
    const newText = lead + (quoted ? label : yamlScalar(c.value, inFlow));
    const item: CompletionItem = {
      label,
      kind: typeof c.value === 'string' && info?.allowedValues ? CompletionItemKind.EnumMember : CompletionItemKind.Value,
      textEdit: { range: ctx.cd.range(range), newText },
      filterText: label,
      sortText: String(i).padStart(3, '0'),
    };
    if (c.detail) item.detail = c.detail;
    const doc = c.doc ?? keyDoc;
    if (doc) item.documentation = { kind: MarkupKind.Markdown, value: doc };
    return item;
  });
}

// ---- job-directives-skip

function skipItems(ctx: Context): CompletionItem[] {
  const place = itemPlace(ctx);
  if (!place) return [];
  return [{
    label: 'select',
    kind: CompletionItemKind.Value,
    detail: 'skip the generated select= line',
    documentation: {
      kind: MarkupKind.Markdown,
      value: 'dask-jobqueue writes `#PBS -l select=1:ncpus=…:mem=…`; Gadi does not accept `select`. Skip that line and ' +
        'request `-l ncpus=` and `-l mem=` in `job-extra-directives` instead.',
    },
    textEdit: { range: ctx.cd.range(place.range), newText: `${place.lead}select` },
    filterText: 'select',
  }];
}

// ---- job-extra-directives

interface ItemPlace {
  /** What the completion replaces: the option being typed, up to the cursor. */
  range: OffsetRange;
  /** Text the insertion needs in front (`- ` on a bare line, a blank right after `-`). */
  lead: string;
}

/**
 * Where the option being typed starts in a directive's text up to the cursor: at its `-` (`-P ab12 -l st` → the
 * `-l`), or at the end when the last option is complete and followed by a blank (`-P ab12 `).
 */
function optionStart(typed: string): number {
  const m = /(?:^|\s)(-\S*)(\s+[^\s-]\S*)?(\s*)$/.exec(typed);
  if (!m) return /^\s*$/.test(typed) ? typed.length : 0;
  if (m[2] && m[3]) return typed.length;
  return typed.length - (m[1].length + (m[2]?.length ?? 0) + m[3].length);
}

/** Where a list item goes or is being typed at the cursor, or undefined when the cursor is not in one. */
function itemPlace(ctx: Context): ItemPlace | undefined {
  const { at, text, offset, before, lineStart } = ctx;
  if (at.kind === 'value' && typeof at.path[at.path.length - 1] === 'number' && at.path.length === 4) {
    const inner = insideQuotes(text, at.range, offset);
    const typed = text.slice(inner.range.start, offset);
    return { range: { start: inner.range.start + optionStart(typed), end: offset }, lead: '' };
  }
  if (/[[,]\s*$/.test(before)) return { range: { start: offset, end: offset }, lead: '' };
  const item = /^([ \t]*-)([ \t]*)(.*)$/.exec(before);
  if (item) {
    if (!item[2] && !item[3]) return { range: { start: offset, end: offset }, lead: ' ' };
    let start = lineStart + item[1].length + item[2].length;
    let typed = item[3];
    if (quoteAt(typed, 0)) {
      start++;
      typed = typed.slice(1);
    }
    return { range: { start: start + optionStart(typed), end: offset }, lead: '' };
  }
  return /^\s*$/.test(before) ? { range: { start: offset, end: offset }, lead: '- ' } : undefined;
}

interface DirectiveSnippet {
  label: string;
  snippet: string;
  detail: string;
  doc: string;
}

/** What the file already says that a directive can reuse: the project, cores and memory. */
function fileFacts(cd: ConfigDocument): { project?: string; cores?: string; mem?: string } {
  const facts: { project?: string; cores?: string; mem?: string } = {};
  for (const list of DIRECTIVE_LISTS) {
    const node = cd.nodeAt(['jobqueue', 'pbs', list]);
    if (!isSeq(node)) continue;
    for (const item of node.items) {
      if (!isScalar(item) || typeof item.value !== 'string') continue;
      const p = parseDirective(item.value).options.find((o) => o.flag === 'P' && o.value);
      facts.project ??= p?.value;
    }
  }
  const account = scalarAt(cd, ['jobqueue', 'pbs', 'account']);
  if (typeof account === 'string' && /^[a-z]{1,2}\d{1,2}$/i.test(account)) facts.project ??= account;
  const cores = scalarAt(cd, ['jobqueue', 'pbs', 'cores']);
  if (typeof cores === 'number' && Number.isInteger(cores) && cores > 0) facts.cores = String(cores);
  const memory = scalarAt(cd, ['jobqueue', 'pbs', 'memory']);
  if (typeof memory === 'string' || typeof memory === 'number') {
    try {
      const bytes = parseBytes(memory);
      if (bytes > 0) facts.mem = pbsFormatBytesCeil(bytes);
    } catch {
      // Not a size yet (still being typed): the snippet keeps its example.
    }
  }
  return facts;
}

const CURATED_RESOURCES = new Set(['storage', 'jobfs', 'ncpus', 'mem', 'walltime', 'ngpus', 'wd']);
// Options a worker job never carries: -A (the `account` key writes it; Gadi rejects it), interactive and
// submission-only switches, and the ones the curated list already has.
const OTHER_OPTIONS = ['N', 'j', 'm', 'M', 'W', 'v', 'V', 'o', 'e', 'r', 'a', 'p'];

function directiveSnippets(cd: ConfigDocument): DirectiveSnippet[] {
  const facts = fileFacts(cd);
  const project = escapeSnippet(facts.project ?? 'project');
  const storageProject = escapeSnippet(facts.project ?? 'ab12');
  const res = (name: string, snippet: string): DirectiveSnippet => ({
    label: PBS_RESOURCES[name].kind === 'flag' ? `-l ${name}` : `-l ${name}=`,
    snippet,
    detail: `resource ${name}`,
    doc: `${code(`-l ${name}`)}: ${PBS_RESOURCES[name].description}`,
  });
  const opt = (flag: string, snippet: string): DirectiveSnippet => ({
    label: `-${flag}`,
    snippet,
    detail: `qsub -${flag}`,
    doc: `${code(`-${flag}`)}: ${QSUB_OPTIONS[flag].description}`,
  });
  const out: DirectiveSnippet[] = [
    opt('P', `-P \${1:${project}}`),
    opt('q', `-q \${1|${GADI_QUEUE_NAMES.join(',')}|}`),
    res('storage', `-l storage=gdata/\${1:${storageProject}}+scratch/\${1:${storageProject}}`),
    res('jobfs', '-l jobfs=${1:100GB}'),
    res('ncpus', `-l ncpus=\${1:${facts.cores ?? '48'}}`),
    res('mem', `-l mem=\${1:${escapeSnippet(facts.mem ?? '192GB')}}`),
    res('walltime', '-l walltime=${1:01:00:00}'),
    res('ngpus', '-l ngpus=${1:1}'),
    res('wd', '-l wd'),
  ];
  for (const [name, info] of Object.entries(PBS_RESOURCES)) {
    // Gadi rejects select, and the generated header already has one: never suggest writing another.
    if (CURATED_RESOURCES.has(name) || name === 'select') continue;
    out.push(res(name, info.kind === 'flag' ? `-l ${name}` : `-l ${name}=\${1}`));
  }
  for (const flag of OTHER_OPTIONS) {
    const info = QSUB_OPTIONS[flag];
    if (info) out.push(opt(flag, info.argument ? `-${flag} \${1}` : `-${flag}`));
  }
  return out;
}

/** A snippet as it reads with its placeholders' defaults (the first of a choice). */
function snippetExample(snippet: string): string {
  return snippet
    .replace(/\$\{\d+(?::((?:\\.|[^}\\])*)|\|([^|,]*)[^}]*\|)?\}/g, (_m, def?: string, choice?: string) => def ?? choice ?? '')
    .replace(/\\([$}\\])/g, '$1');
}

function directiveItems(ctx: Context): CompletionItem[] {
  const place = itemPlace(ctx);
  if (!place) return [];
  const range = ctx.cd.range(place.range);
  return directiveSnippets(ctx.cd).map((s, i) => ({
    label: s.label,
    kind: CompletionItemKind.Snippet,
    detail: s.detail,
    documentation: { kind: MarkupKind.Markdown, value: `${s.doc}\n\nInserts ${code(snippetExample(s.snippet))}.` },
    textEdit: { range, newText: place.lead + s.snippet },
    insertTextFormat: InsertTextFormat.Snippet,
    filterText: s.label,
    sortText: String(i).padStart(3, '0'),
  }));
}
