// Bridges between dask-jobqueue's Python and cluster configs: a PBSCluster(...) call → config, config → call,
// dask's jobqueue.yaml → config. Pure: the language server, the extension and the CLI call these.
export { ConvertError, canonicalPbs, type CanonicalPbs, type NotConverted } from './canonical';
export { configFromDaskConfig, pbsSection, pythonFromConfig, type PythonCode } from './fromConfig';
export {
  callHeader, configFileBase, draftFromCall, renderDraft, type ConfigDraft, type RenderOptions,
} from './fromPython';
export { notebookCells } from './notebook';
export {
  callAt, findPbsClusterCalls, parsePython, type CallArgument, type PbsClusterCall, type PythonParse, type SourceRange,
} from './python';
export { isEmpty, pythonLiteral, sameValue, toJs, type PyValue } from './value';
