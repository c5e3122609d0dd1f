// Every long action runs under one cancellable notification: its Cancel button aborts the signal handed down to the
// core and the transport (an agent request then stops between two PBS actions and says what it had done).
import * as vscode from 'vscode';
import { core } from './core';
import { inertMessage } from './inert';

export interface ProgressTask {
  /** Shows a line of progress (made inert: it may quote the remote side). */
  report: (message: string) => void;
  signal: AbortSignal;
}

export function withCancellableProgress<T>(title: string, task: (p: ProgressTask) => Promise<T>): Promise<T> {
  return Promise.resolve(vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, token) => {
    const controller = new AbortController();
    // The reason is the core's own error, so whatever rejects with it reads as "cancelled", not as a failure.
    const cancelled = token.onCancellationRequested(() => controller.abort(new (core().AbortedError)(`${title} was cancelled.`)));
    try {
      return await task({ report: (message) => progress.report({ message: inertMessage(message) }), signal: controller.signal });
    } finally {
      cancelled.dispose();
    }
  }));
}
