// The user's PBS jobs that belong to none of the given clusters, in one agent request (qselect -u, then qstat -f
// -F json of just those). Fetched on demand only: NCI asks for gentle polling.
import type { PbsJob } from '../pbs/qstat';
import type { Transport } from '../remote/transport';
import { failureError } from './answers';
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
