// `qstat -f -F json [-x] [-t]` into typed jobs. zod checks the shape every job must have (the identifying scalars
// and the resource/variable maps being objects); PBS and sites add other keys, kept in `raw`. Other values are
// converted leniently: a resource or a time we cannot read becomes undefined rather than an error, because one odd
// attribute must not hide the whole job list. Written for 10,000 jobs: no per-entry zod work on the maps, and each
// distinct time string is parsed once.
import { z } from 'zod';
import { parsePbsSize, parseWalltime } from '../units';
import { repairJson } from './jsonRepair';
import { pbsState, type PbsStateInfo } from './states';
import { parsePbsTime, zoneConverter, type ZoneConverter } from './time';

export type QstatErrorKind = 'empty' | 'invalid-json' | 'wrong-shape';

export class QstatParseError extends Error {
  override readonly name = 'QstatParseError';
  constructor(readonly kind: QstatErrorKind, message: string, readonly excerpt: string) {
    super(message);
  }
}

export interface RequestedResources {
  ncpus?: number;
  memBytes?: number;
  walltimeSeconds?: number;
  select?: string;
  nodect?: number;
  place?: string;
  ngpus?: number;
  jobfsBytes?: number;
  storage?: string;
}

export interface UsedResources {
  walltimeSeconds?: number;
  cputSeconds?: number;
  memBytes?: number;
  vmemBytes?: number;
  ncpus?: number;
  cpuPercent?: number;
}

export interface JobTimes {
  /** ctime: submitted. */
  created?: Date;
  /** qtime: entered its current queue. */
  queued?: Date;
  /** etime: became eligible to run. */
  eligible?: Date;
  /** stime: started. */
  started?: Date;
  /** mtime: last modified. */
  modified?: Date;
  /** obittime: ended. */
  ended?: Date;
}

export type ArrayInfo =
  | { kind: 'parent'; indicesSubmitted?: string; indicesRemaining?: string; stateCount: Record<string, number> }
  | { kind: 'subjob'; parentId?: string; index?: number };

export interface PbsJob {
  /** The full id as PBS keys it: `12345678.gadi-pbs`, `6[].gadi-pbs`, `6[2].gadi-pbs`. */
  id: string;
  name: string;
  /** The user, without `@submit-host`. */
  owner: string;
  /** The `job_state` letter as printed; see stateInfo for what it means. */
  state: string;
  stateInfo: PbsStateInfo;
  substate?: number;
  queue: string;
  server?: string;
  /** The -P project; undefined when PBS shows its `_pbs_project_default`. */
  project?: string;
  requested: RequestedResources;
  used?: UsedResources;
  execHost?: string;
  /** Host names from exec_host, in order, without duplicates. */
  nodes: string[];
  comment?: string;
  exitStatus?: number;
  times: JobTimes;
  /** Variable_List, every value as text (PBS prints numeric-looking values as JSON numbers). */
  variables: Record<string, string>;
  array?: ArrayInfo;
  /** Output_Path / Error_Path without the `host:` prefix. */
  outputPath?: string;
  errorPath?: string;
  submitArguments?: string;
  runCount?: number;
  holdTypes?: string;
  /** The job's attributes exactly as qstat printed them (site-specific resources: raw.Resource_List). */
  raw: Record<string, unknown>;
}

export interface QstatResult {
  /** When qstat ran. */
  timestamp?: Date;
  pbsVersion?: string;
  server?: string;
  jobs: PbsJob[];
}

export interface QstatParseOptions {
  /** The PBS server's time zone (IANA name or offset like '+1100'); job times are its wall-clock times. Default UTC. */
  timeZone?: string;
}

type Scalar = string | number | boolean;
type Attrs = Record<string, unknown>;

const isObject = (v: unknown): v is Attrs => typeof v === 'object' && v !== null && !Array.isArray(v);
// PBS prints any numeric-looking value as a JSON number, names included.
const scalar = z.union([z.string(), z.number(), z.boolean()]);
const attributeMap = z.custom<Attrs>(isObject, { message: 'expected an object of attributes' });

