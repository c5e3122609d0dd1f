// What every command works with, and the two questions most of them ask first: which cluster (from a tree node,
// from arguments, or from the workspace's configs) and whether it is connected.
import * as vscode from 'vscode';
import type { ClusterEntry, ClusterModel } from '../clusters';
import type { ConfigStore } from '../configs';
import type { ReadOnlyDocuments } from '../documents';
import { NotConnectedError, type ReportedError } from '../errors';
import { NODE_KINDS, type JobsTreeProvider, type Node } from '../jobsTree';
import type { EditorPrompt } from '../prompts';
import type { Refresher } from '../refresher';
import { targetOf, type Connection, type Session, type Target } from '../session';
import { readSettings } from '../settings';
import type { HistoryFeed } from '../historyFeed';
import type { NotebookKernels } from '../notebookKernels';
import type { StatusBar } from '../statusBar';
import type { Tunnels } from '../tunnels';
import { inertMessage } from '../inert';
import { withCancellableProgress } from '../progress';

export interface Context {
  extension: vscode.ExtensionContext;
  log: vscode.LogOutputChannel;
  session: Session;
  configs: ConfigStore;
  model: ClusterModel;
  refresher: Refresher;
  documents: ReadOnlyDocuments;
  tunnels: Tunnels;
  prompt: EditorPrompt;
  tree: JobsTreeProvider;
  view: vscode.TreeView<Node>;
  statusBar: StatusBar;
  history: HistoryFeed;
  notebooks: NotebookKernels;
  /** What commands reported, newest last (for tests and diagnostics). */
  errors: ReportedError[];
}

/** Options any command accepts through executeCommand: which config to act on. */
export interface TargetArgs {
  /** A config file path or URI string. */
  config?: string;
  /** Act on the PBS Jobs view's selected node (the view's keybindings pass this: a keybinding gets no node). */
  selection?: boolean;
}

/** The node a command acts on: `arg` itself, or the view's selection when `arg` asks for it. */
export function nodeArg(ctx: Context, arg: unknown): unknown {
  return typeof arg === 'object' && arg !== null && (arg as TargetArgs).selection === true ? ctx.view.selection[0] : arg;
}

export function isNode(value: unknown): value is Node {
  return typeof value === 'object' && value !== null && typeof (value as { kind?: unknown }).kind === 'string'
    && (NODE_KINDS as readonly string[]).includes((value as { kind: string }).kind);
}

export function configUri(args: TargetArgs | undefined): vscode.Uri | undefined {
  const c = args?.config;
  if (!c) return undefined;
  return /^[a-z][\w+.-]+:/i.test(c) && !/^[a-z]:[\\/]/i.test(c) ? vscode.Uri.parse(c) : vscode.Uri.file(c);
}

export function connectWithProgress(ctx: Context, target: Target): Promise<Connection> {
  const open = ctx.session.get(target.key);
  if (open && open.transport.state !== 'failed') return Promise.resolve(open);
  return withCancellableProgress(`Gadi Dask: connecting to ${target.label}…`, ({ signal }) => ctx.session.connect(target, signal));
}

/**
 * The cluster a command acts on: the node's, else the config named in `args`, else the workspace's (asking when
 * there are several). Connects first when `connect`, else fails with "not connected".
 */
export async function clusterFor(ctx: Context, given: unknown, purpose: string, connect: boolean): Promise<ClusterEntry> {
  const arg = nodeArg(ctx, given);
  if (isNode(arg) && 'entry' in arg && arg.entry) return arg.entry;
  const config = await ctx.configs.choose(purpose, configUri(arg as TargetArgs | undefined));
  const target = targetOf(config.config, readSettings(), config.label);
  if (!ctx.session.get(target.key)) {
    if (!connect) throw new NotConnectedError(purpose);
    await connectWithProgress(ctx, target);
  }
  await ctx.model.sync();
  const entry = ctx.model.byConfig(config.uri);
  if (!entry) throw new NotConnectedError(purpose);
  return entry;
}

/** The cluster's snapshot, taking one first when the view has none yet. */
export async function snapshotOf(ctx: Context, entry: ClusterEntry) {
  if (!entry.snapshot) await ctx.refresher.now('action');
  if (!entry.snapshot && entry.error) throw entry.error;
  return entry.snapshot;
}

/** A modal yes/no: resolves true for `button`. */
export async function confirm(message: string, detail: string, button: string): Promise<boolean> {
  return (await vscode.window.showWarningMessage(inertMessage(message), { modal: true, detail: inertMessage(detail) }, button)) === button;
}
