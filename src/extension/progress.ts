// Every long action runs under one cancellable notification: its Cancel button aborts the signal handed down to the
// core and the transport (an agent request then stops between two PBS actions and says what it had done).
import * as vscode from 'vscode';
import { Cancelled } from './errors';
import { inertMessage } from './inert';

export interface ProgressTask {
  /** Shows a line of progress (made inert: it may quote the remote side). */
  report: (message: string) => void;
  signal: AbortSignal;
}

export function withCancellableProgress<T>(title: string, task: (p: ProgressTask) => Promise<T>): Promise<T> {
  return Promise.resolve(vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, async (progress, token) => {
    const controller = new AbortController();
    const cancelled = token.onCancellationRequested(() => controller.abort());
    try {
      return await task({ report: (message) => progress.report({ message: inertMessage(message) }), signal: controller.signal });
    } finally {
      cancelled.dispose();
    }
  }));
}

/**
 * For a step that takes no signal (an ssh handshake, a port forward): rejects with Cancelled on abort, and whatever
 * the step still gives back later is handed to `undo` (the half-open connection closed, the tunnel shut).
 */
export function unlessAborted<T>(step: Promise<T>, signal: AbortSignal | undefined, undo: (late: T) => unknown): Promise<T> {
  if (!signal) return step;
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      void step.then(undo, () => undefined);
      reject(new Cancelled());
    };
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    step.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
