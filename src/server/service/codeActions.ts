// Quick fixes: each lint fix of a diagnostic in the requested range becomes a code action with its text edits.
// Fixes travel in the diagnostic's `data`; when that was computed on another text (the client's diagnostics lag
// behind typing), the fixes come from a fresh lint of this text instead, so an edit never lands in the wrong place.
import {
  CodeActionKind, type CodeAction, type Diagnostic, type Range,
} from 'vscode-languageserver-types';
import type { LintFix } from '../../core/config';
import { lint } from './cache';
import { SOURCE, textHash, type FixData } from './diagnostics';

function before(a: Range['start'], b: Range['start']): boolean {
  return a.line < b.line || (a.line === b.line && a.character < b.character);
}

/** Ranges overlap or touch (an empty range at a diagnostic's edge still asks for its fixes). */
function overlaps(a: Range, b: Range): boolean {
  return !before(a.end, b.start) && !before(b.end, a.start);
}

function sameRange(a: Range, b: Range): boolean {
  return a.start.line === b.start.line && a.start.character === b.start.character &&
    a.end.line === b.end.line && a.end.character === b.end.character;
}

function isFixData(data: unknown): data is FixData {
  if (!data || typeof data !== 'object') return false;
  const d = data as Partial<FixData>;
  return typeof d.textHash === 'string' && Array.isArray(d.fixes);
}

function fixesFor(d: Diagnostic, text: string, hash: () => string): LintFix[] {
  if (isFixData(d.data) && d.data.textHash === hash()) return d.data.fixes;
  const fresh = lint(text, undefined).diagnostics.find(
    (f) => f.code === d.code && f.message === d.message && sameRange(f.range, d.range),
  );
  return fresh?.fixes ?? [];
}

/** Quick fixes for our `diagnostics` that touch `range` in the document `uri` whose text is `text`. */
export function codeActions(text: string, range: Range, diagnostics: readonly Diagnostic[], uri: string): CodeAction[] {
  let hash: string | undefined;
  const currentHash = () => (hash ??= textHash(text));
  const actions: CodeAction[] = [];
  for (const d of diagnostics) {
    if (d.source !== SOURCE || !overlaps(d.range, range)) continue;
    for (const fix of fixesFor(d, text, currentHash)) {
      const action: CodeAction = {
        title: fix.title,
        kind: CodeActionKind.QuickFix,
        diagnostics: [d],
        edit: { changes: { [uri]: fix.edits.map((e) => ({ range: e.range, newText: e.newText })) } },
      };
      if (fix.isPreferred) action.isPreferred = true;
      actions.push(action);
    }
  }
  return actions;
}
