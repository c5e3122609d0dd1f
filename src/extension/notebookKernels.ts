// Kernels next to the clusters, for Jupyter notebooks: one NotebookController per cluster config of the workspace
// ("Dask on Gadi: <cluster> on <host>"), connected or not. Running a cell connects when needed (Connect's own
// prompts), attaches the notebook's session (src/core/notebook), starting the kernel's job when none runs, with the
// wait shown in the cell; outputs map to VS Code's own output items, in batches and within a budget, so a cell
// printing 100 MB leaves the editor responsive.
import { createHash } from 'node:crypto';
import * as vscode from 'vscode';
import type { NotebookKernelSession } from '../core/notebook/kernelSession';
import type { CellOutput, OutputBudget, OutputItem } from '../core/notebook/outputs';
import type { ClusterEntry, ClusterModel } from './clusters';
import type { ConfigStore } from './configs';
import { core } from './core';
import { inertMessage } from './inert';
import { CONTROLLER_PREFIX, NOTEBOOK_TYPE } from './notebookIds';
import { targetOf } from './session';
import { readSettings } from './settings';

/** How often a running cell's new output reaches the editor. */
const FLUSH_MS = 100;

/** A cluster config offered as a kernel: where it connects, and its entry once connected. */
interface Offer {
  controller: vscode.NotebookController;
  config: vscode.Uri;
  /** The connection's key (ClusterEntry.connection.key once connected). */
  key: string;
}

interface Attached {
  session: Promise<NotebookKernelSession>;
  /** Aborts the attach while it waits (a queued kernel job). */
  abort: AbortController;
}

/** One controller per connection and config: the ClusterEntry id's parts, hashed. */
export function controllerId(key: string, config: vscode.Uri): string {
  return CONTROLLER_PREFIX + createHash('sha256').update(`${key}|${config.toString()}`).digest('hex').slice(0, 16);
}

export class NotebookKernels implements vscode.Disposable {
  private readonly offers = new Map<string, Offer>();
  /** Per controller and notebook. */
  private readonly attached = new Map<string, Attached>();
  /** Cells of one notebook run in order, one attach at a time. */
  private readonly queues = new Map<string, Promise<void>>();
  private readonly subscriptions: vscode.Disposable[];
  private syncing = Promise.resolve();

  constructor(private readonly model: ClusterModel, private readonly configs: ConfigStore, private readonly log: vscode.LogOutputChannel) {
    // Reading the configs loads the core: not at activation, but once a notebook or a cluster wants controllers.
    const sync = () => void this.sync();
    this.subscriptions = [
      model.onDidChange(sync), configs.onDidChange(sync),
      vscode.workspace.onDidOpenNotebookDocument((n) => n.notebookType === NOTEBOOK_TYPE && sync()),
    ];
    if (vscode.workspace.notebookDocuments.some((n) => n.notebookType === NOTEBOOK_TYPE)) setImmediate(sync);
  }

  /** The controllers offered now, for the extension's API; waits for a sync in progress. */
  async offered(): Promise<{ id: string; label: string; config: string }[]> {
    await this.sync();
    return [...this.offers].map(([id, o]) => ({ id, label: o.controller.label, config: o.config.fsPath }));
  }

  /** The session of a notebook on a controller, when one is attached. */
  async sessionOf(notebook: vscode.Uri): Promise<{ session: NotebookKernelSession; entry: ClusterEntry } | undefined> {
    for (const [id, offer] of this.offers) {
      const a = this.attached.get(key(id, notebook));
      const entry = this.entryOf(offer);
      if (a && entry) return { session: await a.session, entry };
    }
    return undefined;
  }

  /** Restarts the notebook's kernel (its variables go; the cluster stays). */
  async restart(notebook: vscode.Uri): Promise<boolean> {
    const found = await this.sessionOf(notebook).catch(() => undefined);
    if (!found) return false;
    await found.session.restart();
    this.log.info(`Restarted the kernel of ${notebook.path} on ${found.entry.cluster.name}.`);
    return true;
  }

  private entryOf(offer: Offer): ClusterEntry | undefined {
    return this.model.list().find((e) => e.connection.key === offer.key && e.config.uri.toString() === offer.config.toString());
  }

  private sync(): Promise<void> {
    this.syncing = this.syncing.then(() => this.syncNow()).catch((e: Error) => this.log.warn(`Offering notebook kernels failed: ${e.message}`));
    return this.syncing;
  }

