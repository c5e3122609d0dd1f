// Control characters in config values: the lint rule (every string, anywhere), the renderer's own refusal, and a
// property over every string field of jobqueue.pbs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { lintText } from '../../src/core/config';
import { ControlCharacterError, controlCharacterIn, isScriptLineKey } from '../../src/core/config/controlCharacters';
import { pbsSchema } from '../../src/core/config/schema';
import { jobHeaderLines, renderJobScript } from '../../src/core/pbs/jobScript';

const base = { cores: 4, memory: '16GB' };
const ctx = { schedulerFile: '/home/u/.gadi-dask/clusters/c/scheduler.json', lifetime: 'off' as const };

function lintPbs(pbs: Record<string, unknown>) {
  return lintText(stringify({ jobqueue: { pbs: { ...base, ...pbs } } })).diagnostics.filter((d) => d.code === 'schema/control-character');
}

test('a newline in queue, log-directory or a directive is an error that shows the value escaped', () => {
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ queue: 'normal\n#PBS -l walltime=99:00:00' }, '"normal\\n#PBS -l walltime=99:00:00"'],
    [{ 'log-directory': '/scratch/ab12/logs\r' }, '"/scratch/ab12/logs\\r"'],
    [{ 'job-extra-directives': ['-P ab12', '-l storage=gdata/ab12\u0000'] }, '"-l storage=gdata/ab12\\0"'],
    [{ name: 'w\u001b[2J' }, '"w\\e[2J"'],
    [{ 'scheduler-options': { dashboard_address: ':8787\u0085' } }, '":8787\\x85"'],
  ];
  for (const [pbs, shown] of cases) {
    const found = lintPbs(pbs);
    assert.equal(found.length, 1, JSON.stringify(pbs));
    assert.equal(found[0].severity, 'error');
    assert.ok(found[0].message.includes(shown), found[0].message);
  }
});

test('any string anywhere in the file counts, keys included; tabs and ordinary text do not', () => {
  const text = 'connection:\n  host: "gadi\\x07"\n"a\\nb": 1\njobqueue:\n  pbs:\n    cores: 4\n    memory: 16GB\n    queue: "nor\\tmal"\n';
  const found = lintText(text).diagnostics.filter((d) => d.code === 'schema/control-character');
  assert.deepEqual(found.map((d) => d.range.start.line), [1, 2]);
  assert.match(found[1].message, /This key holds a newline/);
  assert.equal(controlCharacterIn('ok\ttab Ω $(x) `y`'), undefined);
  assert.equal(controlCharacterIn('\u2028'), 'the control character U+2028');
});

