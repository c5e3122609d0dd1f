// Generic PBS rules: directives qsub cannot read, and cores and memory that dask and PBS see differently.
import { formatBytes, parsePbsSize, pbsFormatBytesCeil } from '../../units';
import { fixes, makeFix, type OffsetFix } from '../diagnostics';
import { parseSelect } from '../directives';
import { appendItems, removeKey } from '../edits';
import { CHUNK_RESOURCES } from '../request';
import { GiB, pbsSize, resourceRemovalSpan, type RuleContext, type RuleFamily } from './context';

/** PBS memory beyond this multiple of `memory` is paid for but unused by the workers. */
const MEM_WASTE_RATIO = 1.2;

function directiveSyntax(ctx: RuleContext): void {
  for (const d of ctx.req.directives) {
    for (const p of d.problems) {
      const o = d.origin;
      const from = o.kind === 'header' ? ` (in the line dask-jobqueue writes from '${o.key}')` : '';
      const fix = p.replacement === undefined ? undefined
        : makeFix('Remove the #PBS prefix', [ctx.rewrite(d, { start: 0, end: d.text.length }, p.replacement)], true);
      ctx.report('pbs/directive-syntax', ctx.rangeOf(d, p.span), `${p.message}${from}.`, fixes(fix), p.severity);
    }
  }
}

/** The directives that ask for cores and memory job-wide in place of a select chunk. */
function wideDirectives(ctx: RuleContext): string[] {
  const out: string[] = [];
  if (!ctx.req.resources('ncpus').length && ctx.cores !== undefined) out.push(`-l ncpus=${ctx.cores}`);
  if (!ctx.req.resources('mem').length && ctx.memory !== undefined) out.push(`-l mem=${pbsFormatBytesCeil(ctx.memory)}`);
  return out;
}

/** Job-wide resources equivalent to a select spec: `1:ncpus=48:mem=192GB` → `ncpus=48,mem=192GB`. */
function selectToWide(value: string): string | undefined {
  try {
    const chunks = parseSelect(value);
    const names = [...new Set(chunks.flatMap((c) => Object.keys(c.resources)))];
    const parts: string[] = [];
    for (const name of names) {
      if (name === 'mem' || name === 'vmem') {
        let bytes = 0;
        for (const c of chunks) bytes += c.count * (c.resources[name] ? parsePbsSize(c.resources[name]) : 0);
        parts.push(chunks.length === 1 && chunks[0].count === 1 ? `${name}=${chunks[0].resources[name]}` : `${name}=${pbsSize(bytes)}`);
      } else if (CHUNK_RESOURCES.includes(name)) {
        parts.push(`${name}=${chunks.reduce((s, c) => s + c.count * Number(c.resources[name] ?? (name === 'ncpus' ? 1 : 0)), 0)}`);
      }
    }
    if (!names.includes('ncpus')) parts.unshift(`ncpus=${chunks.reduce((s, c) => s + c.count, 0)}`);
    return parts.join(',');
  } catch {
    return undefined;
  }
}

function selectRules(ctx: RuleContext): void {
  const sel = ctx.req.resource('select');
  if (!sel?.resource) return;
  const o = sel.directive.origin;
  const generated = o.kind === 'header' && o.key === 'select';
  const wide = CHUNK_RESOURCES.flatMap((n) => ctx.req.resources(n));
  const add = wideDirectives(ctx);
  if (wide.length) {
    const first = wide[0];
    let fix: OffsetFix | undefined;
    if (generated) {
      fix = makeFix(`Skip the generated select line${add.length ? ` and add ${add.join(', ')}` : ''}`,
        [appendItems(ctx.cd, ctx.path(ctx.req.skipKey), ['select']), ...(add.length ? [ctx.addDirectives(add)] : [])], true);
    } else if (o.kind === 'header' && o.key === 'resource-spec' && sel.option.resources?.length === 1) {
      fix = makeFix(`Remove resource-spec${add.length ? ` and add ${add.join(', ')}` : ''}`,
        [removeKey(ctx.cd, ctx.path('resource-spec')), ...(add.length ? [ctx.addDirectives(add)] : [])]);
    } else if (o.kind === 'extra') {
      fix = makeFix('Remove the select request', [ctx.rewrite(sel.directive, resourceRemovalSpan(sel.option, sel.resource), '')]);
    }
    const where = generated ? 'dask-jobqueue\'s generated `-l select=…` line' : `-l select=${sel.value}`;
    ctx.report('pbs/select-mixed', ctx.rangeOf(first.directive, first.resource?.span),
      `-l ${first.resource?.name} cannot be combined with ${where}: qsub refuses the job ("-lresource=" cannot be used with "select" or "place").`,
      fixes(fix));
    return;
  }
  if (ctx.input.site !== 'gadi') return;
  if (generated) {
    const fix = makeFix(`Skip the generated select line and add ${add.join(', ')}`,
      [appendItems(ctx.cd, ctx.path(ctx.req.skipKey), ['select']), ...(add.length ? [ctx.addDirectives(add)] : [])], true);
    ctx.report('gadi/select-directive', ctx.rangeOf(sel.directive),
      `dask-jobqueue writes '#PBS ${sel.directive.text}', which Gadi rejects: add 'select' to ${ctx.req.skipKey} and request ${add.length ? add.join(' and ') : '-l ncpus and -l mem'} in ${ctx.req.extrasKey}.`,
      fixes(fix));
    return;
  }
  const wideText = sel.value ? selectToWide(sel.value) : undefined;
  const fix = wideText ? makeFix(`Request ${wideText} job-wide instead`, [ctx.rewrite(sel.directive, sel.resource.span, wideText)], true) : undefined;
  ctx.report('gadi/select-directive', ctx.rangeOf(sel.directive, sel.resource.span),
    `Gadi does not accept select=: request the job's resources job-wide${wideText ? ` (-l ${wideText})` : ' (-l ncpus=…,mem=…)'}.`, fixes(fix));
}

