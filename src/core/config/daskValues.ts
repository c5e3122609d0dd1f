// The `jobqueue.pbs` section as dask-jobqueue uses it. dask's config treats `_` and `-` in keys alike; a key
// PBSCluster does not read is ignored; each key's value is used by type (null meaning what dask-jobqueue does with
// None for that key, a number where text is expected printed with Python's str()). This turns the file's values
// (PyYAML's) into the ones the schema and the job script take, and reports what would make dask-jobqueue fail or
// print a broken script, in the user's terms.
import { isScalar } from 'yaml';
import { PyDate, PyDateTime, PyFloat, pythonFloat, pythonStr, pythonTruthy } from '../python';
import { fixes, makeFix, type Finding, type OffsetFix } from './diagnostics';
import type { ConfigDocument, YamlPath } from './document';
import { removeKey, renameKey, replaceScalar } from './edits';
import { pbsSchema, SCRIPT_LINE_KEYS } from './schema';
import { didYouMean } from './suggest';

const PBS: YamlPath = ['jobqueue', 'pbs'];

/** Keys dask-jobqueue prints with `%s` (or passes as a string argument). */
const TEXT_KEYS = new Set([
  'name', 'queue', 'account', 'project', 'resource-spec', 'walltime', 'log-directory', 'python', 'local-directory',
  'interface', 'shebang', 'worker-command', 'shared-temp-directory',
]);
const INT_KEYS = new Set(['cores', 'processes']);
/** Lists and, for a replacement, the deprecated key dask-jobqueue falls back to while it is empty. */
const LIST_KEYS: Record<string, string | undefined> = {
  'worker-extra-args': 'extra', 'job-script-prologue': 'env-extra', 'job-script-epilogue': undefined,
  'job-extra-directives': 'job-extra', 'job-directives-skip': 'header-skip',
  extra: undefined, 'env-extra': undefined, 'job-extra': undefined, 'header-skip': undefined,
};

/** What `key: null` does in dask-jobqueue: the default, nothing (the line or flag is left out), or a failure. */
const NULL_MEANS: Record<string, 'default' | 'none' | string> = {
  processes: 'default', python: 'default', 'scheduler-options': 'default',
  queue: 'none', account: 'none', 'resource-spec': 'none', 'log-directory': 'none', interface: 'none',
  'local-directory': 'none', 'shared-temp-directory': 'none', walltime: 'none', 'death-timeout': 'none', name: 'none',
  shebang: 'dask-jobqueue would write None as the script\'s first line',
  'worker-command': 'dask-jobqueue would start the worker with \'python -m None\'',
  'job-script-prologue': 'dask-jobqueue fails on it (TypeError: \'NoneType\' object is not iterable)',
  'job-script-epilogue': 'dask-jobqueue fails on it (TypeError: \'NoneType\' object is not iterable)',
  'job-extra-directives': 'dask-jobqueue fails on it (TypeError: \'NoneType\' object is not iterable)',
  'job-directives-skip': 'dask-jobqueue fails on it (TypeError: \'NoneType\' object is not iterable)',
};

/** How dask-jobqueue prints a text key into the job script. */
const PRINTED_AS: Record<string, string> = {
  name: '#PBS -N %s', queue: '#PBS -q %s', account: '#PBS -A %s', project: '#PBS -A %s', 'resource-spec': '#PBS -l %s',
  walltime: '#PBS -l walltime=%s', 'log-directory': '#PBS -e %s/', python: '%s -m distributed.cli.dask_worker',
  'local-directory': '--local-directory %s', interface: '--interface %s', 'worker-command': 'python -m %s',
};

/** PBS Pro's job name: at most 236 printable characters without blanks, starting with a letter or digit. */
const PBS_JOB_NAME = /^[A-Za-z0-9][\x21-\x7e]{0,235}$/;

export interface DaskReading {
  /** The whole file, with `jobqueue.pbs` under dask-jobqueue's own (kebab-case) names and values as it uses them. */
  value: unknown;
  findings: Finding[];
}

const isRecord = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof PyDate) && !(v instanceof PyFloat);
const canonical = (key: string) => key.replace(/_/g, '-');

