// What a user gets from installing the extension, checked inside a real VS Code extension host.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { GadiDaskApi } from '../../../src/extension/extension';

const EXTENSION_ID = 'gadi-dask.gadi-dask';

interface Manifest {
  contributes: {
    viewsContainers: { activitybar: { id: string; title: string }[] };
    views: Record<string, { id: string; name: string }[]>;
    commands: { command: string }[];
    menus: Record<string, { command: string }[]>;
  };
}

function extension(): vscode.Extension<unknown> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  assert.ok(ext, `${EXTENSION_ID} is not loaded`);
  return ext;
}

function workspaceFile(name: string): vscode.Uri {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the suite needs a workspace folder with the sample files');
  return vscode.Uri.joinPath(folder.uri, name);
}

suite('Dask on Gadi in VS Code', () => {
  test('the extension is present and activates', async () => {
    const ext = extension();
    const api = (await ext.activate()) as GadiDaskApi;
    assert.equal(ext.isActive, true);
    assert.ok(api.activationMs > 0 && api.activationMs < 60_000, `activation took ${api.activationMs} ms`);
    process.stderr.write(`activation (activate() to the PBS Jobs view registered): ${api.activationMs.toFixed(1)} ms\n`);
    assert.equal(api.coreLoadedAtActivation, false, 'activate() loaded dist/core.js: something at startup takes a value from the core');
    const loadMs = api.coreLoadMs();
    process.stderr.write(`core bundle load: ${loadMs === undefined ? 'not loaded yet' : `${loadMs.toFixed(1)} ms`}\n`);
  });

  test('Scale Cluster and Refresh are registered commands', async () => {
    await extension().activate();
    const commands = await vscode.commands.getCommands(true);
    assert.ok(commands.includes('gadiDask.scaleCluster'), 'gadiDask.scaleCluster is missing');
    assert.ok(commands.includes('gadiDask.refresh'), 'gadiDask.refresh is missing');
  });

  test('every registered command is in the manifest, every manifest command is registered, menus name only those', async () => {
    const api = (await extension().activate()) as { registeredCommands: readonly string[] };
    const manifest = extension().packageJSON as Manifest;
    const declared = manifest.contributes.commands.map((c) => c.command).sort();
    assert.deepEqual([...api.registeredCommands].sort(), declared, 'the command table and package.json disagree');
    // What the host knows, less what VS Code makes for the view itself (gadiDask.jobs.focus and the like).
    const views = Object.values(manifest.contributes.views).flat().map((v) => `${v.id}.`);
    const live = (await vscode.commands.getCommands(true)).filter((c) => c.startsWith('gadiDask.') && !views.some((v) => c.startsWith(v))).sort();
    assert.deepEqual(live, declared, 'a command is registered without a manifest entry, or the reverse');
    for (const [menu, items] of Object.entries(manifest.contributes.menus)) {
      for (const item of items) assert.ok(declared.includes(item.command), `menu ${menu} names ${item.command}, which is not a command`);
    }
  });

  test('the PBS Jobs view is contributed in its own container and can be focused', async () => {
    const manifest = extension().packageJSON as Manifest;
    const container = manifest.contributes.viewsContainers.activitybar.find((c) => c.id === 'gadiDask');
    assert.equal(container?.title, 'Dask on Gadi');
    const view = manifest.contributes.views.gadiDask?.find((v) => v.id === 'gadiDask.jobs');
    assert.equal(view?.name, 'PBS Jobs');
    // VS Code registers `<view id>.focus` only for views it knows; executing it opens the container.
    await vscode.commands.executeCommand('gadiDask.jobs.focus');
  });

  test('a *.dask-cluster.yaml file opens in the dask-cluster language', async () => {
    const doc = await vscode.workspace.openTextDocument(workspaceFile('cluster.dask-cluster.yaml'));
    await vscode.window.showTextDocument(doc);
    assert.equal(doc.languageId, 'dask-cluster');
    assert.match(doc.getText(), /jobqueue:/);
  });

  test('an ordinary .yaml file is left to another language', async () => {
    const doc = await vscode.workspace.openTextDocument(workspaceFile('environment.yaml'));
    assert.notEqual(doc.languageId, 'dask-cluster');
  });
});
