// The commands and pieces that need no running cluster: failures with their actions, the cost prompt, config
// templates, the client snippet, passphrase storage, refresh backoff, and the manifest's settings and walkthrough.
import * as assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as vscode from 'vscode';
import { ConfigFileError } from '../../../src/core/cluster';
import { parseClusterConfig } from '../../../src/core/cluster/configFile';
import { lintText } from '../../../src/core/config';
import { QsubQueueLimitError } from '../../../src/core/pbs/submit';
import { AuthError, ConnectionError, HostKeyError } from '../../../src/core/remote/errors';
import type { ClusterModel } from '../../../src/extension/clusters';
import { clusterConfigTemplate, TEMPLATE_QUEUES } from '../../../src/extension/configTemplates';
import { costPrompt } from '../../../src/extension/cost';
import { describeError, NoConfigError, NotConnectedError } from '../../../src/extension/errors';
import type { GadiDaskApi } from '../../../src/extension/extension';
import { EditorPrompt } from '../../../src/extension/prompts';
import { Refresher } from '../../../src/extension/refresher';
import { parseBounds, parseSize } from '../../../src/extension/commands/sizes';

const EXTENSION_ID = 'gadi-dask.gadi-dask';

interface Manifest {
  contributes: {
    commands: { command: string; title: string; category: string }[];
    configuration: { properties: Record<string, { default: unknown; scope?: string; enum?: string[] }> };
    viewsWelcome: { view: string; contents: string }[];
    walkthroughs: { id: string; steps: { id: string; media: { image: string } }[] }[];
    menus: Record<string, { command: string; when?: string }[]>;
  };
}

let api: GadiDaskApi;
let ext: vscode.Extension<GadiDaskApi>;

function workspaceFile(name: string): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder);
  return vscode.Uri.joinPath(folder.uri, name).fsPath;
}

async function lastError(run: () => Thenable<unknown>): Promise<{ message: string; actions: string[] }> {
  const before = api.errors.length;
  assert.equal(await run(), undefined, 'a failed command returns undefined');
  assert.equal(api.errors.length, before + 1, 'the failure is reported once');
  return api.errors[api.errors.length - 1];
}

class MemorySecrets implements vscode.SecretStorage {
  readonly values = new Map<string, string>();
  private readonly emitter = new vscode.EventEmitter<vscode.SecretStorageChangeEvent>();
  readonly onDidChange = this.emitter.event;
  async get(key: string) { return this.values.get(key); }
  async store(key: string, value: string) { this.values.set(key, value); }
  async delete(key: string) { this.values.delete(key); }
  async keys() { return [...this.values.keys()]; }
}

class MemoryMemento implements vscode.Memento {
  private readonly values = new Map<string, unknown>();
  keys() { return [...this.values.keys()]; }
  get<T>(key: string, fallback?: T): T { return (this.values.has(key) ? this.values.get(key) : fallback) as T; }
  async update(key: string, value: unknown) { this.values.set(key, value); }
}