/** Floats as numbers and dates as their text, outside the section whose types dask-jobqueue cares about. */
function plain(v: unknown): unknown {
  if (v instanceof PyFloat) return v.value;
  if (v instanceof PyDate) return String(v);
  if (Array.isArray(v)) return v.map(plain);
  if (isRecord(v)) {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) Object.defineProperty(out, k, { value: plain(x), enumerable: true, writable: true, configurable: true });
    return out;
  }
  return v;
}

/** The name Python gives the type of a value PyYAML built (as a TypeError prints it). */
function pythonType(v: unknown): string {
  if (v === true || v === false) return 'bool';
  if (typeof v === 'number' || typeof v === 'bigint') return 'int';
  if (v instanceof PyFloat) return 'float';
  if (v instanceof PyDateTime) return 'datetime.datetime';
  if (v instanceof PyDate) return 'datetime.date';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Uint8Array) return 'bytes';
  return typeof v === 'string' ? 'str' : 'dict';
}

function describe(v: unknown): string {
  if (v === true || v === false) return `the boolean ${pythonStr(v)}`;
  if (v instanceof PyFloat) return `the float ${pythonFloat(v.value)}`;
  return typeof v === 'string' ? JSON.stringify(v) : pythonStr(v);
}

class Reader {
  readonly findings: Finding[] = [];
  constructor(readonly cd: ConfigDocument) {}

  report(path: YamlPath, message: string, fix?: OffsetFix, code: Finding['code'] = 'dask/value-type'): void {
    this.findings.push({ code, range: this.cd.issueRange(path), message, fixes: fixes(fix) });
  }

  /** A plain scalar in the file that PyYAML read as something else: quoting it keeps the text. */
  quoteFix(path: YamlPath): OffsetFix | undefined {
    const node = this.cd.nodeAt(path);
    if (!isScalar(node) || node.type !== 'PLAIN' || !node.range) return undefined;
    const src = this.cd.text.slice(node.range[0], node.range[1]);
    return makeFix(`Quote it: '${src}'`, [{ start: node.range[0], end: node.range[1], newText: `'${src}'` }], true);
  }

  /** A scalar where dask-jobqueue expects text: what `%s` prints (lists and mappings are left to the schema). */
  text(key: string, v: unknown, path: YamlPath): unknown {
    if (v === true || v === false) {
      const shown = (PRINTED_AS[key] ?? '%s').replace('%s', pythonStr(v));
      this.report(path, `${key} is ${describe(v)} to PyYAML (YAML 1.1 reads yes/no/on/off/true/false unquoted as booleans): dask-jobqueue would write '${shown}' into the job script. Quote the value.`, this.quoteFix(path));
      return pythonStr(v);
    }
    // An int walltime is seconds, printed as is; the schema takes it as a number.
    if (key === 'walltime' && typeof v === 'number') return v;
    if (typeof v === 'number' || typeof v === 'bigint' || v instanceof PyFloat || v instanceof PyDate) return pythonStr(v);
    return v;
  }

  integer(key: string, v: unknown, path: YamlPath): unknown {
    if (v instanceof PyFloat) {
      const whole = Number.isInteger(v.value);
      this.report(path, `${key} is ${describe(v)}, not a whole number: dask-jobqueue computes the workers from it and writes floats into the worker command (such as '--nworkers 8.0'), which dask's worker refuses. Write a whole number${whole ? ` (${v.value})` : ''}.`,
        whole ? makeFix(`Write ${v.value}`, [replaceScalar(this.cd, path, v.value)], true) : undefined);
      return whole ? v.value : v;
    }
    if (v === true || v === false) {
      this.report(path, `${key} is ${describe(v)} to PyYAML: write a whole number.`);
      return v;
    }
    return v;
  }

