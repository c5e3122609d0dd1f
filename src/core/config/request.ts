// What one worker job asks PBS for: the header dask-jobqueue generates (minus the lines job-directives-skip
// removes) followed by job-extra-directives, read as qsub reads them. A later request of a resource overrides an
// earlier one, as it does in qsub.
import { effectiveList, generatedHeader, skippedBy, type HeaderKey } from '../pbs/jobScript';
import { parseBytes, parsePbsSize, parseWalltime } from '../units';
import { parseDirective, parseSelect, parseStorage, type DirectiveProblem, type PbsOption, type PbsResource } from './directives';
import type { PbsOptions } from './schema';

/** The pbs section as far as it is valid: keys that failed the schema are absent, defaults are filled in. */
export type LenientPbs = Partial<PbsOptions>;

export type { HeaderKey };
export type ExtrasKey = 'job-extra-directives' | 'job-extra';

export type DirectiveOrigin =
  | { kind: 'header'; key: HeaderKey; /** where the key's value begins in the directive text */ valueAt: number }
  | { kind: 'extra'; key: ExtrasKey; index: number };

export interface Directive {
  origin: DirectiveOrigin;
  /** The text after `#PBS `. */
  text: string;
  options: PbsOption[];
  problems: DirectiveProblem[];
  /** For header lines: the job-directives-skip entry that removes it. */
  skippedBy?: string;
}

export interface Requested<T> {
  value: T;
  directive: Directive;
  option: PbsOption;
  resource?: PbsResource;
}

/** Resources that belong to chunks: PBS refuses them job-wide next to `select`. */
export const CHUNK_RESOURCES: readonly string[] = ['ncpus', 'mem', 'vmem', 'ngpus', 'mpiprocs'];

export { defaultProcesses, effectiveList } from '../pbs/jobScript';

function tryNumber(f: () => number): number | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

/** `memory` in bytes, as dask parses it, or undefined when absent or unreadable. */
export function memoryBytes(pbs: LenientPbs): number | undefined {
  return pbs.memory === undefined ? undefined : tryNumber(() => parseBytes(pbs.memory as string | number));
}

export class JobRequest {
  readonly directives: Directive[] = [];
  /** Every header line dask-jobqueue would generate, skipped ones included. */
  readonly header: Directive[] = [];
  readonly extrasKey: ExtrasKey;
  readonly skipKey: string;

  constructor(readonly pbs: LenientPbs) {
    const raw = pbs as Record<string, unknown>;
    const skip = effectiveList(raw, 'job-directives-skip', 'header-skip');
    this.skipKey = skip.key;
    for (const line of generatedHeader(pbs)) {
      const text = `${line.prefix}${line.value}`;
      const origin: DirectiveOrigin = { kind: 'header', key: line.key, valueAt: line.prefix.length };
      this.header.push({ origin, ...parseDirective(text), skippedBy: skippedBy(line, skip.items) });
    }
    this.directives.push(...this.header.filter((d) => d.skippedBy === undefined));
    const extras = effectiveList(raw, 'job-extra-directives', 'job-extra');
    this.extrasKey = extras.key as ExtrasKey;
    extras.items.forEach((text, index) => {
      this.directives.push({ origin: { kind: 'extra', key: this.extrasKey, index }, ...parseDirective(text) });
    });
  }

  /** Every use of an option letter, in script order. */
  options(flag: string): Requested<string | undefined>[] {
    const out: Requested<string | undefined>[] = [];
    for (const directive of this.directives) {
      for (const option of directive.options) if (option.flag === flag) out.push({ value: option.value, directive, option });
    }
    return out;
  }

  lastOption(flag: string): Requested<string | undefined> | undefined {
    return this.options(flag).at(-1);
  }

  /** Every job-wide request of a resource (`-l name=…`), in script order. */
  resources(name: string): Requested<string | undefined>[] {
    const out: Requested<string | undefined>[] = [];
    for (const directive of this.directives) {
      for (const option of directive.options) {
        for (const resource of option.resources ?? []) {
          if (resource.name === name) out.push({ value: resource.value, directive, option, resource });
        }
      }
    }
    return out;
  }

  /** The request of a resource that counts: the last one. */
  resource(name: string): Requested<string | undefined> | undefined {
    return this.resources(name).at(-1);
  }

  /** A resource's value read by `parse`, from a job-wide request or else summed over the `select` chunks. */
  private quantity(name: string, parse: (v: string) => number, chunkDefault?: number): Requested<number> | undefined {
    const direct = this.resource(name);
    if (direct?.value !== undefined) {
      const value = tryNumber(() => parse(direct.value as string));
      return value === undefined ? undefined : { ...direct, value };
    }
    const select = this.resource('select');
    if (select?.value === undefined) return undefined;
    const total = tryNumber(() => {
      let sum = 0;
      let seen = false;
      for (const chunk of parseSelect(select.value as string)) {
        const v = chunk.resources[name];
        if (v !== undefined) seen = true;
        sum += chunk.count * (v === undefined ? (chunkDefault ?? 0) : parse(v));
      }
      if (!seen && chunkDefault === undefined) throw new Error('absent');
      return sum;
    });
    return total === undefined ? undefined : { ...select, value: total };
  }

  get ncpus(): Requested<number> | undefined {
    return this.quantity('ncpus', Number, 1);
  }

  get memBytes(): Requested<number> | undefined {
    return this.quantity('mem', parsePbsSize);
  }

  get ngpus(): Requested<number> | undefined {
    return this.quantity('ngpus', Number);
  }

  get walltimeSeconds(): Requested<number> | undefined {
    const w = this.resource('walltime');
    const value = w?.value === undefined ? undefined : tryNumber(() => parseWalltime(w.value as string));
    return w && value !== undefined ? { ...w, value } : undefined;
  }

  get queue(): Requested<string> | undefined {
    const q = this.lastOption('q');
    return q?.value ? { ...q, value: q.value } : undefined;
  }

  get project(): Requested<string> | undefined {
    const p = this.lastOption('P');
    return p?.value ? { ...p, value: p.value } : undefined;
  }

  /** The storage entries the job mounts (`gdata/ab12`, `scratch/cd34`), from the `-l storage=` that counts. */
  get storage(): { entries: string[]; from?: Requested<string | undefined> } {
    const s = this.resource('storage');
    return { entries: s?.value ? parseStorage(s.value) : [], from: s };
  }
}
