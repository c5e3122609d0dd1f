// The cluster's lifecycle, each a single agent request: up, scale, adapt, down, and cancelling some of its jobs.
import { JOB_ID } from '../pbs/submit';
import type {
  ActionOptions, AdaptRequest, AdaptResult, CancelJobsResult, DownOptions, DownResult, ScaleRequest, ScaleResult, SchedulerInfo,
  StartedScheduler, StartOptions, UpResult,
} from './actions';
import { checkCeiling } from './ceiling';
import { qsubFailureError, schedulerAction, shutdownWarnings, type CancelledJob, type SchedulerAction } from './answers';
import { callOptions, type ClusterCore } from './clusterCore';
import { KEEP_KERNEL, type ApplyArgs } from './protocol';
import { schedulerLaunch } from './schedulerJob';
import { waitForScheduler } from './waits';

/** Deploys, then starts the scheduler unless one runs or is queued; waits for it unless `wait: false`. */
export async function up(core: ClusterCore, options: StartOptions = {}): Promise<UpResult> {
  // Once per connection: the check costs an exec, and a missing runtime is found by the apply script anyway.
  const deploy = await core.deployer.ensure({ ...options, onProgress: core.progress(options) });
  const launch = schedulerLaunch(core.config, core.name);
  const outcome = await core.apply({ ensureScheduler: core.ensurePlan() }, options, 0);
  const scheduler = await settleScheduler(core, schedulerAction(outcome.scheduler!, core.answerContext()), options, true);
  return { deploy, scheduler, warnings: [...launch.warnings, ...outcome.warnings] };
}

/**
 * Reaches `request` worker jobs in one exec: submits the missing ones, or cancels queued jobs (newest first) and
 * then running ones (their workers retired first). Starts the scheduler first when none runs (and the target is not
 * 0); new workers then wait for its job to start. Turns adaptivity off.
 */
export async function scale(core: ClusterCore, request: ScaleRequest, options: StartOptions = {}): Promise<ScaleResult> {
  const target = core.jobsFor(request);
  checkCeiling(core.ceiling, target, `Scaling cluster ${core.name}`);
  const progress = core.progress(options);
  progress(`Scaling cluster ${core.name} on ${core.transport.host} to ${target} worker job${target === 1 ? '' : 's'}`);
  const plan: Partial<ApplyArgs> = { scaleTo: target, waitSeconds: options.waitSeconds ?? 60 };
  if (target > 0) Object.assign(plan, { ensureScheduler: core.ensurePlan(), hold: core.controllerRequest() });
  const outcome = await core.apply(plan, options, target);
  const errors = outcome.submitErrors.map(qsubFailureError);
  const result: ScaleResult = {
    targetJobs: target,
    before: outcome.before.filter((j) => j.role === 'worker').map(({ id, state }) => ({ id, state })),
    submitted: outcome.submitted,
    cancelled: outcome.cancelled,
    errors,
    exiting: outcome.exiting,
    adaptWasOn: outcome.adaptWasOn ?? false,
    holding: outcome.holding ?? 0,
    stopped: (outcome.stopped ?? false) || (options.signal?.aborted ?? false),
    warnings: outcome.warnings,
  };
  if (outcome.exiting.length) result.warnings.push(`PBS still runs ${outcome.exiting.join(', ')}: cancelled, still exiting. Check again with status.`);
  if (outcome.submitted.length) progress(`Submitted ${outcome.submitted.length} job(s): ${outcome.submitted.join(', ')}`);
  tellCancelled(outcome.cancelled, progress);
  // Nothing submitted although jobs were needed: the refusal is the answer.
  if (errors.length && outcome.submitted.length === 0) throw errors[0];
  if (outcome.scheduler) {
    const action = schedulerAction(outcome.scheduler, core.answerContext());
    // Cancelled: say what was done, wait for nothing.
    result.scheduler = result.stopped ? { action } : await settleScheduler(core, action, options);
  }
  if (result.stopped) progress(`Stopped on request: ${outcome.submitted.length} job(s) submitted, every one tracked`);
  return result;
}

