// Commands on a whole cluster: Shut Down, Open Dashboard (SSH tunnel + Simple Browser), Copy Scheduler Address,
// Insert Dask Client Snippet, Connect Local Python to Cluster, Cluster Report.
import * as vscode from 'vscode';
import { core } from '../core';
import type { ClusterSnapshot, DownResult, LocalClient } from '../../core/cluster';
import type { ClusterEntry } from '../clusters';
import type { ReportModel } from '../../core/cluster/report';
import { Cancelled, NoSchedulerError } from '../errors';
import { askStopKernel } from '../prompts';
import { showReport } from '../reportView';
import { inertMessage } from '../inert';
import { withCancellableProgress } from '../progress';
import { clusterFor, configUri, confirm, isNode, snapshotOf, type Context, type TargetArgs } from './context';

interface ConfirmArgs extends TargetArgs {
  confirm?: boolean;
}

function options<T extends object>(arg: unknown): T {
  return (typeof arg === 'object' && arg !== null && !isNode(arg) ? arg : {}) as T;
}

interface ShutDownArgs extends ConfirmArgs {
  /** Without asking (confirm: false): leave the kernel next to the cluster running (default: stop it too). */
  keepKernel?: boolean;
}

/** What of the kernel next to the cluster runs: its queued or running job (the snapshot's), or a login-node process. */
async function runningKernel(ctx: Context, entry: ClusterEntry, s: ClusterSnapshot | undefined): Promise<string | undefined> {
  const job = core().activeKernelJob(s);
  if (job) return `job ${job.id}, ${job.stateInfo.label.toLowerCase()}`;
  if (entry.config.config.kernel?.placement !== 'login') return undefined;
  // A login-node kernel has no job for the snapshot to show: ask (no PBS call without a kernel job).
  const k = await entry.cluster.kernelStatus().catch((e: unknown) => void ctx.log.warn(`Could not ask about the kernel: ${(e as Error).message}`));
  return k && k.state !== 'none' ? `on the login node, ${k.state}` : undefined;
}

export async function shutDownCluster(ctx: Context, arg?: unknown): Promise<DownResult> {
  const args = options<ShutDownArgs>(arg);
  const entry = await clusterFor(ctx, arg, 'to shut a cluster down', false);
  const s = await snapshotOf(ctx, entry).catch(() => undefined);
  let keepKernel = args.keepKernel ?? false;
  if (args.confirm !== false) {
    const clusterJobs = s?.jobs.filter((j) => j.role !== 'kernel') ?? [];
    const running = clusterJobs.filter((j) => j.stateInfo.phase === 'running').length;
    const detail = s
      ? `This retires its ${s.counts.workers} Dask worker(s), stops the scheduler and cancels its ${clusterJobs.length} PBS job(s) (${running} running). Results not yet gathered by a client are lost.`
      : 'This retires its Dask workers, stops the scheduler and cancels all of its PBS jobs.';
    const session = s?.scheduler.session ? ` The persistent session ${s.scheduler.session.name} the scheduler runs in stays running.` : '';
    const question = `Shut down cluster ${entry.cluster.name} on ${entry.connection.label}?`;
    const kernel = await runningKernel(ctx, entry, s);
    if (kernel) {
      const stop = await askStopKernel(question, `${detail}${session}\n\nThe kernel next to the cluster is running (${kernel}). Stopped, its notebook's ` +
        'variables are lost. Kept, it keeps them but has no cluster to compute on, and its job goes on costing SU until its idle timeout or walltime.');
      if (stop === undefined) throw new Cancelled();
      keepKernel = !stop;
    } else if (!(await confirm(question, `${detail}${session}`, 'Shut Down'))) throw new Cancelled();
  }
  const title = `Shutting down ${entry.cluster.name} on ${entry.connection.label}`;
  return withCancellableProgress(title, async ({ report, signal }) => {
    const r = await entry.cluster.down({ onProgress: report, signal, keepKernel });
    await ctx.tunnels.close(entry.id);
    for (const w of r.warnings) ctx.log.warn(w);
    for (const left of [r.sessionLeft, r.kernelLeft]) {
      if (!left) continue;
      ctx.log.info(left);
      void vscode.window.showInformationMessage(left);
    }
    ctx.log.info(`Shut down ${entry.cluster.name}: ${r.cancelled.length} job(s) cancelled.`);
    await ctx.refresher.now('action');
    return r;
  });
}

