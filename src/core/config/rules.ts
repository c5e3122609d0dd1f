// The lint rules beyond the schema: what PBS and Gadi will do with the job this config asks for. Each rule reads the
// job request (generated header plus extra directives, as qsub reads them) and the queue table, and reports
// findings with quick fixes as text edits. Generic PBS and dask rules run for every site; Gadi's only for Gadi.
import { formatBytes, formatWalltime, parsePbsSize, parseWalltime, pbsFormatBytesCeil } from '../units';
import type { RuleCode } from './codes';
import { fixes, makeFix, type Finding, type OffsetFix } from './diagnostics';
import type { ConfigDocument, OffsetRange, YamlPath } from './document';
import { parseSelect, type PbsOption, type PbsResource, type Span } from './directives';
import {
  appendItems, insertKey, removeItem, removeKey, replacePair, replaceScalar, setKey, type OffsetEdit,
} from './edits';
import {
  GADI_DEFAULT_QUEUE, GADI_MAX_WALLTIME_SECONDS, GADI_QUEUE_NAMES, gadiQueue, maxMemBytes, maxNcpus,
  maxWalltimeSeconds, nodesFor, type QueueInfo,
} from './queues';
import {
  CHUNK_RESOURCES, defaultProcesses, effectiveList, JobRequest, memoryBytes, type Directive, type LenientPbs,
  type Requested,
} from './request';
import type { SiteKind } from './site';
import { didYouMean } from './suggest';

export const PBS_PATH: YamlPath = ['jobqueue', 'pbs'];
const GiB = 2 ** 30;
/** Login nodes kill processes after 30 minutes of CPU time. */
const LOGIN_CPU_LIMIT_SECONDS = 30 * 60;
/** PBS memory beyond this multiple of `memory` is paid for but unused by the workers. */
const MEM_WASTE_RATIO = 1.2;
/** A size that covers Dask's spilling on a typical worker; normal-queue nodes have about 400 GB of jobfs. */
const DEFAULT_JOBFS = '100GB';
const QSUB_32 = 'qsub refuses the job (on Gadi it exits with code 32 and prints no message)';

export interface RuleInput {
  cd: ConfigDocument;
  site: SiteKind;
  /** The pbs section as far as it passed the schema, with dask-jobqueue's defaults. */
  pbs: LenientPbs;
  /** The pbs keys written in the file. */
  present: ReadonlySet<string>;
  scheduler: { placement?: 'job' | 'login'; walltime?: string | number };
}

class RuleContext {
  readonly findings: Finding[] = [];
  readonly req: JobRequest;
  readonly cd: ConfigDocument;
  readonly pbs: LenientPbs;
  readonly cores?: number;
  readonly memory?: number;
  /** Gadi only: the queue the job goes to, when it is one we know. */
  readonly queue?: QueueInfo;

  constructor(readonly input: RuleInput) {
    this.cd = input.cd;
    this.pbs = input.pbs;
    this.req = new JobRequest(input.pbs);
    this.cores = input.pbs.cores;
    this.memory = memoryBytes(input.pbs);
    if (input.site === 'gadi') this.queue = gadiQueue(this.req.queue?.value ?? GADI_DEFAULT_QUEUE);
  }

  report(code: RuleCode, range: OffsetRange, message: string, fixList?: OffsetFix[], severity?: Finding['severity']): void {
    const f: Finding = { code, range, message };
    if (fixList?.length) f.fixes = fixList;
    if (severity) f.severity = severity;
    this.findings.push(f);
  }

  path(...rest: (string | number)[]): YamlPath {
    return [...PBS_PATH, ...rest];
  }

  /** The `pbs:` key: where problems about the section as a whole go. */
  pbsKey(): OffsetRange {
    return this.cd.keyRange(PBS_PATH) ?? this.cd.rootRange();
  }

  keyOf(key: string): OffsetRange {
    return this.cd.keyRange(this.path(key)) ?? this.pbsKey();
  }

  valueOf(key: string): OffsetRange {
    return this.cd.valueRange(this.path(key)) ?? this.keyOf(key);
  }

  /** Where a part of a directive is in the file: inside its list item, or inside the key it was generated from. */
  rangeOf(d: Directive, span?: Span): OffsetRange {
    const o = d.origin;
    if (o.kind === 'extra') {
      const node = this.cd.nodeAt(this.path(o.key, o.index));
      if (!node) return this.keyOf(o.key);
      return span ? this.cd.scalarSubRange(node, span.start, span.end) : this.cd.valueRange(this.path(o.key, o.index)) ?? this.keyOf(o.key);
    }
    if (o.key === 'select') return this.cd.keyRange(this.path(this.req.skipKey)) ?? this.pbsKey();
    const node = this.cd.nodeAt(this.path(o.key));
    if (!node) return this.keyOf(o.key);
    if (!span || span.start < o.valueAt) return this.valueOf(o.key);
    return this.cd.scalarSubRange(node, span.start - o.valueAt, span.end - o.valueAt);
  }

