// A Gadi-like remote on this machine: an unprivileged user reachable through a private sshd on loopback, with the
// PBS Pro emulator on its login PATH and Debian's Dask. Needs root (useradd, sshd). Everything it starts is
// stopped by pid, either by stop() or by the exit/signal hooks when a test run dies.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

const SSHD = '/usr/sbin/sshd'; // sshd refuses to re-exec itself from a relative path
const PYTHON = '/usr/bin/python3';
const USER_MARK = 'gadi-dask test sandbox'; // GECOS of users we created; we never wipe anyone else's home
const LOCK_DIR = '/run/gadi-dask-sandbox';
const DEFAULT_EMULATOR_DIR = path.join(__dirname, '..', 'pbs-emulator', 'bin');
const SUPERVISOR = path.join(__dirname, 'sshd_supervisor.py');
// What the per-connection processes of OpenSSH are called (9.8 split them out of sshd).
const SSHD_SESSION_NAMES = new Set(['sshd', 'sshd-session', 'sshd-auth']);
// Relative to the sandbox user's home; the emulator keeps its state in its default ~/.pbs-emulator.
const PBS_BIN = path.join('.local', 'pbs', 'bin');
const PBS_STATE = '.pbs-emulator';
// With a real PBS the emulator is not installed, but its persistent-sessions stand-in is (a copy of the package,
// only that command on PATH): Gadi has the command beside its PBS.
const SESSION_STANDIN = path.join('.local', 'persistent-sessions');
const SESSION_COMMAND = 'persistent-sessions';
// Test wrappers go first on the login PATH; the profile snippet is sourced by every login shell.
const WRAP_BIN = path.join('.local', 'sandbox', 'bin');
const PROFILE_SNIPPET = path.join('.local', 'sandbox', 'profile.sh');
// After the wrappers and the PBS tools. /usr/bin goes before /usr/local/bin so python3 is Debian's, the one with
// distributed.
const SYSTEM_PATH = ['/usr/bin', '/usr/local/bin', '/bin'];

/**
 * Where every Dask process the tests start listens: loopback, as tests talk to 127.0.0.1 only. The interface is a
 * cluster config's `interface` (the scheduler takes it too). Dashboards do not follow it: distributed binds an
 * address with no host part (`:0`, the default `:8787`) on every interface, so they are named explicitly.
 */
export const SANDBOX_DASK_INTERFACE = 'lo';
export const SANDBOX_DASHBOARD_ADDRESS = '127.0.0.1:0';
/**
 * Where the persistent-session stand-in (test/pbs-emulator) listens: a loopback address of its own, as Gadi's
 * persistent-session nodes are other hosts than its login nodes. The login account reaches it as on Gadi, with a
 * plain `ssh <name>.<user>.<project>.ps.gadi.nci.org.au` that its ~/.ssh/config maps here.
 */
export const SANDBOX_SESSION_ADDRESS = '127.0.0.2';
export const SESSION_HOST_PATTERN = '*.ps.gadi.nci.org.au';

export interface SandboxOptions {
  /** Local user that plays the cluster account; created if missing. Default `gadidask`. */
  user?: string;
  /** That user's home. Default `/home/<user>`. */
  home?: string;
  /** Host alias written to the ssh_config file. Default `gadi-sandbox`. */
  alias?: string;
  /** Root-owned directory for keys, configs and the pid file; must be absent or empty. Default: a fresh mkdtemp. */
  stateDir?: string;
  /** Directory holding qsub/qstat/qdel to install; null installs no PBS tools. Default test/pbs-emulator/bin. */
  pbsEmulatorDir?: string | null;
  /**
   * A real PBS's command directory (absolute) to put on the login PATH as it is, instead of installing the
   * emulator; pbsEmulatorDir is then ignored.
   */
  pbsCommandsDir?: string;
  /** Printed by every login shell, as cluster login scripts do, so output parsing can be tested against noise. */
  loginBanner?: string;
  /**
   * Shell text every login shell sources after setting PATH and before the banner, e.g. `sleep 1` for Gadi's slow
   * `module` profile. Can be changed later with setLoginProfile().
   */
  loginProfile?: string;
  /**
   * Seconds a deleted running job stays `R` in the emulator (`PBS_EMULATOR_QDEL_LINGER`, exported by the login
   * profile). Real servers take 8-11 s. Default 0 until the cluster code waits for deleted jobs to leave.
   */
  qdelLingerSeconds?: number;
  /** Keep the user's home as the previous run left it instead of starting from an empty one. */
  keepHome?: boolean;
  /** How long to wait for another live sandbox that holds the same user. Default 120 s. */
  lockTimeoutMs?: number;
}

