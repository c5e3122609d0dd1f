// `#PBS` directives read as qsub reads them: options in getopt style (`-l wd`, `-lwd`, `-P ab12`), several options
// per directive, `-l` lists of comma-separated resources, case-insensitive size units, walltimes as H:MM:SS or
// seconds, and resources we have never heard of (sites add their own, such as Gadi's `-l software=`) accepted as is.
import { parsePbsSize, parseWalltime, UnitError } from '../units';

/** Offsets into the directive text, end exclusive. */
export interface Span {
  start: number;
  end: number;
}

export interface PbsResource {
  /** Lower case: PBS resource names are not case-sensitive. */
  name: string;
  value?: string;
  span: Span;
  valueSpan?: Span;
}

export interface PbsOption {
  /** The option letter: `l`, `P`, `q`, `A`, … */
  flag: string;
  value?: string;
  /** From the dash to the end of the value. */
  span: Span;
  /** Where the option letter itself is. */
  flagAt: number;
  valueSpan?: Span;
  /** For `-l`: its resources, in order. */
  resources?: PbsResource[];
}

export interface DirectiveProblem {
  message: string;
  span: Span;
  severity: 'error' | 'warning';
  /** A corrected directive, when the mistake has exactly one obvious correction. */
  replacement?: string;
}

export interface ParsedDirective {
  text: string;
  options: PbsOption[];
  problems: DirectiveProblem[];
}

export interface QsubOptionInfo {
  argument: boolean;
  description: string;
}

/** qsub's options (PBS Pro); the ones a job script may carry as `#PBS` directives. */
export const QSUB_OPTIONS: Readonly<Record<string, QsubOptionInfo>> = {
  a: { argument: true, description: 'Do not start the job before this date and time.' },
  A: { argument: true, description: 'Accounting string. Gadi does not use it: the project is `-P`.' },
  c: { argument: true, description: 'Checkpoint policy.' },
  C: { argument: true, description: 'Prefix that marks directives in the script (default `#PBS`).' },
  e: { argument: true, description: 'Where the job\'s standard error goes.' },
  f: { argument: false, description: 'Keep qsub in the foreground.' },
  G: { argument: false, description: 'Interactive GUI session.' },
  h: { argument: false, description: 'Submit the job on hold.' },
  I: { argument: false, description: 'Interactive job.' },
  j: { argument: true, description: 'Join standard output and error (`oe` or `eo`).' },
  J: { argument: true, description: 'Array job with these indices, such as `1-10`.' },
  k: { argument: true, description: 'Keep standard output and error on the execution host.' },
  l: { argument: true, description: 'Resources: `-l ncpus=48,mem=192GB`, `-l walltime=02:00:00`, `-l storage=gdata/ab12`, `-l wd`.' },
  m: { argument: true, description: 'When to send mail: `a` (abort), `b` (begin), `e` (end), `n` (never).' },
  M: { argument: true, description: 'Who receives the mail.' },
  N: { argument: true, description: 'Job name.' },
  o: { argument: true, description: 'Where the job\'s standard output goes.' },
  p: { argument: true, description: 'Priority, -1024 to 1023.' },
  P: { argument: true, description: 'Project whose allocation pays for the job (on Gadi: your NCI project code, such as `ab12`).' },
  q: { argument: true, description: 'Queue: on Gadi normal, express, hugemem, gpuvolta, normalsr, …' },
  r: { argument: true, description: 'Whether the job may be rerun (`y` or `n`).' },
  R: { argument: true, description: 'Remove standard output and error files.' },
  S: { argument: true, description: 'Shell that runs the script.' },
  u: { argument: true, description: 'User the job runs as.' },
  v: { argument: true, description: 'Environment variables passed to the job: `VAR=value,VAR2`.' },
  V: { argument: false, description: 'Pass the whole submission environment to the job.' },
  W: { argument: true, description: 'Extra attributes, such as `umask=027` or `depend=after:<job id>`.' },
  X: { argument: false, description: 'Forward X11 (interactive jobs).' },
  z: { argument: false, description: 'Do not print the job id.' },
};

export type ResourceKind = 'count' | 'size' | 'time' | 'select' | 'storage' | 'flag' | 'text';
export interface ResourceInfo {
  kind: ResourceKind;
  description: string;
}