// z.object, not looseObject: copying the ~35 other keys of each job would double the parse time.
const jobSchema = z.object({
  Job_Name: scalar,
  Job_Owner: scalar,
  job_state: z.string().min(1),
  queue: scalar,
  Resource_List: attributeMap.optional(),
  resources_used: attributeMap.optional(),
  Variable_List: attributeMap.optional(),
});

const documentSchema = z.looseObject({
  timestamp: scalar.optional(),
  pbs_version: scalar.optional(),
  pbs_server: scalar.optional(),
  Jobs: z.custom<Record<string, unknown>>(isObject, { message: 'expected an object of jobs keyed by job id' }).optional(),
});

type RawJob = z.output<typeof jobSchema>;

// Exactly jobSchema's conditions, in plain code: zod costs a quarter of the parse on 10,000 jobs, so it runs only
// for a job this rejects, to say precisely what is wrong. Keep the two in step.
function matchesJobSchema(v: unknown): v is RawJob {
  if (!isObject(v)) return false;
  const map = (m: unknown) => m === undefined || isObject(m);
  return isScalar(v.Job_Name) && isScalar(v.Job_Owner) && typeof v.job_state === 'string' && v.job_state.length > 0
    && isScalar(v.queue) && map(v.Resource_List) && map(v.resources_used) && map(v.Variable_List);
}

/**
 * Parses the stdout of `qstat -f -F json` (any of -x, -t, job ids). Whatever the text, the result is jobs or a
 * QstatParseError; only an unknown `timeZone` (a configuration error) throws something else, a RangeError.
 */
export function parseQstatJson(text: string, options: QstatParseOptions = {}): QstatResult {
  const conv = converters(zoneConverter(options.timeZone));
  const doc = documentSchema.safeParse(parseJsonText(text));
  if (!doc.success) throw shapeError(doc.error, text);
  const jobs: PbsJob[] = [];
  const all = doc.data.Jobs ?? {};
  for (const id of Object.keys(all)) {
    const attrs = all[id];
    if (matchesJobSchema(attrs)) {
      jobs.push(toJob(id, attrs, attrs, conv));
      continue;
    }
    const job = jobSchema.safeParse(attrs);
    if (!job.success) throw shapeError(job.error, text, ['Jobs', id]);
    jobs.push(toJob(id, attrs as Attrs, job.data, conv));
  }
  return {
    timestamp: parsePbsTime(doc.data.timestamp),
    pbsVersion: optText(doc.data.pbs_version),
    server: optText(doc.data.pbs_server),
    jobs,
  };
}

