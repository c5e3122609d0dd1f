// Dask rules for every site: how cores and memory split between a job's worker processes.
import { formatBytes } from '../../units';
import { fixes, makeFix } from '../diagnostics';
import { defaultProcesses } from '../request';
import { GiB, type RuleContext, type RuleFamily } from './context';

function processesDivideCores(ctx: RuleContext): void {
  const { cores } = ctx;
  const p = ctx.pbs.processes;
  if (cores === undefined || p === undefined || (p <= cores && cores % p === 0)) return;
  const threads = Math.trunc(cores / p);
  const best = defaultProcesses(cores);
  ctx.report('dask/processes-divide-cores', ctx.valueOf('processes'),
    p > cores
      ? `processes (${p}) is more than cores (${cores}): each worker would get ${threads} threads.`
      : `processes (${p}) does not divide cores (${cores}): each worker gets ${threads} threads and ${cores - p * threads} cores stay idle.`,
    fixes(makeFix(`Set processes to ${best}`, [ctx.setPbs('processes', best)], true)));
}

function workerMemory(ctx: RuleContext): void {
  const { cores, memory } = ctx;
  if (cores === undefined || memory === undefined) return;
  const p = ctx.pbs.processes ?? defaultProcesses(cores);
  if (p <= 0 || memory / p >= GiB) return;
  let better: number | undefined;
  for (let d = p - 1; d >= 1; d--) {
    if (cores % d === 0 && memory / d >= GiB) {
      better = d;
      break;
    }
  }
  ctx.report('dask/worker-memory', ctx.valueOf('memory'),
    `Each of the ${p} worker processes gets ${formatBytes(memory / p)} (memory ÷ processes), under 1 GiB: workers pause and spill almost at once.`,
    fixes(better === undefined ? undefined : makeFix(`Set processes to ${better}`, [ctx.setPbs('processes', better)], true)));
}

export const daskWorkerRules: RuleFamily = { site: 'any', rules: [processesDivideCores, workerMemory] };
