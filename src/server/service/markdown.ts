// Markdown shown by completion and hover: what the schema says about a key, what a queue offers, what a directive
// asks PBS for. One writer, so the two never describe a key differently.
import {
  describeQueue, gadiQueue, PBS_RESOURCES, QSUB_OPTIONS, type PbsOption, type SchemaInfo, type SchemaKey, type YamlPath,
} from '../../core/config';

/** Inline code that survives backticks in the value. */
export function code(text: string): string {
  const fence = text.includes('`') ? '``' : '`';
  const pad = text.startsWith('`') || text.endsWith('`') ? ' ' : '';
  return `${fence}${pad}${text}${pad}${fence}`;
}

function formatDefault(value: unknown): string {
  if (Array.isArray(value) && !value.length) return '`[]`';
  if (value && typeof value === 'object' && !Object.keys(value).length) return '`{}`';
  return code(typeof value === 'string' ? value : JSON.stringify(value));
}

/** True for keys of dask-jobqueue's section, whose Python keyword is worth showing. */
function isPbsKey(path: YamlPath): boolean {
  return path.length === 3 && path[0] === 'jobqueue' && path[1] === 'pbs';
}

/** One line: type, required or default. */
export function keySummary(info: Pick<SchemaKey, 'type' | 'required' | 'hasDefault' | 'default'>): string {
  const parts = [info.type];
  if (info.required) parts.push('required');
  else if (info.hasDefault) parts.push(`default ${typeof info.default === 'object' ? JSON.stringify(info.default) : String(info.default)}`);
  return parts.join(' · ');
}

/** The documentation of the key at `path`. */
export function keyMarkdown(path: YamlPath, info: Omit<SchemaInfo, 'path'>): string {
  const name = String(path[path.length - 1] ?? '');
  const lines: string[] = [];
  const facts = [`**${name}**`, code(info.type)];
  if (info.required) facts.push('required');
  else if (info.hasDefault) facts.push(`default ${formatDefault(info.default)}`);
  lines.push(facts.join(' · '));
  if (info.deprecatedBy) lines.push(`**Deprecated**: use ${code(info.deprecatedBy)} instead.`);
  if (info.description) lines.push(info.description);
  if (info.allowedValues?.length) lines.push(`One of ${info.allowedValues.map(code).join(', ')}.`);
  if (isPbsKey(path)) lines.push(`dask-jobqueue: ${code(`PBSCluster(${name.replace(/-/g, '_')}=…)`)}`);
  return lines.join('\n\n');
}

/** A Gadi queue's limits, or undefined for a name that is not one of them. */
export function queueMarkdown(name: string): string | undefined {
  const queue = gadiQueue(name);
  return queue && `**Gadi queue ${code(queue.name)}**\n\n${describeQueue(queue)}`;
}

/** What one parsed directive option asks for; with `resource`, that resource of a `-l` in particular. */
export function optionMarkdown(option: PbsOption, resource?: string): string {
  const info = QSUB_OPTIONS[option.flag];
  const written = option.value === undefined ? `-${option.flag}` : `-${option.flag} ${option.value}`;
  const lines = [`**${code(written)}**`];
  if (info) lines.push(`qsub ${code(`-${option.flag}`)}: ${info.description}`);
  const names = resource ? [resource] : (option.resources ?? []).map((r) => r.name);
  for (const name of names) {
    const r = PBS_RESOURCES[name];
    lines.push(r ? `${code(name)}: ${r.description}` : `${code(name)}: a site-specific resource, passed to PBS as is.`);
  }
  if (option.flag === 'q' && option.value) {
    const queue = queueMarkdown(option.value);
    if (queue) lines.push(queue);
  }
  return lines.join('\n\n');
}
