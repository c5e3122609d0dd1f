// Where Gadi runs the processes: workers on the InfiniBand interface, and no long-lived scheduler on a login node.
import { formatWalltime, parseWalltime } from '../../units';
import { fixes, makeFix } from '../diagnostics';
import { insertKey, replaceScalar, setKey } from '../edits';
import { PBS_PATH, type RuleContext, type RuleFamily } from './context';

/** Login nodes kill processes after 30 minutes of CPU time. */
const LOGIN_CPU_LIMIT_SECONDS = 30 * 60;

function interfaceRule(ctx: RuleContext): void {
  const iface = ctx.pbs.interface;
  if (iface === 'ib0') return;
  if (iface === undefined) {
    if (ctx.input.present.has('interface')) return;
    ctx.report('gadi/interface', ctx.pbsKey(),
      'No interface: workers pick an address by themselves, which need not be one other nodes reach. On Gadi set interface: ib0 (InfiniBand).',
      fixes(makeFix('Set interface: ib0', [insertKey(ctx.cd, PBS_PATH, 'interface', 'ib0')], true)));
    return;
  }
  ctx.report('gadi/interface', ctx.valueOf('interface'),
    `interface ${iface}: Gadi's compute nodes talk over InfiniBand, interface ib0.`,
    fixes(makeFix('Use ib0', [replaceScalar(ctx.cd, ctx.path('interface'), 'ib0')], true)));
}

function loginScheduler(ctx: RuleContext): void {
  const s = ctx.input.scheduler;
  if (s.placement !== 'login') return;
  const wall = s.walltime ?? ctx.pbs.walltime;
  let seconds: number;
  try {
    seconds = parseWalltime(wall ?? '00:30:00');
  } catch {
    return;
  }
  if (seconds <= LOGIN_CPU_LIMIT_SECONDS) return;
  const range = ctx.cd.valueRange(['scheduler', 'placement']) ?? ctx.cd.keyRange(['scheduler']) ?? ctx.pbsKey();
  ctx.report('gadi/login-scheduler', range,
    `The scheduler would run on a login node for up to ${formatWalltime(seconds)}, but Gadi's login nodes kill processes after 30 minutes of CPU time (or over 4 GiB): run it in its own job.`,
    fixes(makeFix('Set placement: job', [setKey(ctx.cd, ['scheduler'], 'placement', 'job')], true)));
}

export const gadiNodeRules: RuleFamily = { site: 'gadi', rules: [interfaceRule, loginScheduler] };
