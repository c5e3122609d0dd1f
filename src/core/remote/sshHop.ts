// One hop of an SSH connection: the TCP (or tunnelled) handshake, host key verification and sign-in, bounded by
// a deadline that pauses while the user answers a prompt, and failures turned into typed errors that say what to
// check.
import type { Duplex } from 'node:stream';
import { Client, type ClientChannel, type ConnectConfig } from 'ssh2';
import { setSafeTimeout } from '../timers';
import { AuthError, ConnectionError, HostKeyError, type TransportError } from './errors';
import { knownKeyTypes, verifyHostKey } from './hostKeyVerifier';
import type { SshPrompt } from './prompt';
import { agentFor, AuthSession, type KeyCache } from './sshAuth';
import type { SshHostConfig } from './sshConfig';
import type { TransportLogger } from './transport';

export interface HopSettings {
  prompt: SshPrompt;
  logger: TransportLogger;
  keyCache: KeyCache;
  hostKeyGate: Map<string, Promise<unknown>>;
  /** Replace every hop's UserKnownHostsFile (and drop the global files). */
  knownHostsFiles?: readonly string[];
  /** Replace every hop's IdentityFile list. */
  identityFiles?: readonly string[];
  /** An agent socket for every hop; null = no agent; undefined = as ssh would choose. */
  agent?: string | null;
  connectTimeoutMs?: number;
  keepaliveIntervalMs?: number;
  env: NodeJS.ProcessEnv;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;
const DEFAULT_KEEPALIVE_MS = 15_000;
const HOST_KEY_ALGORITHMS = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

/**
 * Offer the key types already in known_hosts first, as ssh does: a server that has a key of a known type then
 * presents it, and one that presents another type has changed (hostKeyVerifier.ts refuses it).
 */
export function preferHostKeyAlgorithms(knownTypes: readonly string[]): string[] {
  const algorithms = knownTypes.flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]));
  return [...new Set([...algorithms.filter((a) => HOST_KEY_ALGORITHMS.includes(a)), ...HOST_KEY_ALGORITHMS])];
}

export function describeHop(hop: SshHostConfig): string {
  return `${hop.user}@${hop.hostName}${hop.port === 22 ? '' : `:${hop.port}`}`;
}

/** A channel through `client` to the next hop. */
export function tunnelTo(client: Client, from: SshHostConfig, to: SshHostConfig): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    client.forwardOut('127.0.0.1', 0, to.hostName, to.port, (err, stream) => {
      if (err) reject(new ConnectionError(`The jump host ${from.alias} could not reach ${to.hostName}:${to.port} (${err.message}). Check ProxyJump and HostName in ~/.ssh/config.`));
      else resolve(stream);
    });
  });
}