/** ssh2 ConnectConfig fields, without importing ssh2 here. */
export interface SandboxConnectOptions {
  host: string;
  port: number;
  username: string;
  privateKey: Buffer;
  /** Accepts only the sandbox's own host key. */
  hostVerifier: (key: Buffer) => boolean;
}

export interface Sandbox {
  host: '127.0.0.1';
  port: number;
  user: string;
  uid: number;
  gid: number;
  alias: string;
  home: string;
  stateDir: string;
  privateKeyPath: string;
  privateKey: Buffer;
  knownHostsPath: string;
  sshConfigPath: string;
  /** `ssh-ed25519 AAAA...` (no comment). */
  hostPublicKey: string;
  /** As OpenSSH prints it: `SHA256:` and unpadded base64. */
  hostKeyFingerprintSha256: string;
  /** The listening sshd; a new pid after startSshd(), 0 while it is stopped. */
  readonly sshdPid: number;
  sshdLogPath: string;
  /** Where qsub/qstat/qdel were installed (absolute), or null when none were. */
  pbsBinDir: string | null;
  /** Where the emulator keeps its state (absolute). */
  pbsStateDir: string;
  /** The persistent-session stand-in's sshd: SANDBOX_SESSION_ADDRESS and this port (started by its first session). */
  sessionPort: number;
  /** First directory on the login PATH (absolute, owned by the user): where wrapCommand() installs wrappers. */
  wrapBinDir: string;
  connectOptions(): SandboxConnectOptions;
  /**
   * Installs `script` as the executable `name` in wrapBinDir, so login shells run it instead of the real command
   * (which realCommand(name) locates, for the wrapper to call). Replaced atomically: a command running at that
   * moment sees the old or the new wrapper, never half of one. `#!/bin/bash` is added when there is no shebang.
   * Returns the wrapper's path.
   */
  wrapCommand(name: string, script: string): string;
  /** Removes the wrapper of `name`; nothing happens when there is none. */
  unwrapCommand(name: string): void;
  /** Absolute path of the command `name` that login shells find behind the wrappers (PBS tools, then the system). */
  realCommand(name: string): string;
  /** Replaces the login-profile snippet (see SandboxOptions.loginProfile); null removes it. Applies to new logins. */
  setLoginProfile(snippet: string | null): void;
  /**
   * Kills the per-connection sshd processes (a dropped link: every ssh connection to the sandbox breaks, the
   * listener stays). Commands the sessions ran keep running, as on a real server, until they write to the
   * closed channel. Resolves with how many processes were killed, once they are gone.
   */
  killSessions(signal?: NodeJS.Signals): Promise<number>;
  /** Stops the listener: new connections are refused, open ones live on. Idempotent. */
  stopSshd(): Promise<void>;
  /** Starts the listener again on the same port with the same host key and config. Idempotent. */
  startSshd(): Promise<void>;
  /** The TCP sockets the user listens on (see listeningSockets()). */
  listeningSockets(): ListeningSocket[];
  /** Kills every process of the user and the sshd, removes the state dir. Idempotent. */
  stop(): Promise<void>;
}

export interface ListeningSocket {
  /** As the kernel holds it: `127.0.0.1`, `0.0.0.0`, `::1`, `::ffff:127.0.0.1`, … */
  address: string;
  port: number;
}

// /proc/net/tcp{,6} print addresses as 32-bit words in host (little-endian) byte order.
function procNetAddress(hex: string): string {
  const bytes = (hex.match(/.{8}/g) ?? []).flatMap((word) => (word.match(/../g) ?? []).reverse().map((b) => parseInt(b, 16)));
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 0xff && bytes[11] === 0xff) return `::ffff:${bytes.slice(12).join('.')}`;
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':').replace(/(^|:)0(:0)+(:|$)/, '::');
}

/** TCP sockets in LISTEN state owned by `uid`, IPv4 and IPv6 (as this process's network namespace sees them). */
export function listeningSockets(uid: number): ListeningSocket[] {
  const found: ListeningSocket[] = [];
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!fs.existsSync(file)) continue;
    for (const line of fs.readFileSync(file, 'utf8').split('\n').slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid ...
      const f = line.trim().split(/\s+/);
      if (f.length < 8 || f[3] !== '0A' || Number(f[7]) !== uid) continue;
      const [addr, port] = f[1]!.split(':');
      found.push({ address: procNetAddress(addr!), port: parseInt(port!, 16) });
    }
  }
  return found;
}

export function isLoopback(address: string): boolean {
  return /^127\./.test(address) || address === '::1' || /^::ffff:127\./.test(address);
}

// ---------------------------------------------------------------------------------------------------------------
// Process table helpers: reading /proc is cheaper than spawning pgrep in a polling loop.

interface ProcInfo {
  pid: number;
  ppid: number;
  state: string;
  uid: number;
  comm: string;
}