  /** Where a requested quantity was asked for; a generated select line points at the key it came from. */
  rangeOfRequest(r: Requested<unknown>, key: string): OffsetRange {
    if (r.directive.origin.kind === 'header' && r.directive.origin.key === 'select') return this.valueOf(key);
    return this.rangeOf(r.directive, r.resource?.valueSpan ?? r.resource?.span ?? r.option.valueSpan ?? r.option.span);
  }

  /** An edit that replaces `span` of a directive with `replacement`, written back where the directive came from. */
  rewrite(d: Directive, span: Span, replacement: string): OffsetEdit | undefined {
    const text = d.text.slice(0, span.start) + replacement + d.text.slice(span.end);
    const o = d.origin;
    if (o.kind === 'extra') {
      const path = this.path(o.key, o.index);
      return text.trim() ? replaceScalar(this.cd, path, text.trim()) : removeItem(this.cd, path);
    }
    if (o.key !== 'queue' && o.key !== 'resource-spec' && o.key !== 'walltime' && o.key !== 'account') return undefined;
    if (text.slice(0, o.valueAt) !== d.text.slice(0, o.valueAt)) return undefined;
    const value = text.slice(o.valueAt);
    return value ? replaceScalar(this.cd, this.path(o.key), value) : removeKey(this.cd, this.path(o.key));
  }

  /** Replace a requested resource's value (`-l mem=…`) where it was written. */
  rewriteResource(r: Requested<unknown>, newValue: string): OffsetEdit | undefined {
    if (!r.resource?.valueSpan || r.directive.origin.kind === 'header' && r.directive.origin.key === 'select') return undefined;
    return this.rewrite(r.directive, r.resource.valueSpan, newValue);
  }

  addDirectives(directives: readonly string[]): OffsetEdit | undefined {
    return appendItems(this.cd, this.path(this.req.extrasKey), directives);
  }

  setPbs(key: string, value: string | number): OffsetEdit | undefined {
    return setKey(this.cd, PBS_PATH, key, value);
  }
}

/** The span that removes a resource from its `-l` list (with one comma), or the whole option if it is alone. */
function resourceRemovalSpan(option: PbsOption, resource: PbsResource): Span {
  const list = option.resources ?? [];
  const i = list.indexOf(resource);
  if (list.length <= 1 || i < 0) return option.span;
  if (i < list.length - 1) return { start: resource.span.start, end: list[i + 1].span.start };
  return { start: list[i - 1].span.end, end: resource.span.end };
}

/** The span that removes an option from its directive, with the blank that separates it from the next. */
function optionRemovalSpan(d: Directive, option: PbsOption): Span {
  let { start, end } = option.span;
  while (end < d.text.length && /\s/.test(d.text[end])) end++;
  if (end === d.text.length) while (start > 0 && /\s/.test(d.text[start - 1])) start--;
  return { start, end };
}

/** A PBS size for a whole number of GiB when it is one, else rounded up as dask-jobqueue does. */
const pbsSize = (n: number) => (n % GiB === 0 ? `${n / GiB}GB` : pbsFormatBytesCeil(n));

// ---- generic PBS rules

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

// ---- dask rules (any site)

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

// ---- Gadi rules

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

/** Strings the job touches as paths (python, directories, prologue and epilogue lines, worker arguments). */
function pathSources(ctx: RuleContext): { path: YamlPath; text: string }[] {
  const out: { path: YamlPath; text: string }[] = [];
  const raw = ctx.pbs as Record<string, unknown>;
  for (const key of ['python', 'local-directory', 'log-directory', 'shared-temp-directory']) {
    if (typeof raw[key] === 'string') out.push({ path: ctx.path(key), text: raw[key] as string });
  }
  const lists = [
    effectiveList(raw, 'job-script-prologue', 'env-extra'),
    effectiveList(raw, 'job-script-epilogue', 'job-script-epilogue'),
    effectiveList(raw, 'worker-extra-args', 'extra'),
  ];
  for (const { key, items } of lists) items.forEach((text, i) => out.push({ path: ctx.path(key, i), text }));
  return out;
}

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

type Rule = (ctx: RuleContext) => void;

/** Rules for every PBS site. */
const GENERIC_RULES: readonly Rule[] = [directiveSyntax, selectRules, ncpusMismatch, memMismatch, processesDivideCores, workerMemory];
/** Gadi's own rules. */
const GADI_RULES: readonly Rule[] = [
  accountDirective, projectDirective, projectFormat, queueRules, queueLimits, storageRule, jobfsRule, interfaceRule,
  loginScheduler,
];

/** Run the rules for the input's site. A rule that throws is skipped and named in `errors`, never fatal. */
export function runRules(input: RuleInput, errors: string[] = []): Finding[] {
  const ctx = new RuleContext(input);
  const rules = input.site === 'gadi' ? [...GENERIC_RULES, ...GADI_RULES] : GENERIC_RULES;
  for (const rule of rules) {
    try {
      rule(ctx);
    } catch (e) {
      errors.push(`${rule.name}: ${(e as Error).stack ?? String(e)}`);
    }
  }
  return ctx.findings;
}
