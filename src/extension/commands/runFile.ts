// Run Python File on Cluster: the file (as the editor has it, saved or not) runs as a PBS job whose Client()
// connects to the cluster; its output streams into a terminal of its own, which says how it ended. The progress
// notification's Cancel, or closing the terminal, cancels the job (qdel).
import * as vscode from 'vscode';
import { core } from '../core';
import { inertMessage } from '../inert';
import { withCancellableProgress } from '../progress';
import { clusterFor, type Context, type TargetArgs } from './context';

export interface RunFileArgs extends TargetArgs {
  /** The Python file (path or URI string); default the active editor's. */
  file?: string;
  /** The file's command-line arguments. */
  args?: string[];
}

export interface RunFileOutcome {
  jobId: string;
  exitStatus?: number;
  cancelled: boolean;
  /** Everything the terminal showed of the file's output. */
  output: string;
}

function fileUri(arg: unknown): vscode.Uri | undefined {
  if (arg instanceof vscode.Uri) return arg;
  const file = typeof arg === 'object' && arg !== null ? (arg as RunFileArgs).file : undefined;
  if (file) return /^[a-z][\w+.-]+:/i.test(file) && !/^[a-z]:[\\/]/i.test(file) ? vscode.Uri.parse(file) : vscode.Uri.file(file);
  const doc = vscode.window.activeTextEditor?.document;
  return doc?.languageId === 'python' ? doc.uri : undefined;
}

/** A terminal that only shows what it is given, and tells when the user closes it. */
function outputTerminal(name: string, onClose: () => void): { terminal: vscode.Terminal; write: (text: string) => void } {
  const writer = new vscode.EventEmitter<string>();
  const pending: string[] = [];
  let open = false;
  const pty: vscode.Pseudoterminal = {
    onDidWrite: writer.event,
    open: () => {
      open = true;
      for (const text of pending.splice(0)) writer.fire(text);
    },
    close: onClose,
  };
  const terminal = vscode.window.createTerminal({ name, pty });
  terminal.show(true);
  const write = (text: string) => {
    const crlf = text.replace(/\r?\n/g, '\r\n');
    if (open) writer.fire(crlf);
    else pending.push(crlf);
  };
  return { terminal, write };
}

export async function runPythonFile(ctx: Context, arg?: unknown): Promise<RunFileOutcome> {
  const uri = fileUri(arg);
  if (!uri) throw new Error('Open a Python file, or pick one in the Explorer, to run it on the cluster.');
  let source: Buffer;
  try {
    // What the editor shows, saved or not.
    const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    source = open ? Buffer.from(open.getText(), 'utf8') : Buffer.from(await vscode.workspace.fs.readFile(uri));
  } catch (e) {
    throw new Error(`Cannot read ${uri.fsPath || uri.toString()}: ${(e as Error).message}`);
  }
  const args = typeof arg === 'object' && arg !== null && !(arg instanceof vscode.Uri) ? (arg as RunFileArgs).args ?? [] : [];
  const entry = await clusterFor(ctx, arg instanceof vscode.Uri ? undefined : arg, 'to run a Python file on', true);
  const fileName = core().runFileName(uri.path);
  const stop = new AbortController();
  const { write } = outputTerminal(`${fileName} on ${entry.cluster.name}`, () => stop.abort());
  let output = '';
  const decoder = new TextDecoder();
  const title = `Running ${fileName} on ${entry.cluster.name}`;
  const r = await withCancellableProgress(title, async ({ report, signal }) => {
    const both = AbortSignal.any([signal, stop.signal]);
    return entry.cluster.runFile({
      fileName, source, args, signal: both,
      onProgress: (m) => {
        report(m);
        write(`\x1b[2m… ${inertMessage(m)}\x1b[0m\n`);
      },
      onOutput: (chunk) => {
        const text = decoder.decode(chunk, { stream: true });
        output += text;
        write(text);
      },
    });
  });
  let said: string;
  if (r.cancelled) said = `Cancelled job ${r.jobId}.`;
  else if (r.exitStatus !== undefined) said = `${fileName} exited with status ${r.exitStatus} (job ${r.jobId}).`;
  else said = `Job ${r.jobId} ended before ${fileName} did (PBS exit status ${r.endedWithout}): cancelled, out of walltime or its node lost.`;
  write(`\n\x1b[1m${inertMessage(said)}\x1b[0m\n`);
  ctx.log.info(said);
  if (r.exitStatus === 0) void vscode.window.showInformationMessage(inertMessage(said));
  else if (!r.cancelled) void vscode.window.showWarningMessage(inertMessage(said));
  return { jobId: r.jobId, exitStatus: r.exitStatus, cancelled: r.cancelled, output };
}
