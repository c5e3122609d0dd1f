// Connect and Disconnect. Connect signs in to the host of the chosen cluster config (asking for passphrases or a
// host-key decision through the editor's prompts) and shows the PBS Jobs view; Disconnect closes the tunnels and
// the connection. Clusters keep running on the cluster either way.
import * as vscode from 'vscode';
import { Cancelled } from '../errors';
import { isNode, connectWithProgress, configUri, type Context, type TargetArgs } from './context';
import { targetOf } from '../session';
import { readSettings } from '../settings';

export interface ConnectResult {
  key: string;
  host: string;
  kind: 'ssh' | 'local';
}

export async function connect(ctx: Context, arg?: unknown): Promise<ConnectResult> {
  const config = isNode(arg) && 'entry' in arg && arg.entry
    ? arg.entry.config
    : await ctx.configs.choose('to connect with', configUri(arg as TargetArgs | undefined));
  const target = targetOf(config.config, readSettings(), config.label);
  const connection = await connectWithProgress(ctx, target);
  await ctx.model.sync();
  void vscode.commands.executeCommand('gadiDask.jobs.focus');
  return { key: connection.key, host: connection.label, kind: connection.kind };
}

export async function disconnect(ctx: Context, arg?: unknown): Promise<boolean> {
  const all = ctx.session.all();
  let key: string | undefined;
  if (isNode(arg) && 'connection' in arg) key = arg.connection.key;
  else if (isNode(arg) && 'entry' in arg && arg.entry) key = arg.entry.connection.key;
  else if (typeof (arg as { host?: unknown } | undefined)?.host === 'string') key = (arg as { host: string }).host;
  else if (all.length === 1) key = all[0].key;
  else if (all.length > 1) {
    const picked = await vscode.window.showQuickPick(all.map((c) => ({ label: c.label, description: c.kind, key: c.key })), { title: 'Gadi Dask: disconnect from which host?' });
    if (!picked) throw new Cancelled();
    key = picked.key;
  }
  if (!key || !ctx.session.get(key)) {
    void vscode.window.showInformationMessage('Gadi Dask: not connected.');
    return false;
  }
  await ctx.tunnels.closeConnection(key);
  await ctx.session.disconnect(key);
  await ctx.model.sync();
  return true;
}