function parseJsonText(text: string): unknown {
  // A login shell may print banners around the document: keep from qstat's opening line (a lone "{", else the
  // first line starting with "{") to the last line starting with "}".
  let start = text.search(/^\{[ \t\r]*$/m);
  if (start < 0) start = text.search(/^\{/m);
  if (start < 0) {
    if (!text.trim()) throw new QstatParseError('empty', 'qstat printed nothing where a JSON document was expected', '');
    throw new QstatParseError('invalid-json', `qstat output is not a JSON document (no line starts with "{"): ${excerpt(text, 0)}`, excerpt(text, 0));
  }
  const closeLine = text.lastIndexOf('\n}');
  const end = closeLine >= start ? closeLine + 1 : text.lastIndexOf('}');
  const body = end >= start ? text.slice(start, end + 1) : text.slice(start);
  try {
    return JSON.parse(body);
  } catch {
    const repaired = repairJson(body);
    try {
      return JSON.parse(repaired);
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      const position = Number(/position (\d+)/.exec(message)?.[1] ?? 0);
      const near = excerpt(repaired, position);
      throw new QstatParseError('invalid-json',
        `qstat -F json output is not valid JSON, even after repairing control characters and escapes: ${message}; near ${near}`, near);
    }
  }
}

function excerpt(text: string, position: number): string {
  const from = Math.max(0, position - 40);
  const piece = text.slice(from, position + 40);
  return JSON.stringify(piece.length > 0 ? piece : text.slice(0, 80));
}

function shapeError(error: z.ZodError, text: string, prefix: PropertyKey[] = []): QstatParseError {
  const issue = error.issues[0];
  const path = [...prefix, ...(issue?.path ?? [])].map(String);
  const where = path.length ? path.map((p) => (/^[A-Za-z_]\w*$/.test(p) ? p : JSON.stringify(p))).join('.') : 'the document';
  const near = JSON.stringify(text.slice(0, 80));
  return new QstatParseError('wrong-shape',
    `qstat -F json output does not have the expected shape ({"Jobs": {"<id>": {"Job_Name", "Job_Owner", "job_state", "queue", …}}}): ` +
    `at ${where}: ${issue?.message ?? 'invalid'}; output starts ${near}`, near);
}

// Values recur across a document (the same walltime, jobs submitted in the same second): convert each once.
function memo<T>(convert: (v: unknown) => T | undefined): (v: unknown) => T | undefined {
  const seen = new Map<unknown, T | null>(); // null: seen, not convertible
  let lastIn: unknown;
  let lastOut: T | undefined;
  return (v) => {
    if (v === undefined) return undefined;
    if (v === lastIn) return lastOut; // ctime, qtime and etime are often the same string
    const known = seen.get(v);
    let out: T | undefined;
    if (known !== undefined) {
      out = known ?? undefined;
    } else {
      out = convert(v);
      seen.set(v, out ?? null);
    }
    lastIn = v;
    lastOut = out;
    return out;
  };
}

interface Converters {
  time: (v: unknown) => Date | undefined;
  size: (v: unknown) => number | undefined;
  seconds: (v: unknown) => number | undefined;
}

function converters(toInstant: ZoneConverter): Converters {
  const ms = memo((v) => parsePbsTime(v, toInstant)?.getTime());
  return {
    time: (v) => {
      const t = ms(v);
      return t === undefined ? undefined : new Date(t); // a fresh Date each: callers may mutate theirs
    },
    size: memo((v) => lenient(v, parsePbsSize)),
    seconds: memo((v) => lenient(v, parseWalltime)),
  };
}

function toJob(id: string, raw: Attrs, j: RawJob, conv: Converters): PbsJob {
  const { time } = conv;
  const project = optText(raw.project);
  const execHost = optText(raw.exec_host);
  return {
    id,
    name: String(j.Job_Name),
    owner: userOf(String(j.Job_Owner)),
    state: j.job_state,
    stateInfo: pbsState(j.job_state),
    substate: optNumber(raw.substate),
    queue: String(j.queue),
    server: optText(raw.server),
    project: project === '_pbs_project_default' ? undefined : project,
    requested: requested(j.Resource_List ?? {}, conv),
    used: j.resources_used && used(j.resources_used, conv),
    execHost,
    nodes: execHost ? nodesOf(execHost) : [],
    comment: optText(raw.comment),
    exitStatus: optNumber(raw.Exit_status),
    times: {
      created: time(raw.ctime),
      queued: time(raw.qtime),
      eligible: time(raw.etime),
      started: time(raw.stime),
      modified: time(raw.mtime),
      ended: time(raw.obittime),
    },
    variables: texts(j.Variable_List ?? {}),
    array: arrayInfo(id, raw),
    outputPath: pathOf(raw.Output_Path),
    errorPath: pathOf(raw.Error_Path),
    submitArguments: optText(raw.Submit_arguments),
    runCount: optNumber(raw.run_count),
    holdTypes: optText(raw.Hold_Types),
    raw,
  };
}

function userOf(owner: string): string {
  const at = owner.indexOf('@');
  return at < 0 ? owner : owner.slice(0, at);
}

function isScalar(v: unknown): v is Scalar {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

function optText(v: unknown): string | undefined {
  return isScalar(v) ? String(v) : undefined;
}

function optNumber(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && /^\s*-?\d+(\.\d+)?\s*$/.test(v)) return Number(v);
  return undefined;
}

// Variable_List values as text; nested values (never seen) are left out rather than printed as [object Object].
function texts(map: Attrs): Record<string, string> {
  let allText = true;
  for (const k in map) {
    if (typeof map[k] !== 'string') {
      allText = false;
      break;
    }
  }
  if (allText) return map as Record<string, string>; // the common case: no copy
  const out: Record<string, string> = {};
  for (const k in map) {
    const v = map[k];
    if (typeof v === 'string') out[k] = v;
    else if (isScalar(v)) out[k] = String(v);
  }
  return out;
}

function lenient<T>(v: unknown, parse: (s: string) => T): T | undefined {
  if (!isScalar(v)) return undefined;
  try {
    return parse(String(v));
  } catch {
    return undefined;
  }
}

function requested(list: Attrs, { size, seconds }: Converters): RequestedResources {
  return {
    ncpus: optNumber(list.ncpus),
    memBytes: size(list.mem),
    walltimeSeconds: seconds(list.walltime),
    select: optText(list.select),
    nodect: optNumber(list.nodect),
    place: optText(list.place),
    ngpus: optNumber(list.ngpus),
    jobfsBytes: size(list.jobfs),
    storage: optText(list.storage),
  };
}

function used(list: Attrs, { size, seconds }: Converters): UsedResources {
  return {
    walltimeSeconds: seconds(list.walltime),
    cputSeconds: seconds(list.cput),
    memBytes: size(list.mem),
    vmemBytes: size(list.vmem),
    ncpus: optNumber(list.ncpus),
    cpuPercent: optNumber(list.cpupercent),
  };
}

// exec_host: "node1/0*48+node2/0*48" (host/slot[*count] per chunk).
function nodesOf(execHost: string): string[] {
  const hosts: string[] = [];
  for (const chunk of execHost.split('+')) {
    const slash = chunk.indexOf('/');
    const host = (slash < 0 ? chunk : chunk.slice(0, slash)).trim();
    if (host && !hosts.includes(host)) hosts.push(host);
  }
  return hosts;
}

// "host:/path" → "/path". A path without a host prefix is returned as it is.
function pathOf(v: unknown): string | undefined {
  if (!isScalar(v)) return undefined;
  const s = String(v);
  const colon = s.indexOf(':');
  const slash = s.indexOf('/');
  return colon > 0 && (slash < 0 || colon < slash) ? s.slice(colon + 1) : s;
}

const SUBJOB_ID = /^(\d+)\[(\d+)\](.*)$/;

function arrayInfo(id: string, j: Attrs): ArrayInfo | undefined {
  if (!id.includes('[') && j.array === undefined && j.array_id === undefined && j.array_index === undefined) return undefined;
  if (String(j.array ?? '').toLowerCase() === 'true' || /^\d+\[\]/.test(id)) {
    const stateCount: Record<string, number> = {};
    for (const m of String(j.array_state_count ?? '').matchAll(/(\w+):(\d+)/g)) stateCount[m[1]] = Number(m[2]);
    return {
      kind: 'parent',
      indicesSubmitted: optText(j.array_indices_submitted),
      indicesRemaining: optText(j.array_indices_remaining),
      stateCount,
    };
  }
  const sub = SUBJOB_ID.exec(id);
  if (j.array_id !== undefined || j.array_index !== undefined || sub) {
    return {
      kind: 'subjob',
      parentId: optText(j.array_id) ?? (sub ? `${sub[1]}[]${sub[3]}` : undefined),
      index: optNumber(j.array_index) ?? (sub ? Number(sub[2]) : undefined),
    };
  }
  return undefined;
}