export interface DashboardResult {
  /** The tunnel's port on 127.0.0.1. */
  localPort: number;
  /** The dashboard through the tunnel. */
  url: string;
  /** What was opened: the same URL, or the editor's own forwarding of it (remote and web editors). */
  openedUrl: string;
}

/** What Dask serves in place of its dashboard when the scheduler's Python has no bokeh. */
const MISSING_BOKEH = /Dask needs bokeh/;
/** Served by the scheduler itself (tornado templates), bokeh or not. */
const INFO_PAGE = '/info/main/workers.html';

/** The dashboard's page, or the scheduler's info pages when the dashboard cannot be served. */
async function dashboardPage(ctx: Context, localPort: number, path: string): Promise<string> {
  try {
    const res = await fetch(`http://127.0.0.1:${localPort}${path}`, { signal: AbortSignal.timeout(5000) });
    if (res.ok && MISSING_BOKEH.test(await res.text())) {
      ctx.log.warn('The scheduler\'s Python has no bokeh, so Dask serves no dashboard; opening its info pages instead.');
      void vscode.window.showInformationMessage(
        'The scheduler\'s Python environment has no bokeh, so Dask shows its info pages instead of the dashboard. Install bokeh there for the full dashboard.');
      return INFO_PAGE;
    }
  } catch (e) {
    ctx.log.debug(`Could not look at the dashboard page first: ${(e as Error).message}`);
  }
  return path;
}

export async function openDashboard(ctx: Context, arg?: unknown): Promise<DashboardResult> {
  const args = options<TargetArgs & { open?: boolean }>(arg);
  const entry = await clusterFor(ctx, arg, 'to open a dashboard', false);
  let s = await snapshotOf(ctx, entry);
  if (!s?.scheduler.dashboard) {
    await ctx.refresher.now('action'); // the view may be older than the scheduler
    s = entry.snapshot;
  }
  const dashboard = s?.scheduler.dashboard;
  if (!s || !dashboard) throw new NoSchedulerError(entry.cluster.name, s?.scheduler.problem ?? (s ? `scheduler ${s.scheduler.state}` : ''));
  const localPort = await withCancellableProgress(`Opening the dashboard of ${entry.cluster.name}`, ({ signal }) =>
    ctx.tunnels.open(entry, dashboard, signal));
  let path = '/status';
  try {
    path = new URL(dashboard.url).pathname || '/';
  } catch {
    // keep the dashboard's usual page
  }
  const url = `http://127.0.0.1:${localPort}${await dashboardPage(ctx, localPort, path)}`;
  // Remote and browser-based editors reach the extension host's localhost only through their own forwarding.
  const openedUrl = (await vscode.env.asExternalUri(vscode.Uri.parse(url))).toString(true);
  if (args.open !== false) await vscode.commands.executeCommand('simpleBrowser.show', openedUrl);
  return { localPort, url, openedUrl };
}

export async function copySchedulerAddress(ctx: Context, arg?: unknown): Promise<string> {
  const entry = await clusterFor(ctx, arg, 'to copy a scheduler address', false);
  const s = await snapshotOf(ctx, entry);
  const address = s?.scheduler.state === 'running' ? s.scheduler.address : undefined;
  if (!address) throw new NoSchedulerError(entry.cluster.name, s?.scheduler.problem ?? (s ? `scheduler ${s.scheduler.state}` : ''));
  await vscode.env.clipboard.writeText(address);
  const how = core().tlsEnabled(entry.config.config)
    ? `It admits only clients with the cluster's key: Insert Dask Client Snippet writes one (from a login node or a job).`
    : `Client("${address}") connects to ${entry.cluster.name} from a login node or a job.`;
  void vscode.window.showInformationMessage(inertMessage(`Copied ${address}. ${how}`));
  return address;
}

