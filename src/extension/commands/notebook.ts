// Commands on a notebook whose kernel is next to a cluster: Restart Kernel on Cluster (the notebook toolbar and the
// palette show it only for this extension's kernels).
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { Cancelled, UserFacingError } from '../errors';
import { confirm, type Context } from './context';

interface NotebookArgs {
  /** The notebook (a URI string); default: the active notebook editor's. */
  notebook?: string;
  confirm?: boolean;
}

/** The notebook a command acts on: the toolbar passes `{ notebookEditor: { notebookUri } }`, tests `{ notebook }`. */
function notebookOf(arg: unknown): vscode.Uri | undefined {
  const a = (typeof arg === 'object' && arg !== null ? arg : {}) as NotebookArgs & { notebookEditor?: { notebookUri?: vscode.Uri } };
  if (typeof a.notebook === 'string') return vscode.Uri.parse(a.notebook);
  return a.notebookEditor?.notebookUri ?? vscode.window.activeNotebookEditor?.notebook.uri;
}

export async function restartKernel(ctx: Context, arg?: unknown): Promise<boolean> {
  const uri = notebookOf(arg);
  if (!uri) throw new UserFacingError('Open a notebook whose kernel is "Dask on Gadi" to restart its kernel.', []);
  const found = await ctx.notebooks.sessionOf(uri);
  if (!found) throw new UserFacingError(`${basename(uri.path)} has no kernel on a cluster yet: select "Dask on Gadi" as its kernel and run a cell.`, []);
  const ask = (arg as NotebookArgs | undefined)?.confirm !== false;
  if (ask && !(await confirm(`Restart the kernel of ${basename(uri.path)}?`, `Its variables are lost. The cluster ${found.entry.cluster.name} and its workers keep running.`, 'Restart'))) {
    throw new Cancelled();
  }
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Restarting the kernel of ${basename(uri.path)}` },
    () => ctx.notebooks.restart(uri));
}
