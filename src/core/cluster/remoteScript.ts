// The remote scripts of the lifecycle, one per user action, each run as ONE Transport.exec. A script is the
// variable assignments (every value shell-quoted), the constant function library (remoteLib.ts), and a constant
// body picked by what the action needs. Decisions that depend on the queue's state right now (how many jobs to
// submit, which to cancel) are taken on the cluster, under the cluster's lock, from one qstat: so a scale to N jobs
// is one round trip for any N, and two clients scaling the same cluster do not both submit.
import { newMarker } from '../pbs/submit';
import { shellQuote } from '../remote/shellQuote';
import { assertClusterName, REMOTE_ROOT, runtimeDir, shellPath } from './names';
import { REMOTE_LIB } from './remoteLib';

export interface ScriptContext {
  cluster: string;
  /** Runtime version and hash expected on the cluster. */
  version: string;
  hash: string;
  /** The python as a shell word (schedulerJob.pythonWord). */
  pythonWord: string;
  /** job-script-prologue lines, run before python (module load, venv activation). */
  prologue: readonly string[];
  /** Who takes the lock, for another client's error message. */
  client: string;
  lockWaitSeconds: number;
  /** How long the lock may be held before others may break it (the exec's own deadline). */
  lockTtlSeconds: number;
  /** For tests: a fixed marker. */
  marker?: string;
}

export interface RemoteScript {
  command: string;
  marker: string;
}

function assign(name: string, value: string): string {
  return `${name}=${shellQuote(value)}`;
}

function header(ctx: ScriptContext, marker: string, extra: string[] = []): string {
  assertClusterName(ctx.cluster);
  const int = (n: number) => String(Math.max(0, Math.ceil(n)));
  return [
    assign('gd_m', marker),
    assign('gd_name', ctx.cluster),
    `gd_c=${shellPath(`${REMOTE_ROOT}/clusters/${ctx.cluster}`)}`,
    `gd_rt=${shellPath(runtimeDir(ctx.version))}`,
    assign('gd_hash', ctx.hash),
    `gd_py=${ctx.pythonWord}`,
    assign('gd_prologue', ctx.prologue.filter(Boolean).join('\n')),
    assign('gd_client', ctx.client.replace(/\s+/g, ' ')),
    `gd_lock_wait=${int(ctx.lockWaitSeconds)}`,
    `gd_lock_ttl=${int(ctx.lockTtlSeconds)}`,
    ...extra,
    REMOTE_LIB,
    'gd_mark begin',
  ].join('\n');
}

const END = 'gd_mark end\nexit 0';

export interface ApplyPlan {
  /** The worker job script (written to worker.pbs: scale submits it, adaptivity too). */
  workerScript: string;
  /** Start the scheduler when none runs: in a PBS job, or detached on the login node. */
  ensureScheduler?: { placement: 'job'; script: string } | { placement: 'login'; args: readonly string[] };
  /** Reach this many worker jobs. Turns adaptivity off first. */
  scaleTo?: number;
  /** Turn adaptivity on (adapt.json up to its "jobs" list) or off. */
  adapt?: { jsonHead: string } | 'off';
}

/** Everything that changes the cluster, in one script under the cluster's lock. */
export function applyScript(ctx: ScriptContext, plan: ApplyPlan): RemoteScript {
  const marker = ctx.marker ?? newMarker();
  const vars: string[] = [assign('gd_worker_script', plan.workerScript)];
  const ensure = plan.ensureScheduler;
  if (ensure?.placement === 'job') vars.push(assign('gd_scheduler_script', ensure.script));
  if (ensure?.placement === 'login') vars.push(`gd_scheduler_args=(${ensure.args.map(shellQuote).join(' ')})`);
  if (plan.adapt && plan.adapt !== 'off') vars.push(assign('gd_adapt_head', plan.adapt.jsonHead));
  const body = [
    'mkdir -p "$gd_c" && cd "$gd_c" || { gd_mark nodir; gd_mark end; exit 0; }',
    'gd_runtime_ok || { gd_mark noruntime; gd_mark end; exit 0; }',
    'gd_lock || { gd_mark "locked:$?"; cat .lock/owner 2>/dev/null; gd_mark end; exit 0; }',
    'gd_write worker.pbs "$gd_worker_script"',
    'gd_read_jobs',
    'if ! gd_qstat_states; then gd_mark qstat-failed; cat "$gd_t/qf.err"; gd_mark end; exit 0; fi',
    'gd_print_state',
  ];
  if (plan.scaleTo !== undefined || plan.adapt === 'off') body.push('gd_adapt_off');
  if (ensure) body.push(`gd_ensure_scheduler ${ensure.placement} || { gd_mark end; exit 0; }`);
  if (plan.scaleTo !== undefined) {
    if (!Number.isInteger(plan.scaleTo) || plan.scaleTo < 0) throw new RangeError(`cannot scale to ${plan.scaleTo} jobs`);
    body.push(`gd_scale ${plan.scaleTo}`);
  }
  if (plan.adapt && plan.adapt !== 'off') body.push('gd_adapt_on');
  body.push('gd_prune', END);
  return { command: `${header(ctx, marker, vars)}\n${body.join('\n')}\n`, marker };
}