function readProc(pid: number): ProcInfo | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm may hold spaces and parentheses; the fields after the last ')' are fixed.
    const close = stat.lastIndexOf(')');
    const rest = stat.slice(close + 2).split(' ');
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const uidLine = /^Uid:\s+\d+\s+(\d+)/m.exec(status);
    const comm = stat.slice(stat.indexOf('(') + 1, close);
    return { pid, state: rest[0] ?? '?', ppid: Number(rest[1]), uid: uidLine ? Number(uidLine[1]) : -1, comm };
  } catch {
    return undefined; // gone between readdir and read
  }
}

function processes(): ProcInfo[] {
  const out: ProcInfo[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const info = readProc(Number(name));
    if (info) out.push(info);
  }
  return out;
}

function startTime(pid: number): string | undefined {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function userProcesses(uid: number, includeZombies: boolean): ProcInfo[] {
  return processes().filter((p) => p.uid === uid && (includeZombies || p.state !== 'Z'));
}

/** Every process below `root` in the process tree. */
function descendants(root: number): ProcInfo[] {
  const all = processes();
  const found: ProcInfo[] = [];
  const parents = new Set([root]);
  for (let grew = true; grew; ) {
    grew = false;
    for (const p of all) {
      if (parents.has(p.ppid) && !parents.has(p.pid)) {
        parents.add(p.pid);
        found.push(p);
        grew = true;
      }
    }
  }
  return found;
}

function running(pid: number): boolean {
  const p = readProc(pid);
  return p !== undefined && p.state !== 'Z';
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

function pkillUser(user: string): void {
  // Exit status 1 only means nothing matched.
  spawnSync('pkill', ['-KILL', '-u', user], { stdio: 'ignore' });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

async function waitUntil(done: () => boolean, timeoutMs: number, stepMs = 10): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (done()) return true;
    if (Date.now() > deadline) return false;
    await sleep(stepMs);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Account

interface Account {
  uid: number;
  gid: number;
  home: string;
  gecos: string;
  shell: string;
}

function lookupUser(user: string): Account | undefined {
  for (const line of fs.readFileSync('/etc/passwd', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === user && f.length >= 7) {
      return { uid: Number(f[2]), gid: Number(f[3]), gecos: f[4]!, home: f[5]!, shell: f[6]! };
    }
  }
  return undefined;
}

function passwordField(user: string): string | undefined {
  for (const line of fs.readFileSync('/etc/shadow', 'utf8').split('\n')) {
    const f = line.split(':');
    if (f[0] === user) return f[1];
  }
  return undefined;
}

// useradd/usermod lock /etc/passwd; sandboxes for other users may be creating theirs at the same moment.
async function runAccountTool(tool: string, args: string[]): Promise<void> {
  for (let attempt = 0; ; attempt++) {
    try {
      await execFileAsync(tool, args);
      return;
    } catch (e) {
      const err = e as { stderr?: string; message: string };
      if (attempt < 40 && /lock/i.test(err.stderr ?? '')) {
        await sleep(50);
        continue;
      }
      throw new Error(`${tool} ${args.join(' ')} failed: ${err.stderr?.trim() || err.message}`);
    }
  }
}

async function ensureUser(user: string, home: string): Promise<Account> {
  let account = lookupUser(user);
  if (!account) {
    // '*' unlocks the account for key logins (sshd refuses '!' accounts when UsePAM is off) and allows no password.
    await runAccountTool('useradd', ['--create-home', '--home-dir', home, '--shell', '/bin/bash', '--comment', USER_MARK, '--user-group', '--password', '*', user]);
    account = lookupUser(user);
    if (!account) throw new Error(`useradd ${user} succeeded but the user is not in /etc/passwd`);
  }
  if (account.gecos !== USER_MARK) {
    throw new Error(`user ${user} exists and was not created by the sandbox; refusing to kill its processes and wipe its home`);
  }
  if (account.home !== home) throw new Error(`user ${user} has home ${account.home}, not ${home}`);
  if (account.shell !== '/bin/bash') await runAccountTool('usermod', ['--shell', '/bin/bash', user]);
  if (passwordField(user) !== '*') await runAccountTool('usermod', ['-p', '*', user]);
  return { ...account, shell: '/bin/bash' };
}

// ---------------------------------------------------------------------------------------------------------------
// One sandbox per user at a time: stop() kills every process of the user and the emulator state is per home.

interface LockRecord {
  pid: number;
  start?: string;
  stateDir?: string;
  supervisorPid?: number;
  supervisorStart?: string;
  sshdPid?: number;
  sshdStart?: string;
}

function lockAlive(rec: LockRecord): boolean {
  return rec.pid > 0 && rec.start !== undefined && startTime(rec.pid) === rec.start;
}

function readLock(file: string): LockRecord | undefined {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8')) as LockRecord;
  } catch {
    return undefined; // missing, or being written right now
  }
}

// A run killed with SIGKILL leaves its sshd and state dir behind; the next sandbox for that user clears them.
function clearStale(rec: LockRecord): void {
  if (rec.supervisorPid && rec.supervisorStart && startTime(rec.supervisorPid) === rec.supervisorStart) killQuietly(rec.supervisorPid, 'SIGKILL');
  if (rec.sshdPid && rec.sshdStart && startTime(rec.sshdPid) === rec.sshdStart) killQuietly(rec.sshdPid, 'SIGKILL');
  if (rec.stateDir && fs.existsSync(path.join(rec.stateDir, 'sshd_config'))) fs.rmSync(rec.stateDir, { recursive: true, force: true });
}

async function acquireLock(user: string, timeoutMs: number): Promise<string> {
  fs.mkdirSync(LOCK_DIR, { recursive: true, mode: 0o700 });
  const file = path.join(LOCK_DIR, `${user}.lock`);
  const mine: LockRecord = { pid: process.pid, start: startTime(process.pid) };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      fs.writeFileSync(file, JSON.stringify(mine), { flag: 'wx', mode: 0o600 });
      return file;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const held = readLock(file);
    if (held && !lockAlive(held)) {
      clearStale(held);
      fs.rmSync(file, { force: true });
      continue;
    }
    if (Date.now() > deadline) {
      throw new Error(`sandbox user ${user} is held by pid ${held?.pid ?? '?'}; give this sandbox another user`);
    }
    await sleep(held ? 100 : 5);
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Keys and files

async function keygen(file: string, comment: string): Promise<void> {
  await execFileAsync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
}

function publicKeyOf(file: string): { line: string; blob: Buffer } {
  const [type, b64] = fs.readFileSync(file, 'utf8').trim().split(/\s+/);
  if (!type || !b64) throw new Error(`malformed public key in ${file}`);
  return { line: `${type} ${b64}`, blob: Buffer.from(b64, 'base64') };
}

function fingerprint(blob: Buffer): string {
  return 'SHA256:' + createHash('sha256').update(blob).digest('base64').replace(/=+$/, '');
}

// ssh_config splits on whitespace unless the value is quoted.
function sshConfigValue(v: string): string {
  return /[\s"]/.test(v) ? `"${v}"` : v;
}

function shellSingleQuote(v: string): string {
  return `'${v.replace(/'/g, `'\\''`)}'`;
}

function chownTree(p: string, uid: number, gid: number): void {
  fs.lchownSync(p, uid, gid);
  if (fs.lstatSync(p).isDirectory()) for (const e of fs.readdirSync(p)) chownTree(path.join(p, e), uid, gid);
}

function mkdirOwned(home: string, rel: string, uid: number, gid: number, mode: number): string {
  let cur = home;
  for (const part of rel.split(path.sep)) {
    cur = path.join(cur, part);
    if (!fs.existsSync(cur)) fs.mkdirSync(cur, { mode });
    fs.chownSync(cur, uid, gid);
    fs.chmodSync(cur, mode);
  }
  return cur;
}

function writeOwned(file: string, text: string, uid: number, gid: number, mode: number): void {
  fs.writeFileSync(file, text, { mode });
  fs.chmodSync(file, mode); // writeFileSync's mode only applies when it creates the file
  fs.chownSync(file, uid, gid);
}

// Newer OpenSSH (9.8+) penalises sources that fail or crash; every test connects from 127.0.0.1.
let sshdVersion: Promise<[number, number]> | undefined;
function opensshVersion(): Promise<[number, number]> {
  sshdVersion ??= new Promise((resolve) => {
    execFile(SSHD, ['-V'], (_err, stdout, stderr) => {
      const m = /OpenSSH_(\d+)\.(\d+)/.exec(`${stdout}${stderr}`);
      resolve(m ? [Number(m[1]), Number(m[2])] : [0, 0]);
    });
  });
  return sshdVersion;
}

function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

// Ready means the listener answers with an OpenSSH banner (not just that something accepts on the port).
function readBanner(port: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = net.connect({ host: '127.0.0.1', port });
    let data = '';
    const done = (v: string | undefined) => {
      sock.destroy();
      resolve(v);
    };
    sock.setTimeout(1000, () => done(undefined));
    sock.on('data', (d) => {
      data += d.toString('latin1');
      if (data.includes('\n')) done(data.split('\n')[0]);
    });
    sock.on('error', () => done(undefined));
    sock.on('close', () => done(undefined));
  });
}

// A listener the supervisor has just started writes its PidFile once it listens, then must answer with a banner.
// Returns its pid, or what it logged when it did not come up.
async function awaitListener(
  pidFile: string,
  logPath: string,
  logFrom: number,
  port: number,
  supervisor: ChildProcess,
): Promise<{ pid: number } | { log: string }> {
  const newLog = () => (fs.existsSync(logPath) ? fs.readFileSync(logPath).subarray(logFrom).toString() : '');
  const failed = () => supervisor.exitCode !== null || supervisor.signalCode !== null || /Cannot bind any address/.test(newLog());
  const deadline = Date.now() + 10_000;
  while (!failed() && Date.now() < deadline) {
    const pid = fs.existsSync(pidFile) ? Number(fs.readFileSync(pidFile, 'utf8')) : 0;
    if (pid > 0 && running(pid) && (await readBanner(port))?.startsWith('SSH-2.0-OpenSSH')) return { pid };
    await sleep(5);
  }
  return { log: newLog() };
}

const fileSize = (file: string) => (fs.existsSync(file) ? fs.statSync(file).size : 0);

function writeAtomically(file: string, text: string, uid: number, gid: number, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeOwned(tmp, text, uid, gid, mode);
  fs.renameSync(tmp, file);
}

// ---------------------------------------------------------------------------------------------------------------
// Exit hooks: a crashed or interrupted test run must not leave sshd or user processes behind.

const live = new Set<{ emergencyStop(): void }>();
let hooksInstalled = false;

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    for (const s of [...live]) s.emergencyStop();
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = () => {
      for (const s of [...live]) s.emergencyStop();
      // Our listener replaced the default action; restore it unless someone else handles the signal.
      process.removeListener(signal, onSignal);
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

// ---------------------------------------------------------------------------------------------------------------

export async function startSandbox(opts: SandboxOptions = {}): Promise<Sandbox> {
  if (process.getuid?.() !== 0) throw new Error('the sandbox needs root (useradd, sshd)');
  const user = opts.user ?? 'gadidask';
  if (!/^[a-z_][a-z0-9_-]{0,30}$/.test(user)) throw new Error(`bad user name: ${user}`);
  const home = opts.home ?? `/home/${user}`;
  const alias = opts.alias ?? 'gadi-sandbox';
  const emulatorDir = opts.pbsCommandsDir !== undefined ? null : opts.pbsEmulatorDir === undefined ? DEFAULT_EMULATOR_DIR : opts.pbsEmulatorDir;
  if (opts.pbsCommandsDir !== undefined && !(path.isAbsolute(opts.pbsCommandsDir) && fs.existsSync(path.join(opts.pbsCommandsDir, 'qsub')))) {
    throw new Error(`no qsub in ${opts.pbsCommandsDir} (pbsCommandsDir must be an absolute directory of PBS commands)`);
  }
  const linger = opts.qdelLingerSeconds ?? 0;
  if (!(Number.isFinite(linger) && linger >= 0)) throw new Error(`qdelLingerSeconds must be a number of seconds >= 0, not ${linger}`);
  if (emulatorDir !== null && !fs.existsSync(path.join(emulatorDir, 'qsub'))) {
    throw new Error(`no PBS emulator at ${emulatorDir} (pass pbsEmulatorDir: null to go without)`);
  }

  const lockFile = await acquireLock(user, opts.lockTimeoutMs ?? 120_000);
  let stateDir: string | undefined;
  let supervisor: ChildProcess | undefined;
  try {
    if (opts.stateDir) {
      fs.mkdirSync(opts.stateDir, { recursive: true, mode: 0o700 });
      if (fs.readdirSync(opts.stateDir).length > 0) throw new Error(`state dir ${opts.stateDir} is not empty`);
      fs.chmodSync(opts.stateDir, 0o700);
      stateDir = opts.stateDir;
    } else {
      stateDir = fs.mkdtempSync(path.join(os.tmpdir(), 'gadi-dask-sandbox-'));
    }
    const sd = stateDir;
    fs.writeFileSync(lockFile, JSON.stringify({ ...readLock(lockFile), stateDir: sd }));
    const file = (name: string) => path.join(sd, name);

    // Keys and the version probe do not depend on the account; run them while it is being set up.
    const clientKey = file('id_ed25519');
    const hostKey = file('ssh_host_ed25519_key');
    // The account's own key, for the nested ssh from the login node to its persistent sessions.
    const accountKey = file('account_ed25519');
    const prepared = Promise.all([keygen(clientKey, `${user}@sandbox`), keygen(hostKey, 'sandbox-host'), opensshVersion(), freePort(),
      keygen(accountKey, `${user}@login`), freePort(SANDBOX_SESSION_ADDRESS)]);
    prepared.catch(() => undefined); // awaited below; keep an early account failure from leaving it unhandled

    const account = await ensureUser(user, home);
    const { uid, gid } = account;
    // Whatever an earlier run left behind (emulator jobs, schedulers) goes before the home is reset.
    pkillUser(user);
    if (!(await waitUntil(() => userProcesses(uid, false).length === 0, 5000))) {
      throw new Error(`processes of ${user} survived SIGKILL`);
    }
    if (!opts.keepHome) {
      for (const e of fs.readdirSync(home)) fs.rmSync(path.join(home, e), { recursive: true, force: true });
    } else {
      fs.rmSync(path.join(home, PBS_STATE), { recursive: true, force: true });
    }
    fs.chownSync(home, uid, gid);
    fs.chmodSync(home, 0o755); // StrictModes rejects a group/world-writable home

    const [, , version, firstPort, , sessionPort] = await prepared;
    const clientPub = publicKeyOf(`${clientKey}.pub`);
    const hostPub = publicKeyOf(`${hostKey}.pub`);
    const accountPub = publicKeyOf(`${accountKey}.pub`);

    const sshDir = mkdirOwned(home, '.ssh', uid, gid, 0o700);
    writeOwned(path.join(sshDir, 'authorized_keys'), `${clientPub.line} ${user}@sandbox\n${accountPub.line} ${user}@login\n`, uid, gid, 0o600);
    writeOwned(path.join(sshDir, 'id_ed25519'), fs.readFileSync(accountKey, 'utf8'), uid, gid, 0o600);
    // As Gadi's own ssh configuration does for persistent sessions: the key, the port, and the host key taken on
    // first use.
    writeOwned(path.join(sshDir, 'config'), [
      `Host ${SESSION_HOST_PATTERN}`,
      `  HostName ${SANDBOX_SESSION_ADDRESS}`,
      `  Port ${sessionPort}`,
      '  IdentityFile ~/.ssh/id_ed25519',
      '  IdentitiesOnly yes',
      '  StrictHostKeyChecking accept-new',
      '',
    ].join('\n'), uid, gid, 0o600);

    let pbsBinDir: string | null = opts.pbsCommandsDir ?? null;
    if (emulatorDir !== null) {
      pbsBinDir = path.join(home, PBS_BIN);
      mkdirOwned(home, path.dirname(PBS_BIN), uid, gid, 0o755);
      fs.rmSync(pbsBinDir, { recursive: true, force: true });
      fs.cpSync(emulatorDir, pbsBinDir, { recursive: true, filter: (src) => path.basename(src) !== '__pycache__' });
      chownTree(pbsBinDir, uid, gid);
    }
    let standInBin: string | undefined;
    if (emulatorDir === null && pbsBinDir !== null) {
      const lib = path.join(home, SESSION_STANDIN, 'lib');
      standInBin = path.join(home, SESSION_STANDIN, 'bin');
      mkdirOwned(home, path.dirname(path.join(SESSION_STANDIN, 'lib')), uid, gid, 0o755);
      fs.cpSync(DEFAULT_EMULATOR_DIR, lib, { recursive: true, filter: (src) => path.basename(src) !== '__pycache__' });
      fs.mkdirSync(standInBin);
      fs.symlinkSync(path.join(lib, SESSION_COMMAND), path.join(standInBin, SESSION_COMMAND));
      chownTree(path.join(home, SESSION_STANDIN), uid, gid);
    }
    // Remote commands run through `bash -l`, as on the cluster where PBS tools come from the login environment.
    const wrapBinDir = mkdirOwned(home, WRAP_BIN, uid, gid, 0o755);
    const snippetPath = path.join(home, PROFILE_SNIPPET);
    const loginPath = [`$HOME/${WRAP_BIN}`, ...(emulatorDir !== null ? [`$HOME/${PBS_BIN}`] : pbsBinDir ? [pbsBinDir] : []),
      ...(standInBin ? [`$HOME/${SESSION_STANDIN}/bin`] : []), ...SYSTEM_PATH].join(':');
    const profile = [
      '# Login environment of the gadi-dask test sandbox.',
      `export PATH="${loginPath}"`,
      `export PBS_EMULATOR_QDEL_LINGER=${linger}`,
      `export PBS_EMULATOR_PS_ADDRESS=${SANDBOX_SESSION_ADDRESS} PBS_EMULATOR_PS_PORT=${sessionPort}`,
      `if [ -r "$HOME/${PROFILE_SNIPPET}" ]; then . "$HOME/${PROFILE_SNIPPET}"; fi`,
      ...(opts.loginBanner !== undefined ? [`printf '%s\\n' ${shellSingleQuote(opts.loginBanner)}`] : []),
      '',
    ].join('\n');
    writeOwned(path.join(home, '.bash_profile'), profile, uid, gid, 0o644);
    const setLoginProfile = (snippet: string | null) => {
      if (snippet === null) fs.rmSync(snippetPath, { force: true });
      else writeAtomically(snippetPath, snippet.endsWith('\n') ? snippet : `${snippet}\n`, uid, gid, 0o644);
    };
    if (opts.loginProfile !== undefined) setLoginProfile(opts.loginProfile);

    const pidFile = file('sshd.pid');
    const configPath = file('sshd_config');
    const logPath = file('sshd.log');
    const penalties = version[0] > 9 || (version[0] === 9 && version[1] >= 8) ? ['PerSourcePenalties no'] : [];
    const writeConfig = (port: number) =>
      fs.writeFileSync(
        configPath,
        [
          'ListenAddress 127.0.0.1',
          `Port ${port}`,
          `PidFile ${pidFile}`,
          `HostKey ${hostKey}`,
          'PubkeyAuthentication yes',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'UsePAM no',
          'PermitRootLogin no',
          'StrictModes yes',
          'AllowTcpForwarding yes',
          'Subsystem sftp internal-sftp',
          `AllowUsers ${user}`,
          'AuthorizedKeysFile .ssh/authorized_keys',
          'MaxSessions 10',
          'PrintMotd no',
          'PrintLastLog no',
          'UseDNS no',
          'X11Forwarding no',
          ...penalties,
          '',
        ].join('\n'),
        { mode: 0o600 },
      );

    // sshd stays in the foreground as a child of the supervisor, a child subreaper: processes the sessions leave
    // behind (nohup'd schedulers, emulator jobs) are reparented to it and reaped at once when killed, instead of
    // lingering as zombies under an init that may reap slowly; and the listener can be stopped and started again.
    fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege separation directory
    if (!fs.existsSync(PYTHON)) throw new Error(`the sandbox needs ${PYTHON}`);
    let port = firstPort;
    let listenerPid = 0;
    for (let attempt = 0; ; attempt++) {
      writeConfig(port);
      fs.rmSync(pidFile, { force: true });
      const logFrom = fileSize(logPath);
      const logFd = fs.openSync(logPath, 'a');
      supervisor = spawn(PYTHON, ['-S', '-E', SUPERVISOR, String(process.pid), SSHD, '-D', '-f', configPath, '-E', logPath], {
        detached: true,
        stdio: ['ignore', logFd, logFd],
      });
      fs.closeSync(logFd);
      supervisor.unref();
      const up = await awaitListener(pidFile, logPath, logFrom, port, supervisor);
      if ('pid' in up) {
        listenerPid = up.pid;
        break;
      }
      killQuietly(supervisor.pid!, 'SIGTERM'); // takes its listener with it
      supervisor = undefined;
      // Someone took the port between our probe and sshd's bind: try another.
      if (attempt < 5 && /Address already in use|Cannot bind/i.test(up.log)) {
        port = await freePort();
        continue;
      }
      throw new Error(`sshd did not start:\n${up.log}`);
    }
    const supervisorProc = supervisor;
    const supervisorPid = supervisorProc.pid!;
    const recordListener = () =>
      fs.writeFileSync(
        lockFile,
        JSON.stringify({ ...readLock(lockFile), supervisorPid, supervisorStart: startTime(supervisorPid), sshdPid: listenerPid, sshdStart: startTime(listenerPid) }),
      );
    recordListener();

    const knownHostsPath = file('known_hosts');
    fs.writeFileSync(knownHostsPath, `[127.0.0.1]:${port} ${hostPub.line}\n`);
    const sshConfigPath = file('ssh_config');
    fs.writeFileSync(
      sshConfigPath,
      [
        `Host ${alias}`,
        '  HostName 127.0.0.1',
        `  Port ${port}`,
        `  User ${user}`,
        `  IdentityFile ${sshConfigValue(clientKey)}`,
        '  IdentitiesOnly yes',
        `  UserKnownHostsFile ${sshConfigValue(knownHostsPath)}`,
        '  StrictHostKeyChecking yes',
        '',
      ].join('\n'),
    );

    const privateKey = fs.readFileSync(clientKey);
    let stopping: Promise<void> | undefined;
    let stopped = false;

    const finish = () => {
      fs.rmSync(sd, { recursive: true, force: true });
      fs.rmSync(lockFile, { force: true });
      stopped = true;
      live.delete(handle);
    };
    // Per-connection sshd processes, of the running listener or of one stopped since (the supervisor inherits them).
    const sessionProcesses = () => descendants(supervisorPid).filter((p) => SSHD_SESSION_NAMES.has(p.comm) && p.pid !== listenerPid);
    const handle = {
      // Runs inside 'exit' and signal handlers, where only synchronous work happens.
      emergencyStop() {
        if (stopped) return;
        // Same order as stop(): the supervisor, a separate process, reaps the user's orphans while we wait.
        pkillUser(user);
        for (let i = 0; i < 100 && userProcesses(uid, true).length > 0; i++) sleepSync(10);
        for (const p of sessionProcesses()) killQuietly(p.pid, 'SIGKILL');
        if (listenerPid) killQuietly(listenerPid, 'SIGKILL');
        killQuietly(supervisorPid, 'SIGKILL');
        pkillUser(user);
        finish();
      },
    };
    live.add(handle);
    installHooks();

    const killSessions = async (signal: NodeJS.Signals = 'SIGKILL'): Promise<number> => {
      const sessions = sessionProcesses();
      for (const p of sessions) killQuietly(p.pid, signal);
      if (!(await waitUntil(() => !sessions.some((p) => running(p.pid)), 5000))) {
        throw new Error(`sshd session processes survived ${signal}`);
      }
      return sessions.length;
    };
    const stopSshd = async (): Promise<void> => {
      if (stopped || !listenerPid) return;
      const pid = listenerPid;
      process.kill(supervisorPid, 'SIGUSR1');
      if (!(await waitUntil(() => !running(pid), 5000))) throw new Error(`sshd ${pid} did not stop`);
      listenerPid = 0;
      recordListener();
    };
    const startSshd = async (): Promise<void> => {
      if (stopped) throw new Error('the sandbox is stopped');
      if (listenerPid) return;
      fs.rmSync(pidFile, { force: true });
      const logFrom = fileSize(logPath);
      process.kill(supervisorPid, 'SIGUSR2');
      const up = await awaitListener(pidFile, logPath, logFrom, port, supervisorProc);
      if (!('pid' in up)) throw new Error(`sshd did not start again on port ${port}:\n${up.log}`);
      listenerPid = up.pid;
      recordListener();
    };

    const checkName = (name: string) => {
      if (!/^[A-Za-z0-9_][A-Za-z0-9._+-]*$/.test(name)) throw new Error(`bad command name: ${JSON.stringify(name)}`);
      return name;
    };
    const realCommand = (name: string): string => {
      const dirs = [...(pbsBinDir ? [pbsBinDir] : []), ...SYSTEM_PATH];
      const found = dirs.map((d) => path.join(d, checkName(name))).find((f) => fs.existsSync(f));
      if (!found) throw new Error(`no command ${name} in ${dirs.join(':')}`);
      return found;
    };

    const stop = (): Promise<void> => {
      if (stopped) return Promise.resolve();
      stopping ??= (async () => {
        const supervisorGone = new Promise<void>((resolve) => {
          if (supervisorProc.exitCode !== null || supervisorProc.signalCode !== null) return resolve();
          supervisorProc.ref(); // keep the loop alive until the exit is reaped
          const timer = setTimeout(resolve, 2000);
          supervisorProc.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
        });
        // The supervisor stays up until the user's processes are gone so that it reaps the orphans among them.
        pkillUser(user);
        await waitUntil(() => userProcesses(uid, true).length === 0, 5000);
        // Per-connection sshd processes (root) next, then the listener with its supervisor; then anything a late
        // session started.
        for (const p of sessionProcesses()) killQuietly(p.pid, 'SIGKILL');
        await waitUntil(() => sessionProcesses().length === 0, 2000);
        killQuietly(supervisorPid, 'SIGTERM');
        await supervisorGone;
        if (listenerPid) killQuietly(listenerPid, 'SIGKILL');
        pkillUser(user);
        await waitUntil(() => userProcesses(uid, false).length === 0, 2000);
        finish();
      })();
      return stopping;
    };

    return {
      host: '127.0.0.1',
      port,
      user,
      uid,
      gid,
      alias,
      home,
      stateDir: sd,
      privateKeyPath: clientKey,
      privateKey,
      knownHostsPath,
      sshConfigPath,
      hostPublicKey: hostPub.line,
      hostKeyFingerprintSha256: fingerprint(hostPub.blob),
      get sshdPid() {
        return listenerPid;
      },
      sshdLogPath: logPath,
      pbsBinDir,
      pbsStateDir: path.join(home, PBS_STATE),
      sessionPort,
      wrapBinDir,
      connectOptions: () => ({
        host: '127.0.0.1',
        port,
        username: user,
        privateKey,
        hostVerifier: (key: Buffer) => key.equals(hostPub.blob),
      }),
      wrapCommand: (name: string, script: string) => {
        const wrapper = path.join(wrapBinDir, checkName(name));
        writeAtomically(wrapper, script.startsWith('#!') ? script : `#!/bin/bash\n${script}`, uid, gid, 0o755);
        return wrapper;
      },
      unwrapCommand: (name: string) => fs.rmSync(path.join(wrapBinDir, checkName(name)), { force: true }),
      realCommand,
      setLoginProfile,
      listeningSockets: () => listeningSockets(uid),
      killSessions,
      stopSshd,
      startSshd,
      stop,
    };
  } catch (e) {
    if (supervisor?.pid) killQuietly(supervisor.pid, 'SIGTERM');
    if (stateDir) fs.rmSync(stateDir, { recursive: true, force: true });
    fs.rmSync(lockFile, { force: true });
    throw e;
  }
}
