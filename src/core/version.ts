// One version for the extension, the CLI and the remote runtime directory (~/.gadi-dask/runtime/<version>).
// Bundlers inline package.json, so the number lives in one place.
import { version } from '../../package.json';

export const VERSION: string = version;
