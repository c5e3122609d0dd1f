// Shared by the browser-driven layers (test/vscode/run.ts, test/ui/run.ts): Debian's chromium through
// playwright-core, an overall deadline, teardown on signals, a memory probe and the `# pass`/`# fail` lines
// that scripts/test-all.mjs sums.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { REPO_ROOT } from './codeServer';

export const CHROMIUM = '/usr/bin/chromium';

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/bootstrap.sh (apt chromium)`);
  return chromium.launch({
    executablePath: CHROMIUM,
    // Playwright adds its own --headless; the rest keeps an offline machine's chromium quiet and sandbox-free.
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    timeout: 30_000,
  });
}

/** Runs a command from the repository root and throws with its output when it fails. */
export function run(cmd: string, args: string[], timeoutMs = 120_000): void {
  const started = Date.now();
  const res = spawnSync(cmd, args, { cwd: REPO_ROOT, encoding: 'utf8', timeout: timeoutMs });
  if (res.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${res.status ?? res.signal}):\n${res.stdout}\n${res.stderr}`);
  }
  log(`${cmd} ${args.join(' ')}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
}

export function log(line: string): void {
  process.stdout.write(`[runner] ${line}\n`);
}

/** The two lines scripts/test-all.mjs counts; printed exactly once per layer. */
export function printCounts(passed: number, failed: number): void {
  process.stdout.write(`# pass ${passed}\n# fail ${failed}\n`);
}

/** Closes a layer: its duration and memory, then the counts; returns the process exit code. */
export function finishLayer(started: number, memory: PeakMemory, passed: number, failed: number): number {
  log(`done in ${((Date.now() - started) / 1000).toFixed(1)} s, peak memory ${memory.stop()} MiB (PSS, runner + children)`);
  printCounts(passed, failed);
  return failed === 0 ? 0 : 1;
}

/** Runs a layer's main; a crash outside it still prints counts, so the orchestrator sees one failure. */
export function runLayer(main: () => Promise<number>): void {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err);
      printCounts(0, 1);
      process.exit(1);
    },
  );
}

/** Rejects after `ms` so a stuck workbench fails the layer instead of hanging it. */
export async function withDeadline<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not finish within ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Teardown steps run once, on normal completion or on SIGINT/SIGTERM. */
export class Teardown {
  private readonly steps: (() => Promise<void> | void)[] = [];
  private done = false;

  constructor() {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      process.once(signal, () => {
        void this.run().finally(() => process.exit(130));
      });
    }
  }

  add(step: () => Promise<void> | void): void {
    this.steps.unshift(step);
  }

  async run(): Promise<void> {
    if (this.done) return;
    this.done = true;
    for (const step of this.steps) {
      try {
        await step();
      } catch (err) {
        log(`teardown: ${String(err)}`);
      }
    }
  }
}

/**
 * Samples the proportional set size of this process and all its descendants (code-server, its extension host,
 * chromium's processes). PSS splits shared pages, so the sum is what the layer really costs.
 */
export class PeakMemory {
  private peakKiB = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(intervalMs = 500) {
    this.timer = setInterval(() => this.sample(), intervalMs);
    this.timer.unref();
  }

  get peakMiB(): number {
    return Math.round(this.peakKiB / 1024);
  }

  stop(): number {
    clearInterval(this.timer);
    this.sample();
    return this.peakMiB;
  }

  private sample(): void {
    try {
      const parents = new Map<number, number>();
      for (const entry of readdirSync('/proc')) {
        if (!/^\d+$/.test(entry)) continue;
        try {
          // Field 4 of /proc/<pid>/stat is the parent pid; the command name (field 2) may hold spaces.
          const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
          parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
        } catch {
          // The process ended while we looked.
        }
      }
      const tree = new Set([process.pid]);
      for (let grew = true; grew; ) {
        grew = false;
        for (const [pid, ppid] of parents) {
          if (!tree.has(pid) && tree.has(ppid)) {
            tree.add(pid);
            grew = true;
          }
        }
      }
      let total = 0;
      for (const pid of tree) {
        try {
          const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
          total += m ? Number(m[1]) : 0;
        } catch {
          // Ended, or not readable.
        }
      }
      this.peakKiB = Math.max(this.peakKiB, total);
    } catch {
      // No /proc: the probe is informational only.
    }
  }
}
