// The config is read as PyYAML's safe_load reads it, checked against PyYAML itself (Debian's python3-yaml): a table
// of scalars and small documents, then seeded random scalars. Both sides encode their value the same way (types
// tagged, so 8 and 8.0 differ); every difference fails the test.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { safeLoad } from '../../src/core/config/pyyaml';
import { PyDate, PyDateTime, PyFloat, pythonFloat } from '../../src/core/python';
import { seededRandom } from '../fixtures/random';

type Encoded = unknown;
/** Debian's interpreter, with Debian's python3-yaml (not whatever python3 comes first on PATH). */
const DEBIAN_PYTHON = '/usr/bin/python3';

// One Python process for a whole batch: a JSON list of documents in, a JSON list of encoded values out.
const ORACLE = `
import base64, datetime, json, sys, yaml
def enc(v):
    if v is None: return None
    if isinstance(v, bool): return {"bool": v}
    if isinstance(v, int): return {"int": str(v)}
    if isinstance(v, float): return {"float": repr(v)}
    if isinstance(v, str): return {"str": v}
    if isinstance(v, datetime.datetime): return {"datetime": str(v)}
    if isinstance(v, datetime.date): return {"date": str(v)}
    if isinstance(v, bytes): return {"bytes": base64.b64encode(v).decode()}
    if isinstance(v, list): return {"list": [enc(x) for x in v]}
    if isinstance(v, dict):
        pairs = [[enc(k), enc(x)] for k, x in v.items()]
        return {"dict": sorted(pairs, key=lambda p: json.dumps(p[0], sort_keys=True))}
    return {"other": repr(v)}
out = []
for doc in json.load(sys.stdin):
    try: out.append(enc(yaml.safe_load(doc)))
    except Exception: out.append({"error": True})
json.dump(out, sys.stdout)
`;

function oracle(docs: string[]): Encoded[] {
  const run = spawnSync(DEBIAN_PYTHON, ['-c', ORACLE], { input: JSON.stringify(docs), maxBuffer: 1 << 28 });
  assert.equal(run.status, 0, `python3 with PyYAML (Debian's python3-yaml) must run: ${run.stderr}`);
  return JSON.parse(run.stdout.toString());
}

function encode(v: unknown): Encoded {
  if (v === null || v === undefined) return null;
  if (typeof v === 'boolean') return { bool: v };
  if (typeof v === 'number' || typeof v === 'bigint') return { int: String(v) };
  if (v instanceof PyFloat) return { float: pythonFloat(v.value) };
  if (typeof v === 'string') return { str: v };
  if (v instanceof PyDateTime) return { datetime: String(v) };
  if (v instanceof PyDate) return { date: String(v) };
  if (v instanceof Uint8Array) return { bytes: Buffer.from(v).toString('base64') };
  if (Array.isArray(v)) return { list: v.map(encode) };
  if (v instanceof Map) {
    const pairs = [...v].map(([k, x]) => [encode(k), encode(x)]);
    const sortKey = (p: Encoded[]) => JSON.stringify(sortedKeys(p[0]));
    return { dict: pairs.sort((a, b) => (sortKey(a) < sortKey(b) ? -1 : sortKey(a) > sortKey(b) ? 1 : 0)) };
  }
  return { other: String(v) };
}

// json.dumps(sort_keys=True) order, for the sort key only.
function sortedKeys(v: Encoded): Encoded {
  if (Array.isArray(v)) return v.map(sortedKeys);
  if (v && typeof v === 'object') return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortedKeys((v as Record<string, Encoded>)[k])]));
  return v;
}

function ours(doc: string): Encoded {
  try {
    return encode(safeLoad(doc));
  } catch {
    return { error: true };
  }
}

function differences(docs: string[]): string[] {
  const expected = oracle(docs);
  const out: string[] = [];
  docs.forEach((doc, i) => {
    const mine = ours(doc);
    // Python's json.dumps writes non-ASCII as \\u escapes: compare parsed values, not text.
    if (JSON.stringify(mine) !== JSON.stringify(expected[i])) {
      out.push(`${JSON.stringify(doc)}: PyYAML ${JSON.stringify(expected[i])}, ours ${JSON.stringify(mine)}`);
    }
  });
  return out;
}

