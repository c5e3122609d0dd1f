// What qsub's answers mean to the user: PBS's job id pattern, and qsub's refusals as errors that say what to fix.
// Submitting and cancelling are the agent's (runtime/gadi_dask/op_pbs.py): it journals every qsub and qdel.

/** PBS job ids as qsub prints them: `12345678.gadi-pbs`, `6[].gadi-pbs`, `6[2].gadi-pbs`. */
export const JOB_ID = /^\d+(\[\d*\])?(\.[A-Za-z0-9][A-Za-z0-9._-]*)?$/;

/** qdel's exit status is the PBS error number modulo 256: PBSE_UNKJOBID 15001 → 153, PBSE_HISTJOBID 15139 → 35. */
export const QDEL_EXIT = { unknownJob: 153, finished: 35 } as const;

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

/** The error for a qsub that exited `code` (NaN when unreadable) with this output. */
export function qsubError(code: number, stdout: string, stderr: string): QsubError {
  if (code === 32 && !stderr.trim()) return new QsubQueueLimitError(stderr, stdout);
  if (code === 0) return new QsubError(`qsub exited 0 but printed no job id: ${JSON.stringify(stdout.slice(0, 200))}`, 0, stderr, stdout);
  const said = stderr.trim() || stdout.trim() || 'no message';
  const hint = QSUB_HINTS.find((h) => h.pattern.test(said))?.hint;
  const status = Number.isNaN(code) ? 'an unreadable status' : `exit status ${code}`;
  return new QsubError(`qsub failed with ${status}: ${said}${hint ? ` ${hint}` : ''}`, Number.isNaN(code) ? undefined : code, stderr, stdout);
}
