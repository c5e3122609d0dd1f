// Submitting and cancelling jobs in one remote round trip. buildSubmitCommand turns N job scripts into one shell
// command (bash or sh) that pipes each script to `qsub` on stdin and prints every job's stdout, stderr and exit status
// between lines carrying a marker unique to this call; parseSubmitOutput reads them back. Login shells print
// banners before and after, and output can be cut short: anything outside the markers is ignored, and a missing
// result is an error that still carries the results that did arrive (so no submitted job id is lost).
// Cancelling works the same way with one `qdel` per id, so each id gets its own outcome.
import { randomBytes } from 'node:crypto';
import { shellQuote } from '../remote/shellQuote';

/** PBS job ids as qsub prints them: `12345678.gadi-pbs`, `6[].gadi-pbs`, `6[2].gadi-pbs`. */
export const JOB_ID = /^\d+(\[\d*\])?(\.[A-Za-z0-9][A-Za-z0-9._-]*)?$/;

export type DependType = 'after' | 'afterok' | 'afternotok' | 'afterany';

export interface SubmitJob {
  /** The job script, piped to qsub's standard input byte for byte. */
  script: string;
  /** More qsub arguments, each one word (e.g. ['-N', 'name', '-v', 'VAR=value']); they come after the script's directives. */
  qsubArgs?: readonly string[];
  /**
   * `-W depend=<type>:<ids>` on the qsub command line (the script stays equal to PBSCluster's). A number refers to
   * an earlier job of the same batch, whose id is known only on the cluster; if that job was not submitted, this one
   * is not either.
   */
  dependsOn?: { type?: DependType; on: ReadonlyArray<number | string> };
}

export interface SubmitOptions {
  /** Directories to create first (`mkdir -p`), as PBSCluster creates its log-directory before submitting. */
  mkdirs?: readonly string[];
  /** For tests: the marker to use instead of a random one. */
  marker?: string;
}

export interface SubmitPlan {
  command: string;
  marker: string;
  count: number;
  /** For each job, the indexes of the batch's jobs it depends on. */
  dependencies: readonly (readonly number[])[];
}

export type SubmitResult =
  | { index: number; ok: true; jobId: string; /** Warnings qsub printed on success. */ stderr: string }
  | { index: number; ok: false; error: QsubError };

export interface SubmitOutcome {
  results: SubmitResult[];
  /** Problems that did not stop the submission, such as a log directory that could not be created. */
  warnings: string[];
}

/** The remote output could not be read: no start marker (the command never ran) or results missing (cut short). */
export class PbsOutputError extends Error {
  override readonly name = 'PbsOutputError';
  constructor(message: string, readonly excerpt: string, readonly partial: readonly SubmitResult[] | readonly CancelResult[] = []) {
    super(message);
  }
}

/** qsub did not return a job id. */
export class QsubError extends Error {
  override readonly name: string = 'QsubError';
  constructor(
    message: string,
    /** undefined when qsub was not run (a dependency was not submitted). */
    readonly exitCode: number | undefined,
    readonly stderr: string,
    readonly stdout = '',
  ) {
    super(message);
  }
}

/** Gadi's qsub exits 32 without a word when a request breaks a queue limit. */
export class QsubQueueLimitError extends QsubError {
  override readonly name = 'QsubQueueLimitError';
  constructor(stderr: string, stdout = '') {
    super(
      'qsub refused the job with exit status 32 and no message. On Gadi this means the request breaks a limit of the ' +
      'queue: more cores or memory per node than the queue has, a walltime longer than the queue allows for this many ' +
      'cores, or more than one node without whole nodes. Run the linter on the cluster config (gadi-dask lint ' +
      '--config FILE) to see which limit, and fix it there.',
      32, stderr, stdout,
    );
  }
}

