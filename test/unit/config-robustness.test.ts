// The linter runs on every keystroke: whatever the text, it must answer, quickly, without throwing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { applyTextEdits } from '../../src/core/config/edits';
import { lintText, type LintResult } from '../../src/core/config/linter';

const VALID = 'jobqueue:\n  pbs:\n    cores: 4\n    memory: 16GB\n';

/** Lint and check the answer is well formed: ranges inside the text, fixes applicable, no rule crashed. */
function sane(text: string, budgetMs = 5000): LintResult {
  const started = performance.now();
  const r = lintText(text);
  const elapsed = performance.now() - started;
  assert.ok(elapsed < budgetMs, `took ${elapsed.toFixed(0)} ms`);
  assert.deepEqual(r.ruleErrors, []);
  const lines = text.split('\n').length;
  for (const d of r.diagnostics) {
    for (const p of [d.range.start, d.range.end]) {
      assert.ok(p.line >= 0 && p.line < lines && p.character >= 0, JSON.stringify(d));
    }
    assert.ok(d.message.length > 0);
    for (const fix of d.fixes ?? []) applyTextEdits(text, fix.edits);
  }
  return r;
}

test('random bytes, random Unicode and random YAML-ish text never throw', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 2000 }), (bytes) => {
    sane(Buffer.from(bytes).toString('latin1'));
  }), { numRuns: 150 });
  fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 500 }), (s) => {
    sane(s);
  }), { numRuns: 150 });
  const piece = fc.constantFrom('jobqueue:', '\n', '  ', 'pbs:', 'cores: ', '48', '- ', '-l ', 'mem=', '[', ']', '{', '}',
    ',', ':', '"', "'", '#', '&a ', '*a', '\t', '\r\n', 'select', 'account: x', 'job-extra-directives:', '---', '?');
  fc.assert(fc.property(fc.array(piece, { maxLength: 60 }), (parts) => {
    sane(parts.join(''));
  }), { numRuns: 300 });
});

test('any values in any pbs keys: diagnostics, never a crashed rule', () => {
  const directive = fc.oneof(fc.string({ maxLength: 20 }), fc.constantFrom(
    '-P ab12', '-A x', '-l select=2:ncpus=x', '-l ncpus=48,mem=192GB', '-l mem=', '-l', '-q gpuvolta', '-l ngpus=3',
    '-l walltime=99:00:00', '-l storage=gdata/ab12', '#PBS -l wd', '-q', '-l jobfs=1tb', '-l select=ncpus=4',
  ));
  const value = fc.oneof(fc.string({ maxLength: 20 }), fc.integer({ min: -5, max: 30000 }), fc.constant(null),
    fc.array(directive, { maxLength: 4 }), fc.boolean(), fc.double());
  const keys = ['cores', 'memory', 'processes', 'queue', 'account', 'walltime', 'interface', 'resource-spec',
    'job-extra-directives', 'job-directives-skip', 'local-directory', 'python', 'job-script-prologue', 'job-extra',
    'env-extra', 'header-skip', 'log-directory', 'extra'];
  fc.assert(fc.property(fc.dictionary(fc.constantFrom(...keys), value), fc.constantFrom('gadi', 'other'), (pbs, site) => {
    sane(stringify({ site, jobqueue: { pbs } }));
  }), { numRuns: 400 });
});

test('10,000-deep nesting is an error, not a crash', () => {
  const deep = 10000;
  for (const text of ['['.repeat(deep) + ']'.repeat(deep), '{a: '.repeat(deep) + '1' + '}'.repeat(deep), '['.repeat(deep),
    `${VALID}    scheduler-options: ${'{a: '.repeat(deep)}1${'}'.repeat(deep)}\n`, `${'- '.repeat(deep)}x\n`]) {
    const r = sane(text);
    assert.ok(r.diagnostics.some((d) => d.severity === 'error'));
  }
});

test('a 5 MB file is refused at once; a 1 MB one is linted within the budget', () => {
  let big = VALID;
  while (big.length < 5 * 2 ** 20) big += `# ${'x'.repeat(100)}\n`;
  const r = sane(big, 1000);
  assert.deepEqual(r.diagnostics.map((d) => d.code), ['yaml/too-large']);
  let list = `${VALID}    job-script-prologue:\n`;
  for (let i = 0; list.length < 2 ** 20 - 100; i++) list += `      - echo ${i}\n`;
  assert.deepEqual(sane(list, 5000).diagnostics, []);
});

test('tabs, BOM, CRLF and an empty file', () => {
  const tabs = sane('jobqueue:\n\tpbs:\n\t\tcores: 1\n');
  assert.match(tabs.diagnostics[0].message, /Tabs/);
  assert.equal(tabs.diagnostics[0].range.start.line, 1);
  assert.deepEqual(sane(`\uFEFF${VALID}`).diagnostics, []);
  assert.deepEqual(sane(VALID.replace(/\n/g, '\r\n')).diagnostics, []);
  const crlf = sane(VALID.replace('cores: 4', 'cores: four').replace(/\n/g, '\r\n'));
  assert.deepEqual(crlf.diagnostics[0].range, { start: { line: 2, character: 11 }, end: { line: 2, character: 15 } });
  assert.equal(sane('').diagnostics[0].code, 'schema/missing-key');
  assert.equal(sane('\n\n   \n').diagnostics[0].code, 'schema/missing-key');
  assert.equal(sane('# just a comment\n').diagnostics[0].code, 'schema/missing-key');
});

test('aliases: a billion laughs is refused, an unresolved alias is an error, a plain alias works', () => {
  const laughs = ['a: &a [x,x,x,x,x,x,x,x,x]', 'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]', 'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
    'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]', 'e: [*d,*d,*d,*d,*d,*d,*d,*d,*d]', ''].join('\n');
  assert.match(sane(laughs).diagnostics[0].message, /alias/i);
  assert.match(sane('a: *nope\n').diagnostics[0].message, /Unresolved alias/);
  assert.deepEqual(sane('x: &p {cores: 1, memory: 4GB}\njobqueue:\n  pbs: *p\n').diagnostics, []);
  assert.equal(sane('a: 1\n---\nb: 2\n').diagnostics[0].code, 'yaml/syntax');
});

test('thousands of YAML errors are capped', () => {
  const r = sane('[\n'.repeat(3000) + ': : :\n'.repeat(3000));
  assert.ok(r.diagnostics.length <= 500);
  assert.equal(lintText(': : :\n'.repeat(100), { maxDiagnostics: 3 }).diagnostics.length, 3);
});
