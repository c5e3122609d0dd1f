// Resolves a host the way `ssh <alias>` would: ~/.ssh/config (then the system file) through the ssh-config package,
// OpenSSH's defaults, tokens and ~ expanded, and ProxyJump turned into a chain of hops resolved the same way.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir, hostname as osHostname, userInfo } from 'node:os';
import { isAbsolute, join } from 'node:path';
import type { SSHConfig } from 'ssh-config' with { 'resolution-mode': 'import' };
import { SshConfigError } from './errors';

// ssh-config's typings are ESM-only while this project is CommonJS; its CommonJS build is what runs (and bundles).
// eslint-disable-next-line @typescript-eslint/no-require-imports
const sshConfigLib = require('ssh-config') as { parse(text: string): SSHConfig };

export type StrictHostKeyChecking = 'yes' | 'no' | 'ask' | 'accept-new';

export interface SshHostConfig {
  /** What the user typed (the alias), without any `user@`. */
  alias: string;
  hostName: string;
  port: number;
  user: string;
  /** Expanded paths, in order. Configured files are kept even if missing (ssh skips those); defaults only if present. */
  identityFiles: string[];
  identitiesOnly: boolean;
  /** The agent socket from IdentityAgent; undefined = use SSH_AUTH_SOCK; 'none' = no agent. */
  identityAgent?: string;
  /** Hops to go through, first one first; each is itself resolved (its own user, port, keys, known hosts). */
  proxyJump: SshHostConfig[];
  userKnownHostsFiles: string[];
  globalKnownHostsFiles: string[];
  strictHostKeyChecking: StrictHostKeyChecking;
  hashKnownHosts: boolean;
  /** The name to look up in known_hosts instead of hostName. */
  hostKeyAlias?: string;
  /** Seconds; undefined when not configured (ssh's default is off; the transport picks its own). */
  serverAliveInterval?: number;
  serverAliveCountMax: number;
  /** Seconds, when configured. */
  connectTimeout?: number;
  /** Set when the config asks for a ProxyCommand, which this client does not run. */
  proxyCommand?: string;
  passwordAuthentication: boolean;
  kbdInteractiveAuthentication: boolean;
}

export interface SshConfigOptions {
  /** The user's file; default ~/.ssh/config. A file named here must exist (the default may be absent). */
  configFile?: string;
  /** Read after the user's file (first value wins); default /etc/ssh/ssh_config on POSIX; null = none. */
  systemConfigFile?: string | null;
  home?: string;
  localUser?: string;
  localHostName?: string;
  env?: NodeJS.ProcessEnv;
}

/** One ProxyJump hop as written: `[user@]host[:port]` or `ssh://[user@]host[:port]`. */
export interface JumpSpec {
  user?: string;
  host: string;
  port?: number;
}

interface Context {
  home: string;
  localUser: string;
  localHostName: string;
  env: NodeJS.ProcessEnv;
  config: SSHConfig;
}

const MAX_JUMP_DEPTH = 8;
const MAX_INCLUDE_DEPTH = 16;

export function resolveSshHost(target: string, options: SshConfigOptions = {}): SshHostConfig {
  const home = options.home ?? homedir();
  const ctx: Context = {
    home,
    localUser: options.localUser ?? safeLocalUser(),
    localHostName: options.localHostName ?? osHostname(),
    env: options.env ?? process.env,
    config: loadConfig(options, home),
  };
  const at = target.lastIndexOf('@');
  const spec: JumpSpec = at >= 0 ? { user: target.slice(0, at), host: target.slice(at + 1) } : { host: target };
  return resolveHop(ctx, spec, true, 0);
}

function safeLocalUser(): string {
  try {
    return userInfo().username;
  } catch {
    return process.env.USER ?? process.env.USERNAME ?? '';
  }
}

function loadConfig(options: SshConfigOptions, home: string): SSHConfig {
  const userFile = options.configFile ?? join(home, '.ssh', 'config');
  // A file the user named and we cannot read would silently mean "defaults": a different host, user or key.
  if (options.configFile !== undefined) {
    try {
      readFileSync(options.configFile);
    } catch (e) {
      const why = (e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message;
      throw new SshConfigError(`The ssh config file ${options.configFile} cannot be read (${why}). Fix the path or leave it unset to use ~/.ssh/config.`);
    }
  }
  const systemFile = options.systemConfigFile === undefined
    ? (process.platform === 'win32' ? null : '/etc/ssh/ssh_config')
    : options.systemConfigFile;
  // The user's file first, then the system's: ssh keeps the first value it obtains for each keyword.
  const text = [readConfigText(userFile, join(home, '.ssh'), home, 0), systemFile ? readConfigText(systemFile, '/etc/ssh', home, 0) : '']
    .join('\n');
  return sshConfigLib.parse(text);
}

/**
 * The file's text with `Include` lines replaced by the included files' text. ssh-config does not follow Include;
 * relative paths are taken from ~/.ssh (user file) or /etc/ssh (system file) as ssh does. An Include inside a
 * Host block is inlined where it stands, which is what ssh does for files made of plain keywords.
 */
function readConfigText(file: string, baseDir: string, home: string, depth: number): string {
  if (depth > MAX_INCLUDE_DEPTH) throw new SshConfigError(`Include nests more than ${MAX_INCLUDE_DEPTH} deep at ${file}; is a file including itself?`);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return '';
  }
  return text
    .split(/\r?\n/)
    .map((line) => {
      const m = /^\s*include(?:\s*=\s*|\s+)(.+)$/i.exec(line);
      if (!m) return line;
      return splitArgs(m[1])
        .flatMap((pattern) => expandGlob(resolvePath(expandTilde(pattern, home), baseDir)))
        .map((f) => readConfigText(f, baseDir, home, depth + 1))
        .join('\n');
    })
    .join('\n');
}

