// Gadi charges every job to a project given with -P: the account key, -A, and missing or odd project codes.
import { fixes, makeFix, type OffsetFix } from '../diagnostics';
import { removeKey, replacePair } from '../edits';
import { optionRemovalSpan, pathSources, type RuleContext, type RuleFamily } from './context';

function accountDirective(ctx: RuleContext): void {
  const project = ctx.req.project;
  for (const a of ctx.req.options('A')) {
    const value = a.value ?? '';
    if (a.directive.origin.kind === 'header') {
      const path = ctx.path('account');
      let fix: OffsetFix | undefined;
      if (project) fix = makeFix(`Remove account (the project is already -P ${project.value})`, [removeKey(ctx.cd, path)], true);
      else if (ctx.cd.pairAt(ctx.path(ctx.req.extrasKey))) {
        fix = makeFix(`Replace account with -P ${value} in ${ctx.req.extrasKey}`, [removeKey(ctx.cd, path), ctx.addDirectives([`-P ${value}`])], true);
      } else {
        fix = makeFix(`Replace account with -P ${value} in ${ctx.req.extrasKey}`, [replacePair(ctx.cd, path, ctx.req.extrasKey, [`-P ${value}`])], true);
      }
      ctx.report('gadi/account-directive', ctx.keyOf('account'),
        `account makes dask-jobqueue write '#PBS -A ${value}', but Gadi takes the project as -P: put '-P ${value}' in ${ctx.req.extrasKey} instead.`,
        fixes(fix));
    } else {
      const fix = project
        ? makeFix('Remove -A (the project is already given with -P)', [ctx.rewrite(a.directive, optionRemovalSpan(a.directive, a.option), '')], true)
        : makeFix(`Write -P ${value}`, [ctx.rewrite(a.directive, { start: a.option.flagAt, end: a.option.flagAt + 1 }, 'P')], true);
      ctx.report('gadi/account-directive', ctx.rangeOf(a.directive, a.option.span),
        `Gadi does not use -A: the project is given with -P (-P ${value}).`, fixes(fix));
    }
  }
}

/** Projects the file mentions through /scratch/<p> paths or scratch storage entries: likely the user's own. */
function projectCandidates(ctx: RuleContext): string[] {
  const found = new Set<string>();
  for (const e of ctx.req.storage.entries) if (e.startsWith('scratch/')) found.add(e.slice('scratch/'.length));
  for (const { text } of pathSources(ctx)) for (const m of text.matchAll(/\/scratch\/([a-z][a-z0-9]*)/g)) found.add(m[1]);
  return [...found].slice(0, 3);
}

function projectDirective(ctx: RuleContext): void {
  if (ctx.req.project || ctx.req.options('A').length) return;
  const add = (p: string, preferred: boolean) => makeFix(`Add -P ${p}`, [ctx.addDirectives([`-P ${p}`])], preferred);
  const candidates = projectCandidates(ctx);
  ctx.report('gadi/project-directive', ctx.cd.keyRange(ctx.path(ctx.req.extrasKey)) ?? ctx.pbsKey(),
    `No -P <project> in ${ctx.req.extrasKey}: Gadi charges every job to a project, and without -P it picks your default ($PROJECT), which may not be the project (or storage) the job needs.`,
    fixes(...candidates.map((c) => add(c, false)), add('<project>', false)));
}

function projectFormat(ctx: RuleContext): void {
  const p = ctx.req.project;
  if (!p || /^[a-z][a-z0-9]{1,7}$/.test(p.value)) return;
  ctx.report('gadi/project-format', ctx.rangeOf(p.directive, p.option.valueSpan),
    `'${p.value}' does not look like an NCI project code (lower-case letters and digits, such as ab12): replace it with your project.`);
}

export const gadiProjectRules: RuleFamily = { site: 'gadi', rules: [accountDirective, projectDirective, projectFormat] };
