// The clusters' kernels in the Jupyter extension's own kernel picker, where that extension is installed: a server
// collection (its public API, @vscode/jupyter-extension) whose servers are the connected clusters. Resolving one
// starts (or finds) the cluster's kernel server and hands the Jupyter extension a forwarded 127.0.0.1 URL with the
// token as a header, never in a URL. Without that extension nothing is registered: the notebook controllers serve.
import type { Jupyter, JupyterServer, JupyterServerProvider } from '@vscode/jupyter-extension';
import * as vscode from 'vscode';
import type { KernelServer } from '../core/notebook/kernelSession';
import type { ClusterModel } from './clusters';
import { core } from './core';

export const JUPYTER_EXTENSION_ID = 'ms-toolsai.jupyter';
const COLLECTION_ID = 'gadi-dask';

export class JupyterServers implements vscode.Disposable {
  /** Open forwards, by cluster entry: one per cluster, reused while its connection lives. */
  private readonly open = new Map<string, KernelServer>();
  private readonly changed = new vscode.EventEmitter<void>();
  private registered?: Promise<boolean>;
  private readonly subscriptions: vscode.Disposable[] = [];

  constructor(private readonly model: ClusterModel, private readonly log: vscode.LogOutputChannel) {
    this.subscriptions.push(this.changed, model.onDidChange(() => this.changed.fire()));
  }

  /** Offers the clusters to the Jupyter extension, once; false when it is not installed. */
  register(): Promise<boolean> {
    this.registered ??= this.registerNow().catch((e: Error) => {
      this.log.warn(`Offering the clusters' kernels to the Jupyter extension failed: ${e.message}`);
      return false;
    });
    return this.registered;
  }

  private async registerNow(): Promise<boolean> {
    const ext = vscode.extensions.getExtension<Jupyter>(JUPYTER_EXTENSION_ID);
    if (!ext) return false;
    const api = ext.isActive ? ext.exports : await ext.activate();
    const provider: JupyterServerProvider = {
      onDidChangeServers: this.changed.event,
      provideJupyterServers: () => this.model.list().map((e) => ({ id: e.id, label: `${e.cluster.name} on ${e.connection.label}` })),
      resolveJupyterServer: (server) => this.resolve(server),
    };
    this.subscriptions.push(api.createJupyterServerCollection(COLLECTION_ID, 'Dask on Gadi', provider));
    this.log.info('The clusters\' kernels are offered in the Jupyter extension\'s kernel picker too.');
    return true;
  }

  private async resolve(server: JupyterServer): Promise<JupyterServer> {
    const entry = this.model.list().find((e) => e.id === server.id);
    if (!entry) throw new Error(`${server.label} is no longer connected: connect (Gadi Dask: Connect) and pick it again.`);
    let open = this.open.get(entry.id);
    if (!open || entry.connection.transport.state === 'closed') {
      open = await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `Starting the kernel next to ${entry.cluster.name}` },
        (progress) => core().openKernelServer(entry.cluster, { onProgress: (message) => progress.report({ message }) }),
      );
      this.open.set(entry.id, open);
    }
    return {
      ...server,
      connectionInformation: {
        baseUrl: vscode.Uri.parse(`http://127.0.0.1:${open.forward.localPort}/`),
        headers: core().tokenHeader(open.token),
      },
    };
  }

  dispose(): void {
    for (const s of this.subscriptions) s.dispose();
    for (const o of this.open.values()) void o.forward.close();
    this.open.clear();
  }
}
