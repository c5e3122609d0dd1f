// The config-file language service's public surface: linting with fixes, the parsed document with ranges, and the
// schema and directive knowledge that completion and hover read.
export { lintText, type LintOptions, type LintResult } from './linter';
export type { LintDiagnostic, LintFix, TextEdit, Severity } from './diagnostics';
export { RULES, RULES_DOC_PATH, ruleAnchor, ruleDocUrl, type RuleCode, type RuleInfo } from './codes';
export {
  ConfigDocument, parseConfigDocument, MAX_DOCUMENT_CHARS,
  type OffsetRange, type PathAtOffset, type PathSegment, type Position, type Range, type YamlPath,
} from './document';
export { applyOffsetEdits, applyTextEdits, yamlScalar, type OffsetEdit } from './edits';
export { schemaInfo, knownKeys, type SchemaInfo, type SchemaKey } from './schemaInfo';
export {
  parseDirective, PBS_RESOURCES, QSUB_OPTIONS,
  type ParsedDirective, type PbsOption, type PbsResource, type QsubOptionInfo, type ResourceInfo,
} from './directives';
export {
  GADI_QUEUES, GADI_QUEUE_NAMES, GADI_DEFAULT_QUEUE, GADI_MAX_WALLTIME_SECONDS, gadiQueue, describeQueue, maxNcpus,
  maxWalltimeSeconds, maxMemBytes, nodesFor, memPerCore, suCost, type QueueInfo, type WalltimeTier, type CostRequest,
} from './queues';
export { estimateJobCost, type JobCost } from './cost';
export { detectSite, isGadiHost, type SiteKind } from './site';
export { JobRequest, defaultProcesses, type LenientPbs } from './request';
export { didYouMean, editDistance } from './suggest';
export { clusterConfigSchema, pbsSchema, DEPRECATED_PBS_KEYS, type ClusterConfig, type PbsOptions } from './schema';
