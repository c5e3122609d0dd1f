// Read-only editors for text that lives on the cluster or is generated: job scripts and job output. A virtual
// document (its own URI scheme) cannot be saved or edited, which is the point: editing a copy changes nothing.
import * as vscode from 'vscode';

export const SCHEME = 'gadi-dask';

export class ReadOnlyDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly contents = new Map<string, string>();
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly registration = vscode.workspace.registerTextDocumentContentProvider(SCHEME, this);

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.contents.get(uri.toString()) ?? '(This document is no longer available: run the command again.)\n';
  }

  /** Opens `text` read-only under `path` (e.g. `/gadi/dask-worker/12345.gadi-pbs.o`) in `language`. */
  async show(path: string, text: string, language: string): Promise<vscode.TextEditor> {
    const uri = vscode.Uri.from({ scheme: SCHEME, path });
    const known = this.contents.has(uri.toString());
    this.contents.set(uri.toString(), text);
    if (known) this.changed.fire(uri);
    let doc = await vscode.workspace.openTextDocument(uri);
    if (doc.languageId !== language) doc = await vscode.languages.setTextDocumentLanguage(doc, language);
    return vscode.window.showTextDocument(doc, { preview: false });
  }

  dispose(): void {
    this.registration.dispose();
    this.changed.dispose();
  }
}
