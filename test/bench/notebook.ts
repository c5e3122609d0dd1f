// What a notebook costs on a Gadi-like link (test/fixtures/delayProxy.ts: 50 ms each way), with the kernel next to
// the cluster reached as the editor's notebook controller reaches it (NotebookKernelSession, session-mode cluster,
// the editor's OutputBudget). Prints, without asserting anything about time:
//  1. a trivial cell's round trip (median of CELLS) against RTT + the same execute made on the cluster's side (the
//     same Jupyter client straight to the server's port on 127.0.0.1: no SSH, no proxy); the goal: ≤ 1.2×. RTT is a
//     tiny HTTP request to the server through the forward minus the same request made straight to it. Beside it,
//     the time from the kernel's first message to the cell's end, which shows a stall between messages;
//  2. a cell printing 10 MB: time to the cell's end, what reached this process, what the editor's budget kept, and
//     this process's memory. Printed at once, the server's IOPub rate limit (1 MB/s over 3 s, streams only) drops
//     it; so also paced just under that limit (all 10 MB cross), and as a 10 MB result (not rate-limited);
//  3. attach (select kernel) to the first cell's result with the kernel job starting at once, against doing it by
//     hand in one exec over the same link: qsub of the same job script, then waiting for its server to listen.
//   node --import tsx test/bench/notebook.ts      (as root: the sandbox creates its own user and sshd)
import * as http from 'node:http';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { KernelConnection, ServerConnection, type Kernel } from '@jupyterlab/services';
import WebSocket from 'ws';
import { Cluster } from '../../src/core/cluster/cluster';
import { parseClusterConfig } from '../../src/core/cluster/configFile';
import { NotebookKernelSession } from '../../src/core/notebook/kernelSession';
import { OutputBudget, type CellOutput } from '../../src/core/notebook/outputs';
import { refusingPrompt } from '../../src/core/remote/prompt';
import { SshTransportPool } from '../../src/core/remote/sshTransport';
import { delayProxy, LINK_DELAY_MS, sshConfigThrough } from '../fixtures/delayProxy';
import { until } from '../fixtures/poll';
import { smallClusterYaml } from '../sandbox/clusterFixture';
import { startSandbox } from '../sandbox/sandbox';

const USER = 'gdbenchnb';
const NAME = 'benchnb';
const NOTEBOOK = 'file:///home/someone/bench/cells.ipynb';
const KERNEL = "kernel:\n  cores: 1\n  memory: 2GB\n  walltime: '00:20:00'\n";
/** Trivial cells timed each way (after WARM_UP untimed ones). */
const CELLS = 15;
const WARM_UP = 3;
/** Cold starts timed each way, alternating attach and by hand. */
const ROUNDS = 2;
/** 10 MB: printed at once; printed in 256 KiB pieces every 0.32 s (≤ 10 pieces, 0.87 MB/s, in any 3 s); as a result. */
const TEN_MB_CELLS: [string, string][] = [
  ['printed at once', 'import sys\nfor i in range(10):\n    sys.stdout.write("x" * (1024 * 1024))\nsys.stdout.flush()\nprint("end")'],
  ['printed under the server\'s rate limit (12.8 s of sleeps)', 'import sys, time\nfor i in range(40):\n    sys.stdout.write("x" * (256 * 1024)); sys.stdout.flush(); time.sleep(0.32)\nprint("end")'],
  ['as the cell\'s result', '"x" * (10 * 1024 * 1024)'],
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (x: number) => `${x.toFixed(0)} ms`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
const signedMb = (bytes: number) => `${bytes >= 0 ? '+' : ''}${mb(bytes)}`;

async function time(f: () => Promise<unknown>): Promise<number> {
  const s = performance.now();
  await f();
  return performance.now() - s;
}

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** The client kernelSession.ts builds, pointed at `host:port` (a forward's local port, or the server's own). */
function settingsFor(host: string, port: number, token: string): ServerConnection.ISettings {
  class SignedInSocket extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { headers: { Authorization: `token ${token}` } });
    }
  }
  return ServerConnection.makeSettings({
    baseUrl: `http://${host}:${port}/`, wsUrl: `ws://${host}:${port}/`, token, appendToken: false,
    WebSocket: SignedInSocket as unknown as typeof globalThis.WebSocket,
  });
}