test('the renderer refuses such a value itself, whatever lint said, naming the key', () => {
  const opts = pbsSchema.parse({ ...base, queue: 'normal\n#PBS -l walltime=99:00:00' });
  assert.throws(() => renderJobScript(opts, ctx), (e: unknown) => e instanceof ControlCharacterError && /^jobqueue\.pbs\.queue holds a newline \("normal\\n#PBS/.test(e.message));
  assert.throws(() => jobHeaderLines(opts), ControlCharacterError);
  const prologue = pbsSchema.parse({ ...base, 'job-script-prologue': ['ok', 'x\u001b]0;t\u0007'] });
  assert.throws(() => renderJobScript(prologue, ctx), /jobqueue\.pbs\.job-script-prologue\[1\] holds an escape/);
  assert.throws(() => renderJobScript(pbsSchema.parse(base), { ...ctx, schedulerFile: '/tmp/a\nb' }), /scheduler-file/);
});

test('a prologue or epilogue item may span lines, as dask writes it; the other control characters stay refused there', () => {
  const text = [
    'jobqueue:', '  pbs:', '    cores: 4', '    memory: 16GB',
    '    job-script-prologue:', '      - |', '        module purge', '        module load python3/3.11.7',
    '      - "source ~/venv/bin/activate\\nexport A=1"',
    '    job_script_epilogue: ["echo done\\necho bye"]', '',
  ].join('\n');
  const result = lintText(text);
  assert.deepEqual(result.diagnostics.filter((d) => d.severity === 'error'), []);
  const opts = result.config?.jobqueue.pbs;
  assert.ok(opts);
  assert.deepEqual(opts['job-script-prologue'], ['module purge\nmodule load python3/3.11.7\n', 'source ~/venv/bin/activate\nexport A=1']);
  const script = renderJobScript(opts, ctx);
  assert.ok(script.includes('\nmodule purge\nmodule load python3/3.11.7\n\nsource ~/venv/bin/activate\nexport A=1\npython3 -m '), script);
  assert.ok(script.endsWith('\necho done\necho bye\n'), script);
  assert.equal(lintPbs({ 'env-extra': ['module load a\nmodule load b'] }).length, 0);
  for (const bad of ['module load a\r\nx', 'x\u0000', 'a\u2028b', 'echo \u001b[2J']) {
    const found = lintPbs({ 'job-script-prologue': [bad] });
    assert.equal(found.length, 1, JSON.stringify(bad));
    assert.throws(() => renderJobScript(pbsSchema.parse({ ...base, 'job-script-epilogue': [bad] }), ctx), /job-script-epilogue\[0\] holds/);
  }
});

test('a newline stays refused in every other value, a list that is not written as lines, and through an alias', () => {
  for (const pbs of [{ 'worker-extra-args': ['--a\nb'] }, { 'job-extra-directives': ['-P ab12\n-l x'] }, { 'job-directives-skip': ['a\nb'] }, { name: 'a\nb' }]) {
    assert.equal(lintPbs(pbs).length, 1, JSON.stringify(pbs));
  }
  const viaAlias = 'jobqueue:\n  pbs:\n    cores: 4\n    memory: 16GB\n    job-script-prologue: [&two "a\\nb"]\n    queue: *two\n';
  const found = lintText(viaAlias).diagnostics.filter((d) => d.code === 'schema/control-character');
  assert.equal(found.length, 1, 'the line reused as a queue');
  assert.match(found[0].message, /only the items of job-script-prologue/);
  const nested = 'jobqueue:\n  pbs:\n    cores: 4\n    memory: 16GB\n    job-script-prologue: [["a\\nb"]]\n';
  assert.equal(lintText(nested).diagnostics.filter((d) => d.code === 'schema/control-character').length, 1, 'a list inside a line list is no line');
  const elsewhere = 'connection:\n  host: "gadi\\nx"\nlines: ["a\\nb"]\njobqueue:\n  pbs:\n    cores: 4\n    memory: 16GB\n';
  assert.equal(lintText(elsewhere).diagnostics.filter((d) => d.code === 'schema/control-character').length, 2, 'only in a line list');
  // A prologue kept under an anchor and merged into jobqueue.pbs is still the prologue.
  const merged = 'base: &b\n  job-script-prologue: ["a\\nb"]\njobqueue:\n  pbs:\n    <<: *b\n    cores: 4\n    memory: 16GB\n';
  const mergedResult = lintText(merged);
  assert.deepEqual(mergedResult.diagnostics.filter((d) => d.severity === 'error'), []);
  assert.match(renderJobScript(mergedResult.config!.jobqueue.pbs, ctx), /\na\nb\npython3 -m /);
});

// Strings as an adversary writes them: controls, quotes, $(), backticks, unicode.
const hostile = fc.string({
  unit: fc.oneof(
    fc.constantFrom('\n', '\r', '\u0000', '\u001b', '\u0007', '\u0085', '\u009b', '\t', '"', "'", '\\', '$(', '`', '${', ';', ' ', 'Ω', '日', '\u202e'),
    fc.constantFrom(...'abcxyz019-_/.=:'.split('')),
  ),
  maxLength: 24,
});
const FIELDS = ['name', 'python', 'queue', 'account', 'log-directory', 'local-directory', 'interface', 'resource-spec'] as const;
const LISTS = ['job-extra-directives', 'job-script-prologue', 'job-script-epilogue', 'worker-extra-args'] as const;

test('property: every string field is either refused by lint and the renderer, or reaches the script byte-exact', () => {
  fc.assert(
    fc.property(fc.constantFrom<string>(...FIELDS, ...LISTS), hostile, (field, value) => {
      const isList = (LISTS as readonly string[]).includes(field);
      const pbs = { [field]: isList ? [value] : value };
      const flagged = lintPbs(pbs).length > 0;
      const hasControl = controlCharacterIn(value, isScriptLineKey(field)) !== undefined;
      assert.equal(flagged, hasControl, `lint on ${JSON.stringify(value)}`);
      const opts = pbsSchema.parse({ ...base, ...pbs });
      if (hasControl) {
        assert.throws(() => renderJobScript(opts, ctx), ControlCharacterError);
        return;
      }
      const script = renderJobScript(opts, ctx);
      assert.equal(controlCharacterIn(script.replace(/\n/g, '')), undefined, 'no control character but the layout newlines');
      if (value.trim() && field !== 'account' && field !== 'resource-spec') assert.ok(script.includes(value.trim()) || script.includes(value), `${field} byte-exact`);
    }),
    { numRuns: 400 },
  );
});
