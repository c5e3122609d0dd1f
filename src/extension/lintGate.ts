// The editor's lint gate (core/lintGate.ts): Scale and Adapt check the config's text, unsaved edits included,
// since that is what the user sees, before anything is submitted.
import * as vscode from 'vscode';
import { core } from './core';

/** Throws LintGateError (a ConfigFileError: shown with "Open" on the file) when the config has lint errors. */
export async function gateSubmission(uri: vscode.Uri): Promise<void> {
  const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
  const text = open ? open.getText() : new TextDecoder().decode(await vscode.workspace.fs.readFile(uri));
  core().checkBeforeSubmit(text, uri.fsPath);
}
