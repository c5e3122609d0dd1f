// The bridges between PBSCluster(...) code and cluster configs. Python itself is the oracle where it can be:
// Debian's python3 evaluates the same literals (`ast.literal_eval`) and reads the written YAML (`yaml.safe_load`).
import { ControlCharacterError } from '../../src/core/config/controlCharacters';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { lintText } from '../../src/core/config';
import { clusterConfigSchema } from '../../src/core/config/schema';
import {
  callAt, callHeader, canonicalPbs, configFileBase, configFromDaskConfig, ConvertError, draftFromCall,
  findPbsClusterCalls, notebookCells, parsePython, pbsSection, pythonFromConfig, renderDraft, sameValue, toJs, type PyValue,
} from '../../src/core/convert';
import { evaluate } from '../../src/core/convert/python';
import { parser } from '@lezer/python';
import { renderJobScript } from '../../src/core/pbs/jobScript';
import { DASK_JOBQUEUE_REFERENCE } from '../fixtures/paths';

const REFERENCE = join(DASK_JOBQUEUE_REFERENCE, 'cases');
const ctx = { schedulerFile: '/home/123/abc123/.gadi-dask/clusters/demo/scheduler.json', lifetime: 'off' as const };

function python(script: string, input: string): string {
  const r = spawnSync('python3', ['-c', script], { input, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

/** Python's own reading of each literal, typed so that 1 and 1.0 differ (JSON alone would not tell). */
const TYPED = `
import ast, json, math, sys
def typed(v):
    if v is None: return {"type": "none"}
    if isinstance(v, bool): return {"type": "bool", "value": v}
    if isinstance(v, int): return {"type": "int", "value": v}
    if isinstance(v, float): return {"type": "float", "value": v if math.isfinite(v) else repr(v)}
    if isinstance(v, str): return {"type": "str", "value": v}
    if isinstance(v, (list, tuple)): return {"type": "list", "items": [typed(x) for x in v]}
    if isinstance(v, dict): return {"type": "dict", "entries": [[k, typed(x)] for k, x in v.items()]}
    if isinstance(v, set) and len(v) <= 1: return {"type": "list", "items": [typed(x) for x in v]}
    raise TypeError(type(v))
`;

function ours(literal: string): PyValue | string {
  const src = `x = ${literal}\n`;
  const assign = parser.parse(src).topNode.firstChild;
  const value = assign?.lastChild;
  assert.ok(value, literal);
  const r = evaluate(value, src);
  return r.ok ? r.value : r.reason;
}

const LITERALS = [
  '48', '-5', '+3', '0x1F', '0o17', '0b101', '1_000_000', '0', '60.0', '1e-05', '1.5E3', '.5', '5.', '5.e3', '-0.0', '1e400',
  '"192GB"', "'single'", '"""tri\nple"""', "'''x'''", 'r"\\d+\\n"', 'R"a\\\\"', 'u"\\u00e9t\\xe9"', '"tab\\there"',
  '"\\101\\7"', '"a\\\nb"', '"\\q"', '"\\U0001F600"', '"emoji 😀"', '"a" "b"', '("-l storage=" "gdata/ab12"\n  "+scratch/ab12")',
  'True', 'False', 'None', '[]', '()', '("select",)', '["-P ab12", "-l ncpus=48",]', '[1, [2, (3,)], {"k": None}]',
  '{"dashboard_address": ":8787", "a": 1, "a": 2}', '{}', '{"x"}', '(1)', '[  # comment\n "a"]',
];
// Not literals to ast.literal_eval, but what config → Python writes for them: evaluated like the builtin does.
const FLOAT_CALLS: Record<string, number> = { 'float("inf")': Infinity, 'float("-inf")': -Infinity, 'float(\'nan\')': NaN };

test('literals evaluate exactly as Python evaluates them (ast.literal_eval)', () => {
  const expected = JSON.parse(python(`${TYPED}
print(json.dumps([typed(ast.literal_eval(s)) for s in json.load(sys.stdin)]))`, JSON.stringify(LITERALS))) as unknown[];
  LITERALS.forEach((literal, i) => {
    const got = ours(literal);
    const want = expected[i] as { type: string; value?: unknown };
    if (want.type === 'float' && typeof want.value === 'string') {
      assert.ok(typeof got === 'object' && got.type === 'float' && !Number.isFinite(got.value), literal);
      return;
    }
    assert.deepEqual(got, want, `${literal}`);
  });
});

test('float("inf") and friends, as config → Python writes them, read back', () => {
  for (const [literal, n] of Object.entries(FLOAT_CALLS)) assert.deepEqual(ours(literal), { type: 'float', value: n }, literal);
});

test('what only a running program knows is reported with the reason, never guessed', () => {
  const cases: Record<string, RegExp> = {
    'sys.executable': /attribute/, mem: /a name/, 'f"{n}GB"': /f-string/, '"a" f"{b}"': /f-string/, 'str(48)': /a call/,
    '48 * 4': /expression/, 'b"x"': /bytes/, '3j': /complex/, '{"a", "b"}': /set/, '[*xs]': /unpacking/, '{**d}': /unpacking/,
    '{1: "a"}': /not strings/, '"\\N{BULLET}"': /named character/, '99999999999999999999': /too large/, 'x if y else z': /expression/,
    'lambda: 1': /function/, '[i for i in r]': /comprehension/, 'float(x)': /a call/, 'float("1.5")': /a call/,
  };
  for (const [literal, reason] of Object.entries(cases)) {
    const got = ours(literal);
    assert.equal(typeof got, 'string', `${literal} was evaluated to ${JSON.stringify(got)}`);
    assert.match(got as string, reason, literal);
  }
});

const GADI_CALL = `import sys
from dask_jobqueue import PBSCluster

cluster = PBSCluster(
    cores=48,
    memory="192GB",
    processes=8,
    queue="normal",
    walltime="02:00:00",
    job_extra_directives=["-P ab12", "-l ncpus=48", "-l mem=192GB",
                          "-l storage=gdata/ab12+scratch/ab12", "-l jobfs=100GB"],
    job_directives_skip=["select"],
    interface="ib0",
    local_directory="$TMPDIR",
    job_script_prologue=["module load python3/3.11.7",
                         "source /g/data/ab12/envs/dask/bin/activate"],
    python="/g/data/ab12/envs/dask/bin/python",
)
`;

test('a typical Gadi call converts with nothing lost: lint-clean, and the job script of the call\'s values', () => {
  const calls = findPbsClusterCalls(GADI_CALL);
  assert.equal(calls.length, 1);
  assert.equal(calls[0].line, 3);
  const draft = draftFromCall(calls[0]);
  assert.deepEqual(draft.notConverted, []);
  const text = renderDraft(draft, { host: 'gadi', header: callHeader('analysis.py', calls[0].line) });
  assert.match(text, /^# Cluster config made from the PBSCluster\(\.\.\.\) call in analysis\.py, line 4\.\n/);
  const lint = lintText(text);
  assert.deepEqual(lint.diagnostics.map((d) => `${d.code}: ${d.message}`), []);
  assert.ok(lint.config);
  assert.equal(renderJobScript(lint.config.jobqueue.pbs, ctx), `#!/usr/bin/env bash

#PBS -N dask-worker
#PBS -q normal
#PBS -l walltime=02:00:00
#PBS -P ab12
#PBS -l ncpus=48
#PBS -l mem=192GB
#PBS -l storage=gdata/ab12+scratch/ab12
#PBS -l jobfs=100GB
module load python3/3.11.7
source /g/data/ab12/envs/dask/bin/activate
/g/data/ab12/envs/dask/bin/python -m distributed.cli.dask_worker --scheduler-file /home/123/abc123/.gadi-dask/clusters/demo/scheduler.json --name dask-worker-"$PBS_JOBID" --nthreads 6 --memory-limit 22.35GiB --nworkers 8 --nanny --death-timeout 60 --local-directory $TMPDIR --interface ib0

`);
  assert.equal(configFileBase(draft, 'analysis'), 'analysis');
});

test('arguments without a key, unknown ones, repeats, positionals and unpacking are listed as comments', () => {
  const src = 'c = dask_jobqueue.PBSCluster(2, cores=n, memory="4GB", nanny=False, coers=3, name="x", cores=4, **kw)';
  const [call] = findPbsClusterCalls(src);
  const draft = draftFromCall(call);
  assert.deepEqual(draft.notConverted.map((n) => n.argument), ['2', 'cores=n', 'nanny=False', 'coers=3', 'name="x"', 'cores=4', '**kw']);
  assert.match(draft.notConverted[3].reason, /did you mean cores\?/);
  assert.match(draft.notConverted[5].reason, /given twice/);
  assert.deepEqual(draft.pbs, [['memory', { type: 'str', value: '4GB' }]]);
  const text = renderDraft(draft, { host: 'gadi', header: '# test' });
  for (const n of draft.notConverted) assert.ok(text.includes(`#   ${n.argument}: ${n.reason}\n`), n.argument);
  // The comments hide nothing from YAML: the keys are still exactly the converted ones.
  assert.deepEqual(toJs(pbsSection(text, 'it')), { memory: '4GB' });
});

test('control characters in an unconverted argument are escaped: the file stays readable to PyYAML, the terminal safe', () => {
  const src = 'PBSCluster(cores=4, memory="8GB", python=f"\x1b]0;pwned\x07\u202e{x}", queue=q)';
  const draft = draftFromCall(findPbsClusterCalls(src)[0]);
  assert.equal(draft.notConverted[0].argument, 'python=f"\\x1b]0;pwned\\x07\\u202e{x}"');
  const text = renderDraft(draft, { host: 'gadi', header: '# test' });
  assert.equal(python('import sys, yaml, json; print(json.dumps(yaml.safe_load(sys.stdin.read())["jobqueue"]["pbs"]))', text).trim(), '{"cores": 4, "memory": "8GB"}');
});

test('None means dask\'s default (left out), except python; deprecated arguments are read as dask-jobqueue reads them', () => {
  const src = `PBSCluster(cores=4, memory="8GB", queue=None, python=None, env_extra=["module load a"], job_script_prologue=[],
    extra=["--x"], worker_extra_args=["--y"], project="ab12", job_name="w", header_skip=("select",))`;
  const draft = draftFromCall(findPbsClusterCalls(src)[0]);
  assert.deepEqual(Object.fromEntries(draft.pbs.map(([k, v]) => [k, toJs(v)])), {
    cores: 4, memory: '8GB', 'job-script-prologue': ['module load a'], 'worker-extra-args': ['--y'], name: 'w',
    account: 'ab12', 'job-directives-skip': ['select'],
  });
  assert.deepEqual(draft.notConverted.map((n) => n.argument), ['python=None', 'extra=["--x"]']);
  assert.match(draft.notConverted[1].reason, /ignores it because worker_extra_args is given/);
  assert.equal(configFileBase(draft, 'analysis'), 'w');
});

test('calls are found in any form and the one under the cursor is chosen; other Python costs no parse', () => {
  const src = 'a = PBSCluster(cores=1)\nwith dask_jobqueue.PBSCluster(\n  cores=2) as b:\n    pass\nPBSCluster\nSLURMCluster(cores=3)\n';
  const calls = findPbsClusterCalls(src);
  assert.deepEqual(calls.map((c) => c.line), [0, 1]);
  assert.equal(callAt(calls, { start: src.indexOf('cores=2'), end: src.indexOf('cores=2') }), calls[1]);
  assert.equal(callAt(calls, { start: src.indexOf('SLURM'), end: src.indexOf('SLURM') }), undefined);
  assert.deepEqual(findPbsClusterCalls('x = 1\n'.repeat(10)), []);
  // A syntax error elsewhere leaves the call readable.
  const broken = findPbsClusterCalls('def (:\nc = PBSCluster(cores=4, memory="1GB")\n');
  assert.equal(broken.length, 1);
  assert.deepEqual(draftFromCall(broken[0]).pbs.map(([k]) => k), ['cores', 'memory']);
});

test('an edited text parsed incrementally finds the same calls as a fresh parse (seeded)', () => {
  const seed = Number(process.env.CONVERT_SEED ?? Date.now() % 2 ** 31);
  console.log(`# incremental-parse seed ${seed}`);
  const base = `${'x = [i for i in range(3)]\n'.repeat(40)}${GADI_CALL}${'def f(a):\n    return a\n'.repeat(40)}`;
  const edit = fc.record({ at: fc.nat(), remove: fc.nat({ max: 12 }), insert: fc.constantFrom('', ' ', '\n', '"', ')', '(', 'cores=4, ', '#', 'PBSCluster(', 'x = 1\n', "'''") });
  fc.assert(fc.property(fc.array(edit, { minLength: 1, maxLength: 6 }), (edits) => {
    let previous = parsePython(base);
    let text = base;
    for (const e of edits) {
      const at = e.at % (text.length + 1);
      text = text.slice(0, at) + e.insert + text.slice(at + e.remove);
      previous = parsePython(text, { previous });
      assert.deepEqual(previous.calls, parsePython(text).calls);
    }
  }), { seed, numRuns: 150 });
});

test('notebook cells: code cells only, IPython magics blanked out so the cell still parses', () => {
  const nb = JSON.stringify({
    cells: [
      { cell_type: 'markdown', source: ['PBSCluster(cores=1)'] },
      { cell_type: 'code', source: ['%%time\n', '!module list\n', 'c = PBSCluster(cores=4,\n', '  memory="8GB")\n'] },
    ],
    nbformat: 4,
  });
  const cells = notebookCells(nb);
  assert.deepEqual(cells.map((c) => c.index), [1]);
  const [call] = findPbsClusterCalls(cells[0].source, { ipython: true });
  assert.equal(call.line, 2);
  assert.deepEqual(draftFromCall(call).notConverted, []);
  assert.throws(() => notebookCells('{"cells": 3}'), ConvertError);
  assert.throws(() => notebookCells('not json'), /not a Jupyter notebook/);
});

test('config → Python: the call parses and evaluates, in Python, to the values PyYAML reads from the config', () => {
  const config = readFileSync(join(REFERENCE, 'snake-case.yaml'), 'utf8');
  const { code, dropped } = pythonFromConfig(config);
  assert.deepEqual(dropped, []);
  assert.match(code, /^from dask_jobqueue import PBSCluster\n\ncluster = PBSCluster\(\n {4}cores=48,\n/);
  const same = python(`
import ast, sys, yaml, json
code, config = json.load(sys.stdin)
call = ast.parse(code).body[-1].value
kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
pbs = {k.replace("_", "-"): v for k, v in yaml.safe_load(config)["jobqueue"]["pbs"].items()}
print(kwargs == {k.replace("-", "_"): v for k, v in pbs.items()})`, JSON.stringify([code, config]));
  assert.equal(same.trim(), 'True');
});

test('config → Python: deprecated keys are folded in, keys dask does not read are named, both spellings refused', () => {
  const text = 'jobqueue:\n  pbs:\n    cores: 4\n    memory: 8GB\n    env-extra: [a]\n    nanny: false\n    name: 123\n    walltime: 2:00:00\n    death-timeout: 60.0\n';
  const { code, dropped } = pythonFromConfig(text);
  assert.equal(code, `from dask_jobqueue import PBSCluster

# Not passed: nanny: false (dask-jobqueue does not read this key)
cluster = PBSCluster(
    cores=4,
    memory="8GB",
    job_name=123,
    walltime=7200,
    death_timeout=60.0,
    job_script_prologue=["a"],
)
`);
  assert.equal(dropped.length, 1);
  assert.throws(() => pythonFromConfig('jobqueue:\n  pbs:\n    job_extra_directives: []\n    job-extra-directives: []\n'), /sets job_extra_directives and job-extra-directives/);
  assert.throws(() => pythonFromConfig('connection: {host: gadi}\n'), /has no jobqueue.pbs section/);
  assert.throws(() => pythonFromConfig('jobqueue: [\n'), /is not valid YAML \(line \d+\)/);
});

test('import of a dask jobqueue.yaml: nulls dropped, and where dask reads a null differently, said so', () => {
  const defaults = readFileSync(join(REFERENCE, 'defaults-file.yaml'), 'utf8');
  const { text, dropped } = configFromDaskConfig(defaults, { host: 'gadi', source: '~/.config/dask/jobqueue.yaml' });
  assert.deepEqual(dropped, []);
  assert.doesNotMatch(text, /null/);
  const lint = lintText(text);
  assert.ok(lint.config, lint.diagnostics.map((d) => d.message).join('\n'));
  // Gadi's fixes are offered by the linter, not applied: the import keeps dask's meaning.
  assert.ok(lint.diagnostics.some((d) => d.fixes?.length), 'no lint fix offered for the imported file');
  const expected = readFileSync(join(REFERENCE, '..', 'expected', 'defaults-file.sh'), 'utf8');
  const ours = renderJobScript(lint.config.jobqueue.pbs, ctx);
  assert.equal(ours.split('\n').slice(0, 8).join('\n'), expected.split('\n').slice(0, 8).join('\n'));

  const nullWalltime = configFromDaskConfig('jobqueue:\n  pbs:\n    cores: 4\n    memory: 8GB\n    walltime: null\n    project: ab12\n', { host: 'gadi', source: 'jobqueue.yaml' });
  assert.match(nullWalltime.text, /^# Left out:\n# {3}walltime: null: with null dask-jobqueue writes no walltime line; left out, the default applies$/m);
  assert.match(nullWalltime.text, /^ {4}account: ab12$/m);
});

// ---- the round trip

const scalarString = fc.oneof(
  fc.constantFrom('yes', 'no', 'y', 'on', '1:30:00', '010', '1e1', '0x10', '~', 'null', '2001-12-14', '#x', 'a: b', '- x', '', ' pad', '=', '<<', '"q"', "it's", '$TMPDIR', '\\d', 'tab\there', 'é😀', 'nel\x85', 'ls\u2028', 'bell\x07', '\x80', 'cr\r', '?H', ':x', 'a,b', '[x]', '{y}', '& *'),
  fc.string({ unit: 'binary', maxLength: 4 }),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
);
const finite = fc.double({ noNaN: true, noDefaultInfinity: true });
const value: fc.Arbitrary<PyValue> = fc.letrec<{ v: PyValue }>((tie) => ({
  v: fc.oneof(
    { depthSize: 'small' },
    scalarString.map((s) => ({ type: 'str', value: s }) as PyValue),
    fc.integer({ min: -1e9, max: 1e9 }).map((n) => ({ type: 'int', value: n }) as PyValue),
    fc.oneof(finite, fc.constantFrom(60, 1e-5, 1e16, 1e21, -0, Infinity, -Infinity)).map((n) => ({ type: 'float', value: n }) as PyValue),
    fc.boolean().map((b) => ({ type: 'bool', value: b }) as PyValue),
    fc.array(tie('v'), { maxLength: 3 }).map((items) => ({ type: 'list', items }) as PyValue),
    fc.dictionary(fc.string({ minLength: 1, maxLength: 5 }), tie('v'), { maxKeys: 3 }).map((d) => ({ type: 'dict', entries: Object.entries(d) }) as PyValue),
  ),
})).v;
const strings = fc.array(scalarString, { maxLength: 4 }).map((items) => ({ type: 'list', items: items.map((s) => ({ type: 'str', value: s })) }) as PyValue);

/** Normalised configs: canonical keys, no nulls. Half are valid cluster configs, whose job script must match too. */
const pbsEntries = fc.record({
  cores: fc.integer({ min: 1, max: 104 }).map((n) => ({ type: 'int', value: n }) as PyValue),
  memory: fc.constantFrom('192GB', '4GiB', '190 GB', '5G').map((s) => ({ type: 'str', value: s }) as PyValue),
  processes: fc.option(fc.integer({ min: 1, max: 8 }).map((n) => ({ type: 'int', value: n }) as PyValue), { nil: undefined }),
  name: fc.option(scalarString.map((s) => ({ type: 'str', value: s }) as PyValue), { nil: undefined }),
  walltime: fc.option(fc.oneof(fc.constantFrom('02:00:00', '00:30:00').map((s) => ({ type: 'str', value: s }) as PyValue), fc.integer({ min: 60, max: 86400 }).map((n) => ({ type: 'int', value: n }) as PyValue)), { nil: undefined }),
  'death-timeout': fc.option(fc.oneof(fc.integer({ min: 0, max: 999 }).map((n) => ({ type: 'int', value: n }) as PyValue), fc.double({ min: 0, max: 1e6, noNaN: true }).map((n) => ({ type: 'float', value: n }) as PyValue)), { nil: undefined }),
  'job-extra-directives': fc.option(strings, { nil: undefined }),
  'job-script-prologue': fc.option(strings, { nil: undefined }),
  'local-directory': fc.option(scalarString.map((s) => ({ type: 'str', value: s }) as PyValue), { nil: undefined }),
  'scheduler-options': fc.option(fc.dictionary(fc.string({ minLength: 1, maxLength: 8 }), value, { maxKeys: 3 }).map((d) => ({ type: 'dict', entries: Object.entries(d) }) as PyValue), { nil: undefined }),
  queue: fc.option(value, { nil: undefined }),
}).map((r) => Object.entries(r).filter((e): e is [string, PyValue] => e[1] !== undefined));

function configText(entries: ReadonlyArray<readonly [string, PyValue]>): string {
  return renderDraft({ pbs: entries, notConverted: [] }, { host: 'gadi', header: '# generated' });
}

test('round trip: config → Python → config is the identity on normalised configs, and keeps the job script', () => {
  const seed = Number(process.env.CONVERT_SEED ?? Date.now() % 2 ** 31);
  console.log(`# round-trip seed ${seed} (CONVERT_SEED=${seed} repeats it)`);
  const oracleBatch: [string, string][] = [];
  fc.assert(fc.property(pbsEntries, (entries) => {
    const start = configText(entries);
    const before = canonicalPbs(pbsSection(start, 'start'));
    assert.deepEqual(before.dropped, []);
    assert.ok(sameValue({ type: 'dict', entries: before.entries }, { type: 'dict', entries }), 'the written config reads back as written');
    const { code } = pythonFromConfig(start);
    const calls = findPbsClusterCalls(code);
    assert.equal(calls.length, 1, code);
    const draft = draftFromCall(calls[0]);
    assert.deepEqual(draft.notConverted, [], code);
    const back = renderDraft(draft, { host: 'gadi', header: callHeader(undefined, calls[0].line) });
    const after = canonicalPbs(pbsSection(back, 'back'));
    assert.ok(sameValue({ type: 'dict', entries: after.entries }, { type: 'dict', entries: before.entries }), `${start}\n${code}\n${back}`);
    const a = clusterConfigSchema.safeParse(pbsSection(start, 'start').type === 'dict' ? { jobqueue: { pbs: toJs(pbsSection(start, 'start')) } } : {});
    const b = clusterConfigSchema.safeParse({ jobqueue: { pbs: toJs(pbsSection(back, 'back')) } });
    assert.equal(a.success, b.success);
    // A control character is refused by the renderer (and lint) on both sides alike.
    const render = (pbs: Parameters<typeof renderJobScript>[0]) => {
      try {
        return renderJobScript(pbs, ctx);
      } catch (e) {
        if (e instanceof ControlCharacterError) return 'refused: a control character';
        throw e;
      }
    };
    if (a.success && b.success) assert.equal(render(b.data.jobqueue.pbs), render(a.data.jobqueue.pbs));
    if (oracleBatch.length < 200) oracleBatch.push([back, code]);
  }), { seed, numRuns: 300 });

  // Python's side of the same claim: PyYAML reads each written config as the literals of its generated call.
  const verdicts = JSON.parse(python(`
import ast, json, math, sys, yaml
def same(a, b):
    if type(a) is not type(b): return False
    if isinstance(a, float): return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list): return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict): return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    return a == b
out = []
for config, code in json.load(sys.stdin):
    call = ast.parse(code).body[-1].value
    kwargs = {k.arg: eval(compile(ast.Expression(k.value), "", "eval"), {"__builtins__": {"float": float}}) for k in call.keywords}
    pbs = yaml.safe_load(config)["jobqueue"]["pbs"]
    pbs = {("job_name" if k == "name" else k.replace("-", "_")): v for k, v in pbs.items()}
    out.append(same(kwargs, pbs) and list(kwargs) == list(pbs))
print(json.dumps(out))`, JSON.stringify(oracleBatch))) as boolean[];
  const bad = verdicts.findIndex((ok) => !ok);
  assert.equal(bad, -1, bad < 0 ? '' : `PyYAML and Python disagree (seed ${seed}):\n${oracleBatch[bad][0]}\n${oracleBatch[bad][1]}`);
});
