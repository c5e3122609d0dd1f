// The VS Code front end: thin. It wires the connection session, the cluster model, the PBS Jobs view, the status
// bar and the commands to the core, and starts the config language client. activate() returns a small API that
// the extension-host tests (and other extensions) use to read the tree as the user sees it.
import * as vscode from 'vscode';
import { ClusterModel } from './clusters';
import { REGISTERED_COMMANDS, registerCommands } from './commands';
import type { Context } from './commands/context';
import { SELECTION_CONTEXT_KEY } from './contextValues';
import { coreLoadMs } from './core';
import { ConfigStore } from './configs';
import { ReadOnlyDocuments } from './documents';
import type { ReportedError } from './errors';
import { inertLog } from './inert';
import { JobsTreeProvider, type Node } from './jobsTree';
import { NotebookKernels } from './notebookKernels';
import { NOTEBOOK_TYPE } from './notebookIds';
import { JupyterServers } from './jupyterServers';
import { HistoryFeed } from './historyFeed';
import { sendHistory, startLanguageClient, stopLanguageClient } from './languageClient';
import { EditorPrompt } from './prompts';
import { Refresher } from './refresher';
import { Session } from './session';
import { StatusBar } from './statusBar';
import { Tunnels } from './tunnels';

export const EXTENSION_ID = 'gadi-dask.gadi-dask';

export interface GadiDaskApi {
  /** The PBS Jobs view's data: the same nodes and items VS Code renders. */
  readonly tree: {
    getChildren(node?: Node): Promise<Node[]>;
    getTreeItem(node: Node): vscode.TreeItem;
    /** Selects and focuses a node in the view, as clicking it would; resolves once the view's selection holds it. */
    select(node: Node): Promise<void>;
  };
  /** Refreshes every cluster now; true when all answered. */
  refresh(): Promise<boolean>;
  /** The status bar item's text. */
  statusBarText(): string;
  /** Open connections: key, label, transport state and how often the link dropped. */
  connections(): { key: string; label: string; state: string; drops: number }[];
  /** Failures the commands reported to the user, newest last. */
  readonly errors: readonly ReportedError[];
  /** The ids of the commands this extension registers (the suite holds them against package.json). */
  readonly registeredCommands: readonly string[];
  /** Milliseconds from the activate() call to the PBS Jobs view registered (the code-server suite prints it). */
  readonly activationMs: number;
  /** Whether activate() loaded the core bundle (it should not: see core.ts). */
  readonly coreLoadedAtActivation: boolean;
  /** Milliseconds the core bundle took to load, once something needed it. */
  coreLoadMs(): number | undefined;
  /** Whether the clusters are offered in the Jupyter extension's kernel picker (false: that extension is absent). */
  jupyterServers(): Promise<boolean>;
  /** The notebook controllers offered now (one per cluster config of the workspace): id, label, config file. */
  notebookControllers(): Promise<{ id: string; label: string; config: string }[]>;
}

let session: Session | undefined;

export function activate(context: vscode.ExtensionContext): GadiDaskApi {
  const started = performance.now();
  // Log lines quote the remote side (qsub's stderr, server messages): written inert.
  const log = inertLog(vscode.window.createOutputChannel('Dask on Gadi', { log: true }));
  const prompt = new EditorPrompt(context.secrets, context.globalState, log);
  session = new Session(log, prompt);
  const configs = new ConfigStore(context.workspaceState);
  const model = new ClusterModel(session, configs, log);
  const tree = new JobsTreeProvider(session, model);
  const view = vscode.window.createTreeView('gadiDask.jobs', { treeDataProvider: tree, showCollapseAll: true });
  const activationMs = performance.now() - started;
  const refresher = new Refresher(model, view, log);
  const documents = new ReadOnlyDocuments();
  const tunnels = new Tunnels(log);
  const statusBar = new StatusBar(session, model);
  const history = new HistoryFeed(model, sendHistory, log);
  const notebooks = new NotebookKernels(model, configs, log);
  // The Jupyter extension, where installed, lists the clusters too; its API asks to be called once a notebook is open.
  const jupyter = new JupyterServers(model, log);
  const offerToJupyter = () => void jupyter.register();
  if (vscode.workspace.notebookDocuments.some((n) => n.notebookType === NOTEBOOK_TYPE)) offerToJupyter();
  const ctx: Context = { extension: context, log, session, configs, model, refresher, documents, tunnels, prompt, tree, view, statusBar, history, notebooks, errors: [] };

  const setConnected = () => void vscode.commands.executeCommand('setContext', 'gadiDask.connected', session!.all().length > 0);
  context.subscriptions.push(
    log, session, configs, model, tree, view, refresher, documents, tunnels, statusBar, history, notebooks, jupyter,
    vscode.workspace.onDidOpenNotebookDocument((n) => n.notebookType === NOTEBOOK_TYPE && offerToJupyter()),
    session.onDidChange(setConnected),
    view.onDidChangeSelection(({ selection: [node] }) =>
      void vscode.commands.executeCommand('setContext', SELECTION_CONTEXT_KEY, node ? tree.getTreeItem(node).contextValue : undefined)),
    ...registerCommands(ctx),
  );
  setConnected();
  startLanguageClient(context, log);
  const coreLoadedAtActivation = coreLoadMs() !== undefined;

  return {
    tree: {
      getChildren: (node) => tree.getChildren(node),
      getTreeItem: (node) => tree.getTreeItem(node),
      select: (node) => selectNode(view, tree, node),
    },
    refresh: () => refresher.now('manual'),
    statusBarText: () => statusBar.text,
    connections: () => session!.all().map((c) => ({ key: c.key, label: c.label, state: c.transport.state, drops: c.drops.count })),
    errors: ctx.errors,
    activationMs,
    coreLoadedAtActivation,
    coreLoadMs,
    notebookControllers: () => notebooks.offered(),
    jupyterServers: () => jupyter.register(),
    registeredCommands: REGISTERED_COMMANDS,
  };
}

export async function deactivate(): Promise<void> {
  await session?.disconnectAll();
  session = undefined;
  await stopLanguageClient();
}

/**
 * reveal() resolves when the workbench has shown the row, which can be before its selection reaches this side: a
 * command given `{ selection: true }` right after would read the previous selection. Waits (10 s at most) until the
 * view's selection is the row.
 */
async function selectNode(view: vscode.TreeView<Node>, tree: JobsTreeProvider, node: Node): Promise<void> {
  const id = tree.getTreeItem(node).id;
  const holds = () => view.selection.length === 1 && tree.getTreeItem(view.selection[0]!).id === id;
  let subscription: vscode.Disposable | undefined;
  let timer: NodeJS.Timeout | undefined;
  const selected = new Promise<void>((resolve, reject) => {
    subscription = view.onDidChangeSelection(() => holds() && resolve());
    timer = setTimeout(() => reject(new Error(`The PBS Jobs view did not select ${id} within 10 s.`)), 10_000);
  });
  selected.catch(() => undefined); // not awaited when the selection was there at once
  try {
    await view.reveal(node, { select: true, focus: true });
    if (!holds()) await selected;
  } finally {
    subscription?.dispose();
    clearTimeout(timer);
  }
}
