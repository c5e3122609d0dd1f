// Byte sizes and walltimes, parsed and printed exactly as dask, dask-jobqueue and PBS Pro do, so that what we
// render and what we lint agree with what PBSCluster would have produced.

const BASE: Record<string, number> = {
  kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, pb: 1e15,
  kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40, pib: 2 ** 50,
  b: 1, '': 1,
};
// dask.utils.parse_bytes also takes the first letter of decimal units ("5G") and binary units without "b" ("5Gi").
const BYTE_UNITS: Record<string, number> = { ...BASE };
for (const [k, v] of Object.entries(BASE)) {
  if (k && !k.includes('i')) BYTE_UNITS[k[0]] = v;
  if (k.includes('i')) BYTE_UNITS[k.slice(0, -1)] = v;
}

export class UnitError extends Error {}

/** dask.utils.parse_bytes: "192GB" → 192e9, "4 GiB" → 4·2^30, "GB" → 1e9; integer bytes. */
export function parseBytes(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input)) throw new UnitError(`Could not interpret '${input}' as a byte size`);
    return Math.trunc(input);
  }
  let s = input.replace(/ /g, '');
  if (!/[0-9]/.test(s)) s = '1' + s;
  const m = /^(.*?)([a-zA-Z]*)$/.exec(s)!;
  const [, prefix, suffix] = m;
  const n = /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(prefix) ? Number(prefix) : NaN;
  if (Number.isNaN(n)) throw new UnitError(`Could not interpret '${prefix}' as a number`);
  const multiplier = BYTE_UNITS[suffix.toLowerCase()];
  if (multiplier === undefined) throw new UnitError(`Could not interpret '${suffix}' as a byte unit`);
  return Math.trunc(n * multiplier);
}

/** dask.utils.format_bytes with the space removed, as dask-jobqueue prints --memory-limit. */
export function formatBytes(n: number): string {
  const prefixes: [string, number][] = [['Pi', 2 ** 50], ['Ti', 2 ** 40], ['Gi', 2 ** 30], ['Mi', 2 ** 20], ['ki', 2 ** 10]];
  for (const [prefix, k] of prefixes) {
    if (n >= k * 0.9) return `${pythonFixed2(n / k)}${prefix}B`;
  }
  return `${Math.trunc(n)}B`;
}

/**
 * Python's `f"{x:.2f}"` for x ≥ 0. `toFixed` breaks an exact tie upwards (22.125 → "22.13") where Python rounds it
 * to even ("22.12"), e.g. `memory: 177GiB` over 8 processes.
 */
function pythonFixed2(x: number): string {
  const rounded = x.toFixed(2);
  // toFixed(60) is the exact decimal value of any double ≥ 2^-7, so a tie shows as "5" then only zeros.
  const exact = x.toFixed(60);
  const cut = exact.indexOf('.') + 3;
  if (!/^50*$/.test(exact.slice(cut))) return rounded;
  const truncated = exact.slice(0, cut);
  return Number(truncated[truncated.length - 1]) % 2 === 0 ? truncated : rounded;
}

/** dask_jobqueue.pbs.pbs_format_bytes_ceil: PBS's binary units named kB/MB/GB, rounded up. */
export function pbsFormatBytesCeil(n: number): string {
  if (n >= 10 * 2 ** 30) return `${Math.ceil(n / 2 ** 30)}GB`;
  if (n >= 10 * 2 ** 20) return `${Math.ceil(n / 2 ** 20)}MB`;
  if (n >= 10 * 2 ** 10) return `${Math.ceil(n / 2 ** 10)}kB`;
  return `${Math.trunc(n)}B`;
}

/** A PBS size resource (`mem=192GB`, `jobfs=100mb`, `400gb`): binary units, case-insensitive, plain number = bytes. */
export function parsePbsSize(input: string): number {
  const m = /^\s*(\d+)\s*([kmgtp]?)(b|w)?\s*$/i.exec(input);
  if (!m) throw new UnitError(`'${input}' is not a PBS size such as 192GB or 400mb`);
  const power = ['', 'k', 'm', 'g', 't', 'p'].indexOf(m[2].toLowerCase());
  const word = m[3]?.toLowerCase() === 'w' ? 8 : 1;
  return Number(m[1]) * 1024 ** power * word;
}

/** PBS walltime: `[[HH:]MM:]SS[.ms]` or plain seconds; returns seconds. */
export function parseWalltime(input: string | number): number {
  if (typeof input === 'number') {
    if (!Number.isFinite(input) || input < 0) throw new UnitError(`'${input}' is not a walltime`);
    return Math.trunc(input);
  }
  const s = input.trim();
  if (!/^\d+(:\d+){0,2}(\.\d+)?$/.test(s)) {
    throw new UnitError(`'${input}' is not a walltime: write HH:MM:SS (for example 02:00:00) or seconds`);
  }
  const parts = s.split(':').map(Number);
  let seconds = 0;
  for (const p of parts) seconds = seconds * 60 + p;
  return Math.trunc(seconds);
}

// dask.utils.timedelta_sizes: the units parse_timedelta reads, in seconds.
const TIMEDELTA_UNITS: Record<string, number> = {};
for (const [names, seconds] of [
  [['s', 'second', 'seconds'], 1], [['ms', 'millisecond', 'milliseconds'], 1e-3], [['us', 'microsecond', 'microseconds'], 1e-6],
  [['ns', 'nanosecond', 'nanoseconds'], 1e-9], [['m', 'minute', 'minutes'], 60], [['h', 'hour', 'hours'], 3600],
  [['d', 'day', 'days'], 86400], [['w', 'week', 'weeks'], 604800],
] as const) for (const n of names) TIMEDELTA_UNITS[n] = seconds;

const PY_DIGITS = '[0-9](?:_?[0-9])*';
const PY_FLOAT = new RegExp(`^[-+]?(?:${PY_DIGITS}\\.?(?:${PY_DIGITS})?|\\.${PY_DIGITS})(?:[eE][-+]?${PY_DIGITS})?$`);

/**
 * dask.utils.parse_timedelta of a string, as a worker reads `--death-timeout`: a number (`10`, `1e1`, `1.5`) and an
 * optional unit (`90s`, `2m`, `1h`), seconds by default; returns seconds.
 */
export function parseTimedelta(input: string): number {
  let s = input.replace(/ /g, '');
  if (s && !/^[0-9]/.test(s)) s = `1${s}`;
  const unitAt = s.search(/[A-Za-z]*$/); // the unit is the trailing run of letters, so `1e1` has none
  const prefix = s.slice(0, unitAt);
  const unit = s.slice(unitAt);
  const size = TIMEDELTA_UNITS[(unit || 's').toLowerCase()];
  // Python's float() syntax (underscores between digits too); JavaScript's Number() would also take `0x10`.
  if (!PY_FLOAT.test(prefix) || size === undefined) {
    throw new UnitError(`'${input}' is not a duration dask reads: write seconds (60) or a number with a unit (90s, 2m, 1h)`);
  }
  return Number(prefix.replace(/_/g, '')) * size;
}

/** Seconds as PBS prints a walltime: HH:MM:SS (hours may exceed 24). */
export function formatWalltime(seconds: number): string {
  const s = Math.max(0, Math.trunc(seconds));
  const two = (n: number) => String(n).padStart(2, '0');
  return `${two(Math.floor(s / 3600))}:${two(Math.floor((s % 3600) / 60))}:${two(s % 60)}`;
}
