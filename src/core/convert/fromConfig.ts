// Cluster config → Python, and dask's own `jobqueue.yaml` → cluster config. Both read the file's `jobqueue.pbs`
// section as PyYAML does (the config module's document), then take its canonical form.
import { ConfigDocument } from '../config/document';
import { canonicalPbs, ConvertError, type NotConverted } from './canonical';
import { renderDraft } from './fromPython';
import { argumentOfKey } from './keys';
import { fromYamlNode, Unrepresentable } from './yaml';
import { pythonLiteral, type PyValue } from './value';

/** The file's `jobqueue.pbs` section; `what` names the file in messages. */
export function pbsSection(text: string, what: string): PyValue {
  const cd = new ConfigDocument(text.startsWith('\uFEFF') ? text.slice(1) : text);
  const error = cd.problems.find((p) => p.severity === 'error' && p.code !== 'yaml/duplicate-key');
  if (error || !cd.doc) {
    const line = error ? ` (line ${cd.position(error.range.start).line + 1})` : '';
    throw new ConvertError(`${what} is not valid YAML${line}: ${error?.message ?? 'it could not be read'}`);
  }
  const node = cd.nodeAt(['jobqueue', 'pbs']);
  if (!node) throw new ConvertError(`${what} has no jobqueue.pbs section.`);
  try {
    return fromYamlNode(node, cd.doc);
  } catch (e) {
    if (e instanceof Unrepresentable) throw new ConvertError(`${what}: jobqueue.pbs cannot be converted: ${e.message}.`);
    throw e;
  }
}

export interface PythonCode {
  /** An import and the call, ready to paste. */
  readonly code: string;
  /** Keys not passed to PBSCluster, with why (also comments in the code). */
  readonly dropped: readonly NotConverted[];
}

/** The PBSCluster(...) call that reads the same as the config's `jobqueue.pbs` section. */
export function pythonFromConfig(text: string, what = 'The cluster config'): PythonCode {
  const { entries, dropped } = canonicalPbs(pbsSection(text, what));
  const lines = ['from dask_jobqueue import PBSCluster', ''];
  for (const d of dropped) lines.push(`# Not passed: ${d.argument} (${d.reason})`);
  if (!entries.length) lines.push('cluster = PBSCluster()');
  else lines.push('cluster = PBSCluster(', ...entries.map(([k, v]) => `    ${argumentOfKey(k)}=${pythonLiteral(v)},`), ')');
  return { code: `${lines.join('\n')}\n`, dropped };
}

/** A cluster config made from a dask config file's `jobqueue.pbs` section (a `jobqueue.yaml`). */
export function configFromDaskConfig(text: string, options: { host: string; source: string }): { text: string; dropped: readonly NotConverted[] } {
  const { entries, dropped } = canonicalPbs(pbsSection(text, options.source));
  const out = renderDraft({ pbs: entries, notConverted: dropped }, {
    host: options.host,
    header: `# Cluster config made from the jobqueue.pbs section of ${options.source}.`,
    listTitle: 'Left out',
  });
  return { text: out, dropped };
}
