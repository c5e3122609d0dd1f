// Sizes and counts as people read them in a tree row or a dialog: three significant digits and a binary unit
// ("45.8 MiB", "0.93 GiB", "192 GiB"), and "1 job" / "2 jobs".

const UNITS: [string, number][] = [['TiB', 2 ** 40], ['GiB', 2 ** 30], ['MiB', 2 ** 20], ['KiB', 2 ** 10]];

export function formatSize(bytes: number): string {
  for (const [unit, size] of UNITS) {
    if (bytes >= size * 0.9) return `${Number((bytes / size).toPrecision(3))} ${unit}`;
  }
  return `${Math.round(bytes)} B`;
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}
