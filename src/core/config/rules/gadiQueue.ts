// Gadi's queues: a queue we know, and a job within its limits of cores, memory, walltime and GPUs (the queue table).
import { formatBytes, formatWalltime } from '../../units';
import { fixes, makeFix } from '../diagnostics';
import type { OffsetRange } from '../document';
import type { OffsetEdit } from '../edits';
import {
  GADI_DEFAULT_QUEUE, GADI_MAX_WALLTIME_SECONDS, GADI_QUEUE_NAMES, maxMemBytes, maxNcpus, maxWalltimeSeconds, nodesFor,
  type QueueInfo,
} from '../queues';
import { didYouMean } from '../suggest';
import { pbsSize, type RuleContext, type RuleFamily } from './context';

const QSUB_32 = 'qsub refuses the job (on Gadi it exits with code 32 and prints no message)';

function queueRules(ctx: RuleContext): void {
  const q = ctx.req.queue;
  if (!q) {
    const hasKey = ctx.cd.pairAt(ctx.path('queue')) !== undefined;
    ctx.report('gadi/queue-missing', ctx.pbsKey(),
      `No queue: Gadi sends the job to '${GADI_DEFAULT_QUEUE}'. Name the queue so its limits are checked against what you meant.`,
      fixes(hasKey ? undefined : makeFix(`Set queue: ${GADI_DEFAULT_QUEUE}`, [ctx.setPbs('queue', GADI_DEFAULT_QUEUE)], true)));
    return;
  }
  if (ctx.queue) return;
  const name = q.value.split('@')[0];
  const suggestion = didYouMean(name, GADI_QUEUE_NAMES);
  const span = q.option.valueSpan;
  ctx.report('gadi/unknown-queue', ctx.rangeOf(q.directive, span),
    `'${name}' is not a Gadi queue${suggestion ? `. Did you mean '${suggestion}'?` : `: use one of ${GADI_QUEUE_NAMES.join(', ')}.`}`,
    fixes(suggestion && span ? makeFix(`Change to '${suggestion}'`, [ctx.rewrite(q.directive, span, suggestion)], true) : undefined));
}

/** Edits that make the job ask for `n` cores, in `cores` and in any explicit `-l ncpus`. */
function setNcpus(ctx: RuleContext, n: number): (OffsetEdit | undefined)[] {
  const edits: (OffsetEdit | undefined)[] = [ctx.setPbs('cores', n)];
  const r = ctx.req.ncpus;
  if (r && !(r.directive.origin.kind === 'header' && r.directive.origin.key === 'select')) edits.push(ctx.rewriteResource(r, String(n)));
  return edits;
}