/** One snapshot: the jobs file, qstat -x -f -F json of every job of the cluster, and the runtime's status probe. */
export function statusScript(ctx: ScriptContext, probeTimeoutSeconds: number): RemoteScript {
  const marker = ctx.marker ?? newMarker();
  const body = [
    '[ -d "$gd_c" ] && cd "$gd_c" || { gd_mark nocluster; gd_mark end; exit 0; }',
    'gd_read_jobs',
    'gd_mark jobs; cat jobs 2>/dev/null',
    'gd_mark adopted; printf \'%s\\n\' "${gd_adopted[@]}"',
    // The probe runs while qstat does: a refresh costs the slower of the two, not their sum.
    'if [ -f "$gd_rt/run.py" ]; then',
    `  ( gd_py_run status --name "$gd_name" --timeout ${Math.max(1, Math.ceil(probeTimeoutSeconds))} >"$gd_t/status" 2>"$gd_t/status.err"; echo $? >"$gd_t/status.rc" ) &`,
    'fi',
    'if [ ${#gd_all[@]} -gt 0 ]; then',
    '  qstat -x -f -F json "${gd_all[@]}" >"$gd_t/q" 2>"$gd_t/qe"; gd_mark "qstat:$?"; cat "$gd_t/q"; gd_mark qstat-err; cat "$gd_t/qe"',
    'fi',
    'wait',
    'if [ -f "$gd_t/status.rc" ]; then',
    '  gd_mark "status:$(cat "$gd_t/status.rc")"; cat "$gd_t/status"; gd_mark status-err; tail -n 20 "$gd_t/status.err"',
    '  gd_mark prologue; cat "$gd_t/prologue.log" 2>/dev/null',
    'else gd_mark noruntime; fi',
    END,
  ];
  return { command: `${header(ctx, marker)}\n${body.join('\n')}\n`, marker };
}

/** Stop: the runtime retires the workers and stops the scheduler; every job still in the queue is cancelled. */
export function downScript(ctx: ScriptContext, shutdownTimeoutSeconds: number, purge: boolean): RemoteScript {
  const marker = ctx.marker ?? newMarker();
  const body = [
    '[ -d "$gd_c" ] && cd "$gd_c" || { gd_mark nocluster; gd_mark end; exit 0; }',
    'gd_lock || { gd_mark "locked:$?"; cat .lock/owner 2>/dev/null; gd_mark end; exit 0; }',
    'if [ -f "$gd_rt/run.py" ]; then',
    `  gd_py_run shutdown --name "$gd_name" --timeout ${Math.max(1, Math.ceil(shutdownTimeoutSeconds))} >"$gd_t/shutdown" 2>&1; gd_mark "shutdown:$?"; cat "$gd_t/shutdown"`,
    'else gd_mark noruntime; fi',
    'gd_read_jobs',
    // Without an answer from PBS every recorded job is asked to go; qdel says which were already gone.
    'gd_cancel=()',
    'if gd_qstat_states; then for id in "${gd_all[@]}"; do gd_active "$id" && gd_cancel+=("$id"); done',
    'else gd_mark qstat-failed; cat "$gd_t/qf.err"; gd_cancel=("${gd_all[@]}"); fi',
    'gd_print_state',
    'if [ ${#gd_cancel[@]} -gt 0 ]; then',
    '  gd_qdel "${gd_cancel[@]}"',
    'fi',
    'rm -f jobs adapt.json adapt-state.json adapt-cancelled worker.pbs scheduler.pbs',
    'gd_mark cleaned',
    purge ? 'rm -rf "$gd_c/.lock"; gd_locked=; cd "$HOME" && rm -rf "$gd_c" && gd_mark purged' : ':',
    END,
  ];
  return { command: `${header(ctx, marker)}\n${body.join('\n')}\n`, marker };
}

/**
 * Cancel some of the cluster's jobs, under its lock: queued ones and the scheduler's are qdel'ed; running worker
 * jobs go through `run.py retire` first so their workers hand their data over. Ids that are not the cluster's are
 * left alone (reported as `foreign`), and ids PBS no longer has as `gone`.
 */