  list(key: string, v: unknown, path: YamlPath, pbs: Record<string, unknown>): unknown {
    if (!Array.isArray(v)) return v; // the schema reports a non-list, with its fix
    // dask-jobqueue reads env-extra only while job-script-prologue is empty.
    const ignored = key === 'env-extra' && pythonTruthy(pbs['job-script-prologue']);
    if (ignored) return v.map((item) => (typeof item === 'string' ? item : item === null ? '' : pythonStr(item)));
    if (SCRIPT_LINE_KEYS.includes(key)) return this.lines(key, v, path);
    const out: unknown[] = [];
    v.forEach((item, i) => {
      const at = [...path, i];
      // Items keep their places, so that rules still point at the right line of the file.
      if (item === null) {
        this.report(at, `An empty item in ${key}: dask-jobqueue would write 'None' into the job script. Remove it or give it a value.`);
        out.push('None');
        return;
      }
      if (key === 'job-directives-skip' || key === 'header-skip') {
        if (typeof item !== 'string') this.report(at, `${key} holds ${describe(item)}: dask-jobqueue fails on anything but text here (TypeError). Quote it.`, this.quoteFix(at));
        out.push(typeof item === 'string' ? item : pythonStr(item));
        return;
      }
      if (item === true || item === false) {
        this.report(at, `This item is ${describe(item)} to PyYAML: dask-jobqueue would write '${pythonStr(item)}'. Quote it.`, this.quoteFix(at));
        out.push(pythonStr(item));
        return;
      }
      out.push(typeof item === 'number' || typeof item === 'bigint' || item instanceof PyFloat || item instanceof PyDate ? pythonStr(item) : item);
    });
    return out;
  }

  /**
   * A list dask-jobqueue writes as lines, `"\n".join(filter(None, items))`: a false item (null, 0, an empty
   * string) is left out, and any other item but text makes join raise a TypeError, so no script is written.
   */
  lines(key: string, v: unknown[], path: YamlPath): unknown[] {
    let joined = 0; // the item's place in what join sees, as its TypeError counts
    return v.map((item, i) => {
      const at = [...path, i];
      if (typeof item === 'string') {
        if (item) joined++;
        return item;
      }
      if (!pythonTruthy(item)) {
        // Items keep their places (rules point at the right line); the script leaves empty ones out.
        if (item !== null) {
          this.findings.push({
            code: 'dask/value-type', severity: 'warning', range: this.cd.issueRange(at),
            message: `Item ${i} of ${key} is ${describe(item)} to PyYAML, which dask-jobqueue leaves out of the job script as it does empty items. Remove it, or quote it if it is a command.`,
            fixes: fixes(this.quoteFix(at)),
          });
        }
        return '';
      }
      const type = pythonType(item);
      this.report(at, `Item ${i} of ${key} is ${type === 'list' || type === 'dict' ? `a ${type}` : describe(item)}, not text: dask-jobqueue fails writing the job script ` +
        `(TypeError: sequence item ${joined}: expected str instance, ${type} found). ${type === 'list' || type === 'dict' ? 'Write the command as one string' : 'Quote it'}.`,
        this.quoteFix(at));
      joined++;
      return typeof item === 'object' && !(item instanceof PyFloat) && !(item instanceof PyDate) ? item : pythonStr(item);
    });
  }

  /** A value that is null: what dask-jobqueue does with None. Returns the value to keep, or `undefined` to drop it. */
  nullValue(key: string, pbs: Record<string, unknown>, path: YamlPath): unknown {
    if (key in LIST_KEYS) {
      const fallback = LIST_KEYS[key];
      if (fallback === undefined && !(key in NULL_MEANS)) return undefined; // a deprecated list left unset
      if (fallback !== undefined && pbs[fallback] !== undefined && pbs[fallback] !== null) return undefined;
      if (key === 'worker-extra-args') {
        if (pythonTruthy(pbs.interface)) {
          this.report(path, 'worker-extra-args is null while interface is set: dask-jobqueue fails adding --interface to it (TypeError). Remove the line to use the default, [].',
            makeFix('Remove worker-extra-args', [removeKey(this.cd, path)], true));
        }
        return undefined;
      }
    }
    const means = NULL_MEANS[key];
    if (means === undefined || means === 'default') return undefined;
    // These keep their null: the schema's default would put the line or flag back.
    if (means === 'none') return key === 'walltime' || key === 'death-timeout' || key === 'name' ? null : undefined;
    this.report(path, `${key} is null: ${means}.`, makeFix(`Remove ${key}`, [removeKey(this.cd, path)], true));
    return undefined;
  }

