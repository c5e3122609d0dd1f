// Create Cluster Config: a lint-clean *.dask-cluster.yaml for a Gadi queue, written into the workspace (or an
// untitled editor when no folder is open) and opened, so the linter and the Scale Cluster command take it from there.
import * as vscode from 'vscode';
import { gadiQueue } from '../../core/config/queues';
import { clusterConfigTemplate, PROJECT_CODE, TEMPLATE_QUEUES, templateSummary } from '../configTemplates';
import { Cancelled, UserFacingError } from '../errors';
import type { Context } from './context';

export interface CreateConfigArgs {
  queue?: string;
  project?: string;
  host?: string;
  /** Folder to write into; default the first workspace folder. */
  folder?: string;
}

const LAST_PROJECT = 'gadiDask.lastProject';
/** The ssh host the user last gave a new config; new configs from code or an import use it too. */
export const LAST_HOST = 'gadiDask.lastHost';

/** `<base>.dask-cluster.yaml` in the folder, or `<base>-2…` when that exists. */
export async function freeName(folder: vscode.Uri, base: string): Promise<vscode.Uri> {
  for (let i = 1; ; i++) {
    const uri = vscode.Uri.joinPath(folder, `${base}${i === 1 ? '' : `-${i}`}.dask-cluster.yaml`);
    try {
      await vscode.workspace.fs.stat(uri);
    } catch {
      return uri;
    }
  }
}

export async function createClusterConfig(ctx: Context, arg?: unknown): Promise<string> {
  const args = (typeof arg === 'object' && arg !== null ? arg : {}) as CreateConfigArgs;
  const state = ctx.extension.globalState;
  let queue = args.queue ? gadiQueue(args.queue) : undefined;
  if (args.queue && !queue) throw new UserFacingError(`${args.queue} is not a Gadi queue (${TEMPLATE_QUEUES.map((q) => q.name).join(', ')}).`, []);
  if (!queue) {
    const picked = await vscode.window.showQuickPick(
      TEMPLATE_QUEUES.map((q) => ({ label: q.name, description: q.summary, detail: templateSummary(q), queue: q })),
      { title: 'Gadi Dask: new cluster config — which queue?', matchOnDescription: true },
    );
    if (!picked) throw new Cancelled();
    queue = picked.queue;
  }
  const project = args.project ?? (await vscode.window.showInputBox({
    title: 'Gadi Dask: new cluster config — NCI project',
    prompt: 'The project charged for the jobs (-P), e.g. ab12',
    value: state.get<string>(LAST_PROJECT, ''),
    validateInput: (v) => (PROJECT_CODE.test(v.trim()) ? undefined : 'An NCI project code such as ab12'),
  }))?.trim();
  if (!project) throw new Cancelled();
  const host = args.host ?? (await vscode.window.showInputBox({
    title: 'Gadi Dask: new cluster config — SSH host',
    prompt: 'The ~/.ssh/config alias (or host name) of a Gadi login node',
    value: state.get<string>(LAST_HOST, 'gadi'),
    validateInput: (v) => (/^[\w.@-]+$/.test(v.trim()) ? undefined : 'An ssh alias or host name, e.g. gadi'),
  }))?.trim();
  if (!host) throw new Cancelled();
  await state.update(LAST_PROJECT, project);
  await state.update(LAST_HOST, host);

  const text = clusterConfigTemplate({ queue, project, host });
  const folder = args.folder ? vscode.Uri.file(args.folder) : vscode.workspace.workspaceFolders?.[0]?.uri;
  if (!folder) {
    const doc = await vscode.workspace.openTextDocument({ language: 'dask-cluster', content: text });
    await vscode.window.showTextDocument(doc);
    void vscode.window.showInformationMessage(`Save it as ${queue.name}.dask-cluster.yaml in your project to use it.`);
    return doc.uri.toString();
  }
  const uri = await freeName(folder, queue.name);
  await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(text));
  ctx.log.info(`Created ${uri.fsPath} from the ${queue.name} template.`);
  await vscode.window.showTextDocument(uri);
  ctx.configs.invalidate();
  return uri.toString();
}
