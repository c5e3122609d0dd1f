// A value as both Python and PyYAML see it: the one model the converters meet in. Python code and config files
// disagree on nothing these can hold, as long as an integer stays an int and a float stays a float (`60.0` and
// `60` print differently in a job script), so the two are kept apart here although JavaScript has one number.
export type PyValue =
  | { readonly type: 'str'; readonly value: string }
  | { readonly type: 'int'; readonly value: number }
  | { readonly type: 'float'; readonly value: number }
  | { readonly type: 'bool'; readonly value: boolean }
  | { readonly type: 'none' }
  | { readonly type: 'list'; readonly items: readonly PyValue[] }
  | { readonly type: 'dict'; readonly entries: ReadonlyArray<readonly [string, PyValue]> };

export const py = {
  str: (value: string): PyValue => ({ type: 'str', value }),
  int: (value: number): PyValue => ({ type: 'int', value }),
  float: (value: number): PyValue => ({ type: 'float', value }),
  bool: (value: boolean): PyValue => ({ type: 'bool', value }),
  none: { type: 'none' } as PyValue,
  list: (items: readonly PyValue[]): PyValue => ({ type: 'list', items }),
  dict: (entries: ReadonlyArray<readonly [string, PyValue]>): PyValue => ({ type: 'dict', entries }),
};

/** Falsy to Python the way dask-jobqueue tests a replacement before reading a deprecated key (`if not new:`). */
export function isEmpty(value: PyValue): boolean {
  switch (value.type) {
    case 'none':
      return true;
    case 'list':
      return !value.items.length;
    case 'dict':
      return !value.entries.length;
    case 'bool':
      return !value.value;
    default:
      return !value.value;
  }
}

/** The plain JavaScript value (what `ConfigDocument.value` holds for the same YAML). */
export function toJs(value: PyValue): unknown {
  switch (value.type) {
    case 'none':
      return null;
    case 'list':
      return value.items.map(toJs);
    case 'dict': {
      const out: Record<string, unknown> = {};
      for (const [k, v] of value.entries) Object.defineProperty(out, k, { value: toJs(v), enumerable: true, writable: true, configurable: true });
      return out;
    }
    default:
      return value.value;
  }
}

const PY_ESCAPES: Record<string, string> = { '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** A Python string literal: double quotes, escapes for what a source file cannot hold literally. */
export function pythonString(s: string): string {
  let out = '"';
  for (const ch of s) {
    const code = ch.codePointAt(0) ?? 0;
    if (PY_ESCAPES[ch]) out += PY_ESCAPES[ch];
    else if (code < 0x20 || code === 0x7f) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if ((code >= 0x80 && code < 0xa0) || code === 0x2028 || code === 0x2029 || (code >= 0xd800 && code < 0xe000)) {
      out += code > 0xffff ? `\\U${code.toString(16).padStart(8, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
    } else out += ch;
  }
  return `${out}"`;
}

/** A Python float literal that reads back as exactly this number. */
export function pythonFloat(x: number): string {
  if (Number.isNaN(x)) return 'float("nan")';
  if (!Number.isFinite(x)) return x > 0 ? 'float("inf")' : 'float("-inf")';
  const s = Object.is(x, -0) ? '-0' : String(x);
  return /^-?\d+$/.test(s) ? `${s}.0` : s;
}

/** Python source for the value, on one line. */
export function pythonLiteral(value: PyValue): string {
  switch (value.type) {
    case 'str':
      return pythonString(value.value);
    case 'int':
      return String(value.value);
    case 'float':
      return pythonFloat(value.value);
    case 'bool':
      return value.value ? 'True' : 'False';
    case 'none':
      return 'None';
    case 'list':
      return `[${value.items.map(pythonLiteral).join(', ')}]`;
    case 'dict':
      return `{${value.entries.map(([k, v]) => `${pythonString(k)}: ${pythonLiteral(v)}`).join(', ')}}`;
  }
}

/** Equal as Python would compare them after a round trip (an int never equals a float here). */
export function sameValue(a: PyValue, b: PyValue): boolean {
  if (a.type !== b.type) return false;
  switch (a.type) {
    case 'none':
      return true;
    case 'list': {
      const bi = (b as typeof a).items;
      return a.items.length === bi.length && a.items.every((x, i) => sameValue(x, bi[i]));
    }
    case 'dict': {
      const be = (b as typeof a).entries;
      return a.entries.length === be.length && a.entries.every(([k, v], i) => be[i][0] === k && sameValue(v, be[i][1]));
    }
    default:
      return Object.is(a.value, (b as typeof a).value);
  }
}
