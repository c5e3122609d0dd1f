// Whatever the text and wherever the cursor, the language service answers quickly and without throwing, with
// ranges inside the document: the server calls it on every keystroke.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { Range } from 'vscode-languageserver-types';
import { ConfigDocument } from '../../src/core/config';
import { codeActions, completion, diagnostics, hover } from '../../src/server/service';

const URI = 'file:///x.dask-cluster.yaml';
const SAMPLE = 'site: gadi\njobqueue:\n  pbs:\n    cores: 48\n    memory: 192GB\n    account: ab12\n' +
  '    job-extra-directives: ["-l ncpus=48", "-l mem=192GB"]\n';

function inside(text: string, range: Range): void {
  const lines = text.split('\n');
  for (const p of [range.start, range.end]) {
    assert.ok(p.line >= 0 && p.line < lines.length, `line ${p.line} of ${lines.length}`);
    assert.ok(p.character >= 0 && p.character <= lines[p.line].length, `character ${p.character} on line ${p.line}`);
  }
}

/** Every service call at `offset`, checked for sane answers within `budgetMs`. */
function everything(text: string, offset: number, budgetMs = 3000): void {
  const started = performance.now();
  const position = new ConfigDocument(text).position(offset);
  const found = diagnostics(text, 'https://example.org/rules.md');
  for (const d of found) inside(text, d.range);
  for (const item of completion(text, position).items) {
    const edit = item.textEdit;
    if (edit && 'range' in edit) inside(text, edit.range);
  }
  const h = hover(text, position);
  if (h?.range) inside(text, h.range);
  const whole: Range = { start: { line: 0, character: 0 }, end: position };
  for (const action of codeActions(text, whole, found, URI)) {
    for (const e of action.edit?.changes?.[URI] ?? []) inside(text, e.range);
  }
  const elapsed = performance.now() - started;
  assert.ok(elapsed < budgetMs, `took ${elapsed.toFixed(0)} ms`);
}

test('random text at random cursors', () => {
  fc.assert(fc.property(fc.string({ maxLength: 400 }), fc.nat(), (text, n) => {
    everything(text, n % (text.length + 1));
  }), { numRuns: 300 });
});

test('the sample config with random edits at every cursor', () => {
  fc.assert(fc.property(fc.nat(SAMPLE.length), fc.string({ maxLength: 6 }), fc.nat(SAMPLE.length), (at, insert, cursor) => {
    const text = SAMPLE.slice(0, at) + insert + SAMPLE.slice(at);
    everything(text, Math.min(cursor, text.length));
  }), { numRuns: 400 });
});

test('pathological files: empty, BOM, CRLF, tabs, deep nesting, random bytes, 5 MB', () => {
  const deep = `${'- '.repeat(10_000)}x\n`;
  const deepFlow = `${'['.repeat(10_000)}${']'.repeat(10_000)}`;
  const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 2654435761) % 256)).toString('latin1');
  const cases = ['', '\ufeff', SAMPLE.replace(/\n/g, '\r\n'), SAMPLE.replace(/ {2}/g, '\t'), `\ufeff${SAMPLE}`, deep, deepFlow, bytes,
    `${SAMPLE}${'    # padding\n'.repeat(400_000)}`];
  for (const text of cases) {
    for (const offset of [0, Math.floor(text.length / 2), text.length]) everything(text, offset, 10_000);
  }
});
