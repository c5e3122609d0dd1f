// Gadi's filesystems: every /g/data and other project's /scratch path needs -l storage=, and jobfs needs -l jobfs=.
import { fixes, makeFix } from '../diagnostics';
import type { OffsetRange } from '../document';
import type { OffsetEdit } from '../edits';
import { pathSources, type RuleContext, type RuleFamily } from './context';

/** A size that covers Dask's spilling on a typical worker; normal-queue nodes have about 400 GB of jobfs. */
const DEFAULT_JOBFS = '100GB';

const PROJECT_PATH = /(?<![\w.$}-])\/(g\/data|scratch)\/(\$\{PROJECT\}|\$PROJECT\b|[A-Za-z0-9_]+)/g;

function storageRule(ctx: RuleContext): void {
  const project = ctx.req.project?.value.toLowerCase();
  const have = new Set(ctx.req.storage.entries);
  const missing = new Map<string, OffsetRange>();
  for (const { path, text } of pathSources(ctx)) {
    for (const m of text.matchAll(PROJECT_PATH)) {
      const p = m[2].startsWith('$') ? project : m[2].toLowerCase();
      if (!p) continue;
      const fs = m[1] === 'g/data' ? 'gdata' : 'scratch';
      // The job's own /scratch is mounted without asking; every /g/data project and other scratch needs an entry.
      if (fs === 'scratch' && (project === undefined || p === project)) continue;
      const entry = `${fs}/${p}`;
      if (have.has(entry) || missing.has(entry)) continue;
      const node = ctx.cd.nodeAt(path);
      const start = m.index ?? 0;
      missing.set(entry, node ? ctx.cd.scalarSubRange(node, start, start + m[0].length) : ctx.pbsKey());
    }
  }
  if (!missing.size) return;
  const from = ctx.req.storage.from;
  const addStorage = (entries: string[]): OffsetEdit | undefined => {
    if (from?.resource?.valueSpan && from.value) {
      const end = from.resource.valueSpan.end;
      return ctx.rewrite(from.directive, { start: end, end }, `+${entries.join('+')}`);
    }
    return ctx.addDirectives([`-l storage=${entries.join('+')}`]);
  };
  const all = [...missing.keys()];
  for (const [entry, range] of missing) {
    const p = entry.split('/')[1];
    ctx.report('gadi/storage', range,
      `The job uses /${entry === `gdata/${p}` ? 'g/data' : 'scratch'}/${p} but does not request it: add ${entry} to -l storage=, or the job fails when it touches the path.`,
      fixes(
        makeFix(`Add ${entry} to -l storage`, [addStorage([entry])], all.length === 1),
        all.length > 1 ? makeFix(`Add all missing storage (${all.join('+')})`, [addStorage(all)], true) : undefined,
      ));
  }
}

function jobfsRule(ctx: RuleContext): void {
  const dir = ctx.pbs['local-directory'];
  if (typeof dir !== 'string' || !/\$\{?(TMPDIR|PBS_JOBFS)\b\}?/.test(dir) || ctx.req.resource('jobfs')) return;
  ctx.report('gadi/jobfs', ctx.valueOf('local-directory'),
    `local-directory ${dir} is on the node's jobfs, but no -l jobfs= is requested: the job gets only 100 MB there, and workers that spill to disk fail with "exceeding jobfs quota".`,
    fixes(makeFix(`Add -l jobfs=${DEFAULT_JOBFS}`, [ctx.addDirectives([`-l jobfs=${DEFAULT_JOBFS}`])], true)));
}

export const gadiStorageRules: RuleFamily = { site: 'gadi', rules: [storageRule, jobfsRule] };
