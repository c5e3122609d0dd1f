// Reading a cluster config file for the lifecycle: the YAML as dask would read it (the config module's document
// parser), checked against the schema, with errors that point at the file and the key.
import { readFileSync } from 'node:fs';
import { RULES } from '../config/codes';
import { readAsDask } from '../config/daskValues';
import { parseConfigDocument } from '../config/document';
import { clusterConfigSchema, type ClusterConfig } from '../config/schema';
import { ConfigFileError } from './errors';

export function parseClusterConfig(text: string, source = 'the cluster config'): ClusterConfig {
  const document = parseConfigDocument(text);
  const syntax = document.problems.filter((p) => p.severity === 'error');
  if (syntax.length || document.value === undefined) {
    const first = syntax[0];
    const where = first ? ` (line ${document.position(first.range.start).line + 1})` : '';
    throw new ConfigFileError(`${source} is not valid YAML${where}: ${first?.message ?? 'it could not be read'}`, source);
  }
  // The values dask-jobqueue would use (snake_case keys, nulls, Python's printing); what it would fail on, or turn
  // into a broken script, is refused here too (the cluster name has its own check).
  const reading = readAsDask(document);
  const refused = reading.findings.find((f) => RULES[f.code].scope === 'dask' && (f.severity ?? RULES[f.code].severity) === 'error');
  if (refused) {
    throw new ConfigFileError(`${source} is not a valid cluster config (line ${document.position(refused.range.start).line + 1}): ${refused.message} Run \`gadi-dask lint\` on it for details.`, source);
  }
  const result = clusterConfigSchema.safeParse(reading.value);
  if (!result.success) {
    const lines = result.error.issues.slice(0, 5).map((i) => `${i.path.length ? i.path.join('.') : '(top level)'}: ${i.message}`);
    const more = result.error.issues.length > 5 ? ` (and ${result.error.issues.length - 5} more)` : '';
    throw new ConfigFileError(`${source} is not a valid cluster config: ${lines.join('; ')}${more}. Run \`gadi-dask lint\` on it for details.`, source);
  }
  return result.data;
}

export function loadClusterConfig(path: string): ClusterConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigFileError(`Cannot read the cluster config ${path}: ${(e as Error).message}`, path, { cause: e });
  }
  return parseClusterConfig(text, path);
}