/** Connects to `hop` (over `sock` when tunnelled), verifies its host key and signs in. */
export function connectHop(s: HopSettings, hop: SshHostConfig, sock?: Duplex): Promise<Client> {
  const who = describeHop(hop);
  const timeoutMs = s.connectTimeoutMs ?? (hop.connectTimeout ? hop.connectTimeout * 1000 : DEFAULT_CONNECT_TIMEOUT_MS);
  const keepaliveMs = s.keepaliveIntervalMs ?? (hop.serverAliveInterval !== undefined ? hop.serverAliveInterval * 1000 : DEFAULT_KEEPALIVE_MS);
  const userKnownHostsFiles = s.knownHostsFiles ?? hop.userKnownHostsFiles;
  const globalKnownHostsFiles = s.knownHostsFiles ? [] : hop.globalKnownHostsFiles;

  return new Promise<Client>((resolve, reject) => {
    const client = new Client();
    let settled = false;
    let hostKeyError: HostKeyError | undefined;
    let timer: NodeJS.Timeout | undefined;
    let asking = 0;

    const fail = (err: TransportError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      client.end();
      reject(err);
    };
    // The deadline covers the network, not the user: it stops while a prompt is open and restarts after.
    const arm = () => {
      clearTimeout(timer);
      if (asking === 0 && !settled) {
        timer = setSafeTimeout(() => fail(new ConnectionError(`${who} did not complete the SSH handshake within ${timeoutMs / 1000} s. Check your network (VPN?) and the host name.`)), timeoutMs);
      }
    };
    const whileAsking = async <T>(ask: () => Promise<T>): Promise<T> => {
      asking++;
      clearTimeout(timer);
      try {
        return await ask();
      } finally {
        asking--;
        arm();
      }
    };

    const auth = new AuthSession({
      hop,
      identityFiles: s.identityFiles ?? hop.identityFiles,
      agent: s.agent === null ? undefined : (s.agent ?? agentFor(hop, s.env)),
      prompt: s.prompt,
      logger: s.logger,
      keyCache: s.keyCache,
      whileAsking,
    });
    const hostKeySettings = { hop, userKnownHostsFiles, globalKnownHostsFiles, prompt: s.prompt, logger: s.logger, whileAsking, gate: s.hostKeyGate };

    client.on('ready', () => {
      if (settled) {
        client.end();
        return;
      }
      settled = true;
      clearTimeout(timer);
      resolve(client);
    });
    client.on('error', (err: Error & { level?: string; code?: string }) => {
      if (settled) return; // reported by the 'close' that follows
      // ssh2 reports an unusable agent or key this way and then goes on with the next method.
      if (err.level === 'agent' || (err.level === 'client-authentication' && /^Error signing/.test(err.message))) {
        s.logger.debug(`auth ${hop.alias}: ${err.message}`);
        return;
      }
      fail(classify(err, hop, hostKeyError, auth));
    });
    client.on('close', () => fail(new ConnectionError(`${who} closed the connection before sign-in completed.`)));

    const config: ConnectConfig = {
      host: hop.hostName,
      port: hop.port,
      username: hop.user,
      sock,
      readyTimeout: 0, // our own timer, which pauses while the user answers a prompt
      keepaliveInterval: keepaliveMs,
      keepaliveCountMax: hop.serverAliveCountMax,
      authHandler: auth.handler,
      hostVerifier: (key: Buffer, verify: (valid: boolean) => void) => {
        verifyHostKey(hostKeySettings, key).then(
          () => verify(true),
          (e: unknown) => {
            hostKeyError = e instanceof HostKeyError ? e : new HostKeyError(`Cannot check the host key of ${who}: ${(e as Error).message}`, 'unknown', who, '');
            verify(false);
          },
        );
      },
    };
    const known = knownKeyTypes({ hop, userKnownHostsFiles, globalKnownHostsFiles });
    if (known.length) config.algorithms = { serverHostKey: preferHostKeyAlgorithms(known) as NonNullable<ConnectConfig['algorithms']>['serverHostKey'] };
    arm();
    try {
      client.connect(config);
      // Each request to the agent and each step of the sign-in is a small write after the peer's last answer: with
      // Nagle's algorithm on, it waited for the peer's delayed ACK (about 40 ms a time on Linux).
      client.setNoDelay(true);
    } catch (e) {
      fail(new ConnectionError(`Cannot connect to ${who}: ${(e as Error).message}`));
    }
  });
}

function classify(err: Error & { level?: string; code?: string }, hop: SshHostConfig, hostKeyError: HostKeyError | undefined, auth: AuthSession): TransportError {
  if (hostKeyError) return hostKeyError;
  if (err.level === 'client-authentication') return new AuthError(auth.failureMessage());
  const where = `${hop.hostName}:${hop.port}`;
  switch (err.code) {
    case 'ECONNREFUSED':
      return new ConnectionError(`Nothing accepts SSH connections at ${where} (connection refused). Check HostName and Port for "${hop.alias}" in ~/.ssh/config, or whether the host is down for maintenance.`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new ConnectionError(`Cannot resolve the host name ${hop.hostName}. Check HostName for "${hop.alias}" in ~/.ssh/config and your network (VPN?).`);
    case 'ETIMEDOUT':
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return new ConnectionError(`Cannot reach ${where} (${err.code}). Check your network connection or VPN.`);
  }
  return new ConnectionError(`Cannot connect to ${describeHop(hop)}: ${err.message}`);
}
