// The config-file language service: pure functions of a document's text (no LSP connection, no editor), so
// plain-Node tests cover everything the server answers. The server only moves their results over LSP.
export { diagnostics, docBaseFromRepository, textHash, SOURCE, type FixData } from './diagnostics';
export { completion } from './completion';
export { hover } from './hover';
export { codeActions } from './codeActions';
export {
  callCodeActions, forgetDocument, CONFIG_FROM_CALL_COMMAND, CONFIG_FROM_CALL_KIND, CONFIG_FROM_CALL_TITLE, type ConfigFromCallArgs,
} from './convertActions';
