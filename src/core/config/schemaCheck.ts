// The schema's verdict on a file, as findings at YAML ranges: a bad value on the value, an unknown key on the key
// (with "did you mean"), a missing key on its parent's key. Also what zod cannot say: deprecated keys, and
// likely typos in the sections that must stay open to the rest of dask's config.
import type { z } from 'zod';
import { isScalar } from 'yaml';
import type { ConfigDocument, YamlPath } from './document';
import { fixes, makeFix, type Finding } from './diagnostics';
import { insertKey, removeKey, renameKey, replaceScalar, yamlScalar } from './edits';
import { clusterConfigSchema, DEPRECATED_PBS_KEYS, type ClusterConfig } from './schema';
import { knownKeys, schemaInfo } from './schemaInfo';
import { didYouMean } from './suggest';

/** Values a fix may write for a missing key. */
export type MissingKeyValue = (path: YamlPath) => string | number | undefined;

// Top-level sections of dask's own config, and dask-jobqueue's other cluster types: both legitimately sit next to ours.
const DASK_SECTIONS = new Set([
  'distributed', 'array', 'dataframe', 'temporary-directory', 'temporary_directory', 'tokenize', 'optimization',
  'admin', 'visualization', 'shuffle', 'logging', 'num-workers', 'num_workers', 'labextension', 'local_directory',
  'dataframe', 'scheduler', 'jobqueue', 'cloudprovider', 'kubernetes', 'gateway', 'coiled', 'yarn', 'mpi', 'ucx',
]);
const JOBQUEUE_CLUSTERS = new Set(['pbs', 'slurm', 'sge', 'lsf', 'oar', 'htcondor', 'moab', 'local']);

const dotted = (path: YamlPath) => (path.length ? path.join('.') : 'the file');

function describeValue(v: unknown): string {
  if (v === null || v === undefined) return 'nothing';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `the text ${JSON.stringify(v.length > 40 ? `${v.slice(0, 40)}…` : v)}`;
  if (typeof v === 'number') return `the number ${v}`;
  return String(v);
}

function describeExpected(expected: string | undefined, path: YamlPath): string {
  const names: Record<string, string> = {
    int: 'a whole number', number: 'a number', string: 'text', array: 'a list', object: 'a mapping', record: 'a mapping',
    boolean: 'true or false',
  };
  if (expected === 'number' && schemaInfo(path)?.type === 'integer') return names.int;
  if (expected && names[expected]) return names[expected];
  const type = schemaInfo(path)?.type ?? 'another type';
  return type.split(' | ').map((t) => names[t === 'integer' ? 'int' : t === 'list' ? 'array' : t === 'mapping' ? 'object' : t] ?? t).join(' or ');
}

function valueAt(root: unknown, path: YamlPath): unknown {
  let v = root;
  for (const seg of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[seg];
  }
  return v;
}

function typeFinding(cd: ConfigDocument, root: unknown, path: YamlPath, expected: string | undefined, missing: MissingKeyValue): Finding {
  const want = describeExpected(expected, path);
  const key = String(path[path.length - 1] ?? '');
  const pair = cd.pairAt(path);
  const node = path.length ? cd.nodeAt(path) : cd.doc?.contents ?? undefined;
  if (!path.length && (root === null || root === undefined)) {
    const skeleton = ['jobqueue:', '  pbs:', '    cores: 1', '    memory: 4GB', ''].join(cd.eol);
    return {
      code: 'schema/missing-key', range: cd.rootRange(),
      message: 'The file is empty: a cluster config needs at least jobqueue.pbs with cores and memory.',
      fixes: fixes(makeFix('Add a minimal jobqueue.pbs section', [{ start: cd.text.length, end: cd.text.length, newText: skeleton }])),
    };
  }
  if (path.length && !pair && node === undefined) {
    const parent = path.slice(0, -1);
    const value = missing(path);
    const fix = value === undefined ? undefined : makeFix(`Add ${key}: ${value}`, [insertKey(cd, parent, key, value)]);
    return {
      code: 'schema/missing-key', range: cd.issueRange(path),
      message: `Missing required key '${key}' in ${dotted(parent)}.`, fixes: fixes(fix),
    };
  }
  const actual = valueAt(root, path);
  if (actual === null || actual === undefined) {
    return { code: 'schema/invalid-type', range: cd.issueRange(path), message: `'${key || 'The file'}' has no value: expected ${want}.` };
  }
  const found: Finding = {
    code: 'schema/invalid-type', range: cd.issueRange(path),
    message: `${path.length ? `'${key}'` : 'The file'} must be ${want}, not ${describeValue(actual)}.`,
  };
  // Quoted numbers and single strings where a list belongs have one obvious correction.
  const inPbs = path[0] === 'jobqueue' && path[1] === 'pbs' && path.length === 3;
  if (inPbs && typeof actual === 'string' && (expected === 'number' || expected === 'int')) {
    found.message += ' dask-jobqueue computes with this value and fails on text (TypeError).';
  } else if (inPbs && typeof actual === 'string' && expected === 'array') {
    found.message += ' dask-jobqueue would take each character as an item.';
  }
  if (typeof actual === 'string' && (expected === 'number' || expected === 'int') && /^\s*\d+(\.\d+)?\s*$/.test(actual)) {
    found.fixes = fixes(makeFix(`Write ${actual.trim()} as a number`, [replaceScalar(cd, path, Number(actual))], true));
  } else if (typeof actual === 'string' && expected === 'array' && isScalar(node) && node.range) {
    found.fixes = fixes(makeFix('Make it a list of one', [{ start: node.range[0], end: node.range[1], newText: `[${yamlScalar(actual, true)}]` }], true));
  }
  return found;
}

export interface SchemaResult {
  findings: Finding[];
  config?: ClusterConfig;
}

