// Reading the agent's probe answer while a scheduler starts: running (its address), still waiting (and why), or
// failed (with the end of its log).
import { parseQstatJson, QstatParseError } from '../pbs/qstat';
import { describeExitStatus } from '../pbs/states';
import type { SchedulerInfo } from './actions';
import { RemoteOutputError, SchedulerStartError } from './errors';
import { excerptOf } from './output';
import type { Answer } from './protocol';
import { checkDoc, metadataSchema, type RuntimeMetadata } from './runtimeDocs';

export function readProbe(answer: Answer<'probe'>, jobId: string | undefined, cluster: string, schedulerFile: string): { info?: SchedulerInfo; waiting: string } {
  if (!answer.exists) return { waiting: 'the cluster directory does not exist yet' };
  const meta: RuntimeMetadata | undefined = answer.meta ? checkDoc(metadataSchema, answer.meta, 'runtime.json') : undefined;
  const ours = meta && (jobId === undefined || meta.pbsJobId === jobId);
  if (ours && meta.state === 'running' && answer.schedulerFile && meta.address) {
    return {
      waiting: '',
      info: {
        address: meta.address, dashboard: meta.dashboard ?? undefined, jobId: meta.pbsJobId ?? undefined,
        placement: meta.placement ?? undefined, host: meta.host ?? undefined, schedulerFile,
      },
    };
  }
  const log = [answer.log, answer.runlog].filter((t) => t?.trim()).join('\n');
  if (ours && (meta.state === 'failed' || meta.state === 'stopped')) {
    throw new SchedulerStartError(
      `The scheduler of cluster ${cluster} ${meta.state === 'failed' ? 'failed to start' : 'stopped'}: ${meta.error ?? meta.stopReason ?? 'no reason recorded'}.` +
        (log ? ` The end of its log: ${excerptOf(log, 800)}` : ''),
      jobId, log);
  }
  if (jobId === undefined) return { waiting: 'waiting for the scheduler to start' };
  let job;
  try {
    job = answer.qstat ? parseQstatJson(answer.qstat).jobs.find((j) => j.id === jobId) : undefined;
  } catch (e) {
    if (!(e instanceof QstatParseError)) throw e;
    throw new RemoteOutputError(`qstat printed output that cannot be read: ${e.message}`, e.excerpt, { cause: e });
  }
  if (!job) return { waiting: `scheduler job ${jobId} is not known to PBS yet` };
  if (job.stateInfo.finished) {
    const status = job.exitStatus !== undefined ? describeExitStatus(job.exitStatus) : 'ended';
    throw new SchedulerStartError(
      `The scheduler job ${jobId} of cluster ${cluster} ended before the scheduler ran: ${status}.` +
        (log ? ` The end of its output: ${excerptOf(log, 800)}` : ' It left no output in the cluster directory.'),
      jobId, log);
  }
  if (job.stateInfo.phase === 'pending') {
    return { waiting: `scheduler job ${jobId} is ${job.stateInfo.label.toLowerCase()}${job.comment ? ` (${job.comment})` : ''}` };
  }
  return { waiting: `scheduler job ${jobId} is running${job.nodes.length ? ` on ${job.nodes.join(', ')}` : ''}; waiting for the scheduler to start` };
}
