// The VS Code front end: thin. It wires commands, the PBS Jobs view and the language client to the core.
import * as vscode from 'vscode';
import { startLanguageClient, stopLanguageClient } from './languageClient';
import { JobsTreeProvider } from './jobsTree';

export const EXTENSION_ID = 'gadi-dask.gadi-dask';

export function activate(context: vscode.ExtensionContext): void {
  const log = vscode.window.createOutputChannel('Dask on Gadi', { log: true });
  const jobs = new JobsTreeProvider();
  context.subscriptions.push(
    log,
    vscode.window.createTreeView('gadiDask.jobs', { treeDataProvider: jobs, showCollapseAll: true }),
    vscode.commands.registerCommand('gadiDask.refresh', () => jobs.refresh()),
    vscode.commands.registerCommand('gadiDask.scaleCluster', async () => {
      await vscode.window.showInformationMessage(
        'Dask on Gadi: connect to a host before scaling a cluster.',
      );
    }),
  );
  startLanguageClient(context, log);
}

export async function deactivate(): Promise<void> {
  await stopLanguageClient();
}
