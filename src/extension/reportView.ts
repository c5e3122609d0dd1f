// The Cluster Report: one webview panel per cluster showing what its jobs asked for, used and cost (core/cluster/
// report.ts). The page loads only the bundled script and stylesheet of this extension, under a CSP that allows
// nothing else: no inline script or style, no network.
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { ClusterReport, ReportModel } from '../core/cluster/report';
import { core } from './core';

export const REPORT_VIEW_TYPE = 'gadiDask.clusterReport';

const panels = new Map<string, vscode.WebviewPanel>();
/** The newest report of each panel: a page that reloads asks again. */
const models = new Map<string, ReportModel>();

function html(webview: vscode.Webview, extensionUri: vscode.Uri, title: string): string {
  const nonce = randomBytes(16).toString('base64');
  const script = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'dist', 'report.js'));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(extensionUri, 'media', 'report.css'));
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src ${webview.cspSource}`,
    `img-src ${webview.cspSource}`,
    `font-src ${webview.cspSource}`,
  ].join('; ');
  const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style.toString()}">
<title>${esc(title)}</title>
</head>
<body>
<main id="report"><p class="note">Loading the report…</p></main>
<script nonce="${nonce}" src="${script.toString()}"></script>
</body>
</html>`;
}

/** Opens (or brings forward and updates) the report panel of one cluster. Resolves once the page has drawn it. */
export function showReport(extensionUri: vscode.Uri, key: string, report: ClusterReport): Promise<ReportModel> {
  const model = core().reportModel(report);
  const title = `Report: ${report.cluster}`;
  models.set(key, model);
  let panel = panels.get(key);
  if (panel) {
    panel.title = title;
    panel.reveal();
    void panel.webview.postMessage({ type: 'report', model });
    return Promise.resolve(model);
  }
  panel = vscode.window.createWebviewPanel(REPORT_VIEW_TYPE, title, vscode.ViewColumn.Active, {
    enableScripts: true,
    localResourceRoots: [vscode.Uri.joinPath(extensionUri, 'dist'), vscode.Uri.joinPath(extensionUri, 'media')],
  });
  panels.set(key, panel);
  const p = panel;
  return new Promise((resolve) => {
    p.webview.onDidReceiveMessage((m: { type?: string }) => {
      if (m?.type !== 'ready') return;
      void p.webview.postMessage({ type: 'report', model: models.get(key) });
      resolve(model);
    });
    p.onDidDispose(() => {
      panels.delete(key);
      models.delete(key);
      resolve(model);
    });
    p.webview.html = html(p.webview, extensionUri, title);
  });
}
