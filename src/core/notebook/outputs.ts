// A notebook cell's outputs as the kernel sends them (Jupyter's IOPub messages), in a form an editor maps 1:1 to its
// own output items, within a budget: a cell printing 100 MB must not reach the editor whole. The editor keeps what
// fits and is told how much was cut; the kernel keeps running either way.
import { formatBytes } from '../units';

/** The mime types shown, richest first (an editor picks the first it renders); others in a bundle are dropped. */
export const SHOWN_MIMES = [
  'text/html', 'text/markdown', 'image/svg+xml', 'image/png', 'image/jpeg',
  'application/json', 'text/plain',
] as const;
const BASE64_MIMES = new Set(['image/png', 'image/jpeg']);
/** What a cell's outputs may add up to, by default: text and decoded image bytes together. */
export const DEFAULT_OUTPUT_LIMIT = 4 * 1024 * 1024;

export interface OutputItem {
  mime: string;
  /** text/*, image/svg+xml */
  text?: string;
  /** Decoded images. */
  bytes?: Uint8Array;
  /** application/json, widget views */
  json?: unknown;
}

export type CellOutput =
  | { kind: 'stream'; name: 'stdout' | 'stderr'; text: string }
  | { kind: 'rich'; items: OutputItem[]; result: boolean }
  | { kind: 'error'; name: string; message: string; traceback: string }
  | { kind: 'clear'; wait: boolean };

/** One IOPub message of an execute request as an output, or undefined for the ones a cell does not show. */
export function cellOutput(msgType: string, content: Record<string, unknown>): CellOutput | undefined {
  switch (msgType) {
    case 'stream':
      return { kind: 'stream', name: content.name === 'stderr' ? 'stderr' : 'stdout', text: String(content.text ?? '') };
    case 'execute_result':
    case 'display_data': {
      const items = mimeItems(content.data);
      return items.length ? { kind: 'rich', items, result: msgType === 'execute_result' } : undefined;
    }
    case 'error': {
      const traceback = Array.isArray(content.traceback) ? content.traceback.map(String).join('\n') : '';
      return { kind: 'error', name: String(content.ename ?? 'Error'), message: String(content.evalue ?? ''), traceback };
    }
    case 'clear_output':
      return { kind: 'clear', wait: content.wait === true };
    default:
      return undefined;
  }
}

function mimeItems(data: unknown): OutputItem[] {
  if (!data || typeof data !== 'object') return [];
  const bundle = data as Record<string, unknown>;
  const items: OutputItem[] = [];
  for (const mime of SHOWN_MIMES) {
    const value = bundle[mime];
    if (value === undefined) continue;
    if (BASE64_MIMES.has(mime)) {
      if (typeof value === 'string') items.push({ mime, bytes: Uint8Array.from(Buffer.from(value, 'base64')) });
    } else if (mime === 'application/json' || mime.endsWith('+json')) {
      items.push({ mime, json: value });
    } else {
      // Jupyter may split text into a list of lines.
      items.push({ mime, text: Array.isArray(value) ? value.map(String).join('') : String(value) });
    }
  }
  return items;
}

function itemSize(item: OutputItem): number {
  if (item.bytes) return item.bytes.byteLength;
  if (item.text !== undefined) return item.text.length;
  return JSON.stringify(item.json ?? null).length;
}

/**
 * A cell's output budget: `take` returns what of an output still fits (a stream is cut at the limit, a rich output
 * that does not fit is dropped whole), and counts the rest; `note()` says what was cut.
 */
export class OutputBudget {
  private used = 0;
  private cutBytes = 0;
  private cutOutputs = 0;

  constructor(readonly limit = DEFAULT_OUTPUT_LIMIT) {}

  take(output: CellOutput): CellOutput | undefined {
    if (output.kind === 'clear') return output;
    const left = this.limit - this.used;
    if (output.kind === 'stream') {
      if (output.text.length <= left) {
        this.used += output.text.length;
        return output;
      }
      this.cutBytes += output.text.length - Math.max(0, left);
      this.used = this.limit;
      return left > 0 ? { ...output, text: output.text.slice(0, left) } : undefined;
    }
    const size = output.kind === 'error' ? output.traceback.length + output.message.length : output.items.reduce((n, i) => n + itemSize(i), 0);
    // An error always shows: it is what the user needs to read, and a traceback is small next to the limit.
    if (output.kind === 'error' || size <= left) {
      this.used += size;
      return output;
    }
    this.cutBytes += size;
    this.cutOutputs += 1;
    return undefined;
  }

  get cut(): number {
    return this.cutBytes;
  }

  /** What the cell lost to the limit, for the user; undefined when nothing was cut. */
  note(): string | undefined {
    if (!this.cutBytes) return undefined;
    const what = this.cutOutputs ? ` (${this.cutOutputs} display output${this.cutOutputs === 1 ? '' : 's'} among it)` : '';
    return `[gadi-dask] ${formatBytes(this.cutBytes)} of this cell's output was not shown${what}: a cell shows at most ${formatBytes(this.limit)}. The kernel ran the cell to its end; write large output to a file on the cluster instead.`;
  }
}
