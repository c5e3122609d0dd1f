// The bridges from dask-jobqueue's own ways of writing a cluster, in a real VS Code: the language server's code
// action on a PBSCluster(...) call in a Python file and in a notebook cell (the built-in ipynb support opens the
// notebook), the config it writes and its lint, Copy as PBSCluster(...), and Import Dask Config….
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import * as vscode from 'vscode';
import type { ConnectResult } from '../../../src/extension/commands/connection';
import { draftFromCall, findPbsClusterCalls, sameValue, pbsSection } from '../../../src/core/convert';

const EXTENSION_ID = 'gadi-dask.gadi-dask';
const ACTION = 'Create cluster config from this call';
const created: vscode.Uri[] = [];

function workspaceUri(...parts: string[]): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the suite needs the fixture workspace');
  return vscode.Uri.joinPath(folder.uri, ...parts);
}

async function waitFor<T>(probe: () => T | undefined | Thenable<T | undefined>, what: string, ms = 20_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`waited ${ms / 1000} s for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** The server's action on the call at `offset` of the document, once the server has the document. */
function callAction(doc: vscode.TextDocument, offset: number): Promise<vscode.CodeAction> {
  const at = doc.positionAt(offset);
  return waitFor(async () => {
    const actions = await vscode.commands.executeCommand<(vscode.CodeAction | vscode.Command)[]>(
      'vscode.executeCodeActionProvider', doc.uri, new vscode.Range(at, at),
    );
    return actions.find((a): a is vscode.CodeAction => a.title === ACTION);
  }, `"${ACTION}" on ${doc.uri.toString()}`);
}

async function runAction(action: vscode.CodeAction): Promise<vscode.Uri> {
  assert.equal(action.kind?.value, 'refactor.extract');
  assert.ok(action.command, 'the action carries the command that writes the file');
  const uri = await vscode.commands.executeCommand<string | undefined>(action.command.command, ...(action.command.arguments ?? []));
  assert.ok(uri, 'the command failed');
  const file = vscode.Uri.parse(uri);
  created.push(file);
  return file;
}

async function diagnosticsOf(uri: vscode.Uri): Promise<vscode.Diagnostic[]> {
  const doc = await vscode.workspace.openTextDocument(uri);
  await vscode.window.showTextDocument(doc);
  // Published on open; a short settle makes sure a late publish is not missed.
  await waitFor(() => vscode.languages.getDiagnostics(uri) !== undefined, 'diagnostics');
  await new Promise((r) => setTimeout(r, 1500));
  return vscode.languages.getDiagnostics(uri);
}

/** Runs `command` in a login shell on the sandbox through OpenSSH's own client, not the extension. */
async function sandboxShell(alias: string, command: string): Promise<string> {
  const sshConfig = vscode.workspace.getConfiguration('gadiDask').get<string>('ssh.configFile');
  assert.ok(sshConfig, 'the runner sets gadiDask.ssh.configFile');
  const r = await promisify(execFile)('ssh', ['-F', sshConfig, '-o', 'BatchMode=yes', alias, `bash -lc '${command}'`], { timeout: 30_000 });
  return r.stdout.trim();
}

const read = async (uri: vscode.Uri) => new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));

suite('PBSCluster code ↔ cluster configs in VS Code', function () {
  this.timeout(60_000);

  suiteSetup(async () => {
    await vscode.extensions.getExtension(EXTENSION_ID)?.activate();
  });

  suiteTeardown(async () => {
    for (const uri of created) await vscode.workspace.fs.delete(uri).then(undefined, () => undefined);
  });

  test('a Python file: the code action writes a lint-clean config beside it, unconvertible arguments listed', async () => {
    const doc = await vscode.workspace.openTextDocument(workspaceUri('python', 'analysis.py'));
    await vscode.window.showTextDocument(doc);
    const action = await callAction(doc, doc.getText().indexOf('cores=48'));
    const uri = await runAction(action);
    assert.equal(uri.toString(), workspaceUri('python', 'analysis.dask-cluster.yaml').toString());
    const text = await read(uri);
    assert.match(text, /^# Cluster config made from the PBSCluster\(\.\.\.\) call in analysis\.py, line 7\.$/m);
    assert.match(text, /^# {3}python=sys\.executable: an attribute, known only when Python runs$/m);
    // Nothing else lost: the config holds every other argument's value.
    const call = findPbsClusterCalls(doc.getText())[0];
    const expected = draftFromCall(call).pbs;
    assert.equal(expected.length, 10);
    assert.ok(sameValue(pbsSection(text, 'it'), { type: 'dict', entries: expected }), text);
    const diagnostics = await diagnosticsOf(uri);
    assert.deepEqual(diagnostics.map((d) => `${String(d.code)}: ${d.message}`), []);
    // The Python file itself is never linted as a config.
    assert.deepEqual(vscode.languages.getDiagnostics(doc.uri).filter((d) => d.source === 'gadi-dask'), []);
  });

  test('a notebook cell: the same action past an IPython magic; the f-string is listed, not guessed', async () => {
    const notebook = await vscode.workspace.openNotebookDocument(workspaceUri('python', 'analysis.ipynb'));
    await vscode.window.showNotebookDocument(notebook);
    const cell = notebook.getCells().find((c) => c.kind === vscode.NotebookCellKind.Code);
    assert.ok(cell, 'the notebook has a code cell');
    assert.equal(cell.document.uri.scheme, 'vscode-notebook-cell');
    assert.equal(cell.document.languageId, 'python');
    const action = await callAction(cell.document, cell.document.getText().indexOf('PBSCluster('));
    const uri = await runAction(action);
    // Named after the notebook, beside it.
    assert.equal(uri.toString(), workspaceUri('python', 'analysis-2.dask-cluster.yaml').toString());
    const text = await read(uri);
    assert.match(text, /in analysis\.ipynb, line \d+\./);
    assert.match(text, /^# {3}job_name=f"\{user\}-workers": an f-string, known only when Python runs$/m);
    assert.match(text, /^ {4}walltime: "01:00:00"$/m);
    const diagnostics = await diagnosticsOf(uri);
    assert.deepEqual(diagnostics.map((d) => `${String(d.code)}: ${d.message}`), []);
  });

  test('Copy as PBSCluster(...) puts the equivalent call on the clipboard', async () => {
    const config = workspaceUri('cluster.dask-cluster.yaml');
    const code = await vscode.commands.executeCommand<string | undefined>('gadiDask.copyAsPBSCluster', config);
    assert.ok(code, 'the command failed');
    assert.equal(await vscode.env.clipboard.readText(), code);
    assert.match(code, /^from dask_jobqueue import PBSCluster\n\ncluster = PBSCluster\(\n/);
    const [call] = findPbsClusterCalls(code);
    const back = draftFromCall(call);
    assert.deepEqual(back.notConverted, []);
    assert.ok(sameValue({ type: 'dict', entries: back.pbs }, pbsSection(await read(config), 'it')), code);
  });

  test('Import Dask Config… writes a config from jobqueue.pbs: nulls dropped, Gadi fixes offered, not applied', async () => {
    const source = workspaceUri('python', 'jobqueue.yaml');
    const uri = vscode.Uri.parse(await waitFor(
      () => vscode.commands.executeCommand<string | undefined>('gadiDask.importDaskConfig', { file: source.fsPath }), 'the import'));
    created.push(uri);
    assert.equal(uri.toString(), workspaceUri('python', 'imported.dask-cluster.yaml').toString());
    const text = await read(uri);
    assert.doesNotMatch(text, /null/);
    assert.match(text, /^# Cluster config made from the jobqueue\.pbs section of jobqueue\.yaml\.$/m);
    const diagnostics = await diagnosticsOf(uri);
    const interfaceWarning = diagnostics.find((d) => String(typeof d.code === 'object' ? d.code.value : d.code) === 'gadi/interface');
    assert.ok(interfaceWarning, `no Gadi interface warning among: ${diagnostics.map((d) => String(d.code)).join(', ')}`);
    const fixes = await vscode.commands.executeCommand<vscode.CodeAction[]>('vscode.executeCodeActionProvider', uri, interfaceWarning.range, vscode.CodeActionKind.QuickFix.value);
    assert.ok(fixes.some((f) => f.edit), 'no quick fix offered');
    assert.equal(await read(uri), text, 'the import changed the file after writing it');
    assert.doesNotMatch(text, /interface:/);
  });

  test('Import Dask Config… from the connected host reads ~/.config/dask/jobqueue.yaml there', async () => {
    const sandboxConfig = workspaceUri('sandbox.dask-cluster.yaml');
    const alias = /host: (\S+)/.exec(await read(sandboxConfig))?.[1];
    assert.ok(alias, 'the runner writes the sandbox config');
    await sandboxShell(alias, 'mkdir -p ~/.config/dask && printf "%s\\n" "jobqueue:" "  pbs:" "    cores: 4" "    memory: 8GB" "    queue: null" "    job_extra_directives: [-P ab12]" > ~/.config/dask/jobqueue.yaml');
    const connected = await vscode.commands.executeCommand<ConnectResult | undefined>('gadiDask.connect', { config: sandboxConfig.fsPath });
    assert.ok(connected, 'could not connect to the sandbox');
    try {
      const uri = await vscode.commands.executeCommand<string | undefined>('gadiDask.importDaskConfig', { connection: connected.key, folder: workspaceUri('python').fsPath });
      assert.ok(uri, 'the import failed');
      created.push(vscode.Uri.parse(uri));
      const text = await read(vscode.Uri.parse(uri));
      assert.match(text, new RegExp(`^# Cluster config made from the jobqueue\\.pbs section of ~/\\.config/dask/jobqueue\\.yaml on ${connected.host.replace(/\./g, '\\.')}\\.$`, 'm'));
      assert.match(text, new RegExp(`^  host: ${alias}$`, 'm'));
      assert.match(text, /^ {4}job-extra-directives:\n {6}- -P ab12$/m);
      assert.doesNotMatch(text, /^ *queue:/m);
    } finally {
      await vscode.commands.executeCommand('gadiDask.disconnect', { host: connected.key });
      await sandboxShell(alias, 'rm -rf ~/.config/dask');
    }
  });
});