  private async syncNow(): Promise<void> {
    const settings = readSettings();
    const wanted = new Map<string, { config: vscode.Uri; key: string; label: string }>();
    for (const c of await this.configs.list()) {
      if (!c.config) continue;
      try {
        const target = targetOf(c.config, settings, c.label);
        const id = controllerId(target.key, c.uri);
        wanted.set(id, { config: c.uri, key: target.key, label: `Dask on Gadi: ${core().clusterNameOf(c.config)} on ${target.label}` });
      } catch {
        continue; // no host, or no usable name: the config's own errors say why
      }
    }
    for (const [id, offer] of [...this.offers]) {
      const w = wanted.get(id);
      if (w) {
        offer.controller.label = w.label; // the config was edited: same file and connection, maybe a new name
        if (!this.entryOf(offer)) void this.detachController(id); // disconnected: the kernels run on, unattached
        continue;
      }
      this.offers.delete(id);
      void this.detachController(id);
      offer.controller.dispose();
    }
    for (const [id, w] of wanted) {
      if (this.offers.has(id)) continue;
      const controller = vscode.notebooks.createNotebookController(id, NOTEBOOK_TYPE, w.label);
      controller.supportedLanguages = ['python'];
      controller.supportsExecutionOrder = true;
      controller.description = 'a kernel next to the cluster (its own PBS job, or where kernel.placement says)';
      controller.detail = 'Client() connects to the cluster; the kernel keeps running when the link drops.';
      controller.executeHandler = (cells, notebook) => this.enqueue(id, notebook, cells);
      controller.interruptHandler = (notebook) => this.interrupt(id, notebook);
      this.offers.set(id, { controller, config: w.config, key: w.key });
    }
  }

  /** The offer's cluster, connecting first when its host is not connected (Connect's prompts, host key included). */
  private async connectedEntry(offer: Offer): Promise<ClusterEntry> {
    const entry = this.entryOf(offer);
    if (entry) return entry;
    await vscode.commands.executeCommand('gadiDask.connect', { config: offer.config.fsPath });
    await this.model.sync();
    const connected = this.entryOf(offer);
    if (!connected) throw new Error(`Not connected to ${offer.key}: connect (Gadi Dask: Connect) and run the cell again.`);
    return connected;
  }

  private enqueue(id: string, notebook: vscode.NotebookDocument, cells: vscode.NotebookCell[]): Promise<void> {
    const k = key(id, notebook.uri);
    const run = (this.queues.get(k) ?? Promise.resolve()).then(async () => {
      // Without a kernel (the user stopped waiting, or it could not start) the batch's other cells are not run; nor,
      // as in Jupyter, after a cell that failed or was interrupted (Run All, Run Below): they keep their outputs.
      for (const cell of cells) if (!(await this.runCell(id, notebook, cell))) break;
    });
    const settled = run.catch(() => undefined);
    this.queues.set(k, settled);
    void settled.then(() => this.queues.get(k) === settled && this.queues.delete(k));
    return run;
  }

  private async interrupt(id: string, notebook: vscode.NotebookDocument): Promise<void> {
    const a = this.attached.get(key(id, notebook.uri));
    if (!a) return;
    if (!a.abort.signal.aborted && !(await settledWithin(a.session))) {
      a.abort.abort(new Error('cancelled while waiting for the kernel'));
      return;
    }
    const session = await a.session.catch(() => undefined);
    await session?.interrupt().catch((e: Error) => this.log.warn(`Interrupting the kernel failed: ${e.message}`));
  }

  /** Runs one cell; whether the batch goes on: false when there was no kernel to run it in, or the cell did not end ok. */
  private async runCell(id: string, notebook: vscode.NotebookDocument, cell: vscode.NotebookCell): Promise<boolean> {
    const offer = this.offers.get(id);
    if (!offer) return false;
    const execution = offer.controller.createNotebookCellExecution(cell);
    execution.start(Date.now());
    await execution.clearOutput();
    let session: NotebookKernelSession;
    try {
      session = await this.session(id, await this.connectedEntry(offer), notebook.uri, execution);
    } catch (e) {
      const message = (e as Error).message;
      await execution.replaceOutput(new vscode.NotebookCellOutput([vscode.NotebookCellOutputItem.stderr(inertMessage(`${message}\n`))]));
      execution.end(false, Date.now());
      return false;
    }
    const sink = new CellSink(execution, new (core().OutputBudget)());
    try {
      const run = await session.execute(cell.document.getText(), (o) => sink.add(o));
      await sink.close();
      if (run.lost) await sink.note('[gadi-dask] Output lost while disconnected: the link dropped while this cell ran. The kernel ran it; its results are in the kernel\'s variables.');
      if (run.executionCount !== undefined) execution.executionOrder = run.executionCount;
      execution.end(run.status === 'ok' ? true : run.status === 'error' ? false : undefined, Date.now());
      return run.status === 'ok';
    } catch (e) {
      await sink.close();
      await sink.note(`[gadi-dask] ${(e as Error).message}`);
      execution.end(false, Date.now());
      return false;
    }
  }