// Hints for qsub messages whose fix is in the cluster config.
const QSUB_HINTS: ReadonlyArray<{ pattern: RegExp; hint: string }> = [
  {
    pattern: /cannot be used with "select" or "place"/,
    hint: 'The script asks for both a select line and -l ncpus/mem: add "select" to job-directives-skip.',
  },
  {
    pattern: /Job exceeds queue resource limits|exceed.*queue.*limit/i,
    hint: 'The request is larger than the queue allows: run the linter on the cluster config to see which limit.',
  },
];

export function newMarker(): string {
  return `GADI-DASK-${randomBytes(8).toString('hex')}`;
}

function markerLine(marker: string, tag: string): string {
  return `printf '\\n%s\\n' ${shellQuote(`${marker}:${tag}`)}`;
}

function dependArgs(dep: SubmitJob['dependsOn'], index: number): { args: string[]; vars: number[] } {
  if (!dep || dep.on.length === 0) return { args: [], vars: [] };
  const vars: number[] = [];
  const parts = dep.on.map((d) => {
    if (typeof d === 'number') {
      if (!Number.isInteger(d) || d < 0 || d >= index) {
        throw new RangeError(`job ${index} can only depend on an earlier job of the batch, not on ${d}`);
      }
      vars.push(d);
      return `"$gd_j${d}"`; // double quotes: array ids contain [ ], which an unquoted word would glob
    }
    if (!JOB_ID.test(d)) throw new RangeError(`'${d}' is not a PBS job id`);
    return shellQuote(d);
  });
  return { args: ['-W', `${shellQuote(`depend=${dep.type ?? 'after'}`)}:${parts.join(':')}`], vars };
}

/**
 * One shell command submitting every job, in order. Job i's id is kept in $gd_j<i> for the jobs that depend on it.
 * Output per job: `<marker>:job:<i>:stdout`, its stdout, `…:stderr`, its stderr, `…:rc:<exit status>` (or
 * `rc:skipped`), all after `<marker>:begin` and before `<marker>:end`.
 */
export function buildSubmitCommand(jobs: readonly SubmitJob[], options: SubmitOptions = {}): SubmitPlan {
  const marker = options.marker ?? newMarker();
  const lines: string[] = [
    // Without a temporary directory qsub's stderr is lost, not the submission.
    'gd_t=$(mktemp -d 2>/dev/null) || gd_t=',
    'gd_e=${gd_t:+$gd_t/stderr}; gd_e=${gd_e:-/dev/null}',
    markerLine(marker, 'begin'),
  ];
  if (options.mkdirs?.length) {
    lines.push(
      `mkdir -p ${options.mkdirs.map(shellQuote).join(' ')} 2>"$gd_e" || { ${markerLine(marker, 'warn')}; cat "$gd_e"; }`,
    );
  }
  const dependencies: number[][] = [];
  jobs.forEach((job, i) => {
    const { args: depend, vars } = dependArgs(job.dependsOn, i);
    dependencies.push(vars);
    const qsub = ['qsub', ...depend, ...(job.qsubArgs ?? []).map(shellQuote)].join(' ');
    const submit = `gd_j${i}=$(printf '%s' ${shellQuote(job.script)} | ${qsub} 2>"$gd_e"); gd_r=$?`;
    const report = [
      markerLine(marker, `job:${i}:stdout`),
      `printf '%s' "$gd_j${i}"`,
      markerLine(marker, `job:${i}:stderr`),
      'cat "$gd_e"',
      `printf '\\n%s\\n' ${shellQuote(`${marker}:job:${i}:rc:`)}"$gd_r"`,
      `[ "$gd_r" -eq 0 ] || gd_j${i}=`,
    ].join('; ');
    const guard = vars.map((v) => `[ -n "$gd_j${v}" ]`).join(' && ');
    const body = `${submit}; ${report}`;
    lines.push(guard
      ? `if ${guard}; then ${body}; else gd_j${i}=; ${markerLine(marker, `job:${i}:rc:skipped`)}; fi`
      : body);
  });
  lines.push(markerLine(marker, 'end'), '[ -z "$gd_t" ] || rm -rf "$gd_t"');
  return { command: lines.join('\n'), marker, count: jobs.length, dependencies };
}

interface Section {
  tag: string;
  text: string[];
}

