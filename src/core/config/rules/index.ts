// The lint rules beyond the schema: what dask, PBS and Gadi will do with the job this config asks for. Each family
// of rules lives in its own file behind one interface (RuleFamily); a new family is one more line in the list.
import type { Finding } from '../diagnostics';
import { RuleContext, type RuleFamily, type RuleInput } from './context';
import { daskWorkerRules } from './daskWorkers';
import { gadiNodeRules } from './gadiNodes';
import { gadiProjectRules } from './gadiProject';
import { gadiQueueRules } from './gadiQueue';
import { gadiStorageRules } from './gadiStorage';
import { pbsResourceRules } from './pbsResources';
import { securityRules } from './security';

export { PBS_PATH, type RuleInput } from './context';

/** Every family, in the order their findings are reported. */
const RULE_FAMILIES: readonly RuleFamily[] = [
  pbsResourceRules,
  daskWorkerRules,
  securityRules,
  gadiProjectRules,
  gadiQueueRules,
  gadiStorageRules,
  gadiNodeRules,
];

/** Run the rules for the input's site. A rule that throws is skipped and named in `errors`, never fatal. */
export function runRules(input: RuleInput, errors: string[] = []): Finding[] {
  const ctx = new RuleContext(input);
  for (const family of RULE_FAMILIES) {
    if (family.site === 'gadi' && input.site !== 'gadi') continue;
    for (const rule of family.rules) {
      try {
        rule(ctx);
      } catch (e) {
        errors.push(`${rule.name}: ${(e as Error).stack ?? String(e)}`);
      }
    }
  }
  return ctx.findings;
}
