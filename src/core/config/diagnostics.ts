// The shapes the linter reports. Rules produce findings with text offsets; the linter turns them into diagnostics
// with LSP-style ranges (0-based lines and UTF-16 characters), so the language server passes them on unchanged.
import type { RuleCode, Severity } from './codes';
import type { OffsetRange, Range } from './document';
import type { OffsetEdit } from './edits';

export type { Severity } from './codes';

export interface TextEdit {
  range: Range;
  newText: string;
}

/** A quick fix: applying all its edits to the text linted resolves the diagnostic. */
export interface LintFix {
  title: string;
  edits: TextEdit[];
  /** The fix an editor may apply on its own ("fix all", save actions). */
  isPreferred?: boolean;
}

export interface LintDiagnostic {
  range: Range;
  severity: Severity;
  code: RuleCode;
  message: string;
  /** The rule's section in docs/rules.md (LSP `codeDescription.href`). */
  docUrl?: string;
  fixes?: LintFix[];
}

/** A fix as rules build it: edits as text offsets. */
export interface OffsetFix {
  title: string;
  edits: OffsetEdit[];
  preferred?: boolean;
}

export interface Finding {
  code: RuleCode;
  /** Overrides the code's default severity. */
  severity?: Severity;
  range: OffsetRange;
  message: string;
  fixes?: OffsetFix[];
}

/** A fix from edits, or undefined when any edit could not be built (a fix must be complete or absent). */
export function makeFix(title: string, edits: readonly (OffsetEdit | undefined)[], preferred = false): OffsetFix | undefined {
  if (!edits.length || edits.some((e) => e === undefined)) return undefined;
  const fix: OffsetFix = { title, edits: edits as OffsetEdit[] };
  if (preferred) fix.preferred = true;
  return fix;
}

/** Drop the fixes that could not be built. */
export function fixes(...candidates: (OffsetFix | undefined)[]): OffsetFix[] | undefined {
  const ok = candidates.filter((f): f is OffsetFix => f !== undefined);
  return ok.length ? ok : undefined;
}