function ncpusMismatch(ctx: RuleContext): void {
  const cores = ctx.cores;
  if (cores === undefined || ctx.req.resource('select')) return;
  const n = ctx.req.ncpus;
  if (!n) {
    ctx.report('pbs/ncpus-mismatch', ctx.valueOf('cores'),
      `No -l ncpus is requested, so PBS gives the job its default of 1 core while dask runs ${cores} threads: add -l ncpus=${cores}.`,
      fixes(makeFix(`Add -l ncpus=${cores}`, [ctx.addDirectives([`-l ncpus=${cores}`])], true)));
    return;
  }
  if (n.value === cores) return;
  const why = n.value > cores
    ? `PBS reserves (and charges for) ${n.value} cores but dask uses ${cores}`
    : `dask runs ${cores} threads on the ${n.value} cores PBS gives the job`;
  ctx.report('pbs/ncpus-mismatch', ctx.rangeOfRequest(n, 'cores'), `cores is ${cores} but -l ncpus=${n.value}: ${why}.`, fixes(
    makeFix(`Request -l ncpus=${cores}`, [ctx.rewriteResource(n, String(cores))], true),
    makeFix(`Set cores to ${n.value}`, [ctx.setPbs('cores', n.value)]),
  ));
}

function memMismatch(ctx: RuleContext): void {
  const memory = ctx.memory;
  if (memory === undefined || ctx.req.resource('select')) return;
  const want = pbsFormatBytesCeil(memory);
  const m = ctx.req.memBytes;
  if (!m) {
    ctx.report('pbs/mem-mismatch', ctx.valueOf('memory'),
      `No -l mem is requested, so PBS gives the job the queue's default memory while dask's workers may use ${formatBytes(memory)}: add -l mem=${want}.`,
      fixes(makeFix(`Add -l mem=${want}`, [ctx.addDirectives([`-l mem=${want}`])], true)));
    return;
  }
  const memText = `memory (${String(ctx.pbs.memory)}, ${formatBytes(memory)})`;
  if (memory > m.value) {
    ctx.report('pbs/mem-mismatch', ctx.rangeOfRequest(m, 'memory'),
      `${memText} is more than -l mem=${m.resource?.value ?? pbsSize(m.value)} (${formatBytes(m.value)}): PBS kills the job once its workers use the memory dask gives them.`,
      fixes(makeFix(`Request -l mem=${want}`, [ctx.rewriteResource(m, want)], true)));
  } else if (m.value > memory * MEM_WASTE_RATIO) {
    ctx.report('pbs/mem-mismatch', ctx.rangeOfRequest(m, 'memory'),
      `-l mem=${m.resource?.value ?? pbsSize(m.value)} (${formatBytes(m.value)}) is far more than ${memText}: the job pays for memory its workers never use.`,
      fixes(
        makeFix(`Request -l mem=${want}`, [ctx.rewriteResource(m, want)], true),
        makeFix(`Set memory to ${m.value / GiB}GiB`, [ctx.setPbs('memory', `${+(m.value / GiB).toFixed(3)}GiB`)]),
      ), 'warning');
  }
}

export const pbsResourceRules: RuleFamily = { site: 'any', rules: [directiveSyntax, selectRules, ncpusMismatch, memMismatch] };
