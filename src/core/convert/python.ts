// PBSCluster(...) calls in Python source, parsed with @lezer/python (a real Python grammar, pure JavaScript), and
// the literal values of their arguments. Only what Python would evaluate to the same value anywhere is read:
// strings (implicit concatenation included), numbers, True/False/None, lists, tuples, dicts. A name, an f-string
// or a call depends on the running program, so it is reported as such, never guessed.
import { TreeFragment, type SyntaxNode, type Tree } from '@lezer/common';
import { parser } from '@lezer/python';
import { py, type PyValue } from './value';
import { inert } from './yaml';

export interface SourceRange {
  /** Offsets into the source, end exclusive. */
  readonly start: number;
  readonly end: number;
}

export type Evaluated = { ok: true; value: PyValue } | { ok: false; reason: string };

export interface CallArgument {
  /** The keyword; undefined for a positional argument, `*` or `**` for unpacking. */
  readonly keyword: string | undefined;
  readonly kind: 'keyword' | 'positional' | 'unpack';
  /** The argument as written, on one line, control characters escaped. */
  readonly text: string;
  readonly range: SourceRange;
  readonly value: Evaluated;
}

export interface PbsClusterCall {
  /** From the callee to the closing parenthesis. */
  readonly range: SourceRange;
  /** 0-based line of the callee. */
  readonly line: number;
  readonly arguments: readonly CallArgument[];
}

const CALLEE = 'PBSCluster';

// IPython's magics and shell escapes (`%time`, `!pip`) are not Python: blank them (keeping every offset) so the
// cell around them parses.
function withoutMagics(source: string): string {
  return source.replace(/^([ \t]*)[%!][^\n]*/gm, (line) => line.replace(/[^\n]/g, ' '));
}

function calleeName(callee: SyntaxNode | null, source: string): string | undefined {
  if (!callee) return undefined;
  if (callee.name === 'VariableName') return source.slice(callee.from, callee.to);
  if (callee.name === 'MemberExpression') {
    const prop = callee.lastChild;
    return prop?.name === 'PropertyName' ? source.slice(prop.from, prop.to) : undefined;
  }
  return undefined;
}

/** A parse to build the next one on: an edit re-parses only around what changed. */
export interface PythonParse {
  readonly text: string;
  readonly tree: Tree;
  readonly calls: readonly PbsClusterCall[];
}

// The one edited region between two texts, from their common prefix and suffix.
function changedRegion(before: string, after: string) {
  const max = Math.min(before.length, after.length);
  let prefix = 0;
  while (prefix < max && before.charCodeAt(prefix) === after.charCodeAt(prefix)) prefix++;
  let suffix = 0;
  while (suffix < max - prefix && before.charCodeAt(before.length - 1 - suffix) === after.charCodeAt(after.length - 1 - suffix)) suffix++;
  return { fromA: prefix, toA: before.length - suffix, fromB: prefix, toB: after.length - suffix };
}

/** Parses the source (reusing `previous` where the text is unchanged) and finds its PBSCluster calls. */
export function parsePython(source: string, options: { ipython?: boolean; previous?: PythonParse } = {}): PythonParse {
  const text = options.ipython ? withoutMagics(source) : source;
  const prev = options.previous;
  const fragments = prev ? TreeFragment.applyChanges(TreeFragment.addTree(prev.tree), [changedRegion(prev.text, text)]) : undefined;
  const tree = parser.parse(text, fragments);
  const calls: PbsClusterCall[] = [];
  const cursor = tree.cursor();
  do {
    if (cursor.name !== 'CallExpression') continue;
    const node = cursor.node;
    const args = node.getChild('ArgList');
    if (!args || calleeName(node.firstChild, text) !== CALLEE) continue;
    calls.push({
      range: { start: node.from, end: node.to },
      line: lineOf(text, node.from),
      arguments: callArguments(args, text),
    });
  } while (cursor.next());
  return { text, tree, calls };
}

