// Who can get into the cluster: with TLS off (or a protocol that is not TLS) anyone who reaches the scheduler's or
// a worker's port on the cluster network can run code as the user.
import { fixes, makeFix } from '../diagnostics';
import { removeKey, setKey } from '../edits';
import { PBS_PATH, type RuleContext, type RuleFamily } from './context';

function tlsOff(ctx: RuleContext): void {
  if (ctx.input.scheduler.tls !== false) return;
  const range = ctx.cd.valueRange(['scheduler', 'tls']) ?? ctx.cd.keyRange(['scheduler']) ?? ctx.pbsKey();
  ctx.report('dask/tls-off', range,
    'TLS is off: the scheduler and every worker accept plain TCP from anyone who can reach them on the cluster network (on Gadi, every user logged in or running a job), and a Dask client runs any Python as you: reading and deleting your files, using your SSH keys, spending your allocation. Leave tls on unless a client that cannot use TLS must connect.',
    fixes(makeFix('Turn TLS on', [setKey(ctx.cd, ['scheduler'], 'tls', true)], true)));
}

function tlsProtocol(ctx: RuleContext): void {
  if (ctx.input.scheduler.tls === false) return;
  const options = ctx.pbs['scheduler-options'];
  const protocol = options && typeof options === 'object' ? options.protocol : undefined;
  if (protocol === undefined || protocol === null || /^tls(:\/\/)?$/.test(String(protocol))) return;
  const path = [...PBS_PATH, 'scheduler-options', 'protocol'];
  ctx.report('dask/tls-protocol', ctx.cd.valueRange(path) ?? ctx.pbsKey(),
    `scheduler-options.protocol is ${String(protocol)}, but the cluster speaks TLS (scheduler.tls): the scheduler would not start. Remove protocol (TLS is the default), or set scheduler.tls: false to go without it.`,
    fixes(makeFix('Remove protocol', [removeKey(ctx.cd, path)], true)));
}

export const securityRules: RuleFamily = { site: 'any', rules: [tlsOff, tlsProtocol] };