export async function insertClientSnippet(ctx: Context, arg?: unknown): Promise<string> {
  // Only the config is needed: the scheduler file's path follows from the cluster's name.
  const entry = isNode(arg) && 'entry' in arg && arg.entry ? arg.entry.config : await ctx.configs.choose('for the client snippet', configUri(arg as TargetArgs | undefined));
  const text = core().clientSnippet(entry.config);
  const editor = vscode.window.activeTextEditor;
  const notebook = vscode.window.activeNotebookEditor;
  if (editor && editor.document.uri.scheme !== 'output' && !editor.document.isClosed && editor.document.languageId !== 'dask-cluster') {
    // A .py file, or a notebook cell being edited (its document is the cell's).
    await editor.insertSnippet(new vscode.SnippetString(text.replace(/[$}\\]/g, '\\$&')));
  } else if (notebook) {
    // A notebook without a cell in focus: the snippet becomes a new code cell after the selection.
    const at = notebook.selection.end;
    const edit = new vscode.WorkspaceEdit();
    edit.set(notebook.notebook.uri, [vscode.NotebookEdit.insertCells(at, [new vscode.NotebookCellData(vscode.NotebookCellKind.Code, text, 'python')])]);
    await vscode.workspace.applyEdit(edit);
  } else {
    const doc = await vscode.workspace.openTextDocument({ language: 'python', content: text });
    await vscode.window.showTextDocument(doc);
  }
  return text;
}

/** Cluster Report: reads the cluster's history (one round trip) and shows it in a webview. */
export async function clusterReport(ctx: Context, arg?: unknown): Promise<ReportModel> {
  const entry = await clusterFor(ctx, arg, 'to show a cluster report', true);
  const title = `Reading the history of ${entry.cluster.name} on ${entry.connection.label}`;
  const report = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title }, () => entry.cluster.report());
  for (const w of report.warnings) ctx.log.warn(w);
  ctx.history.take(entry.id, report);
  return showReport(ctx.extension.extensionUri, entry.id, report);
}

/** One local client tunnel per cluster: a new Connect replaces the old one (the scheduler may have moved). */
const localClients = new Map<string, LocalClient>();

/** The Python extension's selected interpreter, when that extension is there. */
async function selectedPython(ctx: Context): Promise<string | undefined> {
  try {
    const ext = vscode.extensions.getExtension<{ environments?: { getActiveEnvironmentPath(): { path: string } } }>('ms-python.python');
    const api = ext ? (ext.isActive ? ext.exports : await ext.activate()) : undefined;
    return api?.environments?.getActiveEnvironmentPath().path || undefined;
  } catch (e) {
    ctx.log.debug(`Could not ask the Python extension for its interpreter: ${(e as Error).message}`);
    return undefined;
  }
}

export interface LocalPythonResult {
  address: string;
  snippet: string;
  warning?: string;
}

/**
 * Connect Local Python to Cluster: forwards the scheduler's port to 127.0.0.1 for as long as the connection lives,
 * copies the cluster's keys into the extension's private storage and inserts (or copies) the snippet.
 */
export async function connectLocalPython(ctx: Context, arg?: unknown): Promise<LocalPythonResult> {
  const entry = await clusterFor(ctx, arg, 'to connect a local Python', true);
  const python = (await selectedPython(ctx)) ?? 'python3';
  const keyDir = ctx.extension.globalStorageUri.fsPath;
  const client = await withCancellableProgress(`Connecting a local Python to ${entry.cluster.name}`, async ({ report, signal }) => {
    await localClients.get(entry.id)?.close().catch(() => undefined);
    localClients.delete(entry.id);
    return core().connectLocalClient(entry.cluster, { keyDir, python, signal, onProgress: report });
  });
  localClients.set(entry.id, client);
  ctx.log.info(`Local client of ${entry.cluster.name}: ${client.address} → ${client.remoteAddress} via ${entry.connection.label}.`);
  if (client.versions.warning) ctx.log.warn(client.versions.warning);
  const editor = vscode.window.activeTextEditor;
  let where = 'Copied the snippet to the clipboard.';
  if (editor && !editor.document.isClosed && editor.document.languageId === 'python') {
    await editor.insertSnippet(new vscode.SnippetString(client.snippet.replace(/[$}\\]/g, '\\$&')));
    where = 'Inserted the snippet.';
  } else {
    await vscode.env.clipboard.writeText(client.snippet);
  }
  const message = `${where} ${client.address} reaches ${entry.cluster.name} while the connection lasts. ${client.advice}`;
  if (client.versions.warning) void vscode.window.showWarningMessage(inertMessage(client.versions.warning));
  void vscode.window.showInformationMessage(inertMessage(message));
  return { address: client.address, snippet: client.snippet, warning: client.versions.warning };
}
