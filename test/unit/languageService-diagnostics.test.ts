// The language service's diagnostics: lint findings as LSP diagnostics, with severity, code, rule link and fixes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DiagnosticSeverity, DiagnosticTag } from 'vscode-languageserver-types';
import { diagnostics, docBaseFromRepository, textHash, type FixData } from '../../src/server/service';
import { ACCOUNT_CONFIG } from '../fixtures/configs';

const DOCS = 'https://github.com/gadi-dask/gadi-dask/blob/main/docs/rules.md';

const ACCOUNT = ACCOUNT_CONFIG;

test('an account key is an error on its line with its code, source, rule link and fixes', () => {
  const found = diagnostics(ACCOUNT, DOCS);
  const d = found.find((x) => x.code === 'gadi/account-directive');
  assert.ok(d, JSON.stringify(found.map((x) => x.code)));
  assert.equal(d.severity, DiagnosticSeverity.Error);
  assert.equal(d.source, 'gadi-dask');
  assert.equal(d.range.start.line, 8);
  assert.equal(ACCOUNT.split('\n')[8].slice(d.range.start.character, d.range.end.character), 'account');
  assert.equal(d.codeDescription?.href, `${DOCS}#gadi-account-directive`);
  const data = d.data as FixData;
  assert.equal(data.textHash, textHash(ACCOUNT));
  assert.ok(data.fixes.length > 0 && data.fixes[0].edits.length > 0);
  assert.match(data.fixes[0].title, /-P ab12/);
});

test('warnings map to LSP warnings and deprecated keys carry the Deprecated tag', () => {
  const text = ACCOUNT.replace('    queue: normal\n', '').replace('    account: ab12\n', '    env-extra: ["module load python3"]\n')
    .replace('["-l ncpus=48"', '["-P ab12", "-l ncpus=48"');
  const found = diagnostics(text, DOCS);
  const queue = found.find((x) => x.code === 'gadi/queue-missing');
  assert.equal(queue?.severity, DiagnosticSeverity.Warning);
  const deprecated = found.find((x) => x.code === 'schema/deprecated-key');
  assert.equal(deprecated?.severity, DiagnosticSeverity.Warning);
  assert.deepEqual(deprecated?.tags, [DiagnosticTag.Deprecated]);
  assert.ok(!found.some((x) => x.severity === DiagnosticSeverity.Error), JSON.stringify(found));
});

test('without an absolute docs URL there is no codeDescription (LSP wants a URI)', () => {
  const d = diagnostics(ACCOUNT).find((x) => x.code === 'gadi/account-directive');
  assert.ok(d);
  assert.equal(d.codeDescription, undefined);
});

test('the example configs produce no diagnostics', () => {
  const dir = join(__dirname, '..', '..', 'examples');
  for (const name of ['seed-tutorial', 'normalsr', 'gpuvolta']) {
    const text = readFileSync(join(dir, `${name}.dask-cluster.yaml`), 'utf8');
    assert.deepEqual(diagnostics(text, DOCS), [], name);
  }
});

test('the rules page URL comes from package.json\'s repository in its usual spellings', () => {
  assert.equal(docBaseFromRepository({ type: 'git', url: 'https://github.com/gadi-dask/gadi-dask.git' }), DOCS);
  assert.equal(docBaseFromRepository('git+https://github.com/gadi-dask/gadi-dask'), DOCS);
  assert.equal(docBaseFromRepository({ url: 'https://github.com/gadi-dask/gadi-dask/' }), DOCS);
  assert.equal(docBaseFromRepository('github:gadi-dask/gadi-dask'), undefined);
  assert.equal(docBaseFromRepository(undefined), undefined);
  assert.equal(docBaseFromRepository({ url: 42 }), undefined);
  const manifest = JSON.parse(readFileSync(join(__dirname, '..', '..', 'package.json'), 'utf8')) as { repository?: unknown };
  assert.equal(docBaseFromRepository(manifest.repository), DOCS);
});

test('textHash tells texts apart that differ in one character or in length', () => {
  assert.notEqual(textHash('cores: 48'), textHash('cores: 49'));
  assert.notEqual(textHash('a'), textHash('a\n'));
  assert.equal(textHash(ACCOUNT), textHash(`${ACCOUNT}`));
});

test('after a syntax error, later problems still sit on their own lines, inside them', () => {
  // The stray brace stops the parser: the rest of the file arrives as a few multi-line tokens.
  const text = 'site: gadi\njobqueue:\n  pbs:\n}    cores: 48\n    memory: 192GB\n    account: ab12\n';
  const lines = text.split('\n');
  const found = diagnostics(text, DOCS);
  assert.ok(found.length > 1);
  for (const d of found) {
    assert.ok(d.range.start.character <= lines[d.range.start.line].length, JSON.stringify(d.range));
    assert.ok(d.range.end.character <= lines[d.range.end.line].length, JSON.stringify(d.range));
  }
  const onAccount = found.find((d) => typeof d.message === 'string' && /account/.test(d.message));
  assert.equal(onAccount?.range.end.line, 5);
});

test('a key dask-jobqueue ignores is a faded warning; a key written twice as _ and - an error', () => {
  const found = diagnostics('jobqueue:\n  pbs:\n    cores: 1\n    memory: 4GB\n    nanny: false\n    death_timeout: 5\n    death-timeout: 6\n');
  const unknown = found.find((x) => x.code === 'schema/unknown-key');
  assert.equal(unknown?.severity, DiagnosticSeverity.Warning);
  assert.deepEqual(unknown?.tags, [DiagnosticTag.Unnecessary]);
  assert.equal(found.find((x) => x.code === 'dask/key-spelling')?.severity, DiagnosticSeverity.Error);
});