// Splits stdout into the sections between marker lines, ignoring anything before `begin` and after `end`.
function sections(stdout: string, marker: string): { found: boolean; ended: boolean; parts: Section[] } {
  const prefix = `${marker}:`;
  const parts: Section[] = [];
  let found = false;
  let ended = false;
  let current: Section | undefined;
  for (const raw of stdout.split('\n')) {
    const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (line.startsWith(prefix)) {
      const tag = line.slice(prefix.length);
      if (tag === 'begin') {
        found = true;
        parts.length = 0;
        current = undefined;
        continue;
      }
      if (!found) continue;
      if (tag === 'end') {
        ended = true;
        break;
      }
      current = { tag, text: [] };
      parts.push(current);
    } else if (current) {
      current.text.push(line);
    }
  }
  return { found, ended, parts };
}

// A section's text without the blank lines our leading/trailing newlines add.
function body(section: Section | undefined): string {
  return (section?.text ?? []).join('\n').replace(/^\n+|\n+$/g, '');
}

function excerptOf(stdout: string): string {
  const t = stdout.trim();
  return JSON.stringify(t.length > 160 ? `${t.slice(0, 80)} … ${t.slice(-80)}` : t);
}

/** Reads back the output of buildSubmitCommand's command. Throws PbsOutputError when results are missing. */
export function parseSubmitOutput(stdout: string, plan: SubmitPlan): SubmitOutcome {
  const { found, parts } = sections(stdout, plan.marker);
  if (!found) {
    throw new PbsOutputError(
      `The submit command printed none of its markers, so it did not run (a login shell error?); output: ${excerptOf(stdout)}`,
      excerptOf(stdout));
  }
  const warnings: string[] = [];
  const byJob = new Map<number, { stdout?: Section; stderr?: Section; rc?: string }>();
  for (const part of parts) {
    if (part.tag === 'warn') {
      warnings.push(`Could not create a directory before submitting: ${body(part) || 'mkdir failed'}`);
      continue;
    }
    const m = /^job:(\d+):(stdout|stderr|rc:(.*))$/.exec(part.tag);
    if (!m) continue;
    const entry = byJob.get(Number(m[1])) ?? {};
    if (m[2] === 'stdout') entry.stdout = part;
    else if (m[2] === 'stderr') entry.stderr = part;
    else entry.rc = m[3];
    byJob.set(Number(m[1]), entry);
  }
  const results: SubmitResult[] = [];
  for (let index = 0; index < plan.count; index++) {
    const entry = byJob.get(index);
    if (entry?.rc === undefined) {
      throw new PbsOutputError(
        `The submit output ends before the result of job ${index + 1} of ${plan.count} (cut short?); ` +
        `${results.length} result(s) were read. Output: ${excerptOf(stdout)}`,
        excerptOf(stdout), results);
    }
    results.push(submitResult(index, entry.rc, body(entry.stdout), body(entry.stderr), plan.dependencies[index] ?? []));
  }
  return { results, warnings };
}

function submitResult(index: number, rc: string, out: string, err: string, dependencies: readonly number[]): SubmitResult {
  if (rc === 'skipped') {
    const which = dependencies.map((d) => d + 1).join(', ') || '?';
    return {
      index, ok: false,
      error: new QsubError(`Not submitted: it depends on job ${which} of this batch, which was not submitted.`, undefined, ''),
    };
  }
  const code = /^\d+$/.test(rc) ? Number(rc) : NaN;
  const jobId = out.split('\n').map((l) => l.trim()).find((l) => JOB_ID.test(l));
  if (code === 0 && jobId) return { index, ok: true, jobId, stderr: err };
  return { index, ok: false, error: qsubError(code, out, err) };
}

