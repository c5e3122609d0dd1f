// The bridges to and from dask-jobqueue's own ways of writing a cluster: a config from a PBSCluster(...) call (the
// language server's code action brings the converted call), a config copied as a PBSCluster(...) call, and a
// config imported from a dask jobqueue.yaml, local or on the connected host. The conversions are the core's.
import { posix } from 'node:path';
import * as vscode from 'vscode';
// The modules, not the index: the Python parser stays in the language server's bundle.
import { core } from '../core';
import type { NotConverted } from '../../core/convert/canonical';
import type { ConfigFromCallArgs } from '../../server/service/convertActions';
import { Cancelled, UserFacingError } from '../errors';
import { configUri, type Context, type TargetArgs } from './context';
import { freeName, LAST_HOST } from './createConfig';

/** Where dask reads its config on the cluster (dask-jobqueue's settings are in jobqueue.yaml there). */
export const REMOTE_DASK_CONFIG = '~/.config/dask/jobqueue.yaml';

function converting<T>(work: () => T): T {
  try {
    return work();
  } catch (e) {
    if (e instanceof core().ConvertError) throw new UserFacingError(e.message, []);
    throw e;
  }
}

function stem(uri: vscode.Uri): string {
  return posix.basename(uri.path).replace(/\.[^.]*$/, '');
}

/** The file a notebook cell belongs to; a file is its own. */
function containerOf(uri: vscode.Uri): vscode.Uri {
  if (uri.scheme !== 'vscode-notebook-cell') return uri;
  const notebook = vscode.workspace.notebookDocuments.find((nb) => nb.getCells().some((c) => c.document.uri.toString() === uri.toString()));
  return notebook?.uri ?? uri.with({ scheme: 'file', fragment: '' });
}

/** The folder of a file, for writing beside it; an untitled document has none. */
function folderOf(uri: vscode.Uri): vscode.Uri | undefined {
  return uri.scheme === 'untitled' ? undefined : vscode.Uri.joinPath(uri, '..');
}

/** Writes a new config into `near` (else the workspace's first folder), opens it and says what was left out. */
async function writeConfig(ctx: Context, text: string, base: string, near: vscode.Uri | undefined, what: string, left: readonly NotConverted[]): Promise<string> {
  const folder = near ?? vscode.workspace.workspaceFolders?.[0]?.uri;
  let uri: vscode.Uri;
  if (folder) {
    uri = await freeName(folder, base);
    await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(text));
    await vscode.window.showTextDocument(uri);
    ctx.configs.invalidate();
  } else {
    const doc = await vscode.workspace.openTextDocument({ language: 'dask-cluster', content: text });
    await vscode.window.showTextDocument(doc);
    uri = doc.uri;
  }
  ctx.log.info(`Created ${uri.toString(true)} from ${what}.`);
  if (left.length) {
    void vscode.window.showWarningMessage(
      `Created ${posix.basename(uri.path)} from ${what}. Not converted (listed at the top of the file): ${left.map((n) => n.argument).join(', ')}.`,
    );
  } else {
    void vscode.window.showInformationMessage(`Created ${posix.basename(uri.path)} from ${what}; the linter now checks it.`);
  }
  return uri.toString();
}

function isCallArgs(arg: unknown): arg is ConfigFromCallArgs {
  const a = arg as Partial<ConfigFromCallArgs> | undefined;
  return typeof a?.source === 'string' && typeof a.line === 'number' && Array.isArray(a.draft?.pbs) && Array.isArray(a.draft?.notConverted);
}

