// Nothing is submitted from a config the linter finds an error in: `up`, `scale` and `adapt` (CLI and editor)
// check the file's text first. The schema alone passes configs PBS would misread (a newline in `queue` drops every
// later directive and the job runs without its walltime); the linter's rules catch those. Warnings do not block.
import { ConfigFileError } from './cluster/errors';
import { lintText, type LintDiagnostic } from './config';

/** Diagnostics shown at most in one refusal; the rest are counted (`gadi-dask lint` lists them all). */
const MAX_LISTED = 10;

export class LintGateError extends ConfigFileError {
  constructor(
    readonly file: string,
    readonly errors: readonly LintDiagnostic[],
  ) {
    const listed = errors.slice(0, MAX_LISTED).map((d) => lintLocation(file, d));
    const more = errors.length > MAX_LISTED ? [`… and ${errors.length - MAX_LISTED} more`] : [];
    super(
      `${file} has ${errors.length === 1 ? 'an error' : `${errors.length} errors`}, so nothing was submitted:\n${[...listed, ...more].join('\n')}`,
      file,
    );
  }
}

/** `file:line:col message`, 1-based, on one line. */
export function lintLocation(file: string, d: LintDiagnostic): string {
  return `${file}:${d.range.start.line + 1}:${d.range.start.character + 1} ${d.message.replace(/\s*\n\s*/g, ' ')}`;
}

/** Throws LintGateError when the config's text has lint errors. */
export function checkBeforeSubmit(text: string, file: string): void {
  const body = text.startsWith('\uFEFF') ? text.slice(1) : text;
  const errors = lintText(body).diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new LintGateError(file, errors);
}