/** Resources with a known meaning; any other name is passed to the site as is. */
export const PBS_RESOURCES: Readonly<Record<string, ResourceInfo>> = {
  ncpus: { kind: 'count', description: 'Cores for the whole job.' },
  mem: { kind: 'size', description: 'Memory for the whole job, in PBS units: `192GB` is 192 GiB.' },
  vmem: { kind: 'size', description: 'Virtual memory for the whole job.' },
  jobfs: { kind: 'size', description: 'Node-local SSD space for the job (Gadi: `$PBS_JOBFS` and `$TMPDIR` point there).' },
  walltime: { kind: 'time', description: 'Longest the job may run: `HH:MM:SS` or seconds.' },
  cput: { kind: 'time', description: 'CPU time limit.' },
  ngpus: { kind: 'count', description: 'GPUs for the job (Gadi: gpuvolta and dgxa100).' },
  mpiprocs: { kind: 'count', description: 'MPI processes per chunk.' },
  select: { kind: 'select', description: 'Chunks of resources: `select=2:ncpus=48:mem=192GB`. Gadi does not accept it.' },
  place: { kind: 'text', description: 'How chunks are placed on nodes.' },
  storage: { kind: 'storage', description: 'Gadi file systems the job needs: `gdata/ab12+scratch/cd34`.' },
  wd: { kind: 'flag', description: 'Start the job in the directory it was submitted from (Gadi).' },
  software: { kind: 'text', description: 'Licensed software the job uses (Gadi).' },
  other: { kind: 'text', description: 'Other site-specific requests (Gadi: `-l other=hyperthread`, …).' },
};

interface Token {
  text: string;
  start: number;
  end: number;
  /** The token's text is its source text (no quotes), so offsets inside it map one to one. */
  literal: boolean;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    while (i < text.length && /\s/.test(text[i])) i++;
    if (i >= text.length) break;
    const start = i;
    let value = '';
    let literal = true;
    while (i < text.length && !/\s/.test(text[i])) {
      const q = text[i];
      if (q === '"' || q === "'") {
        literal = false;
        const close = text.indexOf(q, i + 1);
        const stop = close < 0 ? text.length : close;
        value += text.slice(i + 1, stop);
        i = close < 0 ? text.length : close + 1;
      } else {
        value += q;
        i++;
      }
    }
    tokens.push({ text: value, start, end: i, literal });
  }
  return tokens;
}

/** Split at commas that are not inside quotes. */
function splitOutsideQuotes(s: string, sep: string): { part: string; offset: number }[] {
  const parts: { part: string; offset: number }[] = [];
  let quote = '';
  let from = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (quote) {
      if (c === quote) quote = '';
    } else if (c === '"' || c === "'") {
      quote = c;
    } else if (c === sep) {
      parts.push({ part: s.slice(from, i), offset: from });
      from = i + 1;
    }
  }
  parts.push({ part: s.slice(from), offset: from });
  return parts;
}

export interface SelectChunk {
  count: number;
  resources: Record<string, string>;
}

/** `select=2:ncpus=48:mem=192GB+1:ncpus=4` → chunks. Throws UnitError when a chunk is malformed. */
export function parseSelect(value: string): SelectChunk[] {
  return value.split('+').map((chunk) => {
    const parts = chunk.split(':');
    let count = 1;
    if (/^\d+$/.test(parts[0])) count = Number(parts.shift());
    const resources: Record<string, string> = {};
    for (const part of parts) {
      const eq = part.indexOf('=');
      if (eq <= 0) throw new UnitError(`'${part}' in select is not a resource=value pair`);
      resources[part.slice(0, eq).toLowerCase()] = part.slice(eq + 1);
    }
    return { count, resources };
  });
}

/** Entries of `storage=gdata/ab12+scratch/cd34`, in lower case. */
export function parseStorage(value: string): string[] {
  return value.split('+').map((s) => s.trim().toLowerCase()).filter(Boolean);
}

/** Why PBS would refuse this value for a resource it knows, or undefined when the value is fine. */
export function checkResourceValue(name: string, value: string | undefined): string | undefined {
  const info = PBS_RESOURCES[name];
  if (!info) return undefined;
  if (value === undefined) {
    return info.kind === 'flag' ? undefined : `-l ${name} needs a value, as in -l ${name}=${example(info.kind)}`;
  }
  try {
    switch (info.kind) {
      case 'count':
        if (!/^\d+$/.test(value)) return `'${value}' is not a whole number for ${name}`;
        return undefined;
      case 'size':
        parsePbsSize(value);
        return undefined;
      case 'time':
        parseWalltime(value);
        return undefined;
      case 'select':
        for (const chunk of parseSelect(value)) {
          for (const [k, v] of Object.entries(chunk.resources)) {
            const problem = checkResourceValue(k, v);
            if (problem) return problem;
          }
        }
        return undefined;
      case 'storage':
        for (const entry of parseStorage(value)) {
          if (!/^[a-z0-9_]+\/[a-z0-9_.-]+$/i.test(entry)) return `'${entry}' is not a storage entry such as gdata/ab12 or scratch/ab12`;
        }
        return value.trim() ? undefined : 'storage needs at least one entry, such as gdata/ab12';
      default:
        return undefined;
    }
  } catch (e) {
    return (e as Error).message;
  }
}

