// Failures as the user sees them: one clear message and the buttons that lead out of it. Commands throw; the
// command wrapper calls reportError, so no command shows raw stack traces and every message offers an action.
import * as vscode from 'vscode';
import { core } from './core';
import { inertMessage } from './inert';

/** A failure the front end itself detects, with the actions that fix it. */
export class UserFacingError extends Error {
  constructor(message: string, readonly actions: readonly Action[]) {
    super(message);
    this.name = new.target.name;
  }
}

export interface Action {
  title: string;
  command: string;
  args?: unknown[];
}

export const ACTIONS = {
  connect: { title: 'Connect', command: 'gadiDask.connect' },
  createConfig: { title: 'Create Cluster Config', command: 'gadiDask.createClusterConfig' },
  showLog: { title: 'Show Log', command: 'gadiDask.showLog' },
  refresh: { title: 'Refresh', command: 'gadiDask.refresh' },
  settings: { title: 'Open Settings', command: 'workbench.action.openSettings', args: ['gadiDask'] },
  scale: { title: 'Scale Cluster', command: 'gadiDask.scaleCluster' },
} satisfies Record<string, Action>;

export class NotConnectedError extends UserFacingError {
  /** `what` says what needs it: "to scale", "to open a dashboard". */
  constructor(what: string) {
    super(`Not connected to a cluster: connect first ${what}.`, [ACTIONS.connect, ACTIONS.showLog]);
  }
}

export class NoConfigError extends UserFacingError {
  constructor(detail = 'No cluster config (*.dask-cluster.yaml) in this workspace.') {
    super(`${detail} Create one from a Gadi queue template, or name one in the gadiDask.configFile setting.`, [ACTIONS.createConfig, ACTIONS.settings]);
  }
}

export class NoSchedulerError extends UserFacingError {
  constructor(cluster: string, why: string) {
    super(`Cluster ${cluster} has no running scheduler${why ? ` (${why})` : ''}. Scale the cluster to start one.`, [ACTIONS.scale, ACTIONS.refresh]);
  }
}

/** The user dismissed a prompt: nothing to report. */
export class Cancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'Cancelled';
  }
}

function openFileAction(path: string): Action {
  return { title: 'Open Config', command: 'vscode.open', args: [vscode.Uri.file(path)] };
}

/** The message and the buttons for any error a command may throw. */
export function describeError(error: unknown): { message: string; actions: Action[] } {
  if (error instanceof UserFacingError) return { message: error.message, actions: [...error.actions] };
  const message = error instanceof Error ? error.message : String(error);
  const { AuthError, ClusterError, ConfigFileError, HostKeyError, QsubError, QsubQueueLimitError, SshConfigError, TransportError } = core();
  if (error instanceof ConfigFileError) {
    return { message, actions: error.path && /\.ya?ml$/.test(error.path) ? [openFileAction(error.path), ACTIONS.showLog] : [ACTIONS.createConfig, ACTIONS.showLog] };
  }
  if (error instanceof HostKeyError || error instanceof AuthError || error instanceof SshConfigError) {
    return { message, actions: [ACTIONS.connect, ACTIONS.settings, ACTIONS.showLog] };
  }
  if (error instanceof TransportError) {
    return { message, actions: error.retryable ? [ACTIONS.connect, ACTIONS.showLog] : [ACTIONS.showLog] };
  }
  if (error instanceof QsubQueueLimitError || error instanceof QsubError) {
    return { message, actions: [{ title: 'Show Job Script', command: 'gadiDask.showJobScript' }, ACTIONS.showLog] };
  }
  if (error instanceof ClusterError) return { message, actions: [ACTIONS.refresh, ACTIONS.showLog] };
  return { message, actions: [ACTIONS.showLog] };
}

export interface ReportedError {
  context: string;
  message: string;
  actions: string[];
}

/**
 * Logs the error and shows it with its actions. Does not wait for the user: a command that failed has finished,
 * and a caller awaiting it (another command, a test) must not hang on an unanswered notification.
 */
export function reportError(error: unknown, log: vscode.LogOutputChannel, context: string): ReportedError | undefined {
  if (error instanceof Cancelled) return undefined;
  if (error instanceof core().TransportError && error.kind === 'aborted') {
    log.info(`${context}: cancelled (${error.message})`); // the user pressed Cancel: nothing to show
    return undefined;
  }
  const { message, actions } = describeError(error);
  log.error(`${context}: ${message}`);
  if (error instanceof Error && !(error instanceof UserFacingError) && error.stack) log.debug(error.stack);
  void vscode.window.showErrorMessage(inertMessage(message), ...actions.map((a) => a.title)).then((picked) => {
    const action = actions.find((a) => a.title === picked);
    if (action) void vscode.commands.executeCommand(action.command, ...(action.args ?? []));
  });
  return { context, message, actions: actions.map((a) => a.title) };
}