export async function createConfigFromCall(ctx: Context, arg?: unknown): Promise<string> {
  if (!isCallArgs(arg)) {
    throw new UserFacingError('Put the cursor on a PBSCluster(...) call in Python and choose "Create cluster config from this call" from its code actions (the light bulb).', []);
  }
  const source = containerOf(vscode.Uri.parse(arg.source));
  const where = posix.basename(source.path);
  const host = ctx.extension.globalState.get<string>(LAST_HOST, 'gadi');
  const { callHeader, configFileBase, renderDraft } = core();
  const text = renderDraft(arg.draft, { host, header: callHeader(where, arg.line) });
  return writeConfig(ctx, text, configFileBase(arg.draft, stem(source)), folderOf(source), `the PBSCluster call in ${where}`, arg.draft.notConverted);
}

export async function copyAsPbsCluster(ctx: Context, arg?: unknown): Promise<string> {
  const editor = vscode.window.activeTextEditor?.document;
  const uri = arg instanceof vscode.Uri ? arg
    : configUri(arg as TargetArgs | undefined)
      ?? (editor?.languageId === 'dask-cluster' ? editor.uri : (await ctx.configs.choose('to copy as PBSCluster(...)')).uri);
  // The open document, so unsaved edits count.
  const doc = await vscode.workspace.openTextDocument(uri);
  const { code, dropped } = converting(() => core().pythonFromConfig(doc.getText(), posix.basename(uri.path)));
  await vscode.env.clipboard.writeText(code);
  const note = dropped.length ? ` Not passed: ${dropped.map((d) => d.argument).join(', ')} (see the comments).` : '';
  void vscode.window.showInformationMessage(`Copied PBSCluster(...) for ${posix.basename(uri.path)} to the clipboard.${note}`);
  return code;
}

export interface ImportArgs {
  /** A local jobqueue.yaml. */
  file?: string;
  /** Read ~/.config/dask/jobqueue.yaml on this open connection (its key) instead. */
  connection?: string;
  /** Folder to write the config into; default: next to the local file, else the first workspace folder. */
  folder?: string;
}

async function pickSource(ctx: Context): Promise<ImportArgs> {
  const items: (vscode.QuickPickItem & { args?: ImportArgs })[] = [
    { label: '$(file) A local file…', description: 'a jobqueue.yaml on this computer' },
    ...ctx.session.all().map((c) => ({ label: `$(remote) ${c.label}`, description: REMOTE_DASK_CONFIG, args: { connection: c.key } })),
  ];
  const picked = await vscode.window.showQuickPick(items, { title: 'Gadi Dask: import which dask config?' });
  if (!picked) throw new Cancelled();
  if (picked.args) return picked.args;
  const files = await vscode.window.showOpenDialog({
    title: 'Gadi Dask: a dask config (jobqueue.yaml)', canSelectMany: false, filters: { 'Dask config': ['yaml', 'yml'] },
  });
  if (!files?.[0]) throw new Cancelled();
  return { file: files[0].fsPath };
}

export async function importDaskConfig(ctx: Context, arg?: unknown): Promise<string> {
  const args = (typeof arg === 'object' && arg !== null ? arg : await pickSource(ctx)) as ImportArgs;
  let text: string;
  let source: string;
  let host = ctx.extension.globalState.get<string>(LAST_HOST, 'gadi');
  let near: vscode.Uri | undefined;
  if (args.connection) {
    const connection = ctx.session.get(args.connection);
    if (!connection) throw new UserFacingError(`Not connected to ${args.connection}: connect first, then import its dask config.`, []);
    text = (await connection.transport.readFile(REMOTE_DASK_CONFIG)).toString('utf8');
    source = `${REMOTE_DASK_CONFIG} on ${connection.label}`;
    host = connection.transport.host;
  } else if (args.file) {
    const uri = vscode.Uri.file(args.file);
    text = new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
    source = posix.basename(uri.path);
    near = folderOf(uri);
  } else {
    throw new UserFacingError('Import Dask Config needs a jobqueue.yaml: a local file or one on a connected host.', []);
  }
  if (args.folder) near = vscode.Uri.file(args.folder);
  const imported = converting(() => core().configFromDaskConfig(text, { host, source }));
  return writeConfig(ctx, imported.text, 'imported', near, source, imported.dropped);
}
