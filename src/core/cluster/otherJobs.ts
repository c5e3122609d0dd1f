// The user's PBS jobs that belong to none of the given clusters, in one agent request (qselect -u, then qstat -f
// -F json of just those). Fetched on demand only: NCI asks for gentle polling. Cancelling one is the agent's too:
// one qdel per id, PBS's own exit status and message for each; a cluster's job is refused (Cluster.cancelJobs).
import type { PbsJob } from '../pbs/qstat';
import { JOB_ID } from '../pbs/submit';
import type { Transport } from '../remote/transport';
import { failureError, type CancelledJob } from './answers';
import { accountAgent, type AccountOptions } from './discover';
import { readQstat } from './snapshot';

export interface OtherJobsOptions extends AccountOptions {
  /** Job ids to leave out (the clusters' own jobs). */
  exclude?: Iterable<string>;
}

export async function listOtherJobs(transport: Transport, options: OtherJobsOptions = {}): Promise<PbsJob[]> {
  const { agent, env, context } = accountAgent(transport, options);
  const exclude = new Set(options.exclude ?? []);
  try {
    const answer = await agent.call('user-jobs', { exclude: [...exclude] }, env, { timeoutMs: 45_000, signal: options.signal }, `the PBS jobs on ${transport.host}`);
    return readQstat(answer.qstat, transport.host).filter((j) => !exclude.has(j.id));
  } catch (e) {
    throw failureError(e, context);
  }
}

/** qdel for jobs of no cluster, in one agent request; one entry per id, in order. */
export async function cancelOtherJobs(transport: Transport, ids: readonly string[], options: AccountOptions = {}): Promise<CancelledJob[]> {
  const bad = ids.find((id) => !JOB_ID.test(id));
  if (bad !== undefined) throw new RangeError(`'${bad}' is not a PBS job id`);
  if (!ids.length) return [];
  const { agent, env, context } = accountAgent(transport, options);
  options.onProgress?.(`Cancelling job${ids.length === 1 ? '' : 's'} ${ids.join(', ')} on ${transport.host}`);
  try {
    const answer = await agent.call('qdel', { ids: [...ids] }, env, { timeoutMs: 60_000 + 60_000 * ids.length, signal: options.signal }, `cancelling jobs on ${transport.host}`);
    return answer.cancelled;
  } catch (e) {
    throw failureError(e, context);
  }
}
