// Registers every command. Each runs inside one wrapper that turns a failure into a message with actions
// (errors.ts), so a command never ends in a bare stack trace and callers of executeCommand get undefined on failure.
import * as vscode from 'vscode';
import { reportError } from '../errors';
import { adaptCluster, scaleCluster } from './scale';
import { clusterReport, copySchedulerAddress, insertClientSnippet, openDashboard, shutDownCluster } from './cluster';
import { cancelJob, openJobOutput, showJobScript } from './jobs';
import { connect, disconnect } from './connection';
import { createClusterConfig } from './createConfig';
import { copyAsPbsCluster, createConfigFromCall, importDaskConfig } from './convert';
import type { Context } from './context';

export const WALKTHROUGH = 'gadi-dask.gadi-dask#gadiDask.gettingStarted';
const MAX_REMEMBERED_ERRORS = 20;

type Handler = (ctx: Context, arg?: unknown) => Promise<unknown>;

const COMMANDS: Record<string, [title: string, handler: Handler]> = {
  'gadiDask.connect': ['Connect', connect],
  'gadiDask.disconnect': ['Disconnect', disconnect],
  'gadiDask.scaleCluster': ['Scale Cluster', scaleCluster],
  'gadiDask.adaptCluster': ['Adapt Cluster', adaptCluster],
  'gadiDask.shutDownCluster': ['Shut Down Cluster', shutDownCluster],
  'gadiDask.cancelJob': ['Cancel Job', cancelJob],
  'gadiDask.showJobScript': ['Show Job Script', showJobScript],
  'gadiDask.openJobOutput': ['Open Job Output', openJobOutput],
  'gadiDask.openDashboard': ['Open Dashboard', openDashboard],
  'gadiDask.copySchedulerAddress': ['Copy Scheduler Address', copySchedulerAddress],
  'gadiDask.insertClientSnippet': ['Insert Dask Client Snippet', insertClientSnippet],
  'gadiDask.clusterReport': ['Cluster Report', clusterReport],
  'gadiDask.createClusterConfig': ['Create Cluster Config', createClusterConfig],
  'gadiDask.createConfigFromCall': ['Create Cluster Config from This Call', createConfigFromCall],
  'gadiDask.copyAsPBSCluster': ['Copy as PBSCluster(...)', copyAsPbsCluster],
  'gadiDask.importDaskConfig': ['Import Dask Config…', importDaskConfig],
  'gadiDask.refresh': ['Refresh', async (ctx) => {
    ctx.configs.invalidate();
    await ctx.model.sync();
    return ctx.refresher.now('manual');
  }],
  'gadiDask.showLog': ['Show Log', async (ctx) => ctx.log.show(true)],
  'gadiDask.openWalkthrough': ['Open Walkthrough', async () =>
    vscode.commands.executeCommand('workbench.action.openWalkthrough', WALKTHROUGH, false)],
  'gadiDask.openConfig': ['Open Cluster Config', async (ctx) => {
    const config = await ctx.configs.choose('to open', undefined);
    await vscode.window.showTextDocument(config.uri);
    return config.uri.toString();
  }],
  'gadiDask.forgetPassphrases': ['Forget Saved Passphrases', async (ctx) => {
    const n = await ctx.prompt.forgetAll();
    void vscode.window.showInformationMessage(n ? `Forgot ${n} saved passphrase(s).` : 'No passphrase was saved.');
    return n;
  }],
};

export function registerCommands(ctx: Context): vscode.Disposable[] {
  return Object.entries(COMMANDS).map(([id, [title, handler]]) =>
    vscode.commands.registerCommand(id, async (arg?: unknown) => {
      try {
        return await handler(ctx, arg);
      } catch (e) {
        const reported = reportError(e, ctx.log, title);
        if (reported) {
          ctx.errors.push(reported);
          ctx.errors.splice(0, Math.max(0, ctx.errors.length - MAX_REMEMBERED_ERRORS));
        }
        return undefined;
      }
    }));
}
