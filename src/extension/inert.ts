// The editor's side of core/serverText.ts: every tree item, notification and log line passes through here, since
// each may quote the remote side (a job name, qstat's comment, qsub's stderr, a server's prompt).
import * as vscode from 'vscode';
import { neutralize, neutralizeLine } from '../core/serverText';

/** The item with its label, description and tooltip made inert (labels and descriptions on one line). */
export function inertItem(item: vscode.TreeItem): vscode.TreeItem {
  if (typeof item.label === 'string') item.label = neutralizeLine(item.label);
  else if (item.label) item.label = { ...item.label, label: neutralizeLine(item.label.label) };
  if (typeof item.description === 'string') item.description = neutralizeLine(item.description);
  if (typeof item.tooltip === 'string') item.tooltip = neutralize(item.tooltip);
  else if (item.tooltip) {
    const t = new vscode.MarkdownString(neutralize(item.tooltip.value), item.tooltip.supportThemeIcons);
    t.isTrusted = item.tooltip.isTrusted;
    t.supportHtml = item.tooltip.supportHtml;
    item.tooltip = t;
  }
  return item;
}

type LogMethod = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'append' | 'appendLine' | 'replace';
const LOG_METHODS = new Set<string>(['trace', 'debug', 'info', 'warn', 'error', 'append', 'appendLine', 'replace'] satisfies LogMethod[]);

/** The output channel with every message made inert before it is written. */
export function inertLog(channel: vscode.LogOutputChannel): vscode.LogOutputChannel {
  return new Proxy(channel, {
    get(target, prop, receiver) {
      const value: unknown = Reflect.get(target, prop, receiver);
      if (typeof prop !== 'string' || !LOG_METHODS.has(prop) || typeof value !== 'function') {
        return typeof value === 'function' ? value.bind(target) : value;
      }
      return (message: unknown, ...args: unknown[]) =>
        (value as (...a: unknown[]) => unknown).call(target, typeof message === 'string' ? neutralize(message) : message, ...args);
    },
  });
}

/** A notification's text. */
export const inertMessage = (text: string): string => neutralize(text);
