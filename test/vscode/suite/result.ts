// The line the in-host mocha runner prints with its counts, and its parser for the outer runners.

/** Prefix of the result line; deliberately not `# pass`, so relayed output is never counted twice. */
export const RESULT_MARKER = 'gadi-dask-suite-result';

export interface SuiteResult {
  passed: number;
  failed: number;
  pending: number;
}

export function formatResult(result: SuiteResult): string {
  return `${RESULT_MARKER} ${JSON.stringify(result)}`;
}

export function parseResult(line: string): SuiteResult | undefined {
  const at = line.indexOf(RESULT_MARKER);
  if (at < 0) return undefined;
  const json = /\{[^}]*\}/.exec(line.slice(at + RESULT_MARKER.length));
  if (!json) return undefined;
  try {
    const value = JSON.parse(json[0]) as Partial<SuiteResult>;
    if (typeof value.passed !== 'number' || typeof value.failed !== 'number') return undefined;
    return { passed: value.passed, failed: value.failed, pending: value.pending ?? 0 };
  } catch {
    return undefined;
  }
}
