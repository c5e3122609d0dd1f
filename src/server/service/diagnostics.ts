// Lint diagnostics as LSP diagnostics: severity, code, a link to the rule's section, and the quick fixes carried
// in `data`, stamped with a hash of the text they were computed on so stale fixes are never applied.
import {
  DiagnosticSeverity, DiagnosticTag, type Diagnostic,
} from 'vscode-languageserver-types';
import type { LintDiagnostic, LintFix, Severity } from '../../core/config';
import { lint } from './cache';

export const SOURCE = 'gadi-dask';

/** What a diagnostic carries for the code actions that fix it. */
export interface FixData {
  /** `textHash` of the text the fixes' ranges refer to. */
  textHash: string;
  fixes: LintFix[];
}

const SEVERITY: Record<Severity, DiagnosticSeverity> = {
  error: DiagnosticSeverity.Error,
  warning: DiagnosticSeverity.Warning,
  information: DiagnosticSeverity.Information,
  hint: DiagnosticSeverity.Hint,
};

/** A cheap fingerprint of a text (length and 32-bit FNV-1a of its UTF-16 code units). */
export function textHash(text: string): string {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return `${text.length}:${(h >>> 0).toString(16)}`;
}

// LSP wants an absolute URI in codeDescription.href; a bare relative path would be misread as a file.
const ABSOLUTE_URI = /^[a-z][a-z0-9+.-]*:/i;

export function toLspDiagnostic(d: LintDiagnostic, hash: string): Diagnostic {
  const out: Diagnostic = {
    range: d.range,
    severity: SEVERITY[d.severity],
    code: d.code,
    source: SOURCE,
    message: d.message,
  };
  if (d.docUrl && ABSOLUTE_URI.test(d.docUrl)) out.codeDescription = { href: d.docUrl };
  if (d.code === 'schema/deprecated-key') out.tags = [DiagnosticTag.Deprecated];
  // A key dask-jobqueue ignores (a warning, not an error) is shown faded, as unused code is.
  if (d.code === 'schema/unknown-key' && d.severity === 'warning') out.tags = [DiagnosticTag.Unnecessary];
  if (d.fixes?.length) out.data = { textHash: hash, fixes: d.fixes } satisfies FixData;
  return out;
}

/** The diagnostics for a config's text; rule links point under `docBase` (the URL of docs/rules.md). */
export function diagnostics(text: string, docBase?: string): Diagnostic[] {
  const result = lint(text, docBase);
  const hash = result.diagnostics.some((d) => d.fixes?.length) ? textHash(text) : '';
  return result.diagnostics.map((d) => toLspDiagnostic(d, hash));
}

/**
 * Where docs/rules.md is published, from package.json's `repository` (a string or `{url}`, with or without
 * `git+` and `.git`): `<repository>/blob/main/docs/rules.md`. Undefined when it is not a web URL.
 */
export function docBaseFromRepository(repository: unknown): string | undefined {
  const raw = typeof repository === 'string'
    ? repository
    : repository && typeof repository === 'object' && typeof (repository as { url?: unknown }).url === 'string'
      ? (repository as { url: string }).url
      : undefined;
  if (!raw) return undefined;
  const url = raw.trim().replace(/^git\+/, '').replace(/\.git$/, '').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/\s]+\/\S+$/.test(url)) return undefined;
  return `${url}/blob/main/docs/rules.md`;
}
