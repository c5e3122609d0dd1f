// Where Gadi runs the processes: workers on the InfiniBand interface, and no long-lived scheduler on a login node.
import { formatWalltime, parseWalltime } from '../../units';
import { fixes, makeFix } from '../diagnostics';
import { insertKey, removeKey, replaceScalar, setKey } from '../edits';
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

/** A scheduler or a kernel placed on the login node for longer than its CPU limit allows: one rule, one message. */
function loginPlacement(ctx: RuleContext, section: 'scheduler' | 'kernel', s: { placement?: string; walltime?: string | number } | undefined): void {
  if (s?.placement !== 'login') return;
  const wall = s.walltime ?? ctx.pbs.walltime;
  let seconds: number;
  try {
    seconds = parseWalltime(wall ?? '00:30:00');
  } catch {
    return;
  }
  if (seconds <= LOGIN_CPU_LIMIT_SECONDS) return;
  const range = ctx.cd.valueRange([section, 'placement']) ?? ctx.cd.keyRange([section]) ?? ctx.pbsKey();
  const instead = section === 'scheduler'
    ? 'run it in its own job, or, for work longer than a job\'s walltime, in a persistent session (placement: persistent-session)'
    : 'run it in its own job (placement: job)';
  ctx.report('gadi/login-scheduler', range,
    `The ${section} would run on a login node for up to ${formatWalltime(seconds)}, but Gadi's login nodes kill processes after 30 minutes of CPU time (or over 4 GiB): ${instead}.`,
    fixes(makeFix('Set placement: job', [setKey(ctx.cd, [section], 'placement', 'job')], true)));
}

function loginScheduler(ctx: RuleContext): void {
  loginPlacement(ctx, 'scheduler', ctx.input.scheduler);
}

function loginKernel(ctx: RuleContext): void {
  loginPlacement(ctx, 'kernel', ctx.input.kernel);
}

/**
 * Which placement fits which length of work, said where the user sets the scheduler's length: a scheduler job ends
 * at its walltime with every worker and result; a persistent session has no walltime, so a walltime there is unused.
 */
function schedulerPlacement(ctx: RuleContext): void {
  const s = ctx.input.scheduler;
  const sessionKey = ctx.cd.keyRange(['scheduler', 'session']);
  if (s.placement !== 'persistent-session' && sessionKey) {
    ctx.report('gadi/scheduler-placement', sessionKey,
      `scheduler.session is used only with placement: persistent-session; with placement ${s.placement ?? 'job'} the scheduler does not run in it.`,
      fixes(makeFix('Set placement: persistent-session', [setKey(ctx.cd, ['scheduler'], 'placement', 'persistent-session')], true)), 'warning');
  }
  const range = ctx.cd.valueRange(['scheduler', 'walltime']);
  if (s.walltime === undefined || !range) return;
  if (s.placement === 'persistent-session') {
    ctx.report('gadi/scheduler-placement', range,
      'scheduler.walltime is not used: a scheduler in a persistent session has no walltime; it runs until Shut Down (or its idle-timeout).',
      fixes(makeFix('Remove scheduler.walltime', [removeKey(ctx.cd, ['scheduler', 'walltime'])], true)), 'warning');
    return;
  }
  if ((s.placement ?? 'job') !== 'job') return;
  let seconds: number;
  try {
    seconds = parseWalltime(s.walltime);
  } catch {
    return;
  }
  ctx.report('gadi/scheduler-placement', range,
    `The scheduler's job ends at its walltime (${formatWalltime(seconds)}), and every worker, the results they hold and every client ` +
      'connection end with it: placement job fits work that finishes within it. For longer work, placement: persistent-session runs ' +
      'the scheduler in a Gadi persistent session with no walltime (session: {name, project}); placement: login only for under 30 minutes of CPU.');
}

export const gadiNodeRules: RuleFamily = { site: 'gadi', rules: [interfaceRule, loginScheduler, loginKernel, schedulerPlacement] };
