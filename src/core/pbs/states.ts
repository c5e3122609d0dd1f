// PBS Pro job states and exit statuses: the one table the tree, the lifecycle and the CLI read, so a letter means
// the same thing everywhere. Meanings follow the PBS Pro reference for `job_state` and the server's exit codes.

/**
 * pending: waiting to run (counts towards the cluster's size: it will start by itself).
 * running: holds or is about to release resources on a node.
 * finished: gone from the queue; only `qstat -x` shows it.
 * unknown: a letter this table does not know; treated as still present so nobody submits a replacement for it.
 */
export type PbsPhase = 'pending' | 'running' | 'finished' | 'unknown';

export interface PbsStateInfo {
  /** The letter as qstat prints it in `job_state`. */
  readonly code: string;
  /** One or two words for a tree label or a table. */
  readonly label: string;
  /** A sentence for a tooltip. */
  readonly meaning: string;
  readonly phase: PbsPhase;
  /** Still in the queue (not finished): counts when deciding how many jobs to submit or cancel. */
  readonly active: boolean;
  readonly finished: boolean;
}

function state(code: string, label: string, phase: PbsPhase, meaning: string): PbsStateInfo {
  return Object.freeze({ code, label, meaning, phase, active: phase !== 'finished', finished: phase === 'finished' });
}

export const PBS_STATES = Object.freeze({
  Q: state('Q', 'Queued', 'pending', 'Queued: eligible to run, waiting for the scheduler to find resources.'),
  H: state('H', 'Held', 'pending', 'Held: will not run until the hold is released (by the user, an operator, or a dependency).'),
  W: state('W', 'Waiting', 'pending', 'Waiting for its requested start time (qsub -a) or for a failed start to be retried.'),
  T: state('T', 'Moving', 'pending', 'In transit: being moved to a new queue or server.'),
  R: state('R', 'Running', 'running', 'Running.'),
  B: state('B', 'Array running', 'running', 'Array job: at least one of its sub-jobs has started.'),
  E: state('E', 'Exiting', 'running', 'Exiting after having run: output files are being staged out.'),
  S: state('S', 'Suspended', 'running', 'Suspended by the server or an operator; keeps its place on the node.'),
  U: state('U', 'Suspended (busy)', 'running', 'Cycle-harvesting job suspended because the workstation became busy.'),
  F: state('F', 'Finished', 'finished', 'Finished: completed, failed or deleted (shown by qstat -x).'),
  X: state('X', 'Sub-job done', 'finished', 'Array sub-job finished or deleted.'),
  M: state('M', 'Moved', 'finished', 'Moved to another server; no longer managed here.'),
} satisfies Record<string, PbsStateInfo>);

export type PbsStateCode = keyof typeof PBS_STATES;

const unknownStates = new Map<string, PbsStateInfo>();

/** The table entry for a `job_state` letter; an unknown letter gets an 'unknown' entry instead of an exception. */
export function pbsState(code: string): PbsStateInfo {
  if (Object.hasOwn(PBS_STATES, code)) return PBS_STATES[code as PbsStateCode];
  let info = unknownStates.get(code);
  if (!info) {
    info = state(code, `State ${code}`, 'unknown', `PBS state '${code}', which this extension does not know.`);
    unknownStates.set(code, info);
  }
  return info;
}

// Negative exit statuses are set by PBS itself (JOB_EXEC_* in the server's sources), not by the job script.
const PBS_EXIT_STATUSES: Readonly<Record<number, string>> = Object.freeze({
  [-1]: 'PBS could not start the job (failed before its files were set up); it will not be retried',
  [-2]: 'PBS could not start the job (failed after its files were set up); it will not be retried',
  [-3]: 'PBS could not start the job and will retry it',
  [-4]: 'the job was aborted while PBS was starting it on the node',
  [-10]: 'PBS could not start the job: invalid user or group on the compute node',
  [-24]: 'killed by PBS: CPU usage burst above the requested ncpus',
  [-25]: 'killed by PBS: CPU usage above the requested ncpus',
  [-26]: 'killed by PBS: virtual memory above the requested vmem',
  [-27]: 'killed by PBS: memory above the requested mem',
  [-28]: 'killed by PBS: CPU time above the requested cput',
  [-29]: 'killed by PBS: walltime exceeded',
});

const SIGNALS: Readonly<Record<number, string>> = Object.freeze({
  1: 'SIGHUP', 2: 'SIGINT', 6: 'SIGABRT', 9: 'SIGKILL', 11: 'SIGSEGV', 15: 'SIGTERM',
});

const SIGTERM = 15;

/**
 * What a job deleted with qdel ends with: its script's shell ended by SIGTERM (128 + 15), PBS's record of the signal
 * (256 + 15, real PBS), or 0 when the program under it left cleanly on the signal (a retired Dask worker does).
 */
export const QDEL_EXIT_STATUSES: readonly number[] = Object.freeze([0, 128 + SIGTERM, 256 + SIGTERM]);

function signalEnd(signal: number): string {
  return `${SIGNALS[signal] ?? `signal ${signal}`}${signal === SIGTERM ? ': deleted (qdel) or stopped by PBS' : ''}`;
}

/**
 * A sentence for `Exit_status`: 0 ok, 1–128 the script's own code, 129–192 its shell ended by a signal (128 + it),
 * ≥ 256 killed by signal (status − 256), < 0 PBS.
 */
export function describeExitStatus(status: number): string {
  if (status === 0) return 'finished normally (exit status 0)';
  if (status < 0) return `${PBS_EXIT_STATUSES[status] ?? 'PBS ended the job'} (exit status ${status})`;
  if (status >= 256) return `killed by ${signalEnd(status - 256)} (exit status ${status})`;
  if (status > 128 && status <= 128 + 64) return `the job script ended on ${signalEnd(status - 128)} (exit status ${status})`;
  return `the job script exited with status ${status}`;
}
