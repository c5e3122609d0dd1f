// Lint speed: a typical config (goal < 5 ms) and a 5,000-line one (goal < 200 ms), timed after warm-up.
// Run: node --import tsx test/bench/lint.ts
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { lintText } from '../../src/core/config';

const typical = readFileSync(join(__dirname, '..', '..', 'examples', 'seed-tutorial.dask-cluster.yaml'), 'utf8');

/**
 * The tutorial config plus a long prologue and a large block of dask's own settings, written the way dask's
 * distributed.yaml is (block style, comments, scalars and short lists): 5,000 lines in all.
 */
function largeConfig(lines: number): string {
  const prologue = Array.from({ length: 2000 }, (_, i) => `      - export STEP_${i}=/scratch/ab12/run/${i}\n`).join('');
  const rows = typical.replace('      - module load python3/3.11.7\n', `      - module load python3/3.11.7\n${prologue}`).split('\n');
  rows.pop();
  rows.push('distributed:');
  for (let section = 0; rows.length < lines; section++) {
    rows.push(`  section-${section}:`, `    # settings of section ${section}`);
    for (let k = 0; k < 6; k++) rows.push(`    limit-${k}: ${k * 10}`, `    size-${k}: "${k}GB"`, `    enabled-${k}: true`);
    rows.push('    addresses:', '      - tcp://10.0.0.1:8786', '      - tcp://10.0.0.2:8786');
  }
  return `${rows.slice(0, lines).join('\n')}\n`;
}

function time(label: string, text: string, goalMs: number, runs: number): boolean {
  const errors = lintText(text).diagnostics.filter((d) => d.severity === 'error');
  if (errors.length) throw new Error(`${label}: expected a clean config, got ${errors[0].code} ${errors[0].message}`);
  for (let i = 0; i < Math.max(10, runs / 2); i++) lintText(text); // warm-up: let the JIT settle
  const samples: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    lintText(text);
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  const median = samples[Math.floor(samples.length / 2)];
  const p90 = samples[Math.floor(samples.length * 0.9)];
  const lines = text.split('\n').length - 1;
  const ok = median < goalMs;
  process.stdout.write(`${label.padEnd(22)} ${String(lines).padStart(5)} lines  median ${median.toFixed(2).padStart(7)} ms  ` +
    `p90 ${p90.toFixed(2).padStart(7)} ms  ${Number.isFinite(goalMs) ? `goal < ${goalMs} ms  ${ok ? 'ok' : 'SLOW'}` : '(no goal)'}\n`);
  return ok;
}

/** For comparison only: the same size with a flow mapping on every line, the yaml parser's slowest common shape. */
function flowHeavy(lines: number): string {
  const rows = typical.split('\n');
  rows.pop();
  rows.push('distributed:');
  for (let i = 0; rows.length < lines; i++) rows.push(`  key-${i}: {value: ${i}, unit: "${i}GB", enabled: true}`);
  return `${rows.join('\n')}\n`;
}

const a = time('typical config', typical, 5, 200);
const b = time('5,000-line config', largeConfig(5000), 200, 20);
time('5,000 flow-map lines', flowHeavy(5000), Infinity, 10);
process.exitCode = a && b ? 0 : 1;