async function connected(kernel: Kernel.IKernelConnection): Promise<void> {
  await until('the kernel\'s websocket', () => kernel.connectionStatus === 'connected', { timeoutMs: 30_000, everyMs: 20 });
}

/** GET /api (the server's version: a few hundred bytes each way) on one kept-alive connection. */
function apiGetter(port: number, token: string): { get(): Promise<void>; close(): void } {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  return {
    get: () => new Promise<void>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path: '/api', agent, headers: { Authorization: `token ${token}` } }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === 200 ? resolve() : reject(new Error(`GET /api: ${res.statusCode}`))));
      });
      req.on('error', reject);
    }),
    close: () => agent.destroy(),
  };
}

function outputSize(o: CellOutput): number {
  if (o.kind === 'stream') return o.text.length;
  if (o.kind === 'error') return o.traceback.length;
  if (o.kind === 'rich') return o.items.reduce((n, i) => n + (i.text?.length ?? i.bytes?.byteLength ?? 0), 0);
  return 0;
}

async function main(): Promise<void> {
  const sb = await startSandbox({ user: USER });
  const proxy = await delayProxy(sb.port);
  const pool = new SshTransportPool({ prompt: refusingPrompt, agent: null, sshConfig: { configFile: sshConfigThrough(sb, proxy.port, 'slow'), systemConfigFile: null } });
  const t = pool.open('slow');
  const cluster = new Cluster(t, parseClusterConfig(smallClusterYaml(NAME, 'slow', KERNEL)), { mode: 'session' });
  const kdir = `${cluster.paths.cluster.replace(/^~\//, '')}/kernel`;
  const out: string[] = [`link: ${LINK_DELAY_MS} ms each way (loopback proxy), cluster in session mode, ${CELLS} cells each way`];
  const say = (line: string) => {
    out.push(line);
    process.stdout.write(`${line}\n`);
  };
  let session: NotebookKernelSession | undefined;
  let direct: KernelConnection | undefined;
  try {
    await cluster.scale({ jobs: 1 });
    session = await NotebookKernelSession.attach(cluster, NOTEBOOK, { timeoutMs: 300_000 });
    const { host, port } = session.status;
    const token = (await t.readFile(cluster.kernelTokenPath)).toString('utf8').trim();
    // The same kernel, from the cluster's side: the same client on the server's own port. Each connection gets every
    // IOPub message of the kernel, so it is open only while it is timed, not while this process's memory is.
    const openInside = async () => {
      const k = new KernelConnection({ model: session!.kernel.model, serverSettings: settingsFor(host!, port!, token), handleComms: false });
      direct = k;
      await connected(k);
      return k;
    };
    const closeInside = () => {
      direct?.dispose();
      direct = undefined;
    };
    const inside = await openInside();

    // 1. A trivial cell, interleaved with the same cell inside and the RTT probes, so load drifts hit all alike.
    const viaForward = apiGetter(session.localPort, token);
    const straight = apiGetter(port!, token);
    const through: number[] = [];
    const within: number[] = [];
    const httpThrough: number[] = [];
    const httpWithin: number[] = [];
    // From the kernel's first message of a cell ("busy") to the cell's end: the kernel's own work, plus any stall
    // between messages sent in a row (Nagle's algorithm on a socket meeting its peer's delayed ACK: ~40 ms).
    const spreadThrough: number[] = [];
    const spreadWithin: number[] = [];
    const firstMessage = (k: Kernel.IKernelConnection) => {
      let at = 0;
      const on = (_: unknown, { msg, direction }: Kernel.IAnyMessageArgs) => {
        if (!at && direction === 'recv' && (msg.parent_header as { session?: string }).session === k.clientId) at = performance.now();
      };
      k.anyMessage.connect(on);
      return { reset: () => (at = 0), get at() { return at; }, dispose: () => k.anyMessage.disconnect(on) };
    };
    const firstThrough = firstMessage(session.kernel);
    const firstWithin = firstMessage(inside);
    for (let i = 0; i < WARM_UP + CELLS; i++) {
      firstThrough.reset();
      const a = await time(async () => {
        const r = await session!.execute('1', () => undefined);
        if (r.status !== 'ok') throw new Error(`the cell ended ${r.status}`);
      });
      const aSpread = performance.now() - firstThrough.at;
      firstWithin.reset();
      const b = await time(() => inside.requestExecute({ code: '1' }).done);
      const bSpread = performance.now() - firstWithin.at;
      const c = await time(() => viaForward.get());
      const d = await time(() => straight.get());
      if (i < WARM_UP) continue;
      through.push(a);
      within.push(b);
      httpThrough.push(c);
      httpWithin.push(d);
      spreadThrough.push(aSpread);
      spreadWithin.push(bSpread);
    }
    viaForward.close();
    straight.close();
    firstThrough.dispose();
    firstWithin.dispose();
    const rtt = median(httpThrough) - median(httpWithin);
    const goal = rtt + median(within);
    say(`1. cell "1": median ${ms(median(through))} through the forward (min ${ms(Math.min(...through))}, max ${ms(Math.max(...through))})`);
    say(`   RTT ${ms(rtt)} (GET /api: ${ms(median(httpThrough))} through the forward − ${ms(median(httpWithin))} straight) + the same execute inside ${ms(median(within))} = ${ms(goal)}`);
    say(`   ratio ${(median(through) / goal).toFixed(2)} (goal ≤ 1.2)`);
    say(`   the kernel's first message to the cell's end: median ${ms(median(spreadThrough))} through the forward, ${ms(median(spreadWithin))} inside`);

    closeInside();

    // 2. 10 MB: what reaches this process, what the editor's budget keeps, and what it costs here.
    for (const [i, [what, code]] of TEN_MB_CELLS.entries()) {
      const budget = new OutputBudget();
      const kept: CellOutput[] = [];
      let arrived = 0;
      let rateLimited = false;
      gc();
      const before = process.memoryUsage();
      const maxRssBefore = process.resourceUsage().maxRSS * 1024;
      const peak = { rss: before.rss, heapUsed: before.heapUsed };
      const sampler = setInterval(() => {
        const m = process.memoryUsage();
        peak.rss = Math.max(peak.rss, m.rss);
        peak.heapUsed = Math.max(peak.heapUsed, m.heapUsed);
      }, 10);
      let status = '';
      const took = await time(async () => {
        const r = await session!.execute(code, (o) => {
          arrived += outputSize(o);
          if (o.kind === 'stream' && /IOPub data rate exceeded/.test(o.text)) rateLimited = true;
          const k = budget.take(o);
          if (k) kept.push(k);
        });
        status = r.status;
      });
      clearInterval(sampler);
      const end = process.memoryUsage();
      peak.rss = Math.max(peak.rss, end.rss);
      peak.heapUsed = Math.max(peak.heapUsed, end.heapUsed);
      const maxRss = process.resourceUsage().maxRSS * 1024;
      const shown = kept.reduce((n, o) => n + outputSize(o), 0);
      kept.length = 0;
      gc();
      const settled = process.memoryUsage();
      let insideMs: number | undefined;
      if (i !== 1) {
        const k = await openInside();
        insideMs = await time(() => k.requestExecute({ code }).done);
        closeInside();
      }
      say(`${i ? '  ' : '2.'} 10 MB ${what}: ${ms(took)} to the cell's end (${status}${insideMs === undefined ? '' : `; the same cell inside: ${ms(insideMs)}`})`);
      say(`     reached this process ${mb(arrived)}, the editor's budget kept ${mb(shown)}${budget.cut ? ` and cut ${mb(budget.cut)}` : ''}; the server's IOPub rate limit ${rateLimited ? 'dropped the rest and said so' : 'did not act'}`);
      say(`     memory (sampled every 10 ms): RSS ${mb(before.rss)} before, peak ${signedMb(peak.rss - before.rss)}, at the end ${signedMb(end.rss - before.rss)} (the process's RSS high-water mark ${signedMb(maxRss - maxRssBefore)}); heap used: peak ${signedMb(peak.heapUsed - before.heapUsed)}, after gc ${signedMb(settled.heapUsed - before.heapUsed)}`);
    }

    await session.close();
    session = undefined;

    // 3. Cold starts: attach to the first cell's result, against qsub + waiting for the server by hand.
    const stopKernel = async () => {
      await cluster.stopKernel();
      await until('the kernel to stop', async () => (await cluster.kernelStatus()).state === 'none', { timeoutMs: 120_000, everyMs: 500 });
    };
    await stopKernel();
    const attachMs: number[] = [];
    const listenMs: number[] = [];
    const openMs: number[] = [];
    const handMs: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      // The moment attach's startKernel saw the server listen, for the split.
      let listened = 0;
      const startKernel = cluster.startKernel.bind(cluster);
      cluster.startKernel = async (o) => {
        const r = await startKernel(o);
        listened = performance.now();
        return r;
      };
      const s0 = performance.now();
      const s = await NotebookKernelSession.attach(cluster, NOTEBOOK, { timeoutMs: 300_000 });
      const opened = performance.now();
      const r = await s.execute('1', () => undefined);
      const done = performance.now();
      cluster.startKernel = startKernel;
      if (r.status !== 'ok') throw new Error(`the first cell ended ${r.status}`);
      attachMs.push(done - s0);
      listenMs.push(listened - s0);
      openMs.push(opened - s0);
      await s.close();
      await stopKernel();

      // By hand: the token the server reads, the same script, and a poll of the file the server writes on listening.
      let id = '';
      handMs.push(await time(async () => {
        const r = await t.exec(`cd ${kdir} && (umask 077; python3 -c 'import secrets; print(secrets.token_hex(32))' > token) && id=$(qsub kernel.pbs) && while [ ! -s kernel.json ]; do sleep 0.2; done && echo "$id"`, { timeoutMs: 300_000 });
        if (r.code !== 0) throw new Error(`by hand: ${r.stderr}`);
        id = r.stdout.trim().split('\n').pop()!;
      }));
      await t.exec(`qdel ${id}`, { timeoutMs: 60_000 });
      await until('the hand-made kernel job to end', async () => /job_state = F/.test((await t.exec(`qstat -x -f ${id}`, { timeoutMs: 60_000 })).stdout), { timeoutMs: 120_000, everyMs: 500 });
    }
    say(`3. attach to the first cell's result: ${attachMs.map(ms).join(', ')}; the server seen listening at ${listenMs.map(ms).join(', ')}, the session open (an IPython kernel started) at ${openMs.map(ms).join(', ')}`);
    say(`   by hand (qsub + poll kernel.json every 0.2 s, one exec): ${handMs.map(ms).join(', ')}; ratio of medians ${(median(attachMs) / median(handMs)).toFixed(2)}`);
    await cluster.down();
    process.stdout.write(`\n${out.join('\n')}\n`);
  } finally {
    direct?.dispose();
    await session?.close().catch(() => undefined);
    await pool.close();
    proxy.close();
    await sb.stop();
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`${e instanceof Error ? e.stack : String(e)}\n`);
  process.exitCode = 1;
});