suite('Gadi Dask commands without a cluster', function () {
  this.timeout(30_000);

  suiteSetup(async () => {
    const found = vscode.extensions.getExtension<GadiDaskApi>(EXTENSION_ID);
    assert.ok(found);
    ext = found;
    api = await ext.activate();
  });

  test('every failure kind comes with a clear message and an action button', () => {
    const cases: [unknown, string][] = [
      [new NotConnectedError('to scale'), 'Connect'],
      [new NoConfigError(), 'Create Cluster Config'],
      [new ConfigFileError('bad yaml', '/x/a.dask-cluster.yaml'), 'Open Config'],
      [new AuthError('Permission denied'), 'Show Log'],
      [new HostKeyError('changed', 'changed', 'gadi', 'SHA256:x'), 'Open Settings'],
      [new ConnectionError('refused'), 'Connect'],
      [new QsubQueueLimitError('', ''), 'Show Job Script'],
      [new Error('anything else'), 'Show Log'],
    ];
    for (const [error, action] of cases) {
      const d = describeError(error);
      assert.ok(d.message.length > 0);
      assert.ok(d.actions.some((a) => a.title === action), `${(error as Error).name}: ${d.actions.map((a) => a.title).join(', ')}`);
    }
  });

  test('Connect to a host that cannot be reached reports the remote failure with Connect and Show Log', async () => {
    // The fixture config names "gadi", which the sandbox's ssh config does not know and which does not resolve.
    const e = await lastError(() => vscode.commands.executeCommand('gadiDask.connect', { config: workspaceFile('cluster.dask-cluster.yaml') }));
    assert.match(e.message, /gadi/);
    assert.ok(e.actions.includes('Show Log'), e.actions.join(', '));
    assert.deepEqual(api.connections(), []);
  });

  test('a config that does not exist is reported with a way to a config', async () => {
    const e = await lastError(() => vscode.commands.executeCommand('gadiDask.scaleCluster', { config: '/nonexistent/none.dask-cluster.yaml', jobs: 1 }));
    assert.match(e.message, /Cannot read the cluster config/);
    assert.ok(e.actions.length > 0);
  });

  test('job commands without a connection say so and offer Connect', async () => {
    for (const id of ['gadiDask.cancelJob', 'gadiDask.openJobOutput', 'gadiDask.shutDownCluster', 'gadiDask.copySchedulerAddress']) {
      const e = await lastError(() => vscode.commands.executeCommand(id, { config: workspaceFile('sandbox.dask-cluster.yaml'), jobId: '1.gadi-pbs' }));
      assert.match(e.message, /Not connected/, id);
      assert.ok(e.actions.includes('Connect'), `${id}: ${e.actions.join(', ')}`);
    }
  });

  test('Show Job Script needs no connection: it renders the worker script from the config', async () => {
    const text = await vscode.commands.executeCommand<string>('gadiDask.showJobScript', { config: workspaceFile('cluster.dask-cluster.yaml') });
    assert.ok(text);
    assert.match(text, /^#!\/usr\/bin\/env bash\n\n#PBS -N dask-worker\n#PBS -q normal\n/);
    assert.match(text, /#PBS -P ab12/);
    assert.equal(vscode.window.activeTextEditor?.document.getText(), text);
    assert.equal(vscode.window.activeTextEditor?.document.uri.scheme, 'gadi-dask');
  });

  test('the cost prompt gives the SU charge of the new jobs and of the scheduler job', () => {
    const config = parseClusterConfig(clusterConfigTemplate({ queue: TEMPLATE_QUEUES[0], project: 'ab12', host: 'gadi' }));
    const p = costPrompt(config, 'dask-normal', 'gadi', 2, true);
    assert.match(p.message, /^Submit 2 worker jobs and a scheduler job for cluster dask-normal on gadi\?$/);
    // normal: 2 SU per core-hour × 48 cores × 2 h = 192 SU a job; the scheduler: 1 core, 4 GB (1 share) × 2 h × 2.
    assert.match(p.detail, /up to 192 SU\./);
    assert.match(p.detail, /2 new jobs: up to 384 SU\./);
    assert.match(p.detail, /scheduler's own job: .*up to 4 SU\./);
    assert.equal(p.totalSu, 388);
    assert.doesNotMatch(p.detail, /holds/);
    // Scale holds its size: 96 SU an hour a job, so 2 jobs cost 192 SU an hour, 4,608 SU a day (three figures: 4,610).
    const held = costPrompt(config, 'dask-normal', 'gadi', 2, true, 2);
    assert.match(held.detail, /The cluster holds 2 jobs: each job that ends .* is replaced, so holding them costs 2 × 96 SU an hour = 192 SU an hour, 4,610 SU a day, until you scale to 0 or shut the cluster down\./);
  });

  test('every queue template is a config that lints without a problem', () => {
    assert.ok(TEMPLATE_QUEUES.length >= 10);
    for (const queue of TEMPLATE_QUEUES) {
      const r = lintText(clusterConfigTemplate({ queue, project: 'xy99', host: 'gadi' }));
      assert.ok(r.config, queue.name);
      assert.deepEqual(r.diagnostics.map((d) => `${d.code}: ${d.message}`), [], queue.name);
    }
  });

  test('Create Cluster Config writes the template for the queue and opens it', async () => {
    const folder = mkdtempSync(join(tmpdir(), 'gadi-dask-create-'));
    const uri = await vscode.commands.executeCommand<string>('gadiDask.createClusterConfig', { queue: 'express', project: 'cd34', host: 'gadi' , folder });
    assert.ok(uri, api.errors.at(-1)?.message);
    const path = vscode.Uri.parse(uri).fsPath;
    assert.equal(path, join(folder, 'express.dask-cluster.yaml'));
    assert.ok(existsSync(path));
    const doc = vscode.window.activeTextEditor?.document;
    assert.equal(doc?.uri.fsPath, path);
    assert.equal(doc?.languageId, 'dask-cluster');
    assert.match(doc!.getText(), /queue: express\n[\s\S]*- -P cd34\n/);
    // A second one does not overwrite the first.
    const second = await vscode.commands.executeCommand<string>('gadiDask.createClusterConfig', { queue: 'express', project: 'cd34', host: 'gadi', folder });
    assert.equal(vscode.Uri.parse(second!).fsPath, join(folder, 'express-2.dask-cluster.yaml'));
    const e = await lastError(() => vscode.commands.executeCommand('gadiDask.createClusterConfig', { queue: 'nosuchqueue', project: 'cd34', host: 'gadi', folder }));
    assert.match(e.message, /not a Gadi queue/);
  });

  test('Insert Dask Client Snippet writes a Client for the cluster\'s scheduler file, with its keys', async () => {
    const doc = await vscode.workspace.openTextDocument({ language: 'python', content: '' });
    await vscode.window.showTextDocument(doc);
    const text = await vscode.commands.executeCommand<string>('gadiDask.insertClientSnippet', { config: workspaceFile('sandbox.dask-cluster.yaml') });
    assert.ok(text);
    assert.match(doc.getText(), /client = Client\(scheduler_file=os\.path\.expanduser\("~\/\.gadi-dask\/clusters\/sandbox\/scheduler\.json"\), security=security\)/);
    assert.match(doc.getText(), /^key = os\.path\.expanduser\("~\/\.gadi-dask\/clusters\/sandbox\/tls-key\.pem"\)$/m);
    assert.match(doc.getText(), /^import os\nfrom dask\.distributed import Client, Security\n/);
  });

  test('sizes and bounds typed in the prompts are read as jobs, workers and adaptive bounds', () => {
    assert.deepEqual(parseSize('2'), { jobs: 2 });
    assert.deepEqual(parseSize(' 16w '), { workers: 16 });
    assert.deepEqual(parseSize('3 workers'), { workers: 3 });
    assert.equal(parseSize('two'), undefined);
    assert.equal(parseSize('-1'), undefined);
    // The job ceiling is the cluster config's, checked by the commands: the prompts read any size.
    assert.deepEqual(parseSize('1001'), { jobs: 1001 });
    assert.equal(parseSize('1.5'), undefined);
    assert.deepEqual(parseBounds('0-1001'), { minimum: 0, maximum: 1001 });
    assert.deepEqual(parseBounds('0-4'), { minimum: 0, maximum: 4 });
    assert.deepEqual(parseBounds('2 8'), { minimum: 2, maximum: 8 });
    assert.equal(parseBounds('5-1'), undefined);
    assert.equal(parseBounds('off'), 'off');
  });

  test('a saved passphrase is used without asking, and forgotten once it stops working', async () => {
    const secrets = new MemorySecrets();
    const memento = new MemoryMemento();
    const log = vscode.window.createOutputChannel('gadi-dask prompt test', { log: true });
    try {
      const prompt = new EditorPrompt(secrets, memento, log);
      await secrets.store('gadiDask.passphrase:~/.ssh/id_gadi', 'open sesame');
      await memento.update('gadiDask.savedPassphrases', ['~/.ssh/id_gadi']);
      assert.equal(await prompt.askSecret('Passphrase for ~/.ssh/id_gadi', 'passphrase'), 'open sesame');
      // The core asks again with this wording when the passphrase was wrong: the saved one goes, the user is asked.
      const asked = prompt.askSecret('Wrong passphrase, try again: ~/.ssh/id_gadi', 'passphrase');
      await new Promise((r) => setTimeout(r, 300));
      await vscode.commands.executeCommand('workbench.action.closeQuickOpen');
      assert.equal(await asked, undefined);
      assert.equal(secrets.values.size, 0);
      assert.deepEqual(memento.get('gadiDask.savedPassphrases'), []);
      await secrets.store('gadiDask.passphrase:/k', 'x');
      await memento.update('gadiDask.savedPassphrases', ['/k']);
      assert.equal(await prompt.forgetAll(), 1);
      assert.equal(secrets.values.size, 0);
    } finally {
      log.dispose();
    }
  });

  test('timed refreshes back off after failures and return to the interval after a success', async () => {
    let ok = false;
    const model = { refresh: async () => ok, list: () => [{}], onDidAddCluster: () => new vscode.Disposable(() => undefined) } as unknown as ClusterModel;
    const view = { visible: false, onDidChangeVisibility: () => new vscode.Disposable(() => undefined) } as unknown as vscode.TreeView<unknown>;
    const log = vscode.window.createOutputChannel('gadi-dask refresh test', { log: true });
    const refresher = new Refresher(model, view, log);
    try {
      const interval = vscode.workspace.getConfiguration('gadiDask').get<number>('refreshInterval')! * 1000;
      assert.equal(refresher.delayMs(), interval);
      assert.equal(await refresher.now('manual'), false);
      assert.equal(refresher.delayMs(), 2 * interval);
      await refresher.now('manual');
      assert.equal(refresher.delayMs(), 4 * interval);
      for (let i = 0; i < 10; i++) await refresher.now('manual');
      assert.equal(refresher.delayMs(), 16 * interval, 'the pause stops growing');
      ok = true;
      assert.equal(await refresher.now('manual'), true);
      assert.equal(refresher.delayMs(), interval);
    } finally {
      refresher.dispose();
      log.dispose();
    }
  });

  test('the manifest declares the settings, the welcome actions and a walkthrough with pictures', () => {
    const m = ext.packageJSON as Manifest;
    const props = m.contributes.configuration.properties;
    assert.equal(props['gadiDask.refreshInterval'].default, 30);
    assert.equal(props['gadiDask.confirmScale'].default, true);
    assert.deepEqual(props['gadiDask.transport'].enum, ['auto', 'ssh', 'local']);
    assert.equal(props['gadiDask.configFile'].default, '');
    assert.equal(props['gadiDask.ssh.configFile'].scope, 'machine');
    assert.equal(props['gadiDask.ssh.knownHostsFile'].scope, 'machine');
    for (const c of m.contributes.commands) assert.equal(c.category, 'Gadi Dask', c.command);
    const welcome = m.contributes.viewsWelcome.find((w) => w.view === 'gadiDask.jobs')!.contents;
    for (const cmd of ['gadiDask.connect', 'gadiDask.createClusterConfig', 'gadiDask.openWalkthrough']) assert.ok(welcome.includes(`command:${cmd}`), cmd);
    const walkthrough = m.contributes.walkthroughs.find((w) => w.id === 'gettingStarted');
    assert.deepEqual(walkthrough?.steps.map((s) => s.id), ['writeConfig', 'connect', 'scale', 'dashboard']);
    for (const s of walkthrough!.steps) assert.ok(existsSync(join(ext.extensionPath, s.media.image)), s.media.image);
    const items = m.contributes.menus['view/item/context'];
    assert.ok(items.some((i) => i.command === 'gadiDask.cancelJob' && i.when?.includes('viewItem')));
  });

  test('the status bar names no host while nothing is connected', () => {
    assert.deepEqual(api.connections(), []);
    assert.match(api.statusBarText(), /Gadi Dask/);
  });
});
