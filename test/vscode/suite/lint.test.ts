// Config linting in a real VS Code: the language server's diagnostics, quick fix, completion and hover, reached
// through the editor's own commands, as a user's editor would reach them.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';

const EXTENSION_ID = 'gadi-dask.gadi-dask';
const ACCOUNT_CODE = 'gadi/account-directive';

function workspaceFile(name: string): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the suite needs a workspace folder with the sample files');
  return vscode.Uri.joinPath(folder.uri, name);
}

/** Polls `probe` until it returns something truthy, or fails after `ms` saying what it waited for. */
async function waitFor<T>(probe: () => T | undefined | Promise<T | undefined>, what: string, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`waited ${ms / 1000} s for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function codeOf(d: vscode.Diagnostic): string | undefined {
  const code = d.code;
  if (code === undefined) return undefined;
  return typeof code === 'object' ? String(code.value) : String(code);
}

function accountDiagnostic(uri: vscode.Uri): vscode.Diagnostic | undefined {
  return vscode.languages.getDiagnostics(uri).find((d) => codeOf(d) === ACCOUNT_CODE);
}

function markdownOf(doc: vscode.MarkdownString | string | undefined | vscode.MarkedString): string {
  if (doc === undefined) return '';
  if (typeof doc === 'string') return doc;
  return doc.value;
}

function labelOf(item: vscode.CompletionItem): string {
  return typeof item.label === 'string' ? item.label : item.label.label;
}

/** The position just after the first occurrence of `needle` (plus `delta`). */
function positionOf(doc: vscode.TextDocument, needle: string, delta = 0): vscode.Position {
  const at = doc.getText().indexOf(needle);
  assert.ok(at >= 0, `"${needle}" is not in ${doc.uri.toString()}`);
  return doc.positionAt(at + delta);
}

suite('Config linting in VS Code', () => {
  suiteSetup(async () => {
    await vscode.extensions.getExtension(EXTENSION_ID)?.activate();
  });

  test('an `account:` key shows an error on its line, with its code and a link to the rule', async () => {
    const doc = await vscode.workspace.openTextDocument(workspaceFile('account.dask-cluster.yaml'));
    await vscode.window.showTextDocument(doc);
    const d = await waitFor(() => accountDiagnostic(doc.uri), `a ${ACCOUNT_CODE} diagnostic`);
    assert.equal(d.severity, vscode.DiagnosticSeverity.Error);
    assert.equal(d.source, 'gadi-dask');
    assert.equal(d.range.start.line, positionOf(doc, 'account:').line);
    assert.equal(doc.getText(d.range), 'account');
    assert.match(d.message, /Gadi takes the project as -P/);
    const code = d.code as { value: string; target: vscode.Uri };
    assert.equal(code.target.fragment, 'gadi-account-directive');
    assert.match(code.target.path, /\/docs\/rules\.md$/);
  });

  test('applying the offered quick fix rewrites the file and the error disappears', async () => {
    const doc = await vscode.workspace.openTextDocument(workspaceFile('account.dask-cluster.yaml'));
    await vscode.window.showTextDocument(doc);
    const d = await waitFor(() => accountDiagnostic(doc.uri), `a ${ACCOUNT_CODE} diagnostic`);
    const actions = await vscode.commands.executeCommand<vscode.CodeAction[]>(
      'vscode.executeCodeActionProvider', doc.uri, d.range, vscode.CodeActionKind.QuickFix.value,
    );
    // The command's results do not carry `diagnostics` (the server's tests check that link): find it by title.
    const fix = actions.find((a) => /^Replace account with -P ab12/.test(a.title));
    assert.ok(fix, `no quick fix for ${ACCOUNT_CODE} among: ${actions.map((a) => a.title).join(', ')}`);
    assert.ok(fix.edit, 'the quick fix has no edit');
    assert.equal(fix.kind?.value, vscode.CodeActionKind.QuickFix.value);
    assert.equal(fix.isPreferred, true);
    assert.ok(await vscode.workspace.applyEdit(fix.edit), 'the edit was not applied');
    assert.doesNotMatch(doc.getText(), /^\s*account:/m);
    assert.match(doc.getText(), /-P ab12/);
    assert.ok(await doc.save(), 'the fixed file could not be saved');
    await waitFor(() => !accountDiagnostic(doc.uri), `the ${ACCOUNT_CODE} diagnostic to go`);
    // The fix is complete: nothing else is wrong with the file now.
    await waitFor(() => vscode.languages.getDiagnostics(doc.uri).length === 0, 'no diagnostics at all');
  });

  test('completion inside jobqueue.pbs offers job-directives-skip with its documentation', async () => {
    const doc = await vscode.workspace.openTextDocument({
      language: 'dask-cluster',
      content: 'connection:\n  host: gadi\njobqueue:\n  pbs:\n    cores: 48\n    \n',
    });
    await vscode.window.showTextDocument(doc);
    const list = await waitFor(async () => {
      const r = await vscode.commands.executeCommand<vscode.CompletionList>('vscode.executeCompletionItemProvider', doc.uri, new vscode.Position(5, 4));
      return r.items.some((i) => labelOf(i) === 'job-directives-skip') ? r : undefined;
    }, 'job-directives-skip among the completions');
    const skip = list.items.find((i) => labelOf(i) === 'job-directives-skip');
    assert.ok(skip);
    assert.match(markdownOf(skip.documentation), /Generated header lines containing any of these strings are left out/);
    assert.ok(!list.items.some((i) => labelOf(i) === 'cores'), 'offers cores, which the mapping already has');
  });

  test('hover on `cores` shows its description', async () => {
    const doc = await vscode.workspace.openTextDocument(workspaceFile('cluster.dask-cluster.yaml'));
    await vscode.window.showTextDocument(doc);
    const position = positionOf(doc, 'cores:', 2);
    const hovers = await waitFor(async () => {
      const r = await vscode.commands.executeCommand<vscode.Hover[]>('vscode.executeHoverProvider', doc.uri, position);
      return r.length ? r : undefined;
    }, 'a hover on cores');
    const text = hovers.flatMap((h) => h.contents.map(markdownOf)).join('\n');
    assert.match(text, /Total number of cores per job/);
    assert.equal(hovers[0].range?.start.line, position.line);
  });
});
