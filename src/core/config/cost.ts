// What one worker job costs on Gadi, estimated from the config before anything is submitted.
import { GADI_DEFAULT_QUEUE, gadiQueue, suCost, type QueueInfo } from './queues';
import { JobRequest, memoryBytes, type LenientPbs } from './request';

export interface JobCost {
  queue: QueueInfo;
  ncpus: number;
  memBytes?: number;
  walltimeSeconds: number;
  /** Service units for one job that runs to its walltime. */
  su: number;
}

/**
 * The SU charge of one worker job at its full walltime, from what the job asks PBS for (extra directives override
 * the generated header, as in qsub). Undefined when the queue is not Gadi's or the request is incomplete.
 */
export function estimateJobCost(pbs: LenientPbs): JobCost | undefined {
  const req = new JobRequest(pbs);
  const queue = gadiQueue(req.queue?.value ?? GADI_DEFAULT_QUEUE);
  const ncpus = req.ncpus?.value ?? pbs.cores;
  const walltimeSeconds = req.walltimeSeconds?.value;
  if (!queue || ncpus === undefined || walltimeSeconds === undefined) return undefined;
  const memBytes = req.memBytes?.value ?? memoryBytes(pbs);
  return { queue, ncpus, memBytes, walltimeSeconds, su: suCost({ queue, ncpus, memBytes, walltimeSeconds }) };
}
