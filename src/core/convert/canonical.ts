// A `jobqueue.pbs` section as dask-jobqueue uses it, in the schema's spelling: `_` and `-` alike (dask's config
// does not tell them apart), nulls left out (dask then takes its default), deprecated keys folded into their
// replacements the way dask-jobqueue reads them, keys it never reads set aside. Config → Python, the import of a
// dask config and the round-trip test all start from this form.
import { DEPRECATED_KEYS, PBS_KEYS } from './keys';
import { inert, yamlInline } from './yaml';
import { isEmpty, type PyValue } from './value';

export interface NotConverted {
  /** What was left out, as written: an argument (`python=sys.executable`) or a key and its value. */
  readonly argument: string;
  readonly reason: string;
}

export class ConvertError extends Error {
  override readonly name = 'ConvertError';
}

const CANONICAL = new Set(PBS_KEYS);

/** Keys whose null dask-jobqueue does not replace by the default: leaving them out changes the script. */
const NULL_IS_NOT_DEFAULT: Readonly<Record<string, string>> = {
  name: 'with null dask-jobqueue writes no #PBS -N line',
  walltime: 'with null dask-jobqueue writes no walltime line',
  'death-timeout': 'with null dask-jobqueue leaves out --death-timeout',
  'job-script-prologue': 'with null dask-jobqueue fails to write a job script',
};

export interface CanonicalPbs {
  readonly entries: ReadonlyArray<readonly [string, PyValue]>;
  /** Keys left out, with why: ones dask-jobqueue does not read, or ignores here. */
  readonly dropped: readonly NotConverted[];
}

/**
 * Sets each deprecated value under its replacement key, as dask-jobqueue reads it: only while the replacement is
 * empty; `ignored` hears of the others.
 */
export function foldDeprecated(
  entries: Map<string, PyValue>,
  deprecated: ReadonlyArray<readonly [old: string, key: string, value: PyValue]>,
  ignored: (old: string, key: string, value: PyValue) => void,
): void {
  for (const [old, key, value] of deprecated) {
    const current = entries.get(key);
    if (current !== undefined && !isEmpty(current)) ignored(old, key, value);
    else entries.set(key, value);
  }
}

export function canonicalPbs(section: PyValue): CanonicalPbs {
  if (section.type !== 'dict') throw new ConvertError('jobqueue.pbs is not a mapping of keys to values');
  const entries = new Map<string, PyValue>();
  const spelled = new Map<string, string>();
  const deprecated: [old: string, key: string, value: PyValue][] = [];
  const dropped: NotConverted[] = [];
  for (const [raw, value] of section.entries) {
    const key = raw.replace(/_/g, '-');
    const earlier = spelled.get(key);
    if (earlier !== undefined) {
      throw new ConvertError(`jobqueue.pbs sets ${inert(earlier)} and ${inert(raw)}, which dask reads as one key: keep one of them.`);
    }
    spelled.set(key, raw);
    const replacement = DEPRECATED_KEYS.get(key);
    if (!CANONICAL.has(key) && replacement === undefined) {
      dropped.push({ argument: `${inert(raw)}: ${yamlInline(value)}`, reason: 'dask-jobqueue does not read this key' });
      continue;
    }
    if (value.type === 'none') {
      if (NULL_IS_NOT_DEFAULT[key]) dropped.push({ argument: `${raw}: null`, reason: `${NULL_IS_NOT_DEFAULT[key]}; left out, the default applies` });
      continue;
    }
    if (replacement !== undefined) deprecated.push([raw, replacement, value]);
    else entries.set(key, value);
  }
  foldDeprecated(entries, deprecated, (old, key, value) =>
    dropped.push({ argument: `${old}: ${yamlInline(value)}`, reason: `dask-jobqueue ignores it because ${key} is set` }));
  return { entries: [...entries], dropped };
}