/** Keeps the cluster between `minimum` and `maximum` worker jobs; the scheduler's launcher does it from now on. */
export async function adapt(core: ClusterCore, request: AdaptRequest | 'off', options: StartOptions = {}): Promise<AdaptResult> {
  if (request === 'off') {
    const outcome = await core.apply({ adapt: 'off' }, options, 0);
    return { enabled: false, adopted: 0, warnings: outcome.warnings };
  }
  const { minimum, maximum } = request;
  if (!Number.isInteger(minimum) || !Number.isInteger(maximum) || minimum < 0 || maximum < minimum) {
    throw new RangeError(`adaptive bounds must be whole numbers with 0 ≤ minimum ≤ maximum (got ${minimum} and ${maximum})`);
  }
  checkCeiling(core.ceiling, maximum, `Adaptive scaling of cluster ${core.name} up`);
  // The agent adds the worker jobs already in the queue as `jobs`.
  const adapt = { min: minimum, max: maximum, ...core.controllerRequest() };
  const outcome = await core.apply({ ensureScheduler: core.ensurePlan(), adapt }, options, 0);
  const scheduler = outcome.scheduler ? await settleScheduler(core, schedulerAction(outcome.scheduler, core.answerContext()), options) : undefined;
  return { enabled: true, minimum, maximum, adopted: outcome.adaptAdopted ?? 0, scheduler, warnings: outcome.warnings };
}

/**
 * Retires the workers, stops the scheduler, cancels every job of the cluster (the scheduler's too), cleans up. The
 * kernel next to the cluster is stopped too unless `keepKernel`.
 */
export async function down(core: ClusterCore, options: DownOptions = {}): Promise<DownResult> {
  const progress = core.progress(options);
  progress(`Shutting down cluster ${core.name} on ${core.transport.host}`);
  const shutdownSeconds = options.shutdownTimeoutSeconds ?? 30;
  const waitSeconds = options.waitSeconds ?? 60;
  const timeoutMs = (shutdownSeconds + waitSeconds + 120 + core.lockWaitSeconds) * 1000;
  const answer = await core.call('down', {
    cluster: core.name, shutdownTimeout: shutdownSeconds, purge: options.purge ?? false, waitSeconds, [KEEP_KERNEL]: options.keepKernel ?? false,
    ...core.lockArgs(timeoutMs),
  }, `shutting down cluster ${core.name}`, callOptions(timeoutMs, { signal: options.signal, onProgress: progress }));
  if (!answer.existed) {
    return { existed: false, wasRunning: false, cancelled: [], exiting: [], purged: false, warnings: [], kernel: { stopped: [], kept: [] } };
  }
  const stop = shutdownWarnings(answer);
  const session = answer.session?.name ? persistentSessionLeft(answer.session.name, answer.session.host) : undefined;
  if (session) progress(session);
  tellCancelled(answer.cancelled, progress);
  if (answer.exiting.length) stop.warnings.push(`PBS still runs ${answer.exiting.join(', ')} after ${waitSeconds} s: cancelled, still exiting. Check again with status.`);
  const kernel = { stopped: answer.kernel?.stopped ?? [], kept: answer.kernel?.kept ?? [] };
  if (kernel.stopped.length) progress(`Stopped the kernel (${kernel.stopped.join(', ')})`);
  const kept = kernel.kept.length ? kernelLeft(core.name, kernel.kept) : undefined;
  if (kept) progress(kept);
  return {
    existed: true, wasRunning: stop.wasRunning, cancelled: answer.cancelled,
    exiting: answer.exiting, purged: answer.purged, warnings: stop.warnings, kernel,
    ...(session ? { sessionLeft: session } : {}), ...(kept ? { kernelLeft: kept } : {}),
  };
}

/** What down says about the kernel it was asked to keep: still running, with nothing to compute on. */
export function kernelLeft(cluster: string, kept: readonly string[]): string {
  return `The kernel of cluster ${cluster} (${kept.join(', ')}) is still running, as asked: its notebook keeps its variables, ` +
    'but has no cluster to compute on, and its job goes on costing SU until its idle timeout or walltime. Stop it with ' +
    'gadi-dask kernel stop, or Cancel Job on its row in the PBS Jobs view.';
}

/**
 * Cancels some of the cluster's jobs in one exec, under its lock: running worker jobs have their workers retired
 * first (their data moves to the workers that stay). Ids that are not the cluster's are refused, not cancelled.
 */
