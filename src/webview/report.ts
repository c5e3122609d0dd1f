// The Cluster Report view, inside the webview: draws what the extension sends (core/cluster/report.ts's
// ReportModel) as three bar charts (Chart.js, only the parts used, bundled: nothing comes from the network) and one
// table per run. Text goes in as text nodes, never as HTML.
import {
  BarController, BarElement, CategoryScale, Chart, Legend, LinearScale, Tooltip, type ChartDataset,
} from 'chart.js';
import type { ReportModel } from '../core/cluster/report';

Chart.register(BarController, BarElement, CategoryScale, LinearScale, Legend, Tooltip);

interface VsCodeApi {
  postMessage(message: unknown): void;
}
declare function acquireVsCodeApi(): VsCodeApi;

const vscode = acquireVsCodeApi();
const charts: Chart[] = [];

function cssVar(name: string, fallback: string): string {
  return getComputedStyle(document.body).getPropertyValue(name).trim() || fallback;
}

function element<K extends keyof HTMLElementTagNameMap>(tag: K, text?: string, className?: string): HTMLElementTagNameMap[K] {
  const e = document.createElement(tag);
  if (text !== undefined) e.textContent = text;
  if (className) e.className = className;
  return e;
}

function bars(parent: HTMLElement, title: string, labels: string[], datasets: ChartDataset<'bar', (number | null)[]>[], unit: string): void {
  const box = element('section', undefined, 'chart');
  box.append(element('h2', title));
  const canvas = element('canvas');
  canvas.setAttribute('role', 'img');
  canvas.setAttribute('aria-label', title);
  box.append(canvas);
  parent.append(box);
  const fg = cssVar('--vscode-foreground', '#ccc');
  const grid = cssVar('--vscode-editorWidget-border', '#444');
  charts.push(new Chart(canvas, {
    type: 'bar',
    data: { labels, datasets },
    options: {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      color: fg,
      scales: {
        x: { ticks: { color: fg }, grid: { color: grid } },
        y: { beginAtZero: true, ticks: { color: fg }, grid: { color: grid }, title: { display: true, text: unit, color: fg } },
      },
      plugins: { legend: { labels: { color: fg } } },
    },
  }));
}

function render(model: ReportModel): void {
  for (const c of charts.splice(0)) c.destroy();
  const root = document.getElementById('report')!;
  root.replaceChildren(element('h1', model.title));
  for (const n of model.notes) root.append(element('p', n, 'note'));
  if (model.runs.length) {
    const row = element('div', undefined, 'charts');
    root.append(row);
    const blue = cssVar('--vscode-charts-blue', '#3794ff');
    const grey = cssVar('--vscode-disabledForeground', '#888');
    const green = cssVar('--vscode-charts-green', '#89d185');
    bars(row, 'SU spent against the estimate', model.runs.map((r) => r.label), [
      { label: 'spent', data: model.runs.map((r) => Number(r.suSpent.toPrecision(3))), backgroundColor: blue },
      { label: 'estimated (full walltime)', data: model.runs.map((r) => Number(r.suEstimate.toPrecision(3))), backgroundColor: grey },
    ], 'SU');
    const jobs = model.jobs.map((j) => j.label);
    bars(row, 'CPU efficiency per job', jobs, [
      { label: 'CPU time ÷ (walltime × cores)', data: model.jobs.map((j) => j.cpuPercent), backgroundColor: green },
    ], '%');
    bars(row, 'Memory per job', jobs, [
      { label: 'peak', data: model.jobs.map((j) => j.memPeakGiB), backgroundColor: blue },
      { label: 'requested', data: model.jobs.map((j) => j.memRequestGiB), backgroundColor: grey },
    ], 'GB');
  }
  for (const t of model.tables) {
    root.append(element('h2', t.title));
    const table = element('table');
    const head = element('tr');
    for (const c of t.columns) head.append(element('th', c));
    table.append(head);
    for (const r of t.rows) {
      const tr = element('tr');
      for (const c of r) tr.append(element('td', c));
      table.append(tr);
    }
    root.append(table);
  }
  document.body.dataset.rendered = String(model.jobs.length);
}

window.addEventListener('message', (event: MessageEvent<{ type: string; model: ReportModel }>) => {
  if (event.data?.type === 'report') render(event.data.model);
});
vscode.postMessage({ type: 'ready' });