/** Validate the parsed file against the schema. */
export function checkSchema(cd: ConfigDocument, root: unknown, missing: MissingKeyValue = () => undefined): SchemaResult {
  const findings: Finding[] = [];
  const result = clusterConfigSchema.safeParse(root);
  if (!result.success) {
    for (const issue of result.error.issues) findings.push(...issueFindings(cd, root, issue, missing));
  }
  findings.push(...deprecatedKeys(cd, root), ...openSectionTypos(cd, root));
  return { findings, config: result.success ? result.data : undefined };
}

function issueFindings(cd: ConfigDocument, root: unknown, issue: z.core.$ZodIssue, missing: MissingKeyValue): Finding[] {
  const path = issue.path.map((p) => (typeof p === 'number' ? p : String(p)));
  const key = String(path[path.length - 1] ?? '');
  switch (issue.code) {
    case 'unrecognized_keys': {
      const present = new Set(Object.keys((valueAt(root, path) as object | null) ?? {}));
      const candidates = (knownKeys(path) ?? []).filter((k) => !present.has(k));
      return issue.keys.map((unknown) => {
        const suggestion = didYouMean(unknown, candidates);
        const keyPath = [...path, unknown];
        return {
          code: 'schema/unknown-key', range: cd.keyRange(keyPath) ?? cd.issueRange(keyPath),
          message: suggestion
            ? `Unknown key '${unknown}' in ${dotted(path)}. Did you mean '${suggestion}'?`
            : `Unknown key '${unknown}' in ${dotted(path)}: ${path.join('.') === 'jobqueue.pbs' ? 'dask-jobqueue\'s PBSCluster has no such setting' : 'this section has no such key'}.`,
          fixes: suggestion ? fixes(makeFix(`Rename to '${suggestion}'`, [renameKey(cd, keyPath, suggestion)], true)) : undefined,
        } satisfies Finding;
      });
    }
    case 'invalid_type':
      return [typeFinding(cd, root, path, issue.expected, missing)];
    case 'invalid_union':
      return [typeFinding(cd, root, path, undefined, missing)];
    case 'invalid_value': {
      const allowed = issue.values.map(String);
      const actual = valueAt(root, path);
      const suggestion = typeof actual === 'string' ? didYouMean(actual, allowed) : undefined;
      return [{
        code: 'schema/invalid-value', range: cd.issueRange(path),
        message: `'${key}' must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, not ${describeValue(actual)}.`,
        fixes: suggestion ? fixes(makeFix(`Change to '${suggestion}'`, [replaceScalar(cd, path, suggestion)], true)) : undefined,
      }];
    }
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const word = issue.code === 'too_small' ? (issue.inclusive ? 'at least' : 'more than') : (issue.inclusive ? 'at most' : 'less than');
      const what = issue.origin === 'string' ? `${bound} characters long` : String(bound);
      const message = issue.origin === 'string' && Number(bound) === 1 && issue.code === 'too_small'
        ? `'${key}' must not be empty.`
        : `'${key}' must be ${word} ${what}.`;
      return [{ code: 'schema/invalid-value', range: cd.issueRange(path), message }];
    }
    default:
      return [{ code: 'schema/invalid-value', range: cd.issueRange(path), message: key ? `'${key}': ${issue.message}` : issue.message }];
  }
}

function deprecatedKeys(cd: ConfigDocument, root: unknown): Finding[] {
  const pbs = valueAt(root, ['jobqueue', 'pbs']);
  if (!pbs || typeof pbs !== 'object' || Array.isArray(pbs)) return [];
  const out: Finding[] = [];
  for (const [old, replacement] of Object.entries(DEPRECATED_PBS_KEYS)) {
    if (!(old in pbs)) continue;
    const path = ['jobqueue', 'pbs', old];
    const current = (pbs as Record<string, unknown>)[replacement];
    const replacementUsed = Array.isArray(current) ? current.length > 0 : current !== undefined && current !== null;
    out.push({
      code: 'schema/deprecated-key', range: cd.keyRange(path) ?? cd.issueRange(path),
      message: replacementUsed
        ? `'${old}' is deprecated, and dask-jobqueue ignores it because '${replacement}' is set: remove it.`
        : `'${old}' is deprecated: dask-jobqueue calls it '${replacement}' now.`,
      fixes: fixes(replacementUsed
        ? makeFix(`Remove '${old}'`, [removeKey(cd, path)], true)
        : makeFix(`Rename to '${replacement}'`, [renameKey(cd, path, replacement)], true)),
    });
  }
  return out;
}

/** The top level and `jobqueue` accept other sections, so only near misses of our own keys are flagged there. */
function openSectionTypos(cd: ConfigDocument, root: unknown): Finding[] {
  const out: Finding[] = [];
  const check = (path: YamlPath, allowed: Set<string>) => {
    const section = valueAt(root, path);
    if (!section || typeof section !== 'object' || Array.isArray(section)) return;
    const ours = knownKeys(path) ?? [];
    const present = new Set(Object.keys(section));
    for (const key of present) {
      if (ours.includes(key) || allowed.has(key)) continue;
      const suggestion = didYouMean(key, ours.filter((k) => !present.has(k)));
      if (!suggestion) continue;
      const keyPath = [...path, key];
      out.push({
        code: 'schema/unknown-key', range: cd.keyRange(keyPath) ?? cd.issueRange(keyPath),
        message: `Unknown key '${key}' in ${dotted(path)}. Did you mean '${suggestion}'?`,
        fixes: fixes(makeFix(`Rename to '${suggestion}'`, [renameKey(cd, keyPath, suggestion)], true)),
      });
    }
  };
  check([], DASK_SECTIONS);
  check(['jobqueue'], JOBQUEUE_CLUSTERS);
  return out;
}
