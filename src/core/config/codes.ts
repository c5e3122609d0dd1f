// Every diagnostic code the linter reports, with its default severity and a one-line summary. Codes are stable:
// editors and users may filter on them. docs/rules.md has one section per code (a test keeps the two in step).

export type Severity = 'error' | 'warning' | 'information' | 'hint';

export interface RuleInfo {
  severity: Severity;
  /** yaml and schema: any file; pbs and dask: every site; gadi: only when the site is Gadi. */
  scope: 'yaml' | 'schema' | 'pbs' | 'dask' | 'gadi';
  summary: string;
}

export const RULES = {
  'yaml/syntax': { severity: 'error', scope: 'yaml', summary: 'The file is not valid YAML.' },
  'yaml/duplicate-key': { severity: 'error', scope: 'yaml', summary: 'A key appears twice in one mapping.' },
  'yaml/too-large': { severity: 'error', scope: 'yaml', summary: 'The file is too large to lint.' },
  'schema/invalid-type': { severity: 'error', scope: 'schema', summary: 'A value has the wrong type.' },
  'schema/invalid-value': { severity: 'error', scope: 'schema', summary: 'A value has the right type but is not allowed.' },
  'schema/missing-key': { severity: 'error', scope: 'schema', summary: 'A required key is missing.' },
  'schema/unknown-key': { severity: 'error', scope: 'schema', summary: 'A key the section does not know (often a typo); in jobqueue.pbs a warning, as dask-jobqueue ignores it.' },
  'schema/deprecated-key': { severity: 'warning', scope: 'schema', summary: 'A key dask-jobqueue has renamed.' },
  'schema/control-character': { severity: 'error', scope: 'schema', summary: 'A newline (but in prologue and epilogue lines), CR, NUL, ESC or other control character in a value.' },
  'dask/value-type': { severity: 'error', scope: 'dask', summary: 'A value dask-jobqueue would fail on or print into a broken job script.' },
  'dask/key-spelling': { severity: 'error', scope: 'dask', summary: 'One key written both with `_` and with `-`.' },
  'pbs/job-name': { severity: 'error', scope: 'pbs', summary: 'A job name (`#PBS -N`) qsub rejects.' },
  'pbs/directive-syntax': { severity: 'error', scope: 'pbs', summary: 'A directive qsub cannot read.' },
  'pbs/select-mixed': { severity: 'error', scope: 'pbs', summary: '`select` mixed with job-wide `-l ncpus`/`-l mem`.' },
  'pbs/ncpus-mismatch': { severity: 'error', scope: 'pbs', summary: '`cores` and the cores PBS allocates disagree.' },
  'pbs/mem-mismatch': { severity: 'error', scope: 'pbs', summary: '`memory` and the memory PBS allocates disagree.' },
  'dask/processes-divide-cores': { severity: 'error', scope: 'dask', summary: '`processes` does not divide `cores`.' },
  'dask/worker-memory': { severity: 'warning', scope: 'dask', summary: 'Each worker process gets less than 1 GiB.' },
  'dask/tls-off': { severity: 'warning', scope: 'dask', summary: '`scheduler.tls: false`: anyone on the cluster network can connect and run code as you.' },
  'dask/tls-protocol': { severity: 'error', scope: 'dask', summary: '`scheduler-options.protocol` is not TLS while the cluster speaks TLS.' },
  'gadi/account-directive': { severity: 'error', scope: 'gadi', summary: '`account` / `-A` used: Gadi wants `-P <project>`.' },
  'gadi/select-directive': { severity: 'error', scope: 'gadi', summary: 'A `select=` request, which Gadi rejects.' },
  'gadi/project-directive': { severity: 'error', scope: 'gadi', summary: 'No `-P <project>`.' },
  'gadi/project-format': { severity: 'warning', scope: 'gadi', summary: 'The `-P` value does not look like a project code.' },
  'gadi/queue-missing': { severity: 'warning', scope: 'gadi', summary: 'No queue: Gadi uses normal.' },
  'gadi/unknown-queue': { severity: 'error', scope: 'gadi', summary: 'Not one of Gadi\'s queues.' },
  'gadi/cores-per-node': { severity: 'error', scope: 'gadi', summary: 'More cores than a node has, but not whole nodes.' },
  'gadi/multi-node': { severity: 'warning', scope: 'gadi', summary: 'A job spans several nodes, but Dask uses only the first.' },
  'gadi/queue-max-cores': { severity: 'error', scope: 'gadi', summary: 'More cores than the queue allows in one job.' },
  'gadi/memory-per-node': { severity: 'error', scope: 'gadi', summary: 'More memory than the job\'s nodes have.' },
  'gadi/walltime-limit': { severity: 'error', scope: 'gadi', summary: 'Walltime above the queue\'s limit for that many cores.' },
  'gadi/gpus': { severity: 'error', scope: 'gadi', summary: 'GPU request does not match the queue.' },
  'gadi/storage': { severity: 'error', scope: 'gadi', summary: 'A /g/data or /scratch path without its `-l storage=` entry.' },
  'gadi/jobfs': { severity: 'warning', scope: 'gadi', summary: '`local-directory` on jobfs without `-l jobfs=`.' },
  'gadi/interface': { severity: 'warning', scope: 'gadi', summary: 'Workers not on the InfiniBand interface `ib0`.' },
  'gadi/login-scheduler': { severity: 'warning', scope: 'gadi', summary: 'A scheduler or kernel on the login node for over 30 minutes.' },
  'gadi/scheduler-placement': { severity: 'information', scope: 'gadi', summary: 'Which placement fits which length of work: a scheduler job ends at its walltime; a persistent session has none.' },
} as const satisfies Record<string, RuleInfo>;

export type RuleCode = keyof typeof RULES;

/** Where docs/rules.md's section for a code is: `gadi/project-directive` → `gadi-project-directive`. */
export function ruleAnchor(code: string): string {
  return code.replace(/[^a-z0-9]+/gi, '-').toLowerCase();
}

/** The page documenting the rules, relative to the extension's root (the language server makes it absolute). */
export const RULES_DOC_PATH = 'docs/rules.md';

export function ruleDocUrl(code: string, base: string = RULES_DOC_PATH): string {
  return `${base}#${ruleAnchor(code)}`;
}