  /** The notebook's session, attaching (and starting the kernel) on first use; the wait shows in the cell. */
  private async session(id: string, entry: ClusterEntry, notebook: vscode.Uri, execution: vscode.NotebookCellExecution): Promise<NotebookKernelSession> {
    const k = key(id, notebook);
    let a = this.attached.get(k);
    if (a) {
      const s = await a.session.catch(() => undefined);
      if (s && !s.kernel.isDisposed && s.kernel.status !== 'dead') return s;
      this.attached.delete(k);
      a = undefined;
    }
    const abort = new AbortController();
    const show = (line: string) => void execution.replaceOutput(new vscode.NotebookCellOutput([vscode.NotebookCellOutputItem.stdout(inertMessage(`${line}\n`))]));
    const session = core().NotebookKernelSession.attach(entry.cluster, notebook.toString(), {
      signal: abort.signal,
      onProgress: (line) => {
        this.log.info(`Kernel of ${entry.cluster.name}: ${line}`);
        show(`⏳ ${line} — the stop button stops waiting; the kernel's job keeps its place in the queue.`);
      },
    });
    a = { session, abort };
    this.attached.set(k, a);
    try {
      const s = await session;
      await execution.clearOutput();
      this.log.info(`Notebook ${notebook.path} ${s.reattached ? 're-attached to its kernel' : 'has a new kernel'} on ${entry.cluster.name} (127.0.0.1:${s.localPort} → ${s.status.host}:${s.status.port}).`);
      return s;
    } catch (e) {
      if (this.attached.get(k) === a) this.attached.delete(k);
      if (abort.signal.aborted) throw new Error(`Stopped waiting for the kernel of ${entry.cluster.name}. Its job stays queued: run a cell to wait again, or cancel the kernel's job in the PBS Jobs view.`);
      throw e;
    }
  }

  private async detachController(id: string): Promise<void> {
    for (const [k, a] of [...this.attached]) {
      if (!k.startsWith(`${id}|`)) continue;
      this.attached.delete(k);
      a.abort.abort(new Error('the cluster is gone from this window'));
      await (await a.session.catch(() => undefined))?.close();
    }
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    for (const [id, offer] of this.offers) {
      void this.detachController(id);
      offer.controller.dispose();
    }
    this.offers.clear();
  }
}

function key(id: string, notebook: vscode.Uri): string {
  return `${id}|${notebook.toString()}`;
}

/** Whether the promise settled already (a microtask later). */
async function settledWithin(p: Promise<unknown>): Promise<boolean> {
  let settled = false;
  p.then(() => (settled = true), () => (settled = true));
  await new Promise((r) => setImmediate(r));
  return settled;
}

/** One cell's outputs on their way to the editor: streams merged into one growing output, written every FLUSH_MS. */
class CellSink {
  private pending: CellOutput[] = [];
  private stream?: { name: 'stdout' | 'stderr'; output: vscode.NotebookCellOutput; text: string };
  private clearOnNext = false;
  private timer?: NodeJS.Timeout;
  private writing = Promise.resolve();

  constructor(private readonly execution: vscode.NotebookCellExecution, private readonly budget: OutputBudget) {}

  add(output: CellOutput): void {
    const kept = this.budget.take(output);
    if (!kept) return;
    this.pending.push(kept);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.writing = this.writing.then(() => this.flush());
    }, FLUSH_MS);
  }

  /** Writes what is pending, then what the budget cut. */
  async close(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.writing;
    await this.flush();
    const cut = this.budget.note();
    if (cut) await this.note(cut);
  }

  async note(text: string): Promise<void> {
    this.stream = undefined;
    await this.execution.appendOutput(new vscode.NotebookCellOutput([vscode.NotebookCellOutputItem.stderr(`${text}\n`)]));
  }

  private async flush(): Promise<void> {
    const outputs = this.pending;
    this.pending = [];
    let dirty = false;
    for (const o of outputs) {
      if (o.kind === 'clear') {
        if (o.wait) this.clearOnNext = true;
        else await this.clear();
        continue;
      }
      if (this.clearOnNext) {
        this.clearOnNext = false;
        await this.clear();
      }
      if (o.kind === 'stream' && this.stream?.name === o.name) {
        this.stream.text += o.text;
        dirty = true;
        continue;
      }
      if (dirty) await this.writeStream();
      dirty = false;
      if (o.kind === 'stream') {
        const output = new vscode.NotebookCellOutput([streamItem(o.name, o.text)]);
        this.stream = { name: o.name, output, text: o.text };
        await this.execution.appendOutput(output);
      } else {
        this.stream = undefined;
        await this.execution.appendOutput(new vscode.NotebookCellOutput(o.kind === 'error'
          ? [vscode.NotebookCellOutputItem.error({ name: o.name, message: o.message, stack: o.traceback })]
          : o.items.map(outputItem)));
      }
    }
    if (dirty) await this.writeStream();
  }

  private async writeStream(): Promise<void> {
    const s = this.stream!;
    await this.execution.replaceOutputItems([streamItem(s.name, s.text)], s.output);
  }

  private async clear(): Promise<void> {
    this.stream = undefined;
    await this.execution.clearOutput();
  }
}

function streamItem(name: 'stdout' | 'stderr', text: string): vscode.NotebookCellOutputItem {
  return name === 'stderr' ? vscode.NotebookCellOutputItem.stderr(text) : vscode.NotebookCellOutputItem.stdout(text);
}

function outputItem(item: OutputItem): vscode.NotebookCellOutputItem {
  if (item.bytes) return new vscode.NotebookCellOutputItem(item.bytes, item.mime);
  if (item.text !== undefined) return vscode.NotebookCellOutputItem.text(item.text, item.mime);
  return vscode.NotebookCellOutputItem.json(item.json, item.mime);
}
