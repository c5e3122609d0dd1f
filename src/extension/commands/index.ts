// Registers every command. Each runs inside one wrapper that turns a failure into a message with actions
// (errors.ts), so a command never ends in a bare stack trace and callers of executeCommand get undefined on failure.
// Ids, titles, menus and `when` clauses live in package.json only; the code-server suite proves every command here
// is in the manifest and every manifest command is here.
import * as vscode from 'vscode';
import { reportError } from '../errors';
import { adaptCluster, scaleCluster } from './scale';
import { clusterReport, connectLocalPython, copySchedulerAddress, insertClientSnippet, openDashboard, shutDownCluster } from './cluster';
import { cancelJob, openJobOutput, showJobScript } from './jobs';
import { runPythonFile } from './runFile';
import { restartKernel } from './notebook';
import { connect, disconnect } from './connection';
import { createClusterConfig } from './createConfig';
import { copyAsPbsCluster, createConfigFromCall, importDaskConfig } from './convert';
import type { Context } from './context';

export const WALKTHROUGH = 'gadi-dask.gadi-dask#gadiDask.gettingStarted';
const MAX_REMEMBERED_ERRORS = 20;

type Handler = (ctx: Context, arg?: unknown) => Promise<unknown>;

const COMMANDS: Record<string, Handler> = {
  'gadiDask.connect': connect,
  'gadiDask.disconnect': disconnect,
  'gadiDask.scaleCluster': scaleCluster,
  'gadiDask.adaptCluster': adaptCluster,
  'gadiDask.shutDownCluster': shutDownCluster,
  'gadiDask.cancelJob': cancelJob,
  'gadiDask.showJobScript': showJobScript,
  'gadiDask.openJobOutput': openJobOutput,
  'gadiDask.openDashboard': openDashboard,
  'gadiDask.copySchedulerAddress': copySchedulerAddress,
  'gadiDask.insertClientSnippet': insertClientSnippet,
  'gadiDask.connectLocalPython': connectLocalPython,
  'gadiDask.runPythonFile': runPythonFile,
  'gadiDask.restartKernel': restartKernel,
  'gadiDask.clusterReport': clusterReport,
  'gadiDask.createClusterConfig': createClusterConfig,
  'gadiDask.createConfigFromCall': createConfigFromCall,
  'gadiDask.copyAsPBSCluster': copyAsPbsCluster,
  'gadiDask.importDaskConfig': importDaskConfig,
  'gadiDask.refresh': async (ctx) => {
    ctx.configs.invalidate();
    await ctx.model.sync();
    return ctx.refresher.now('manual');
  },
  'gadiDask.showLog': async (ctx) => ctx.log.show(true),
  'gadiDask.openWalkthrough': async () => vscode.commands.executeCommand('workbench.action.openWalkthrough', WALKTHROUGH, false),
  'gadiDask.openConfig': async (ctx) => {
    const config = await ctx.configs.choose('to open', undefined);
    await vscode.window.showTextDocument(config.uri);
    return config.uri.toString();
  },
  'gadiDask.forgetPassphrases': async (ctx) => {
    const n = await ctx.prompt.forgetAll();
    void vscode.window.showInformationMessage(n ? `Forgot ${n} saved passphrase(s).` : 'No passphrase was saved.');
    return n;
  },
};

/** The ids of every command this module registers (the manifest test compares them with package.json). */
export const REGISTERED_COMMANDS: readonly string[] = Object.keys(COMMANDS);

/** A command's title as the manifest gives it (the one place titles live). */
function titleOf(ctx: Context, id: string): string {
  const manifest = ctx.extension.extension.packageJSON as { contributes?: { commands?: { command: string; title: string }[] } };
  return manifest.contributes?.commands?.find((c) => c.command === id)?.title ?? id;
}

export function registerCommands(ctx: Context): vscode.Disposable[] {
  return Object.entries(COMMANDS).map(([id, handler]) =>
    vscode.commands.registerCommand(id, async (arg?: unknown) => {
      try {
        return await handler(ctx, arg);
      } catch (e) {
        const reported = reportError(e, ctx.log, titleOf(ctx, id));
        if (reported) {
          ctx.errors.push(reported);
          ctx.errors.splice(0, Math.max(0, ctx.errors.length - MAX_REMEMBERED_ERRORS));
        }
        return undefined;
      }
    }));
}
