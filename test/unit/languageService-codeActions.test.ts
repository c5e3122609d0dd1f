// Quick fixes from the language service: each diagnostic's fixes as code actions whose edits, applied, remove it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CodeActionKind, type Diagnostic, type Range, type TextEdit } from 'vscode-languageserver-types';
import { applyTextEdits } from '../../src/core/config';
import { codeActions, diagnostics } from '../../src/server/service';
import { ACCOUNT_CONFIG } from '../fixtures/configs';

const URI = 'file:///home/abc123/project/cluster.dask-cluster.yaml';
const DOCS = 'https://example.org/docs/rules.md';

const ACCOUNT = ACCOUNT_CONFIG;

function accountDiagnostic(text: string): Diagnostic {
  const d = diagnostics(text, DOCS).find((x) => x.code === 'gadi/account-directive');
  assert.ok(d, 'no gadi/account-directive diagnostic');
  return d;
}

function editsOf(action: { edit?: { changes?: Record<string, TextEdit[]> } }): TextEdit[] {
  const edits = action.edit?.changes?.[URI];
  assert.ok(edits?.length, 'the action edits nothing in the document');
  return edits;
}

test('the account error offers a preferred quick fix that rewrites it to -P and clears the error', () => {
  const d = accountDiagnostic(ACCOUNT);
  const actions = codeActions(ACCOUNT, d.range, [d], URI);
  assert.equal(actions.length, 1);
  const [action] = actions;
  assert.equal(action.kind, CodeActionKind.QuickFix);
  assert.equal(action.isPreferred, true);
  assert.deepEqual(action.diagnostics, [d]);
  const fixed = applyTextEdits(ACCOUNT, editsOf(action));
  assert.doesNotMatch(fixed, /account:/);
  assert.match(fixed, /-P ab12/);
  assert.deepEqual(diagnostics(fixed, DOCS).map((x) => x.code), []);
});

test('a cursor touching the diagnostic, not only its whole range, asks for its fixes', () => {
  const d = accountDiagnostic(ACCOUNT);
  const caret: Range = { start: d.range.end, end: d.range.end };
  assert.equal(codeActions(ACCOUNT, caret, [d], URI).length, 1);
  const elsewhere: Range = { start: { line: 0, character: 0 }, end: { line: 0, character: 3 } };
  assert.deepEqual(codeActions(ACCOUNT, elsewhere, [d], URI), []);
});

test('diagnostics of other sources are left alone', () => {
  const d = { ...accountDiagnostic(ACCOUNT), source: 'yaml' };
  assert.deepEqual(codeActions(ACCOUNT, d.range, [d], URI), []);
});

test('several fixes for one diagnostic become several actions, the preferred one marked', () => {
  const text = ACCOUNT.replace('    account: ab12\n', '').replace('"-l ncpus=48"', '"-P ab12", "-l ncpus=24"');
  const d = diagnostics(text, DOCS).find((x) => x.code === 'pbs/ncpus-mismatch');
  assert.ok(d);
  const actions = codeActions(text, d.range, [d], URI);
  assert.ok(actions.length >= 2, JSON.stringify(actions.map((a) => a.title)));
  assert.equal(actions.filter((a) => a.isPreferred).length, 1);
  for (const action of actions) {
    const fixed = applyTextEdits(text, editsOf(action));
    assert.ok(!diagnostics(fixed, DOCS).some((x) => x.code === 'pbs/ncpus-mismatch'), action.title);
  }
});

test('fixes computed on an older text are not applied to a newer one', () => {
  const d = accountDiagnostic(ACCOUNT);
  // A line added above moves every range down: the old diagnostic no longer describes this text.
  const newer = `# a comment\n${ACCOUNT}`;
  assert.deepEqual(codeActions(newer, d.range, [d], URI), []);
  // The diagnostic as published for the newer text still works.
  const fresh = accountDiagnostic(newer);
  const [action] = codeActions(newer, fresh.range, [fresh], URI);
  assert.ok(action);
  assert.doesNotMatch(applyTextEdits(newer, editsOf(action)), /account:/);
});

test('a diagnostic whose data was dropped by the client still finds its fixes by a fresh lint', () => {
  const { data: _data, ...bare } = accountDiagnostic(ACCOUNT);
  const edited = ACCOUNT.replace('cores: 48', 'cores: 48 ');
  const actions = codeActions(edited, bare.range, [bare], URI);
  assert.equal(actions.length, 1);
  assert.doesNotMatch(applyTextEdits(edited, editsOf(actions[0])), /account:/);
});

test('values dask reads differently get their quick fixes: quote `on`, write 48 for 48.0, rename a deprecated key', () => {
  const text = 'jobqueue:\n  pbs:\n    cores: 48.0\n    memory: 192GB\n    queue: on\n    project: ab12\n';
  const ds = diagnostics(text, DOCS).filter((x) => x.code === 'dask/value-type' || x.code === 'schema/deprecated-key');
  assert.equal(ds.length, 3);
  let fixed = text;
  for (const d of ds) {
    const [action] = codeActions(text, d.range, [d], URI);
    assert.ok(action, `an action for ${d.code}`);
    fixed = applyTextEdits(fixed, editsOf(action));
  }
  assert.match(fixed, /cores: 48\n/);
  assert.match(fixed, /queue: 'on'\n/);
  assert.match(fixed, /account: ab12\n/);
  assert.deepEqual(diagnostics(fixed, DOCS).map((x) => String(x.code)).filter((c) => c.startsWith('dask/') || c.startsWith('schema/')), []);
});