function queueLimits(ctx: RuleContext): void {
  const queue = ctx.queue;
  if (!queue) return;
  const ncpusReq = ctx.req.ncpus;
  const ncpus = ncpusReq?.value ?? ctx.cores;
  if (ncpus === undefined) return;
  const ncpusRange = ncpusReq ? ctx.rangeOfRequest(ncpusReq, 'cores') : ctx.valueOf('cores');
  const cpn = queue.coresPerNode;
  const maxCores = maxNcpus(queue);
  if (ncpus > maxCores) {
    ctx.report('gadi/queue-max-cores', ncpusRange,
      `${queue.name} takes at most ${maxCores} cores in one job, and this job asks for ${ncpus}: ${QSUB_32}.`);
  } else if (ncpus > cpn && ncpus % cpn !== 0) {
    ctx.report('gadi/cores-per-node', ncpusRange,
      `${ncpus} cores is more than one ${queue.name} node (${cpn} cores) but not a whole number of nodes: a job bigger than a node must ask for a multiple of ${cpn}; ${QSUB_32}.`,
      fixes(makeFix(`Use one whole node (${cpn} cores)`, setNcpus(ctx, cpn), true)));
  } else if (ncpus > cpn) {
    ctx.report('gadi/multi-node', ncpusRange,
      `${ncpus} cores spans ${ncpus / cpn} ${queue.name} nodes, but dask-jobqueue starts its workers on the first node only: the other nodes are charged and idle. Ask for one node per job (cores: ${cpn}) and scale to more jobs.`);
  }

  const mem = ctx.req.memBytes;
  if (mem) {
    const limit = maxMemBytes(queue, ncpus);
    if (mem.value > limit) {
      const nodes = nodesFor(queue, ncpus);
      const size = pbsSize(limit);
      const edits: (OffsetEdit | undefined)[] = [];
      const generated = mem.directive.origin.kind === 'header' && mem.directive.origin.key === 'select';
      if (!generated) edits.push(ctx.rewriteResource(mem, size));
      if (ctx.memory !== undefined && ctx.memory > limit) edits.push(ctx.setPbs('memory', size));
      ctx.report('gadi/memory-per-node', ctx.rangeOfRequest(mem, 'memory'),
        `${formatBytes(mem.value)} of memory is more than ${nodes === 1 ? 'a' : `${nodes}`} ${queue.name} node${nodes === 1 ? '' : 's'} ha${nodes === 1 ? 's' : 've'} (${pbsSize(limit)}): ${QSUB_32}.`,
        fixes(edits.length ? makeFix(`Ask for ${size}`, edits, true) : undefined));
    }
  }

  const wall = ctx.req.walltimeSeconds;
  if (wall && ncpus <= maxCores) {
    const max = maxWalltimeSeconds(queue, ncpus) ?? GADI_MAX_WALLTIME_SECONDS;
    if (wall.value > max) {
      const limit = formatWalltime(max);
      const why = wall.value > GADI_MAX_WALLTIME_SECONDS && max === GADI_MAX_WALLTIME_SECONDS
        ? `no Gadi job may run longer than ${GADI_MAX_WALLTIME_SECONDS / 3600} h`
        : `${queue.name} allows at most ${max / 3600} h for a job of ${ncpus} cores`;
      ctx.report('gadi/walltime-limit', ctx.rangeOfRequest(wall, 'walltime'),
        `walltime ${formatWalltime(wall.value)} is too long: ${why}; ${QSUB_32}.`,
        fixes(makeFix(`Set walltime to ${limit}`, [ctx.rewriteResource(wall, limit)], true)));
    }
  }
  gpuRule(ctx, queue, ncpus, ncpusRange);
}

function gpuRule(ctx: RuleContext, queue: QueueInfo, ncpus: number, ncpusRange: OffsetRange): void {
  const g = ctx.req.ngpus;
  const gpus = g?.value ?? 0;
  const gpuRange = g ? ctx.rangeOfRequest(g, 'cores') : ncpusRange;
  if (!queue.gpusPerNode || !queue.cpusPerGpu) {
    if (gpus > 0) {
      ctx.report('gadi/gpus', gpuRange, `${queue.name} has no GPUs: GPU jobs go to gpuvolta or dgxa100.`);
    }
    return;
  }
  const per = queue.cpusPerGpu;
  const fitting = ncpus % per === 0 ? ncpus / per : undefined;
  if (!gpus) {
    ctx.report('gadi/gpus', ncpusRange,
      `${queue.name} is a GPU queue: request -l ngpus=N with ncpus = ${per} × N; ${QSUB_32}.`,
      fixes(fitting ? makeFix(`Add -l ngpus=${fitting}`, [ctx.addDirectives([`-l ngpus=${fitting}`])], true) : undefined));
  } else if (ncpus !== per * gpus) {
    ctx.report('gadi/gpus', gpuRange,
      `On ${queue.name}, ncpus must be ${per} × ngpus: ${gpus} GPU${gpus === 1 ? '' : 's'} need${gpus === 1 ? 's' : ''} ${per * gpus} cores, not ${ncpus}; ${QSUB_32}.`,
      fixes(
        fitting && g ? makeFix(`Request -l ngpus=${fitting}`, [ctx.rewriteResource(g, String(fitting))], true) : undefined,
        makeFix(`Use ${per * gpus} cores`, setNcpus(ctx, per * gpus)),
      ));
  }
}

export const gadiQueueRules: RuleFamily = { site: 'gadi', rules: [queueRules, queueLimits] };
