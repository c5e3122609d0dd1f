import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigDocument } from '../../src/core/config/document';
import { lintText } from '../../src/core/config/linter';

/** The text a diagnostic's range covers. */
function covered(text: string, code: string): string[] {
  const r = lintText(text);
  const cd = r.document;
  return r.diagnostics.filter((d) => d.code === code)
    .map((d) => text.slice(cd.offsetAt(d.range.start), cd.offsetAt(d.range.end)));
}

const VALID = ['jobqueue:', '  pbs:', '    cores: 4', '    memory: 16GB', ''].join('\n');

test('a YAML syntax error is reported where the parser stopped, and nothing else is', () => {
  const text = 'jobqueue:\n  pbs:\n    cores: [1, 2\n    memory: 16GB\n';
  const r = lintText(text);
  assert.ok(r.diagnostics.length > 0);
  assert.ok(r.diagnostics.every((d) => d.code === 'yaml/syntax'));
  assert.ok(r.diagnostics.some((d) => d.range.start.line >= 2), JSON.stringify(r.diagnostics));
  assert.equal(r.config, undefined);
});

test('a duplicate key is flagged on the later key, and the last value counts as in PyYAML', () => {
  const text = `${VALID}    cores: 8\n`;
  const r = lintText(text);
  const dup = r.diagnostics.find((d) => d.code === 'yaml/duplicate-key')!;
  assert.deepEqual(dup.range, { start: { line: 4, character: 4 }, end: { line: 4, character: 9 } });
  assert.match(dup.message, /already set on line 3/);
  assert.equal(r.config, undefined, 'no config from a file with errors');
  assert.equal(r.document.nodeAt(['jobqueue', 'pbs', 'cores'])?.toJSON(), 8);
});

test('an unknown key is flagged on the key, a bad value on the value', () => {
  assert.deepEqual(covered(`${VALID}    corse: 3\n`, 'schema/unknown-key'), ['corse']);
  assert.deepEqual(covered(VALID.replace('cores: 4', 'cores: four'), 'schema/invalid-type'), ['four']);
  assert.deepEqual(covered(VALID.replace('16GB', '16 parsecs'), 'schema/invalid-value'), ['16 parsecs']);
  assert.deepEqual(covered(VALID.replace('16GB', '[16GB]'), 'schema/invalid-type'), ['[16GB]']);
});

test('a missing required key is flagged on its parent\'s key', () => {
  assert.deepEqual(covered(VALID.replace('    cores: 4\n', ''), 'schema/missing-key'), ['pbs']);
  assert.deepEqual(covered('jobqueue:\n  slurm: {}\n', 'schema/missing-key'), ['jobqueue']);
  const r = lintText('site: gadi\n');
  const d = r.diagnostics.find((x) => x.code === 'schema/missing-key')!;
  assert.match(d.message, /'jobqueue'/);
  assert.equal(d.range.start.line, 0);
});

test('scalars resolve as PyYAML reads them (YAML 1.1)', () => {
  const cd = new ConfigDocument('a: 1:30:00\nb: 01:30:00\nc: yes\nd: 0o12\ne: 012\n');
  assert.deepEqual(cd.value, { a: 5400, b: '01:30:00', c: true, d: '0o12', e: 10 });
});

test('positions are 0-based lines and UTF-16 characters, with CRLF and astral characters', () => {
  const cd = new ConfigDocument('a: 1\r\nb: "😀x"\r\n');
  const x = cd.text.indexOf('x');
  assert.deepEqual(cd.position(x), { line: 1, character: 6 });
  assert.equal(cd.offsetAt({ line: 1, character: 6 }), x);
  assert.equal(cd.offsetAt({ line: 99, character: 0 }), cd.text.length);
  assert.equal(cd.eol, '\r\n');
});

test('pathAtOffset tells keys, values and blank places where a new key would go', () => {
  const text = [
    'jobqueue:', '  pbs:', '    cores: 48', '    job-extra-directives:', '      - -P ab12', '    ', 'scheduler:',
    '  placement: ', '',
  ].join('\n');
  const cd = new ConfigDocument(text);
  const at = (needle: string, delta = 0) => cd.pathAtOffset(text.indexOf(needle) + delta);
  assert.deepEqual(at('cores', 2), { path: ['jobqueue', 'pbs', 'cores'], kind: 'key', range: { start: text.indexOf('cores'), end: text.indexOf('cores') + 5 } });
  assert.deepEqual(at('48', 1).path, ['jobqueue', 'pbs', 'cores']);
  assert.equal(at('48', 1).kind, 'value');
  assert.deepEqual(at('-P ab12', 3).path, ['jobqueue', 'pbs', 'job-extra-directives', 0]);
  const blank = text.indexOf('    \nscheduler') + 4;
  assert.deepEqual(cd.pathAtOffset(blank), { path: ['jobqueue', 'pbs'], kind: 'new-key', range: { start: blank, end: blank } });
  const afterColon = text.indexOf('placement: ') + 'placement: '.length;
  assert.deepEqual(cd.pathAtOffset(afterColon).path, ['scheduler', 'placement']);
  assert.equal(cd.pathAtOffset(afterColon).kind, 'value');
  assert.deepEqual(cd.pathAtOffset(text.length).path, []);
});

test('pathAtOffset in a new list item and under a key with no value yet', () => {
  const text = 'jobqueue:\n  pbs:\n    job-extra-directives:\n      - -P ab12\n      - \n';
  const cd = new ConfigDocument(text);
  const item = cd.pathAtOffset(text.lastIndexOf('- ') + 2);
  assert.deepEqual([item.path, item.kind], [['jobqueue', 'pbs', 'job-extra-directives'], 'new-item']);
  const nested = 'jobqueue:\n  pbs:\n    \n';
  assert.deepEqual(new ConfigDocument(nested).pathAtOffset(nested.length - 1).path, ['jobqueue', 'pbs']);
});

test('scalarSubRange maps characters of a plain or simply quoted value, else the whole scalar', () => {
  const text = 'a: -l mem=4GB\nb: "-l mem=4GB"\nc: "-l\\tmem"\n';
  const cd = new ConfigDocument(text);
  const sub = (key: string) => {
    const r = cd.scalarSubRange(cd.nodeAt([key])!, 3, 6);
    return text.slice(r.start, r.end);
  };
  assert.equal(sub('a'), 'mem');
  assert.equal(sub('b'), 'mem');
  assert.equal(sub('c'), '"-l\\tmem"');
});