/** Whitespace-separated words, double quotes grouping, as ssh_config reads argument lists. */
function splitArgs(text: string): string[] {
  return [...text.matchAll(/"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2]);
}

function resolvePath(p: string, baseDir: string): string {
  return isAbsolute(p) ? p : join(baseDir, p);
}

/** Expands `*` and `?` in any path component, sorted like glob(3). */
function expandGlob(path: string): string[] {
  if (!/[*?]/.test(path)) return [path];
  const parts = path.split('/');
  let bases = [parts[0] === '' ? '/' : parts[0]];
  for (const part of parts.slice(1)) {
    if (!part) continue;
    const next: string[] = [];
    for (const base of bases) {
      if (!/[*?]/.test(part)) {
        next.push(join(base, part));
        continue;
      }
      const re = new RegExp(`^${part.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
      let names: string[] = [];
      try {
        names = readdirSync(base).filter((n) => re.test(n) && !(n.startsWith('.') && !part.startsWith('.'))).sort();
      } catch {
        // a missing directory matches nothing
      }
      next.push(...names.map((n) => join(base, n)));
    }
    bases = next;
  }
  return bases;
}

function expandTilde(p: string, home: string): string {
  if (p === '~') return home;
  if (p.startsWith('~/')) return join(home, p.slice(2));
  return p;
}

/** `${NAME}` from the environment, as ssh expands in file-name keywords; an unset variable is an error there too. */
function expandEnv(value: string, env: NodeJS.ProcessEnv, keyword: string): string {
  return value.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g, (_, name: string) => {
    const v = env[name];
    if (v === undefined) throw new SshConfigError(`${keyword} in your ssh config uses \${${name}}, which is not set in the environment.`);
    return v;
  });
}

/** `%x` tokens (ssh_config(5) TOKENS); an unknown one is refused as ssh refuses it, naming the keyword. */
export function expandTokens(value: string, tokens: Record<string, string>, keyword: string): string {
  return value.replace(/%(.)/g, (whole, ch: string) => {
    if (ch === '%') return '%';
    const v = tokens[ch];
    if (v === undefined) throw new SshConfigError(`${keyword} in your ssh config uses the token ${whole}, which this client does not support; write the value out instead.`);
    return v;
  });
}

/** Parses ProxyJump's comma-separated hops. */
export function parseJumpSpecs(value: string): JumpSpec[] {
  return value.split(',').map((raw) => {
    let s = raw.trim();
    if (!s) throw new SshConfigError(`ProxyJump "${value}" has an empty hop.`);
    s = s.replace(/^ssh:\/\//i, '').replace(/\/$/, '');
    const spec: JumpSpec = { host: s };
    const at = s.lastIndexOf('@');
    if (at >= 0) {
      spec.user = s.slice(0, at);
      s = s.slice(at + 1);
    }
    // [v6addr]:port, [host]:port, host:port, or a bare v6 address / host
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(s);
    const hostPort = /^([^:]+):(\d+)$/.exec(s);
    if (bracketed) {
      spec.host = bracketed[1];
      if (bracketed[2]) spec.port = Number(bracketed[2]);
    } else if (hostPort) {
      spec.host = hostPort[1];
      spec.port = Number(hostPort[2]);
    } else {
      spec.host = s;
    }
    if (spec.port !== undefined && !(spec.port > 0 && spec.port < 65536)) throw new SshConfigError(`ProxyJump hop "${raw}" has an invalid port.`);
    return spec;
  });
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

function list(v: string | string[] | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

function yesNo(v: string | undefined, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  return /^(yes|true)$/i.test(v);
}

function positiveInt(v: string | undefined, keyword: string): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v)) throw new SshConfigError(`${keyword} "${v}" in your ssh config is not a number.`);
  return Number(v);
}

function resolveHop(ctx: Context, spec: JumpSpec, honourOwnJump: boolean, depth: number): SshHostConfig {
  if (depth > MAX_JUMP_DEPTH) throw new SshConfigError(`ProxyJump chains more than ${MAX_JUMP_DEPTH} hops via ${spec.host}; is a host jumping through itself?`);
  // An explicit user (user@host) takes part in Match user, as it does in ssh.
  const computed = ctx.config.compute(spec.user ? { Host: spec.host, User: spec.user } : { Host: spec.host }, { ignoreCase: true, matchExec: false });
  const get = (k: string) => first(computed[k]);

  const hostName = expandTokens(get('hostname') ?? spec.host, { h: spec.host }, 'HostName');
  const port = spec.port ?? positiveInt(get('port'), 'Port') ?? 22;
  const user = spec.user ?? get('user') ?? ctx.localUser;

  const proxyJumpValue = get('proxyjump');
  const proxyCommand = get('proxycommand');
  const jumpText = proxyJumpValue && proxyJumpValue.toLowerCase() !== 'none' ? proxyJumpValue : undefined;

  const tokens: Record<string, string> = {
    d: ctx.home,
    h: hostName,
    i: typeof process.getuid === 'function' ? String(process.getuid()) : '',
    L: ctx.localHostName.split('.')[0],
    l: ctx.localHostName,
    n: spec.host,
    p: String(port),
    r: user,
    u: ctx.localUser,
    j: jumpText ?? '',
  };
  const filePath = (value: string, keyword: string) =>
    resolvePath(expandTilde(expandTokens(expandEnv(value, ctx.env, keyword), tokens, keyword), ctx.home), ctx.home);

  const configured = list(computed['identityfile']);
  const identityFiles = configured.length
    ? configured.map((f) => filePath(f, 'IdentityFile'))
    : ['id_ed25519', 'id_ecdsa', 'id_rsa'].map((n) => join(ctx.home, '.ssh', n)).filter((f) => existsSync(f));

  const agentValue = get('identityagent');
  let identityAgent: string | undefined;
  if (agentValue === undefined || agentValue === 'SSH_AUTH_SOCK') identityAgent = undefined;
  else if (agentValue.toLowerCase() === 'none') identityAgent = 'none';
  else if (/^\$[A-Za-z_][A-Za-z0-9_]*$/.test(agentValue)) identityAgent = ctx.env[agentValue.slice(1)];
  else identityAgent = filePath(agentValue, 'IdentityAgent');

  const userKnown = list(computed['userknownhostsfile']);
  const globalKnown = list(computed['globalknownhostsfile']);
  const strict = (get('stricthostkeychecking') ?? 'ask').toLowerCase();
  const strictHostKeyChecking: StrictHostKeyChecking =
    strict === 'yes' || strict === 'true' ? 'yes' : strict === 'no' || strict === 'off' || strict === 'false' ? 'no' : strict === 'accept-new' ? 'accept-new' : 'ask';

  let proxyJump: SshHostConfig[] = [];
  if (jumpText && honourOwnJump) {
    const hops = parseJumpSpecs(jumpText);
    // `ssh -J a,b t` reaches b through a; a keeps its own ProxyJump, later hops use the chain instead (as ssh does).
    proxyJump = hops.map((hop, i) => resolveHop(ctx, hop, i === 0, depth + 1));
    proxyJump = [...proxyJump[0].proxyJump, ...proxyJump.map((h) => ({ ...h, proxyJump: [] }))];
  }

  return {
    alias: spec.host,
    hostName,
    port,
    user,
    identityFiles,
    identitiesOnly: yesNo(get('identitiesonly'), false),
    identityAgent,
    proxyJump,
    userKnownHostsFiles: (userKnown.length ? userKnown : ['~/.ssh/known_hosts', '~/.ssh/known_hosts2'])
      .filter((f) => f.toLowerCase() !== 'none')
      .map((f) => filePath(f, 'UserKnownHostsFile')),
    globalKnownHostsFiles: (globalKnown.length ? globalKnown : ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'])
      .filter((f) => f.toLowerCase() !== 'none')
      .map((f) => filePath(f, 'GlobalKnownHostsFile')),
    strictHostKeyChecking,
    hashKnownHosts: yesNo(get('hashknownhosts'), true),
    hostKeyAlias: get('hostkeyalias'),
    serverAliveInterval: positiveInt(get('serveraliveinterval'), 'ServerAliveInterval'),
    serverAliveCountMax: positiveInt(get('serveralivecountmax'), 'ServerAliveCountMax') ?? 3,
    connectTimeout: positiveInt(get('connecttimeout'), 'ConnectTimeout'),
    proxyCommand: jumpText || !proxyCommand || proxyCommand.toLowerCase() === 'none' ? undefined : proxyCommand,
    passwordAuthentication: yesNo(get('passwordauthentication'), true),
    kbdInteractiveAuthentication: yesNo(get('kbdinteractiveauthentication') ?? get('challengeresponseauthentication'), true),
  };
}
