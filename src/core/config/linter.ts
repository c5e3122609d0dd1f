// Lint a cluster config's text: YAML, then the schema, then the PBS, dask and (for Gadi) site rules. Pure and
// synchronous, never throws, bounded in time: the language server calls it on every change, the CLI once per file.
import type { z } from 'zod';
import { RULES, ruleDocUrl, type Severity } from './codes';
import { controlCharacterFindings } from './controlCharacters';
import type { Finding, LintDiagnostic } from './diagnostics';
import { readAsDask } from './daskValues';
import { ConfigDocument, type YamlPath } from './document';
import { mergeEdits } from './edits';
import { GADI_DEFAULT_QUEUE, gadiQueue } from './queues';
import { runRules } from './rules';
import { kernelSchema, pbsSchema, schedulerSchema, type ClusterConfig } from './schema';
import { checkSchema } from './schemaCheck';
import { detectSite, type SiteKind } from './site';

export interface LintOptions {
  /** Base of the rules page for `docUrl` (a URL or path to docs/rules.md); defaults to `docs/rules.md`. */
  docBase?: string;
  /** Most diagnostics reported (YAML errors in a binary file can run to thousands); default 500. */
  maxDiagnostics?: number;
}

export interface LintResult {
  diagnostics: LintDiagnostic[];
  /** The config as validated by the schema (defaults filled in); absent when the YAML or the schema has errors. */
  config?: ClusterConfig;
  site: SiteKind;
  /** The parsed document, for completion and hover on the same text. */
  document: ConfigDocument;
  /** Rules that failed internally (a bug, not a user error); lint goes on without them. */
  ruleErrors: string[];
}

const SEVERITY_RANK: Record<Severity, number> = { error: 0, warning: 1, information: 2, hint: 3 };

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Each key of an object schema that validates on its own, with defaults: what the rules can trust. */
function lenient(schema: z.ZodObject, raw: unknown): Record<string, unknown> {
  const source = isRecord(raw) ? raw : {};
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(schema.shape)) {
    const r = (field as z.ZodType).safeParse(source[key]);
    if (r.success && r.data !== undefined) out[key] = r.data;
  }
  return out;
}

/** Values a quick fix may write for a missing key: on Gadi, a whole node of the chosen queue. */
function missingValue(site: SiteKind, rawPbs: unknown) {
  return (path: YamlPath): string | number | undefined => {
    if (site !== 'gadi' || path.length !== 3 || path[0] !== 'jobqueue' || path[1] !== 'pbs') return undefined;
    const q = gadiQueue(isRecord(rawPbs) && typeof rawPbs.queue === 'string' ? rawPbs.queue : GADI_DEFAULT_QUEUE);
    if (!q) return undefined;
    if (path[2] === 'cores') return q.coresPerNode;
    if (path[2] === 'memory') return `${q.memPerNode / 2 ** 30}GB`;
    return undefined;
  };
}

export function lintText(text: string, options: LintOptions = {}): LintResult {
  const cd = new ConfigDocument(text);
  const findings: Finding[] = cd.problems.map((p) => ({ code: p.code, severity: p.severity, range: p.range, message: p.message }));
  const ruleErrors: string[] = [];
  let config: ClusterConfig | undefined;
  let site: SiteKind = 'generic';
  if (!cd.hasSyntaxErrors) {
    try {
      const reading = readAsDask(cd);
      findings.push(...reading.findings);
      const root = reading.value;
      const top = isRecord(root) ? root : {};
      const rawPbs = isRecord(top.jobqueue) ? top.jobqueue.pbs : undefined;
      site = detectSite(top.site, isRecord(top.connection) ? top.connection.host : undefined);
      const schema = checkSchema(cd, root, missingValue(site, rawPbs));
      findings.push(...schema.findings, ...controlCharacterFindings(cd));
      // A duplicate key is an error even though the schema is satisfied: no config from a file with errors in it.
      const refused = cd.problems.some((p) => p.severity === 'error') || reading.findings.some((f) => (f.severity ?? RULES[f.code].severity) === 'error');
      config = refused ? undefined : schema.config;
      if (isRecord(rawPbs)) {
        findings.push(...runRules({
          cd, site,
          pbs: lenient(pbsSchema, rawPbs),
          present: new Set(Object.keys(rawPbs)),
          scheduler: lenient(schedulerSchema, top.scheduler),
          kernel: isRecord(top.kernel) ? lenient(kernelSchema, top.kernel) : undefined,
        }, ruleErrors));
      }
    } catch (e) {
      // Deep or pathological input can exhaust the stack in a validator: report it rather than fail the editor.
      ruleErrors.push(String((e as Error).stack ?? e));
      findings.push({ code: 'yaml/syntax', range: cd.rootRange(), message: `This file could not be checked: ${(e as Error).message}` });
    }
  }
  return { diagnostics: toDiagnostics(cd, findings, options), config, site, document: cd, ruleErrors };
}

function toDiagnostics(cd: ConfigDocument, findings: Finding[], options: LintOptions): LintDiagnostic[] {
  const max = options.maxDiagnostics ?? 500;
  const seen = new Set<string>();
  const sorted = findings
    .map((f) => ({ f, severity: f.severity ?? RULES[f.code].severity }))
    .sort((a, b) => a.f.range.start - b.f.range.start || SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity]);
  const out: LintDiagnostic[] = [];
  for (const { f, severity } of sorted) {
    const key = `${f.code}\0${f.range.start}\0${f.range.end}\0${f.message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    if (out.length >= max) break;
    const d: LintDiagnostic = {
      range: cd.range(f.range), severity, code: f.code, message: f.message, docUrl: ruleDocUrl(f.code, options.docBase),
    };
    if (f.fixes?.length) {
      d.fixes = f.fixes.map((fix) => ({
        title: fix.title,
        edits: mergeEdits(cd.text, fix.edits).map((e) => ({ range: cd.range({ start: e.start, end: e.end }), newText: e.newText })),
        ...(fix.preferred ? { isPreferred: true } : {}),
      }));
    }
    out.push(d);
  }
  return out;
}