export function cancelScript(ctx: ScriptContext, ids: readonly string[]): RemoteScript {
  const marker = ctx.marker ?? newMarker();
  const vars = [`gd_ids=(${ids.map(shellQuote).join(' ')})`];
  const body = [
    '[ -d "$gd_c" ] && cd "$gd_c" || { gd_mark nocluster; gd_mark end; exit 0; }',
    'gd_lock || { gd_mark "locked:$?"; cat .lock/owner 2>/dev/null; gd_mark end; exit 0; }',
    'gd_read_jobs',
    'if ! gd_qstat_states; then gd_mark qstat-failed; cat "$gd_t/qf.err"; gd_mark end; exit 0; fi',
    'gd_print_state',
    'gd_q=() gd_r=() gd_gone=() gd_foreign=() gd_done=()',
    'for id in "${gd_ids[@]}"; do',
    '  if [ -z "${gd_known[$id]+x}" ] && [ "$id" != "$gd_sid" ]; then gd_foreign+=("$id")',
    '  elif ! gd_active "$id"; then gd_gone+=("$id")',
    // The scheduler has no workers to retire; a queued job has none yet.
    '  elif [ "$id" = "$gd_sid" ] || gd_queued "$id" || [ ! -f "$gd_rt/run.py" ]; then gd_q+=("$id")',
    '  else gd_r+=("$id"); fi',
    'done',
    'gd_mark foreign; printf \'%s\\n\' "${gd_foreign[@]}"',
    'gd_mark gone; printf \'%s\\n\' "${gd_gone[@]}"',
    'if [ ${#gd_q[@]} -gt 0 ]; then',
    '  gd_qdel "${gd_q[@]}"',
    '  gd_qdel_ok "${gd_q[@]}"',
    'fi',
    'if [ ${#gd_r[@]} -gt 0 ]; then',
    '  gd_py_run retire --name "$gd_name" --count ${#gd_r[@]} --qdel "${gd_r[@]}" >"$gd_t/retire" 2>&1; gd_mark "retire:$?"; cat "$gd_t/retire"',
    // No document from the runtime: cancel them anyway, as the user asked.
    '  if ! grep -q \'^@@GADI_DASK_END@@\' "$gd_t/retire"; then',
    '    gd_qdel "${gd_r[@]}"',
    '    gd_qdel_ok "${gd_r[@]}"',
    '  else for id in "${gd_r[@]}"; do grep -qF -e "\\"$id\\":\\"deleted\\"" -e "\\"$id\\":\\"gone\\"" "$gd_t/retire" && gd_done+=("$id"); done; fi',
    'fi',
    // Adaptivity stops counting them, and does not take their end for a failed start (and back off).
    'if [ ${#gd_done[@]} -gt 0 ] && { [ -f adapt.json ] || [ -f adapt-state.json ]; }; then printf \'%s\\n\' "${gd_done[@]}" >>adapt-cancelled; fi',
    END,
  ];
  return { command: `${header(ctx, marker, vars)}\n${body.join('\n')}\n`, marker };
}

/** While waiting for the scheduler: its metadata, whether the scheduler file exists, its job's state and log. */
export function probeScript(ctx: ScriptContext, jobId: string | undefined): RemoteScript {
  const marker = ctx.marker ?? newMarker();
  const body = [
    '[ -d "$gd_c" ] && cd "$gd_c" || { gd_mark nocluster; gd_mark end; exit 0; }',
    'gd_mark meta; cat runtime.json 2>/dev/null',
    'if [ -f scheduler.json ]; then gd_mark schedfile:1; else gd_mark schedfile:0; fi',
    ...(jobId === undefined ? [] : [
      `gd_job=${shellQuote(jobId)}`,
      'qstat -x -f -F json "$gd_job" >"$gd_t/q" 2>"$gd_t/qe"; gd_mark "qstat:$?"; cat "$gd_t/q"; gd_mark qstat-err; cat "$gd_t/qe"',
      'gd_mark log; tail -n 40 scheduler-job.log 2>/dev/null',
    ]),
    'gd_mark runlog; tail -n 40 scheduler.log 2>/dev/null',
    END,
  ];
  return { command: `${header(ctx, marker)}\n${body.join('\n')}\n`, marker };
}

/** The clusters under ~/.gadi-dask/clusters (run.py list, from their files) and each one's jobs file. */
export function discoverScript(ctx: Omit<ScriptContext, 'cluster'>): RemoteScript {
  const marker = ctx.marker ?? newMarker();
  // Any installed runtime can list; this build's one is preferred.
  const body = [
    'gd_c=$HOME',
    'if [ ! -f "$gd_rt/run.py" ]; then gd_rt=; for d in "$HOME"/.gadi-dask/runtime/*/; do [ -f "$d/run.py" ] && gd_rt=${d%/}; done; fi',
    'if [ -z "$gd_rt" ]; then gd_mark noruntime; else gd_py_run list >"$gd_t/list" 2>&1; gd_mark "list:$?"; cat "$gd_t/list"; gd_mark prologue; cat "$gd_t/prologue.log"; fi',
    'for d in "$HOME"/.gadi-dask/clusters/*/; do n=$(basename "$d"); [[ $n =~ $gd_namere ]] && [ -f "$d/jobs" ] || continue; gd_mark "jobs:$n"; cat "$d/jobs"; done',
    END,
  ];
  // The header wants a cluster name for its paths; discovery uses none of them.
  return { command: `${header({ ...ctx, cluster: 'discover' }, marker)}\n${body.join('\n')}\n`, marker };
}
