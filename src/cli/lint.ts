// `gadi-dask lint [--format text|json] FILE...`: lint cluster config files and print their diagnostics, 1-based.
// Exit 0 when no file has an error, 1 when any has, 2 when a file cannot be read or the command line is wrong.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { lintText, type Severity } from '../core/config';

export interface LintIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readFile(path: string): string;
}

/** One diagnostic as the CLI prints it: lines and columns count from 1; the end is exclusive. */
export interface LintRow {
  file: string;
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
  severity: Severity;
  code: string;
  message: string;
}

export const LINT_USAGE = `Usage: gadi-dask lint [--format text|json] FILE...

Checks *.dask-cluster.yaml files: YAML, the schema, PBS directives and, for Gadi, its queue limits and rules.
  --format text   file:line:col severity code message (default)
  --format json   an array of {file, line, column, endLine, endColumn, severity, code, message}
Exit status: 0 no errors, 1 errors found, 2 a file could not be read or the usage is wrong.
`;

const processIo: LintIo = {
  stdout: (t) => void process.stdout.write(t),
  stderr: (t) => void process.stderr.write(t),
  readFile: (p) => readFileSync(p, 'utf8'),
};

function readError(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  const reasons: Record<string, string> = {
    ENOENT: 'no such file', EISDIR: 'it is a directory', EACCES: 'permission denied', EPERM: 'permission denied',
  };
  return (code && reasons[code]) ?? (e as Error).message;
}

export function runLint(args: string[], io: LintIo = processIo): number {
  let values: { format?: string; help?: boolean };
  let files: string[];
  try {
    const parsed = parseArgs({
      args, allowPositionals: true, strict: true,
      options: { format: { type: 'string', short: 'f', default: 'text' }, help: { type: 'boolean', short: 'h' } },
    });
    values = parsed.values;
    files = parsed.positionals;
  } catch (e) {
    io.stderr(`gadi-dask lint: ${(e as Error).message}\n\n${LINT_USAGE}`);
    return 2;
  }
  if (values.help) {
    io.stdout(LINT_USAGE);
    return 0;
  }
  if (values.format !== 'text' && values.format !== 'json') {
    io.stderr(`gadi-dask lint: --format must be text or json, not '${values.format}'\n`);
    return 2;
  }
  if (!files.length) {
    io.stderr(`gadi-dask lint: no files given\n\n${LINT_USAGE}`);
    return 2;
  }
  const rows: LintRow[] = [];
  let unreadable = false;
  for (const file of files) {
    let text: string;
    try {
      text = io.readFile(file);
    } catch (e) {
      io.stderr(`gadi-dask lint: cannot read ${file}: ${readError(e)}\n`);
      unreadable = true;
      continue;
    }
    // Editors hide a byte-order mark; columns on the first line should match what they show.
    if (text.startsWith('\uFEFF')) text = text.slice(1);
    for (const d of lintText(text).diagnostics) {
      rows.push({
        file, line: d.range.start.line + 1, column: d.range.start.character + 1,
        endLine: d.range.end.line + 1, endColumn: d.range.end.character + 1,
        severity: d.severity, code: d.code, message: d.message.replace(/\s*\n\s*/g, ' '),
      });
    }
  }
  if (values.format === 'json') {
    io.stdout(`${JSON.stringify(rows, null, 2)}\n`);
  } else {
    io.stdout(rows.map((r) => `${r.file}:${r.line}:${r.column} ${r.severity} ${r.code} ${r.message}\n`).join(''));
  }
  if (unreadable) return 2;
  return rows.some((r) => r.severity === 'error') ? 1 : 0;
}