/** The error for a qsub that exited `code` (NaN when unreadable) with this output. */
export function qsubError(code: number, stdout: string, stderr: string): QsubError {
  if (code === 32 && !stderr.trim()) return new QsubQueueLimitError(stderr, stdout);
  if (code === 0) return new QsubError(`qsub exited 0 but printed no job id: ${JSON.stringify(stdout.slice(0, 200))}`, 0, stderr, stdout);
  const said = stderr.trim() || stdout.trim() || 'no message';
  const hint = QSUB_HINTS.find((h) => h.pattern.test(said))?.hint;
  const status = Number.isNaN(code) ? 'an unreadable status' : `exit status ${code}`;
  return new QsubError(`qsub failed with ${status}: ${said}${hint ? ` ${hint}` : ''}`, Number.isNaN(code) ? undefined : code, stderr, stdout);
}

// ---- qdel -------------------------------------------------------------------------------------------------------

/** ok: deleted (or deletion started); unknown: no such job (qdel 153); finished: already finished (qdel 35). */
export type CancelOutcome = 'ok' | 'unknown' | 'finished' | 'error';

export interface CancelResult {
  jobId: string;
  outcome: CancelOutcome;
  exitCode: number | undefined;
  /** What qdel printed (it prints nothing on success). */
  message: string;
}

export interface CancelPlan {
  command: string;
  marker: string;
  jobIds: readonly string[];
}

// qdel's exit status is the PBS error number modulo 256: PBSE_UNKJOBID 15001 → 153, PBSE_HISTJOBID 15139 → 35.
const QDEL_OUTCOMES: Readonly<Record<number, CancelOutcome>> = { 0: 'ok', 153: 'unknown', 35: 'finished' };

export function buildCancelCommand(jobIds: readonly string[], options: { force?: boolean; marker?: string } = {}): CancelPlan {
  for (const id of jobIds) if (!JOB_ID.test(id)) throw new RangeError(`'${id}' is not a PBS job id`);
  const marker = options.marker ?? newMarker();
  const qdel = options.force ? 'qdel -W force' : 'qdel';
  const lines = [markerLine(marker, 'begin')];
  jobIds.forEach((id, i) => {
    lines.push([
      markerLine(marker, `del:${i}:out`),
      `${qdel} ${shellQuote(id)} 2>&1; gd_r=$?`,
      `printf '\\n%s\\n' ${shellQuote(`${marker}:del:${i}:rc:`)}"$gd_r"`,
    ].join('; '));
  });
  lines.push(markerLine(marker, 'end'));
  return { command: lines.join('\n'), marker, jobIds };
}

export function parseCancelOutput(stdout: string, plan: CancelPlan): CancelResult[] {
  const { found, parts } = sections(stdout, plan.marker);
  if (!found) {
    throw new PbsOutputError(
      `The cancel command printed none of its markers, so it did not run (a login shell error?); output: ${excerptOf(stdout)}`,
      excerptOf(stdout));
  }
  const out = new Map<number, Section>();
  const rc = new Map<number, string>();
  for (const part of parts) {
    const m = /^del:(\d+):(out|rc:(.*))$/.exec(part.tag);
    if (!m) continue;
    if (m[2] === 'out') out.set(Number(m[1]), part);
    else rc.set(Number(m[1]), m[3]);
  }
  const results: CancelResult[] = [];
  plan.jobIds.forEach((jobId, i) => {
    const status = rc.get(i);
    if (status === undefined) {
      throw new PbsOutputError(
        `The cancel output ends before the result for ${jobId} (${i + 1} of ${plan.jobIds.length}; cut short?). Output: ${excerptOf(stdout)}`,
        excerptOf(stdout), results);
    }
    results.push(cancelResult(jobId, /^\d+$/.test(status) ? Number(status) : NaN, body(out.get(i))));
  });
  return results;
}

function cancelResult(jobId: string, code: number, message: string): CancelResult {
  let outcome: CancelOutcome = QDEL_OUTCOMES[code] ?? 'error';
  // Some PBS versions exit with another status but say the same thing.
  if (outcome === 'error' && /Unknown Job Id/i.test(message)) outcome = 'unknown';
  if (outcome === 'error' && /Job has finished/i.test(message)) outcome = 'finished';
  return { jobId, outcome, exitCode: Number.isNaN(code) ? undefined : code, message };
}
