// Acceptance of the editor experience against the sandbox (a private sshd, the PBS emulator running jobs for real,
// Debian's Dask): connect, Scale Cluster to 2 through executeCommand, the tree's clusters → jobs → workers, the
// dashboard through its tunnel, a job's script and output, Cancel Job, Shut Down Cluster, Disconnect.
import * as assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import * as vscode from 'vscode';
import type { DashboardResult, LocalPythonResult } from '../../../src/extension/commands/cluster';
import type { RunFileOutcome } from '../../../src/extension/commands/runFile';
import type { ScaleCommandResult } from '../../../src/extension/commands/scale';
import type { ConnectResult } from '../../../src/extension/commands/connection';
import type { GadiDaskApi } from '../../../src/extension/extension';
import type { ClusterNode, FoundClusterNode, JobNode, Node, OtherJobsNode } from '../../../src/extension/jobsTree';
import { until as poll } from '../../fixtures/poll';
import { notebookTests } from './notebook';

const EXTENSION_ID = 'gadi-dask.gadi-dask';
const CONFIG = 'sandbox.dask-cluster.yaml';

let api: GadiDaskApi;
let configPath: string;
let alias: string;

const until = <T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 45_000, pauseMs = 1000) =>
  poll(what, probe, { timeoutMs, everyMs: pauseMs });

async function clusterNode(): Promise<ClusterNode> {
  const roots = await api.tree.getChildren();
  const node = roots.find((n): n is ClusterNode => n.kind === 'cluster' && n.entry.cluster.name === 'sandbox');
  assert.ok(node, `no cluster "sandbox" among the roots: ${roots.map((n) => n.kind).join(', ')}`);
  return node;
}

async function workerJobs(): Promise<JobNode[]> {
  const children = await api.tree.getChildren(await clusterNode());
  return children.filter((n): n is JobNode => n.kind === 'job' && n.role === 'worker');
}

/** Runs `command` in a login shell on the sandbox through OpenSSH's own client, not the extension. */
async function sandboxShell(command: string): Promise<string> {
  const sshConfig = vscode.workspace.getConfiguration('gadiDask').get<string>('ssh.configFile');
  assert.ok(sshConfig, 'the runner sets gadiDask.ssh.configFile');
  const r = await promisify(execFile)('ssh', ['-F', sshConfig, '-o', 'BatchMode=yes', alias, `bash -lc '${command}'`], { timeout: 30_000 });
  return r.stdout.trim();
}

/** The user's PBS jobs still in the queue, as qstat lists them. */
function qstatActive(): Promise<string> {
  return sandboxShell('qstat');
}

