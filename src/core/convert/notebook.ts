// The code cells of a Jupyter notebook (`.ipynb`, nbformat 4): the Python a PBSCluster call may sit in.
import { ConvertError } from './canonical';

export interface NotebookCell {
  /** 0-based position among all the notebook's cells. */
  readonly index: number;
  readonly source: string;
}

export function notebookCells(text: string, what = 'The notebook'): NotebookCell[] {
  let nb: unknown;
  try {
    nb = JSON.parse(text.startsWith('\uFEFF') ? text.slice(1) : text);
  } catch (e) {
    throw new ConvertError(`${what} is not a Jupyter notebook (not JSON: ${(e as Error).message}).`);
  }
  const cells = (nb as { cells?: unknown } | null)?.cells;
  if (!Array.isArray(cells)) throw new ConvertError(`${what} is not a Jupyter notebook (it has no cells).`);
  const out: NotebookCell[] = [];
  cells.forEach((cell: unknown, index) => {
    const c = cell as { cell_type?: unknown; source?: unknown } | null;
    if (c?.cell_type !== 'code') return;
    const source = Array.isArray(c.source) ? c.source.filter((s) => typeof s === 'string').join('') : c.source;
    if (typeof source === 'string') out.push({ index, source });
  });
  return out;
}