/** Every `PBSCluster(...)` or `<module>.PBSCluster(...)` call in the source, in order. */
export function findPbsClusterCalls(source: string, options: { ipython?: boolean } = {}): PbsClusterCall[] {
  if (!source.includes(CALLEE)) return []; // most Python files: no parse at all
  return [...parsePython(source, options).calls];
}

/** The call the offset is in (the innermost, when calls nest), or the first that overlaps the range. */
export function callAt(calls: readonly PbsClusterCall[], range: SourceRange): PbsClusterCall | undefined {
  const overlapping = calls.filter((c) => c.range.start <= range.end && range.start <= c.range.end);
  return overlapping.sort((a, b) => (a.range.end - a.range.start) - (b.range.end - b.range.start))[0];
}

function lineOf(text: string, offset: number): number {
  let line = 0;
  for (let i = text.indexOf('\n'); i >= 0 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

/** An argument as written, on one line and with no control character left to act on a terminal or PyYAML. */
const shown = (s: string) => inert(s.replace(/\s+/g, ' ').trim());

function callArguments(argList: SyntaxNode, source: string): CallArgument[] {
  // The ArgList's children are flat: `(`, then each argument's parts, separated by `,`, then `)`.
  const groups: SyntaxNode[][] = [[]];
  for (let child = argList.firstChild; child; child = child.nextSibling) {
    if (child.name === '(' || child.name === ')' || child.name === 'Comment') continue;
    if (child.name === ',') groups.push([]);
    else groups[groups.length - 1].push(child);
  }
  return groups.filter((g) => g.length).map((parts) => {
    const range = { start: parts[0].from, end: parts[parts.length - 1].to };
    const text = shown(source.slice(range.start, range.end));
    if (parts[0].name === '*' || parts[0].name === '**') {
      return { keyword: parts[0].name, kind: 'unpack', text, range, value: { ok: false, reason: 'unpacked arguments are known only when Python runs' } };
    }
    if (parts.length >= 2 && parts[0].name === 'VariableName' && parts[1].name === 'AssignOp') {
      const value = parts.length === 3 ? evaluate(parts[2], source) : { ok: false as const, reason: 'this argument could not be parsed' };
      return { keyword: source.slice(parts[0].from, parts[0].to), kind: 'keyword', text, range, value };
    }
    const value = parts.length === 1 ? evaluate(parts[0], source) : { ok: false as const, reason: 'this argument could not be parsed' };
    return { keyword: undefined, kind: 'positional', text, range, value };
  });
}

const fail = (reason: string): Evaluated => ({ ok: false, reason });

const NOT_LITERAL: Readonly<Record<string, string>> = {
  VariableName: 'a name, known only when Python runs',
  MemberExpression: 'an attribute, known only when Python runs',
  CallExpression: 'a call, known only when Python runs',
  FormatString: 'an f-string, known only when Python runs',
  BinaryExpression: 'an expression, known only when Python runs',
  ConditionalExpression: 'an expression, known only when Python runs',
  SubscriptExpression: 'an expression, known only when Python runs',
  LambdaExpression: 'a function',
  ArrayComprehensionExpression: 'a comprehension, known only when Python runs',
  DictionaryComprehensionExpression: 'a comprehension, known only when Python runs',
  SetComprehensionExpression: 'a comprehension, known only when Python runs',
  ComprehensionExpression: 'a generator, known only when Python runs',
};

/** The value of a literal expression, or why it has none without running the program. */
export function evaluate(node: SyntaxNode, source: string, depth = 0): Evaluated {
  if (depth > 50) return fail('it nests too deeply');
  const text = source.slice(node.from, node.to);
  // The grammar reads `5.` and `5.e3` as an attribute of 5; Python reads floats.
  if (node.name === 'MemberExpression' && /^\d[\d_]*\.(?:[eE][-+]?\d+)?$/.test(text)) return number(text);
  if (hasError(node)) return fail('it could not be parsed');
  switch (node.name) {
    case 'Number':
      return number(text);
    case 'String':
      return string(text);
    case 'ContinuedString':
      return continuedString(node, source);
    case 'Boolean':
      return { ok: true, value: py.bool(text === 'True') };
    case 'None':
      return { ok: true, value: py.none };
    case 'ParenthesizedExpression': {
      const inner = children(node).filter((c) => c.name !== '(' && c.name !== ')');
      return inner.length === 1 ? evaluate(inner[0], source, depth + 1) : fail('it could not be parsed');
    }
    case 'UnaryExpression': {
      const [op, operand] = children(node);
      const opText = op ? source.slice(op.from, op.to) : '';
      const inner = operand ? evaluate(operand, source, depth + 1) : fail('it could not be parsed');
      if (!inner.ok) return inner;
      const v = inner.value;
      if ((opText === '-' || opText === '+') && (v.type === 'int' || v.type === 'float')) {
        const n = opText === '-' ? -v.value : v.value;
        return { ok: true, value: v.type === 'int' ? py.int(n) : py.float(n) };
      }
      return fail('an expression, known only when Python runs');
    }
    case 'ArrayExpression':
    case 'TupleExpression':
    case 'SetExpression': {
      const items = elements(node);
      if (items.some((c) => c.name === '*')) return fail('unpacking is known only when Python runs');
      const values: PyValue[] = [];
      for (const item of items) {
        const v = evaluate(item, source, depth + 1);
        if (!v.ok) return v;
        values.push(v.value);
      }
      // A set's order is Python's hash order: only a set of at most one item has an order to copy.
      if (node.name === 'SetExpression' && values.length > 1) return fail('a set, whose order Python does not fix');
      return { ok: true, value: py.list(values) };
    }
    case 'DictionaryExpression':
      return dictionary(node, source, depth);
    case 'CallExpression':
      return floatCall(node, source);
    default:
      return fail(NOT_LITERAL[node.name] ?? 'not a literal value');
  }
}

function children(node: SyntaxNode): SyntaxNode[] {
  const out: SyntaxNode[] = [];
  for (let c = node.firstChild; c; c = c.nextSibling) if (c.name !== 'Comment') out.push(c);
  return out;
}

function elements(node: SyntaxNode): SyntaxNode[] {
  return children(node).filter((c) => !['[', ']', '(', ')', '{', '}', ','].includes(c.name));
}

function hasError(node: SyntaxNode): boolean {
  if (node.type.isError) return true;
  for (let c = node.firstChild; c; c = c.nextSibling) if (hasError(c)) return true;
  return false;
}

function dictionary(node: SyntaxNode, source: string, depth: number): Evaluated {
  const parts = elements(node).filter((c) => c.name !== ':');
  if (parts.some((c) => c.name === '**')) return fail('unpacking is known only when Python runs');
  if (parts.length % 2) return fail('it could not be parsed');
  const entries = new Map<string, PyValue>();
  for (let i = 0; i < parts.length; i += 2) {
    const key = evaluate(parts[i], source, depth + 1);
    if (!key.ok) return key;
    if (key.value.type !== 'str') return fail('a dict with keys that are not strings');
    const value = evaluate(parts[i + 1], source, depth + 1);
    if (!value.ok) return value;
    entries.delete(key.value.value); // a repeated key keeps its first place in a Python dict, not its first value
    entries.set(key.value.value, value.value);
  }
  return { ok: true, value: py.dict([...entries]) };
}

// ---- numbers

// Python has no literal for infinity or NaN: config → Python writes float("inf"), which reads back here.
function floatCall(node: SyntaxNode, source: string): Evaluated {
  const callee = node.firstChild;
  const args = node.getChild('ArgList');
  const inner = args ? elements(args) : [];
  if (callee?.name === 'VariableName' && source.slice(callee.from, callee.to) === 'float' && inner.length === 1 && inner[0].name === 'String') {
    const s = string(source.slice(inner[0].from, inner[0].to));
    const m = s.ok && s.value.type === 'str' ? /^\s*([-+]?)(inf|infinity|nan)\s*$/i.exec(s.value.value) : null;
    if (m) return { ok: true, value: py.float(m[2].toLowerCase() === 'nan' ? NaN : m[1] === '-' ? -Infinity : Infinity) };
  }
  return fail(NOT_LITERAL.CallExpression);
}

function number(text: string): Evaluated {
  const t = text.replace(/_/g, '');
  if (/[jJ]$/.test(t)) return fail('a complex number');
  let value: number;
  if (/^0[xX][0-9a-fA-F]+$/.test(t)) value = parseInt(t.slice(2), 16);
  else if (/^0[oO][0-7]+$/.test(t)) value = parseInt(t.slice(2), 8);
  else if (/^0[bB][01]+$/.test(t)) value = parseInt(t.slice(2), 2);
  else if (/^\d+$/.test(t)) value = Number(t);
  else if (/^(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(t)) return { ok: true, value: py.float(Number(t)) };
  else return fail('it could not be parsed');
  if (!Number.isSafeInteger(value)) return fail(`the integer ${text} is too large to copy exactly`);
  return { ok: true, value: py.int(value) };
}

// ---- strings

function continuedString(node: SyntaxNode, source: string): Evaluated {
  let out = '';
  for (const part of children(node)) {
    const v = part.name === 'String' ? string(source.slice(part.from, part.to)) : fail(NOT_LITERAL[part.name] ?? 'not a literal value');
    if (!v.ok) return v;
    if (v.value.type !== 'str') return fail('bytes joined to text');
    out += v.value.value;
  }
  return { ok: true, value: py.str(out) };
}

const SIMPLE_ESCAPES: Readonly<Record<string, string>> = {
  '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v',
};

/** A string literal (any prefix but f) decoded as Python decodes it. */
export function string(literal: string): Evaluated {
  const m = /^([rRbBuU]{0,2})('''|"""|'|")([\s\S]*)\2$/.exec(literal);
  if (!m) return fail('it could not be parsed');
  const prefix = m[1].toLowerCase();
  if (prefix.includes('b')) return fail('bytes, not text');
  const body = m[3];
  if (prefix.includes('r')) return { ok: true, value: py.str(body) };
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const ch = body[i];
    if (ch !== '\\') {
      out += ch;
      continue;
    }
    const next = body[i + 1];
    if (next === undefined) return fail('it could not be parsed');
    if (next === '\n') {
      i++;
      continue;
    }
    if (next === '\r') {
      i += body[i + 2] === '\n' ? 2 : 1;
      continue;
    }
    if (SIMPLE_ESCAPES[next] !== undefined) {
      out += SIMPLE_ESCAPES[next];
      i++;
      continue;
    }
    const octal = /^[0-7]{1,3}/.exec(body.slice(i + 1));
    if (octal) {
      out += String.fromCodePoint(parseInt(octal[0], 8));
      i += octal[0].length;
      continue;
    }
    const width = next === 'x' ? 2 : next === 'u' ? 4 : next === 'U' ? 8 : 0;
    if (width) {
      const hex = body.slice(i + 2, i + 2 + width);
      if (!new RegExp(`^[0-9a-fA-F]{${width}}$`).test(hex)) return fail('it could not be parsed');
      const code = parseInt(hex, 16);
      if (code > 0x10ffff) return fail('it could not be parsed');
      out += String.fromCodePoint(code);
      i += 1 + width;
      continue;
    }
    if (next === 'N') return fail('a named character escape (\\N{…})');
    out += '\\'; // Python keeps an unknown escape as written
  }
  return { ok: true, value: py.str(out) };
}