suite('Cluster life on the sandbox, through the editor', function () {
  this.timeout(60_000);

  suiteSetup(async () => {
    const ext = vscode.extensions.getExtension<GadiDaskApi>(EXTENSION_ID);
    assert.ok(ext);
    api = await ext.activate();
    const folder = vscode.workspace.workspaceFolders?.[0];
    assert.ok(folder);
    configPath = vscode.Uri.joinPath(folder.uri, CONFIG).fsPath;
    const text = new TextDecoder().decode(await vscode.workspace.fs.readFile(vscode.Uri.file(configPath)));
    alias = /host: (\S+)/.exec(text)![1];
  });

  test('before connecting, a command that needs the cluster says so and offers Connect', async () => {
    const before = api.errors.length;
    const result = await vscode.commands.executeCommand('gadiDask.openDashboard', { config: configPath });
    assert.equal(result, undefined);
    const reported = api.errors.slice(before);
    assert.equal(reported.length, 1);
    assert.match(reported[0].message, /Not connected/);
    assert.ok(reported[0].actions.includes('Connect'), `actions: ${reported[0].actions.join(', ')}`);
    assert.deepEqual(await api.tree.getChildren(), [], 'the tree stays empty, so the welcome content shows');
  });

  test('Connect signs in to the sandbox and the tree shows its cluster', async () => {
    const r = await vscode.commands.executeCommand<ConnectResult>('gadiDask.connect', { config: configPath });
    assert.ok(r, `connect failed: ${api.errors.at(-1)?.message}`);
    assert.equal(r.host, alias);
    assert.equal(r.kind, 'ssh');
    assert.deepEqual(api.connections().map((c) => [c.label, c.state]), [[alias, 'connected']]);
    const node = await clusterNode();
    assert.equal(api.tree.getTreeItem(node).label, 'sandbox');
    assert.match(api.statusBarText(), new RegExp(alias));
  });

  test('Scale Cluster refuses a config with a lint error, unsaved edits included: file:line:col, nothing submitted', async () => {
    const doc = await vscode.workspace.openTextDocument(vscode.Uri.file(configPath));
    await vscode.window.showTextDocument(doc);
    const line = doc.getText().split('\n').findIndex((l) => /^\s+name: /.test(l));
    const edit = new vscode.WorkspaceEdit();
    edit.insert(doc.uri, new vscode.Position(line, 0), '    queue: "normal\\n#PBS -l walltime=99:00:00"\n');
    assert.ok(await vscode.workspace.applyEdit(edit));
    try {
      const before = api.errors.length;
      const r = await vscode.commands.executeCommand('gadiDask.scaleCluster', { config: configPath, jobs: 1, confirm: false });
      assert.equal(r, undefined);
      const e = api.errors.at(-1);
      assert.ok(api.errors.length === before + 1 && e, 'the refusal is reported');
      assert.match(e.message, /nothing was submitted/);
      assert.ok(e.message.includes(`${configPath}:${line + 1}:12 This value holds a newline: "normal\\n#PBS -l walltime=99:00:00"`), e.message);
      assert.equal(await qstatActive(), '', 'no job reached PBS');
    } finally {
      const undo = new vscode.WorkspaceEdit();
      undo.delete(doc.uri, new vscode.Range(line, 0, line + 1, 0));
      await vscode.workspace.applyEdit(undo);
      await doc.save();
    }
    assert.doesNotMatch(doc.getText(), /walltime=99/, 'the edit is gone before the next test');
  });

  test('Scale Cluster to 2 through executeCommand submits the jobs, the tree lists them, and it ends at 2/2 workers connected', async function () {
    this.timeout(200_000);
    const started = Date.now();
    const r = await vscode.commands.executeCommand<ScaleCommandResult>('gadiDask.scaleCluster', { config: configPath, jobs: 2, confirm: false });
    assert.ok(r, `scale failed: ${api.errors.at(-1)?.message}`);
    assert.equal(r.targetJobs, 2);
    assert.equal(r.submitted.length, 2);
    assert.deepEqual(r.errors, []);
    assert.equal(r.stopped, false);
    assert.deepEqual([r.workers?.connected, r.workers?.expected, r.workers?.done], [2, 2, true]);
    process.stderr.write(`scale 2 to 2/2 workers connected in the editor: ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    // The command returns once the tree shows what it submitted.
    const listed = (await workerJobs()).map((n) => n.job.id);
    for (const id of r.submitted) assert.ok(listed.includes(id), `${id} is not in the tree (${listed.join(', ')})`);
  });

  test('the tree shows the cluster, then 2 worker jobs in state R, then the Dask workers under each job', async () => {
    const jobs = await until('2 running worker jobs with a worker each', async () => {
      await api.refresh();
      const js = await workerJobs();
      return js.length === 2 && js.every((j) => j.job.state === 'R' && j.workers.length === 1) ? js : undefined;
    }, 90_000);
    for (const job of jobs) {
      const item = api.tree.getTreeItem(job);
      assert.equal(item.contextValue, 'job.worker.running');
      assert.match(String(item.label), new RegExp(`^${job.job.id.split('.')[0]} sandbox$`));
      assert.match(String(item.description), /^Running · /);
      assert.ok(item.tooltip instanceof vscode.MarkdownString);
      assert.equal(item.collapsibleState, vscode.TreeItemCollapsibleState.Collapsed);
      const workers = await api.tree.getChildren(job);
      assert.equal(workers.length, 1);
      const w = workers[0];
      assert.equal(w.kind, 'worker');
      const wItem = api.tree.getTreeItem(w);
      assert.equal(wItem.label, `sandbox-${job.job.id}`);
      assert.match(String(wItem.description), /^1 thread · .+ \/ .+ · 0 tasks$/);
    }
    const cluster = api.tree.getTreeItem(await clusterNode());
    assert.match(String(cluster.description), /running · 2 jobs · 2 workers/);
    assert.match(String(cluster.contextValue), /^cluster\.running\.dashboard/);
    // The size Scale set, held by the scheduler, as its controller last counted the jobs.
    await until('the status bar shows 2 of the 2 jobs held', async () => {
      await api.refresh();
      return /sandbox: 2\/2 jobs/.test(api.statusBarText()) || undefined;
    }, 30_000);
    assert.match(String(api.tree.getTreeItem(await clusterNode()).description), /holding 2 jobs: 2 running/);
  });

  test('Open Dashboard tunnels to the scheduler: its local port answers /health', async () => {
    const r = await vscode.commands.executeCommand<DashboardResult>('gadiDask.openDashboard', { config: configPath });
    assert.ok(r, `open dashboard failed: ${api.errors.at(-1)?.message}`);
    assert.ok(r.localPort > 0);
    const res = await fetch(`http://127.0.0.1:${r.localPort}/health`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200);
    assert.equal((await res.text()).trim(), 'ok');
    // Asking again reuses the tunnel.
    const again = await vscode.commands.executeCommand<DashboardResult>('gadiDask.openDashboard', { config: configPath, open: false });
    assert.equal(again?.localPort, r.localPort);
  });

  test('a dropped connection (its sshd sessions killed) comes back by itself: Scale, the tree and the dashboard work without Connect', async function () {
    this.timeout(120_000);
    const [before] = api.connections();
    const port = (await vscode.commands.executeCommand<DashboardResult>('gadiDask.openDashboard', { config: configPath, open: false }))!.localPort;
    const errors = api.errors.length;
    // The user's sshd processes: the extension's connection, and this shell's own (hence the ignored failure).
    await sandboxShell('pkill -KILL -u "$(id -u)" -x sshd').catch(() => undefined);
    const after = await until('the link to drop and come back', async () => {
      const [c] = api.connections();
      return c && c.drops > before.drops && c.state === 'connected' ? c : undefined;
    }, 30_000, 50);
    assert.equal(after.key, before.key, 'the same connection, not a new one the user had to make');
    // The session agent died with the link: Scale reaches the cluster through a new one, and finds nothing to submit.
    const r = await vscode.commands.executeCommand<ScaleCommandResult>('gadiDask.scaleCluster', { config: configPath, jobs: 2, confirm: false });
    assert.ok(r, `scale after the drop failed: ${api.errors.at(-1)?.message}`);
    assert.deepEqual([r.submitted.length, r.errors, r.workers?.connected], [0, [], 2]);
    assert.equal(await api.refresh(), true, 'the tree refreshes over the new link');
    const res = await fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(10_000) });
    assert.equal(res.status, 200, 'the dashboard tunnel carries new requests over the new link');
    assert.equal(api.errors.length, errors, `nothing was reported: ${api.errors.slice(errors).map((e) => e.message).join('; ')}`);
  });

  test('Copy Scheduler Address puts the running scheduler\'s address on the clipboard', async () => {
    const address = await vscode.commands.executeCommand<string>('gadiDask.copySchedulerAddress', { config: configPath });
    assert.match(address ?? '', /^tls:\/\/[\d.]+:\d+$/);
    assert.equal(await vscode.env.clipboard.readText(), address);
  });

  test('Connect Local Python to Cluster: the snippet it copies computes on the cluster from this machine, through the tunnel', async () => {
    const r = await vscode.commands.executeCommand<LocalPythonResult>('gadiDask.connectLocalPython', { config: configPath });
    assert.ok(r, `connect local python failed: ${api.errors.at(-1)?.message}`);
    assert.match(r.address, /^tls:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(await vscode.env.clipboard.readText(), r.snippet);
    const python = promisify(execFile)('/usr/bin/python3', ['-c', `${r.snippet}print(client.submit(sum, [1, 2, 3]).result())\nclient.close()\n`], { timeout: 60_000 });
    assert.equal((await python).stdout.trim().split('\n').at(-1), '6');
  });

  test('Run Python File on Cluster streams the file\'s output into a terminal and reports its exit status', async function () {
    this.timeout(120_000);
    const file = join(mkdtempSync(join(tmpdir(), 'run-file-')), 'compute.py');
    writeFileSync(file, 'import sys\nprint("args", sys.argv[1:])\nfrom dask.distributed import Client\nc = Client()\nprint("result", c.submit(sum, [1, 2, 3]).result())\nsys.exit(3)\n');
    const r = await vscode.commands.executeCommand<RunFileOutcome>('gadiDask.runPythonFile', { config: configPath, file, args: ['x y'] });
    assert.ok(r, `run python file failed: ${api.errors.at(-1)?.message}`);
    assert.deepEqual([r.exitStatus, r.cancelled], [3, false]);
    // The script's own lines, in order; Dask may add its own after them as the open client closes at exit (a close
    // that times out on a loaded machine prints "Future exception was never retrieved").
    assert.ok(r.output.startsWith("args ['x y']\nresult 6\n"), r.output);
    assert.ok(vscode.window.terminals.some((t) => t.name === 'compute.py on sandbox'), vscode.window.terminals.map((t) => t.name).join(', '));
  });

  test('Show Job Script opens the script the job was submitted with, read-only', async () => {
    const [job] = await workerJobs();
    const text = await vscode.commands.executeCommand<string>('gadiDask.showJobScript', job);
    assert.ok(text, `show job script failed: ${api.errors.at(-1)?.message}`);
    assert.match(text, /^#!\/usr\/bin\/env bash\n\n#PBS -N sandbox\n/);
    assert.match(text, /\/usr\/bin\/python3 -m distributed\.cli\.dask_worker --scheduler-file .*\.gadi-dask\/clusters\/sandbox\/scheduler\.json/);
    const doc = vscode.window.activeTextEditor?.document;
    assert.equal(doc?.uri.scheme, 'gadi-dask');
    assert.equal(doc?.getText(), text);
    assert.equal(doc?.languageId, 'shellscript');
  });

  test('Cancel Job removes one job from the tree, and its output can be opened', async () => {
    const [victim] = await workerJobs();
    const r = await vscode.commands.executeCommand<{ outcome: string }>('gadiDask.cancelJob', { jobId: victim.job.id, confirm: false });
    assert.equal(r?.outcome, 'deleted', `cancel failed: ${api.errors.at(-1)?.message}`);
    const left = await until('one worker job left', async () => {
      await api.refresh();
      const js = await workerJobs();
      return js.length === 1 ? js : undefined;
    });
    assert.notEqual(left[0].job.id, victim.job.id);
    // It moves to the cluster's finished jobs.
    const finished = (await api.tree.getChildren(await clusterNode())).find((n) => n.kind === 'finished');
    assert.ok(finished, 'a "Finished jobs" node');
    const done = (await api.tree.getChildren(finished)).find((n): n is JobNode => n.kind === 'job' && n.job.id === victim.job.id);
    assert.ok(done, `${victim.job.id} among the finished jobs`);
    assert.equal(api.tree.getTreeItem(done).contextValue, 'job.worker.finished');
    // PBS copies the output when the job has ended; the worker logs to standard error.
    const text = await until('the cancelled job\'s error file', async () => {
      await api.refresh();
      const before = api.errors.length;
      const t = await vscode.commands.executeCommand<string>('gadiDask.openJobOutput', { jobId: victim.job.id, stream: 'e' });
      return t !== undefined && api.errors.length === before ? t : undefined;
    }, 30_000);
    assert.match(text, /distributed\.(nanny|worker)/);
    assert.equal(vscode.window.activeTextEditor?.document.uri.scheme, 'gadi-dask');
  });

  test('Adapt Cluster hands the bounds to the scheduler, which adopts the job already running', async () => {
    const r = await vscode.commands.executeCommand<{ enabled: boolean; minimum: number; maximum: number; adopted: number }>(
      'gadiDask.adaptCluster', { config: configPath, minimum: 1, maximum: 2, confirm: false });
    assert.ok(r, `adapt failed: ${api.errors.at(-1)?.message}`);
    assert.deepEqual([r.enabled, r.minimum, r.maximum, r.adopted], [true, 1, 2, 1]);
    // The scheduler's launcher takes the bounds up on its next round.
    const item = await until('the cluster row to show the bounds', async () => {
      await api.refresh();
      const it = api.tree.getTreeItem(await clusterNode());
      return /adaptive 1–2/.test(String(it.description)) ? it : undefined;
    }, 30_000);
    assert.match(String(item.contextValue), /\.adaptive$/);
  });

  test('"Other PBS jobs" lists the user\'s jobs outside the cluster, and Cancel Job cancels one', async () => {
    const id = await sandboxShell('echo sleep 300 | qsub -N other-job');
    assert.match(id, /^\d+\.\S+$/);
    const roots = await api.tree.getChildren();
    const other = roots.find((n): n is OtherJobsNode => n.kind === 'otherJobs');
    assert.ok(other);
    // Opening the node lists the jobs; a manual refresh lists them again.
    await api.refresh();
    const listed = (await api.tree.getChildren(other)).filter((n): n is JobNode => n.kind === 'job');
    assert.deepEqual(listed.map((n) => [n.job.id, n.job.name, n.role]), [[id, 'other-job', 'other']]);
    assert.match(String(api.tree.getTreeItem(listed[0]).contextValue), /^job\.other\.(running|pending)$/);
    // The keyboard path: select the row, then what Delete runs (the keybinding passes { selection: true }).
    await api.tree.select(listed[0]);
    const r = await vscode.commands.executeCommand<{ outcome: string }>('gadiDask.cancelJob', { selection: true, confirm: false });
    assert.equal(r?.outcome, 'deleted', `cancel failed: ${api.errors.at(-1)?.message}`);
    await api.refresh();
    assert.deepEqual((await api.tree.getChildren(other)).filter((n) => n.kind === 'job'), []);
  });

  // Registered here, so they run while the cluster does (a nested suite would run after the last test).
  notebookTests(() => ({ api, shell: sandboxShell, config: configPath, host: alias }));

  test('Shut Down Cluster leaves nothing: qstat lists no job and the tunnel is closed', async () => {
    const port = (await vscode.commands.executeCommand<DashboardResult>('gadiDask.openDashboard', { config: configPath, open: false }))!.localPort;
    const r = await vscode.commands.executeCommand<{ existed: boolean; cancelled: unknown[] }>('gadiDask.shutDownCluster', { config: configPath, confirm: false });
    assert.ok(r, `shut down failed: ${api.errors.at(-1)?.message}`);
    assert.equal(r.existed, true);
    const listing = await until('qstat to list no job', async () => {
      const out = await qstatActive();
      return out === '' ? out : undefined;
    }, 30_000);
    assert.equal(listing, '');
    const children: Node[] = await api.tree.getChildren(await clusterNode());
    assert.equal(children.filter((n) => n.kind === 'job').length, 0);
    await assert.rejects(fetch(`http://127.0.0.1:${port}/health`, { signal: AbortSignal.timeout(5000) }));
  });

  test('a cluster started elsewhere (no config here) shows after a manual refresh, read-only with its state', async () => {
    await sandboxShell('mkdir -p ~/.gadi-dask/clusters/elsewhere && printf "%s\\n" "{\\"state\\": \\"stopped\\"}" >~/.gadi-dask/clusters/elsewhere/runtime.json');
    try {
      const before = (await api.tree.getChildren()).filter((n) => n.kind === 'foundCluster');
      assert.deepEqual(before, [], 'discovery runs at connect and on manual refreshes, not on its own');
      await api.refresh();
      const found = (await api.tree.getChildren()).filter((n): n is FoundClusterNode => n.kind === 'foundCluster');
      assert.deepEqual(found.map((n) => n.cluster.name), ['elsewhere'], 'the cluster with a config here is not repeated');
      const item = api.tree.getTreeItem(found[0]);
      assert.equal(item.contextValue, 'foundCluster.stopped');
      assert.match(String(item.description), /stopped · 0 recorded jobs · no config here/);
    } finally {
      await sandboxShell('rm -rf ~/.gadi-dask/clusters/elsewhere');
    }
  });

  test('Disconnect closes the connection and the tree empties for the welcome content', async () => {
    assert.equal(await vscode.commands.executeCommand('gadiDask.disconnect'), true);
    assert.deepEqual(api.connections(), []);
    assert.deepEqual(await api.tree.getChildren(), []);
  });
});