function example(kind: ResourceKind): string {
  return { count: '1', size: '4GB', time: '01:00:00', select: '1:ncpus=1', storage: 'gdata/ab12', flag: '', text: 'x' }[kind];
}

function parseResources(value: string, at: number, literal: boolean, problems: DirectiveProblem[]): PbsResource[] {
  const resources: PbsResource[] = [];
  for (const { part, offset } of splitOutsideQuotes(value, ',')) {
    const trimmed = part.trim();
    const lead = part.length - part.trimStart().length;
    const start = literal ? at + offset + lead : at;
    const end = literal ? start + trimmed.length : at + value.length;
    if (!trimmed) {
      problems.push({ message: 'Empty resource in -l list (two commas, or a trailing comma)', span: { start, end: Math.max(end, start + 1) }, severity: 'error' });
      continue;
    }
    const eq = trimmed.indexOf('=');
    const name = (eq < 0 ? trimmed : trimmed.slice(0, eq)).toLowerCase();
    const raw = eq < 0 ? undefined : trimmed.slice(eq + 1).replace(/^(["'])(.*)\1$/, '$2');
    const res: PbsResource = { name, value: raw, span: { start, end } };
    if (eq >= 0) res.valueSpan = literal ? { start: start + eq + 1, end } : { start, end };
    if (!name) {
      problems.push({ message: `'${trimmed}' has no resource name`, span: res.span, severity: 'error' });
      continue;
    }
    const problem = checkResourceValue(name, raw);
    if (problem) problems.push({ message: problem, span: res.valueSpan ?? res.span, severity: 'error' });
    resources.push(res);
  }
  return resources;
}

/** Parse one directive as written after `#PBS `. */
export function parseDirective(text: string): ParsedDirective {
  const options: PbsOption[] = [];
  const problems: DirectiveProblem[] = [];
  const tokens = tokenize(text);
  if (!tokens.length) {
    problems.push({ message: 'Empty directive: dask-jobqueue writes a bare `#PBS` line', span: { start: 0, end: text.length }, severity: 'warning' });
  }
  for (let i = 0; i < tokens.length; i++) {
    const tok = tokens[i];
    if (i === 0 && /^#PBS$/i.test(tok.text)) {
      problems.push({
        message: 'dask-jobqueue adds `#PBS ` itself: write the directive without it',
        span: { start: tok.start, end: tok.end }, severity: 'error', replacement: text.slice(tok.end).trim(),
      });
      continue;
    }
    if (!tok.text.startsWith('-') || tok.text.length < 2) {
      problems.push({
        message: `'${tok.text}' is not a qsub option: write directives such as -l ncpus=48 or -P ab12`,
        span: { start: tok.start, end: tok.end }, severity: 'error',
      });
      continue;
    }
    for (let j = 1; j < tok.text.length; j++) {
      const flag = tok.text[j];
      const info = QSUB_OPTIONS[flag];
      const flagAt = tok.literal ? tok.start + j : tok.start;
      if (!info) {
        problems.push({ message: `-${flag} is not a qsub option`, span: { start: flagAt - (j === 1 ? 1 : 0), end: flagAt + 1 }, severity: 'error' });
        break;
      }
      if (!info.argument) {
        options.push({ flag, flagAt, span: { start: tok.start, end: tok.end } });
        continue;
      }
      let value: string | undefined;
      let valueSpan: Span | undefined;
      let literal = tok.literal;
      if (j + 1 < tok.text.length) {
        value = tok.text.slice(j + 1);
        valueSpan = tok.literal ? { start: tok.start + j + 1, end: tok.end } : { start: tok.start, end: tok.end };
      } else if (i + 1 < tokens.length) {
        const next = tokens[++i];
        value = next.text;
        literal = next.literal;
        valueSpan = { start: next.start, end: next.end };
      }
      const option: PbsOption = { flag, flagAt, span: { start: tok.start, end: valueSpan?.end ?? tok.end }, value, valueSpan };
      if (value === undefined || !valueSpan) {
        problems.push({ message: `-${flag} needs a value`, span: option.span, severity: 'error' });
      } else if (flag === 'l') {
        option.resources = parseResources(value, valueSpan.start, literal, problems);
      }
      options.push(option);
      break;
    }
  }
  return { text, options, problems };
}
