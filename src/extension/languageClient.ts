// Starts the config-file language server (dist/server.js) over IPC for `dask-cluster` documents, and for Python
// (files and notebook cells alike), where it offers only the PBSCluster(...) code action.
import * as vscode from 'vscode';
import {
  LanguageClient, RevealOutputChannelOn, TransportKind, type LanguageClientOptions, type ServerOptions,
} from 'vscode-languageclient/node';
import type { HistoryFacts } from '../core/cluster/advice';
import { core } from './core';

let client: LanguageClient | undefined;

/** A cluster's history for the server's advice (dropped while the server is not running). */
export function sendHistory(facts: HistoryFacts): void {
  if (client?.isRunning()) void client.sendNotification(core().HISTORY_NOTIFICATION, facts).catch(() => undefined);
}

export function startLanguageClient(context: vscode.ExtensionContext, log: vscode.LogOutputChannel): void {
  const module = context.asAbsolutePath('dist/server.js');
  const serverOptions: ServerOptions = {
    run: { module, transport: TransportKind.ipc },
    debug: { module, transport: TransportKind.ipc, options: { execArgv: ['--nolazy', '--inspect=6019'] } },
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ language: 'dask-cluster' }, { language: 'python' }],
    outputChannel: log,
    // The server logs a handler's internal error and answers with nothing: worth a log line, not a popped panel.
    revealOutputChannelOn: RevealOutputChannelOn.Never,
  };
  client = new LanguageClient('gadiDask', 'Dask on Gadi config linter', serverOptions, clientOptions);
  client.start().catch((err: unknown) => log.error(`Config linter failed to start: ${String(err)}`));
}

export async function stopLanguageClient(): Promise<void> {
  await client?.stop();
  client = undefined;
}
