// Decides whether to trust the key a server presents, as ssh does with StrictHostKeyChecking: known → go on;
// revoked or changed → refuse without asking (a changed key is what an interception looks like); unknown → ask
// the user with the SHA256 fingerprint and remember the answer in known_hosts.
import { HostKeyError } from './errors';
import { appendKnownHost, hostKeyFingerprint, KnownHosts, knownHostsName, keyTypeOfBlob } from './knownHosts';
import type { SshPrompt } from './prompt';
import type { SshHostConfig } from './sshConfig';
import type { TransportLogger } from './transport';

export interface HostKeySettings {
  hop: SshHostConfig;
  /** Where user-trusted keys are read from; the first file receives newly accepted keys. */
  userKnownHostsFiles: readonly string[];
  globalKnownHostsFiles: readonly string[];
  prompt: SshPrompt;
  logger: TransportLogger;
  whileAsking<T>(ask: () => Promise<T>): Promise<T>;
  /** Serialises questions about the same host, so two connections opening at once ask once. */
  gate: Map<string, Promise<unknown>>;
}

/** The name and port known_hosts uses for a hop: HostKeyAlias stands alone, without a port, as in ssh. */
export function knownHostsTarget(hop: SshHostConfig): { host: string; port: number } {
  return hop.hostKeyAlias ? { host: hop.hostKeyAlias, port: 22 } : { host: hop.hostName, port: hop.port };
}

/** The key types already trusted for this hop, so key exchange can prefer them (ssh orders its offer the same way). */
export function knownKeyTypes(s: Pick<HostKeySettings, 'hop' | 'userKnownHostsFiles' | 'globalKnownHostsFiles'>): string[] {
  const { host, port } = knownHostsTarget(s.hop);
  const probe = Buffer.alloc(0);
  return KnownHosts.load([...s.userKnownHostsFiles, ...s.globalKnownHostsFiles]).check(host, port, '', probe).knownTypes;
}

/** Resolves when the key may be used; rejects with a HostKeyError saying what to do otherwise. */
export async function verifyHostKey(s: HostKeySettings, keyBlob: Buffer): Promise<void> {
  const { host, port } = knownHostsTarget(s.hop);
  const name = knownHostsName(host, port);
  const previous = s.gate.get(name) ?? Promise.resolve();
  const mine = previous.catch(() => undefined).then(() => decide(s, keyBlob, host, port, name));
  s.gate.set(name, mine);
  try {
    await mine;
  } finally {
    if (s.gate.get(name) === mine) s.gate.delete(name);
  }
}

async function decide(s: HostKeySettings, keyBlob: Buffer, host: string, port: number, name: string): Promise<void> {
  const keyType = keyTypeOfBlob(keyBlob) ?? 'unknown';
  const fingerprint = hostKeyFingerprint(keyBlob);
  // Read the files now, not at startup: the user (or another connection) may have just changed them.
  const known = KnownHosts.load([...s.userKnownHostsFiles, ...s.globalKnownHostsFiles]);
  const check = known.check(host, port, keyType, keyBlob);
  const where = check.entry ? `${check.entry.file}:${check.entry.line}` : '';
  switch (check.status) {
    case 'ok':
      s.logger.debug(`host key for ${name} matches ${where}`);
      return;
    case 'revoked':
      throw new HostKeyError(
        `The host key of ${name} (${keyType} ${fingerprint}) is marked @revoked in ${where}. Connecting was refused. ` +
          `Ask the cluster's administrators (NCI help desk for Gadi) for the current key.`,
        'revoked', name, fingerprint, check.entry?.file, check.entry?.line,
      );
    case 'changed': {
      const e = check.entry!;
      const held = e.keyType === keyType ? `a different ${keyType} key` : `only keys of other types (${check.knownTypes.join(', ')})`;
      throw new HostKeyError(
        `WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED for ${name}. It presents ${keyType} ${fingerprint}, but ` +
          `your known_hosts holds ${held} for it (offending key in ${e.file}:${e.line}). Someone may be intercepting ` +
          `the connection (man-in-the-middle), or the host key was just replaced. Connecting was refused, whatever ` +
          `StrictHostKeyChecking says. Check the fingerprint with the cluster's administrators (NCI publishes Gadi's), ` +
          `then remove the old key with: ssh-keygen -R '${name}' -f '${e.file}'`,
        'changed', name, fingerprint, e.file, e.line,
      );
    }
    case 'unknown':
      break;
  }
  // As ssh: a host on another port than 22 whose key is recorded under its bare name is known (read only: a
  // different key under the bare name neither refuses nor is replaced).
  if (port !== 22 && !s.hop.hostKeyAlias) {
    const bare = known.check(host, 22, keyType, keyBlob);
    if (bare.status === 'ok') {
      s.logger.debug(`host key for ${name} matches ${bare.entry!.file}:${bare.entry!.line} (recorded without the port)`);
      return;
    }
  }
  // ssh2 does not negotiate host certificates, so a CA line can never vouch for this server here: say so rather
  // than let the user think the CA was consulted. The plain key is then judged as OpenSSH judges it: unknown.
  const ca = check.authorities[0];
  const caNote = ca
    ? ` ${ca.file}:${ca.line} trusts a certificate authority for ${name}, but this client cannot check host certificates, so the CA was not used.`
    : '';
  if (ca) s.logger.warn(caNote.trim());
  const strict = s.hop.strictHostKeyChecking;
  const saveTo = s.userKnownHostsFiles[0];
  if (strict === 'yes') {
    throw new HostKeyError(
      `${name} is not in your known_hosts and StrictHostKeyChecking is "yes" for it, so its key ${keyType} ` +
        `${fingerprint} was not trusted.${caNote} Run \`ssh ${s.hop.alias}\` in a terminal once to check and accept the key.`,
      'unknown', name, fingerprint,
    );
  }
  if (strict === 'ask') {
    const accepted = await s.whileAsking(() => s.prompt.confirmHostKey(name, fingerprint, keyType));
    if (!accepted) {
      throw new HostKeyError(
        `The host key of ${name} (${keyType} ${fingerprint}) was not accepted, so no connection was made.${caNote} Connect ` +
          `again and accept it once you have checked the fingerprint against the one the cluster publishes.`,
        'unknown', name, fingerprint,
      );
    }
  }
  if (!saveTo) {
    s.logger.warn(`host key for ${name} accepted for this session only: no UserKnownHostsFile to save it in`);
    return;
  }
  try {
    await appendKnownHost(saveTo, host, port, keyType, keyBlob, s.hop.hashKnownHosts);
    s.logger.info(`added ${name} (${keyType} ${fingerprint}) to ${saveTo}`);
  } catch (err) {
    s.logger.warn(`host key for ${name} accepted but not saved to ${saveTo}: ${(err as Error).message}`);
  }
}
