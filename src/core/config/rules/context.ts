// What every lint rule sees and reports through: the job request (generated header plus extra directives, as qsub
// reads them), the parsed document for ranges and edits, and the one interface a family of rules implements.
import { pbsFormatBytesCeil } from '../../units';
import type { RuleCode } from '../codes';
import type { Finding, OffsetFix } from '../diagnostics';
import type { ConfigDocument, OffsetRange, YamlPath } from '../document';
import type { PbsOption, PbsResource, Span } from '../directives';
import { appendItems, removeItem, removeKey, replaceScalar, setKey, type OffsetEdit } from '../edits';
import { GADI_DEFAULT_QUEUE, gadiQueue, type QueueInfo } from '../queues';
import { effectiveList, JobRequest, memoryBytes, type Directive, type LenientPbs, type Requested } from '../request';
import type { KERNEL_PLACEMENTS, SCHEDULER_PLACEMENTS } from '../schema';
import type { SiteKind } from '../site';

export const PBS_PATH: YamlPath = ['jobqueue', 'pbs'];
export const GiB = 2 ** 30;

export interface RuleInput {
  cd: ConfigDocument;
  site: SiteKind;
  /** The pbs section as far as it passed the schema, with dask-jobqueue's defaults. */
  pbs: LenientPbs;
  /** The pbs keys written in the file. */
  present: ReadonlySet<string>;
  scheduler: { placement?: (typeof SCHEDULER_PLACEMENTS)[number]; session?: unknown; walltime?: string | number; tls?: boolean };
  /** The kernel section as far as it passed the schema; absent when the file has none. */
  kernel?: { placement?: (typeof KERNEL_PLACEMENTS)[number]; walltime?: string | number };
}

export class RuleContext {
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
export function resourceRemovalSpan(option: PbsOption, resource: PbsResource): Span {
  const list = option.resources ?? [];
  const i = list.indexOf(resource);
  if (list.length <= 1 || i < 0) return option.span;
  if (i < list.length - 1) return { start: resource.span.start, end: list[i + 1].span.start };
  return { start: list[i - 1].span.end, end: resource.span.end };
}

/** The span that removes an option from its directive, with the blank that separates it from the next. */
export function optionRemovalSpan(d: Directive, option: PbsOption): Span {
  let { start, end } = option.span;
  while (end < d.text.length && /\s/.test(d.text[end])) end++;
  if (end === d.text.length) while (start > 0 && /\s/.test(d.text[start - 1])) start--;
  return { start, end };
}

/** A PBS size for a whole number of GiB when it is one, else rounded up as dask-jobqueue does. */
export const pbsSize = (n: number) => (n % GiB === 0 ? `${n / GiB}GB` : pbsFormatBytesCeil(n));

/** Strings the job touches as paths (python, directories, prologue and epilogue lines, worker arguments). */
export function pathSources(ctx: RuleContext): { path: YamlPath; text: string }[] {
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

export type Rule = (ctx: RuleContext) => void;

/** One family of rules, in one file: the sites it applies to and its rules, run in order. */
export interface RuleFamily {
  /** `any`: every PBS site; `gadi`: only when the site is Gadi. */
  readonly site: 'any' | 'gadi';
  readonly rules: readonly Rule[];
}