export async function cancelJobs(core: ClusterCore, ids: readonly string[], options: ActionOptions = {}): Promise<CancelJobsResult> {
  const bad = ids.find((id) => !JOB_ID.test(id));
  if (bad !== undefined) throw new RangeError(`'${bad}' is not a PBS job id`);
  if (!ids.length) return { cancelled: [], warnings: [] };
  const progress = core.progress(options);
  progress(`Cancelling job${ids.length === 1 ? '' : 's'} ${ids.join(', ')} of cluster ${core.name}`);
  // Retiring workers may take up to a minute and a half (run.py retire's timeouts).
  const timeoutMs = (core.lockWaitSeconds + 120) * 1000;
  const answer = await core.call('cancel', { cluster: core.name, ids: [...ids], ...core.lockArgs(timeoutMs) },
    `cancelling jobs of cluster ${core.name}`, callOptions(timeoutMs, options));
  const outcome: CancelJobsResult = answer.noCluster
    ? { cancelled: ids.map((id) => ({ id, outcome: 'error', message: `cluster ${core.name} has no directory on ${core.transport.host}` })), warnings: [] }
    : { cancelled: answer.cancelled, warnings: answer.warnings };
  const done = outcome.cancelled.filter((c) => c.outcome === 'deleted');
  if (done.length) progress(`Cancelled ${done.length} job(s): ${done.map((c) => c.id).join(', ')}`);
  if (!answer.noCluster && answer.holding !== undefined) {
    outcome.holding = answer.holding;
    progress(`Cluster ${core.name} now holds ${answer.holding} worker job${answer.holding === 1 ? '' : 's'}`);
  }
  return outcome;
}

/** `tellExisting`: say so when a scheduler was already there (up does; scale and adapt stay quiet). */
async function settleScheduler(core: ClusterCore, action: SchedulerAction, options: StartOptions, tellExisting = false): Promise<StartedScheduler> {
  const progress = core.progress(options);
  const existing = tellExisting ? progress : () => undefined;
  switch (action.kind) {
    case 'started-login': {
      const m = action.metadata;
      const info: SchedulerInfo = {
        address: m.address ?? '', dashboard: m.dashboard ?? undefined, placement: 'login', host: m.host ?? undefined,
        schedulerFile: core.paths.schedulerFile,
      };
      progress(`Scheduler of ${core.name} started on ${info.host ?? core.transport.host} at ${info.address}`);
      return { action, info };
    }
    case 'started-session': {
      const m = action.metadata;
      const info: SchedulerInfo = {
        address: m.address ?? '', dashboard: m.dashboard ?? undefined, placement: 'persistent-session', host: m.host ?? undefined,
        schedulerFile: core.paths.schedulerFile, session: action.session.name,
      };
      const s = action.session;
      progress(`${s.started ? 'Started the persistent session' : 'Persistent session'} ${s.name} (${s.host}); scheduler of ${core.name} started there at ${info.address}, with no walltime`);
      return { action, info };
    }
    case 'answers':
      existing(`Scheduler of ${core.name} already running${action.address ? ` at ${action.address}` : ''}`);
      return { action };
    case 'job-exists':
      existing(`Scheduler job ${action.jobId} of ${core.name} already in the queue (state ${action.state})`);
      return { action };
    case 'submitted': {
      progress(`Submitted scheduler job ${action.jobId}`);
      if (options.wait === false) return { action };
      return { action, info: await waitForScheduler(core, action.jobId, options) };
    }
  }
}

/** What down says about the persistent session the scheduler ran in: it is left running, always. */
export function persistentSessionLeft(name: string, host?: string): string {
  return `The persistent session ${name}${host ? ` (${host})` : ''} is still running: gadi-dask stopped the scheduler in it but never stops a ` +
    'persistent session. Use it again with the next up, or stop it yourself with NCI\'s persistent-sessions command.';
}

/** Progress about cancelled jobs names the ones qdel failed on apart, never as cancelled. */
function tellCancelled(cancelled: readonly CancelledJob[], progress: (message: string) => void): void {
  const done = cancelled.filter((c) => c.outcome !== 'error');
  const failed = cancelled.filter((c) => c.outcome === 'error');
  if (done.length) progress(`Cancelled ${done.length} job(s): ${done.map((c) => c.id).join(', ')}`);
  if (failed.length) progress(`Could not cancel ${failed.length} job(s): ${failed.map((c) => `${c.id} (${c.message ?? 'qdel failed'})`).join(', ')}`);
}
