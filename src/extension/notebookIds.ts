// What package.json matches of the notebook controllers: the notebook type they serve (its activation event) and the
// prefix of their ids (the `notebookKernel` when-clauses). No vscode import, so a unit test holds the manifest to it.

/** The notebook type of .ipynb files (VS Code's built-in ipynb serializer). */
export const NOTEBOOK_TYPE = 'jupyter-notebook';
/** Every controller id starts with this; VS Code's `notebookKernel` context key is `<extension id>/<controller id>`. */
export const CONTROLLER_PREFIX = 'gadi-dask-kernel-';