const SCALARS = [
  // null
  '', '~', 'null', 'Null', 'NULL', 'nULL', 'none', 'None', 'nil',
  // bool: three spellings each, and the 1.1 words PyYAML does not take
  'yes', 'Yes', 'YES', 'yEs', 'no', 'No', 'NO', 'true', 'True', 'TRUE', 'tRUE', 'false', 'False', 'FALSE',
  'on', 'On', 'ON', 'oN', 'off', 'Off', 'OFF', 'y', 'Y', 'n', 'N', 't', 'f', 'enable',
  // ints
  '0', '-0', '+0', '1', '-1', '+1', '42', '007', '010', '-010', '08', '09', '0o17', '0_7', '00', '0_', '1_000',
  '1__0', '1_', '-1_000_000', '0b1010', '-0b11', '+0b1_0', '0b', '0b2', '0x1F', '0x1f', '-0xFF', '0x_ff', '0X1F',
  '0xg', '9007199254740993', '-9007199254740993', '123456789012345678901234567890', '0x' + 'f'.repeat(20),
  '1:30', '1:30:00', '2:00:00', '12:30:00', '-1:30', '+1:30:00', '190:20:30', '1:60', '1:5', '1:05', '01:30:00',
  '02:00:00', '00:30:00', '1:30:00:00', '1_0:30', '0:30', '1:3:5', '1::30',
  // floats
  '1.0', '1.', '.5', '-.5', '+.5', '0.5', '-0.0', '+1.5', '1.5e+3', '1.5e3', '1.5E-3', '1.5e-03', '1e1', '1e+1',
  '1E5', '1.0e5', '6.02e+23', '.5e+2', '1_000.5', '1_000.0_1', '1.2.3', '3.14159265358979323846', '1e-05', '0.00001',
  '0.0001', '60.0', '48.0', '100000000000000000.0', '1234567890123456.7', '.inf', '.Inf', '.INF', '-.inf', '+.inf',
  '.iNf', 'inf', '.nan', '.NaN', '.NAN', '-.nan', 'nan', 'NaN', '1:30.5', '190:20:30.15', '-1:30.0', '1:30.',
  '0.1', '0.30000000000000004', '1e308', '1.0e+309', '2.5e-324', '5e-324', '1.7976931348623157e+308', '1.e+5',
  // timestamps and dates
  '2001-12-14', '2001-12-14t21:59:43.10-05:00', '2001-12-14 21:59:43.10 -5', '2001-12-15T02:59:43.1Z',
  '2001-12-15 2:59:43.10', '2002-12-14', '2024-02-29', '2023-02-29', '2024-13-01', '2024-00-10', '0000-01-01',
  '2024-1-1', '2024-1-1 1:02:03', '2024-01-01T24:00:00', '2024-01-01 23:59:60', '2024-01-01 10:00:00+10:00',
  '2024-01-01 10:00:00 +05:30', '2024-01-01 10:00:00+24', '2024-01-01 10:00:00+23:59', '2024-01-01 10:00:00.1234567',
  '2024-01-01 10:00:00.', '2024-01-01T10:00:00Z', '2024-01-01  10:00:00', '20240101', '2024-01-01x',
  // strings that look like something else
  'abc', '192GB', '1.5 GB', '4GiB', '$TMPDIR', 'ib0', 'normal', '-P ab12', '1,000', '1 000', '0x', '+', '-', '.',
  '..', '._5', '1_._5', 'e5', '1e', '.e5', 'True1', 'yes!', '=', '==', '<<', 'x<<', '12:3', '1:2:3x', '1.5.',
];

// Quoted forms must stay strings; tagged forms are constructed from their text.
const QUOTED = ['"1"', "'yes'", '"on"', "'1:30:00'", '"2001-12-14"', "'~'", '"null"', "''", '"1.0"', "'<<'", '"="'];
const TAGGED = ['!!str 1', '!!str yes', '!!int "12"', '!!float "1.5"', '!!bool "yes"', '!!null ""', '!!str', '!!int 0x1F'];

const DOCUMENTS = [
  'a: &x {b: 1, c: 2}\nd:\n  <<: *x\n  c: 3\n',
  'a: &x {b: 1}\nd:\n  c: 3\n  <<: *x\n',
  'a: &x {b: 1, c: 1}\ne: &y {b: 2, d: 2}\nd:\n  <<: [*x, *y]\n',
  'd:\n  <<: {b: 1}\n  <<: {b: 2}\n',
  'd:\n  <<: 1\n',
  'd:\n  <<: [1]\n',
  'd: {<<: {a: 1}, "<<": 2}\n',
  'a: 1\na: 2\n',
  'a: 1\nb: {a: 1, a: 2}\n',
  'yes: 1\nno: 2\n1: 3\n1.5: 4\n~: 5\n',
  '1: a\n1.0: b\n',
  'true: a\n1: b\n',
  '[1, 1.0, "1", yes, y]\n',
  '- 2:00:00\n- 02:00:00\n- 010\n- 1e1\n',
  'a: =\n',
  '=: 1\n',
  '? [1, 2]\n: x\n',
  'a: *nope\n',
  'a: !!binary aGVsbG8=\n',
  'jobqueue:\n  pbs:\n    cores: 48\n    memory: 192GB\n    walltime: 2:00:00\n    death-timeout: 60.0\n    queue: on\n',
  'a: |\n  x\n  y\n',
  'a: >\n  x\n  y\n',
  'a: "multi\n  line"\n',
  'a:\n  - 1\n  -\n  - ~\n',
  '{a: 1, b: [2, 3], c: {d: 4}}\n',
  '',
  '# only a comment\n',
  'a: 1 # comment\n',
  '- &a 1\n- *a\n- &b [*a, 2]\n- *b\n',
  'x: &m {a: 1}\ny: {<<: *m, b: 2}\nz: {<<: *m}\n',
];