  section(pbs: Record<string, unknown>): Record<string, unknown> {
    const known = Object.keys(pbsSchema.shape);
    const byName = new Map<string, string>(); // canonical → spelling in the file
    const out: Record<string, unknown> = {};
    const canon: Record<string, unknown> = {};
    for (const [spelled, value] of Object.entries(pbs)) {
      const key = canonical(spelled);
      const earlier = byName.get(key);
      if (earlier !== undefined) {
        const line = this.cd.position(this.cd.keyRange([...PBS, earlier])?.start ?? 0).line + 1;
        this.findings.push({
          code: 'dask/key-spelling', range: this.cd.keyRange([...PBS, spelled]) ?? this.cd.issueRange(PBS),
          message: `'${spelled}' and '${earlier}' (line ${line}) are one key to dask, which treats _ and - in keys alike and would silently use one of them: keep one.`,
          fixes: fixes(makeFix(`Remove '${spelled}'`, [removeKey(this.cd, [...PBS, spelled])])),
        });
      }
      byName.set(key, spelled);
      canon[key] = value;
    }
    for (const [key, value] of Object.entries(canon)) {
      const spelled = byName.get(key) as string;
      const path = [...PBS, spelled];
      if (!known.includes(key)) {
        const suggestion = didYouMean(key, known.filter((k) => !(k in canon)));
        this.findings.push({
          code: 'schema/unknown-key', severity: 'warning', range: this.cd.keyRange(path) ?? this.cd.issueRange(path),
          message: `dask-jobqueue does not read '${spelled}' from jobqueue.pbs and ignores it${suggestion ? `. Did you mean '${suggestion}'?` : ' (PBSCluster takes some arguments, such as nanny, only in Python).'}`,
          fixes: fixes(suggestion ? makeFix(`Rename to '${suggestion}'`, [renameKey(this.cd, path, suggestion)], true) : makeFix(`Remove '${spelled}'`, [removeKey(this.cd, path)])),
        });
        continue;
      }
      let v: unknown = value;
      if (v === null) {
        v = this.nullValue(key, canon, path);
      } else if (TEXT_KEYS.has(key)) {
        v = this.text(key, v, path);
        // dask-jobqueue tests these with `or` / `if`: a falsy value (0, '') means none.
        if ((key === 'account' || key === 'interface') && !pythonTruthy(value)) v = undefined;
      } else if (INT_KEYS.has(key)) {
        v = this.integer(key, v, path);
      } else if (key in LIST_KEYS) {
        v = this.list(key, v, path, canon);
      } else if (key === 'memory') {
        if (v === true || v === false) this.report(path, `memory is ${describe(v)} to PyYAML: write a size such as 192GB.`, undefined);
        else if (v instanceof PyFloat) v = Math.trunc(v.value); // parse_bytes takes int(float)
      } else if (key === 'death-timeout') {
        if (v === true || v === false) {
          this.report(path, `death-timeout is ${describe(v)} to PyYAML: dask-jobqueue would write '--death-timeout ${pythonStr(v)}'. Write a number of seconds.`);
          v = pythonStr(v);
        } else if (v instanceof PyFloat || v instanceof PyDate || typeof v === 'bigint') {
          v = pythonStr(v);
        }
      } else {
        v = plain(v);
      }
      if (v !== undefined) out[key] = v;
    }
    if (typeof out.name === 'string' && !PBS_JOB_NAME.test(out.name)) {
      const path = [...PBS, byName.get('name') as string];
      this.findings.push({
        code: 'pbs/job-name', range: this.cd.issueRange(path),
        message: `qsub rejects the job name ${JSON.stringify(out.name)} (#PBS -N): a PBS job name is 1 to 236 characters, letters, digits and punctuation without blanks, starting with a letter or digit.`,
      });
    }
    return out;
  }
}

/** Read the file's `jobqueue.pbs` as dask-jobqueue does; the rest of the file is passed on (floats as numbers). */
export function readAsDask(cd: ConfigDocument, root: unknown = cd.value): DaskReading {
  const reader = new Reader(cd);
  if (!isRecord(root)) return { value: plain(root), findings: [] };
  const value = plain(root) as Record<string, unknown>;
  const jobqueue = root.jobqueue;
  if (isRecord(jobqueue) && isRecord(jobqueue.pbs)) {
    (value.jobqueue as Record<string, unknown>).pbs = reader.section(jobqueue.pbs);
  }
  return { value, findings: reader.findings };
}