test('PyYAML oracle: the table of scalars, quoted and tagged forms, and small documents', () => {
  const docs = [
    // A lone `-` inside flow brackets is the one syntax (not resolution) difference: PyYAML takes it as a string,
    // the yaml package, following the YAML spec, as a block indicator; the block forms agree.
    ...SCALARS.flatMap((s) => [`v: ${s}\n`, `- ${s}\n`, ...(s === '-' ? [] : [`{v: ${s}}\n`])]),
    ...QUOTED.map((s) => `v: ${s}\n`),
    ...TAGGED.map((s) => `v: ${s}\n`),
    ...DOCUMENTS,
  ];
  assert.ok(docs.length > 300);
  assert.deepEqual(differences(docs), []);
});


/** A scalar built from the pieces PyYAML's resolvers look at: signs, digits, underscores, dots, colons, prefixes. */
function randomScalar(r: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const digits = (max: number, set = '0123456789_') => Array.from({ length: 1 + Math.floor(r() * max) }, () => pick([...set])).join('');
  const word = (w: string) => [...w].map((c) => (r() < 0.5 ? c.toUpperCase() : c)).join('');
  const sign = () => pick(['', '', '-', '+']);
  const two = () => String(Math.floor(r() * 100)).padStart(pick([1, 2, 2]), '0');
  switch (Math.floor(r() * 10)) {
    case 0: return word(pick(['yes', 'no', 'on', 'off', 'true', 'false', 'y', 'n', 'null', 'none', '~']));
    case 1: return sign() + pick(['0b', '0x', '0', '0o', '']) + digits(6, pick(['01_', '0123456789abcdefABCDEF_', '01234567_']));
    case 2: return sign() + digits(4) + '.' + (r() < 0.8 ? digits(4) : '') + (r() < 0.4 ? pick(['e', 'E']) + pick(['', '+', '-']) + digits(3, '0123456789') : '');
    case 3: return sign() + (r() < 0.5 ? '.' : '') + digits(3) + pick(['e', 'E', 'e+', 'e-']) + digits(2, '0123456789');
    case 4: return sign() + pick(['1', '2', '12', '0', '190', '1_0']) + Array.from({ length: 1 + Math.floor(r() * 3) }, () => `:${two()}`).join('') + (r() < 0.3 ? '.' + digits(3) : '');
    case 5: return `${String(1000 + Math.floor(r() * 9000))}-${two()}-${two()}`;
    case 6: return `${String(1900 + Math.floor(r() * 200))}-${two()}-${two()}${pick(['T', 't', ' ', '  '])}${two()}:${two()}:${two()}${r() < 0.5 ? '.' + digits(8, '0123456789') : ''}${pick(['', 'Z', ' Z', '+10', '-5', '+05:30', ' -23:59', '+24'])}`;
    case 7: return sign() + pick(['.inf', '.Inf', '.INF', '.nan', '.NaN', 'inf', '.iNF']);
    case 8: return sign() + digits(20, '0123456789');
    default: return pick(['', '_', '=', '<<', '.', '..', '0.', '.0', '-', '+']) + digits(3, '0123456789._:eE-+x');
  }
}

test('PyYAML oracle: 2,000 generated scalars (seed printed; GADI_DASK_YAML_SEED repeats a run)', (t) => {
  const seed = Number(process.env.GADI_DASK_YAML_SEED ?? Math.floor(Math.random() * 2 ** 32));
  t.diagnostic(`seed ${seed}`);
  console.log(`PyYAML oracle seed: ${seed}`);
  const r = seededRandom(seed);
  const docs = Array.from({ length: 2000 }, () => `v: ${randomScalar(r)}\n`);
  assert.deepEqual(differences(docs), [], `seed ${seed}`);
});
