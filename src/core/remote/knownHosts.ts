// known_hosts as OpenSSH reads and writes it (sshd(8) "SSH_KNOWN_HOSTS FILE FORMAT"): plain and hashed host
// fields, [host]:port for other ports than 22, wildcard and negated patterns, @revoked and @cert-authority markers.
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { promises as fsp, readFileSync } from 'node:fs';
import { dirname } from 'node:path';

export type HostKeyStatus = 'ok' | 'unknown' | 'changed' | 'revoked';

export interface KnownHostsEntry {
  file: string;
  /** 1-based line number. */
  line: number;
  marker?: 'revoked' | 'cert-authority';
  /** The host field as written: comma-separated patterns, or one `|1|salt|hash`. */
  hosts: string;
  keyType: string;
  key: Buffer;
}

export interface HostKeyCheck {
  status: HostKeyStatus;
  /** The entry that decided: the matching key for 'ok'/'revoked', the conflicting one for 'changed'. */
  entry?: KnownHostsEntry;
  /** Key types already trusted for this host, so the client can prefer them during key exchange. */
  knownTypes: string[];
  /** @cert-authority lines for this host: they would vouch for a host certificate, never for a plain key. */
  authorities: KnownHostsEntry[];
}

/** How known_hosts names a host: bare for port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** The fingerprint exactly as `ssh-keygen -l` and the ssh prompt print it. */
export function hostKeyFingerprint(keyBlob: Buffer): string {
  return `SHA256:${createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '')}`;
}

/** The algorithm name a public key blob starts with (an SSH string: uint32 length, bytes). */
export function keyTypeOfBlob(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return undefined;
  return blob.subarray(4, 4 + len).toString('latin1');
}

/** `|1|salt|hash` as `HashKnownHosts yes` writes it: HMAC-SHA1 of the name keyed with a random 20-byte salt. */
export function hashHostName(name: string, salt: Buffer = randomBytes(20)): string {
  const mac = createHmac('sha1', salt).update(name).digest();
  return `|1|${salt.toString('base64')}|${mac.toString('base64')}`;
}

function hashedMatches(field: string, name: string): boolean {
  const parts = field.split('|');
  if (parts.length !== 4 || parts[1] !== '1') return false;
  const salt = Buffer.from(parts[2], 'base64');
  const want = Buffer.from(parts[3], 'base64');
  const got = createHmac('sha1', salt).update(name).digest();
  return want.length === got.length && timingSafeEqual(want, got);
}

/** OpenSSH's wildcard: `*` any run, `?` any one character; case-insensitive like host names. */
function wildcardMatches(pattern: string, text: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'i').test(text);
}

/** A comma-separated pattern list matches when some positive pattern does and no negated one does. */
export function hostPatternsMatch(patterns: string, name: string): boolean {
  if (patterns.startsWith('|')) return hashedMatches(patterns, name);
  let found = false;
  for (const raw of patterns.split(',')) {
    if (!raw) continue;
    const negated = raw.startsWith('!');
    const pattern = negated ? raw.slice(1) : raw;
    if (wildcardMatches(pattern, name)) {
      if (negated) return false;
      found = true;
    }
  }
  return found;
}

/** Parses one file's text. Lines we cannot read are skipped, as ssh does, rather than failing the whole file. */
export function parseKnownHosts(text: string, file: string): KnownHostsEntry[] {
  const entries: KnownHostsEntry[] = [];
  text.split(/\r?\n/).forEach((rawLine, index) => {
    const fields = rawLine.trim().split(/\s+/);
    if (!fields[0] || fields[0].startsWith('#')) return;
    let marker: KnownHostsEntry['marker'];
    if (fields[0].startsWith('@')) {
      const m = fields.shift();
      if (m === '@revoked') marker = 'revoked';
      else if (m === '@cert-authority') marker = 'cert-authority';
      else return; // an unknown marker: ssh ignores the line, so must we
    }
    const [hosts, keyType, keyB64] = fields;
    if (!hosts || !keyType || !keyB64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(keyB64)) return;
    const key = Buffer.from(keyB64, 'base64');
    // A blob whose embedded type disagrees with the stated one is corrupt; never let it vouch for a host.
    if (keyTypeOfBlob(key) !== keyType) return;
    entries.push({ file, line: index + 1, marker, hosts, keyType, key });
  });
  return entries;
}

export class KnownHosts {
  constructor(readonly entries: readonly KnownHostsEntry[]) {}

  /** Reads every file that exists; missing or unreadable files count as empty (ssh's behaviour). */
  static load(files: readonly string[]): KnownHosts {
    const entries: KnownHostsEntry[] = [];
    for (const file of files) {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch {
        continue;
      }
      entries.push(...parseKnownHosts(text, file));
    }
    return new KnownHosts(entries);
  }

  private forHost(host: string, port: number): KnownHostsEntry[] {
    const name = knownHostsName(host, port);
    return this.entries.filter((e) => hostPatternsMatch(e.hosts, name));
  }

  check(host: string, port: number, keyType: string, keyBlob: Buffer): HostKeyCheck {
    const matching = this.forHost(host, port);
    const authorities = matching.filter((e) => e.marker === 'cert-authority');
    // CA lines vouch for certificates, not plain keys: they neither trust a plain key nor conflict with one.
    const relevant = matching.filter((e) => e.marker !== 'cert-authority');
    const plain = relevant.filter((e) => !e.marker);
    const knownTypes = [...new Set(plain.map((e) => e.keyType))];
    const base = { knownTypes, authorities };
    const revoked = relevant.find((e) => e.marker === 'revoked' && e.key.equals(keyBlob));
    if (revoked) return { status: 'revoked', entry: revoked, ...base };
    const same = plain.find((e) => e.key.equals(keyBlob));
    if (same) return { status: 'ok', entry: same, ...base };
    // As OpenSSH: a known host presenting any key we do not hold for it, even of a type never seen for it, has
    // CHANGED. A man in the middle offers whatever type it has a key for; only the key types ssh prefers (the
    // known ones) come first in the offer, so a server that has them would have used them.
    const conflicting = plain.find((e) => e.keyType === keyType) ?? plain[0];
    if (conflicting) return { status: 'changed', entry: conflicting, ...base };
    return { status: 'unknown', ...base };
  }

  verify(host: string, port: number, keyType: string, keyBlob: Buffer): HostKeyStatus {
    return this.check(host, port, keyType, keyBlob).status;
  }
}

/** One known_hosts line for a newly trusted key. */
export function knownHostsLine(host: string, port: number, keyType: string, keyBlob: Buffer, hashed = true): string {
  const name = knownHostsName(host, port);
  return `${hashed ? hashHostName(name) : name} ${keyType} ${keyBlob.toString('base64')}`;
}

/**
 * Appends a newly accepted key to the user's known_hosts, creating ~/.ssh (0700) and the file (0600) when
 * missing, and starting on a fresh line if the file does not end with one.
 */
export async function appendKnownHost(
  file: string,
  host: string,
  port: number,
  keyType: string,
  keyBlob: Buffer,
  hashed = true,
): Promise<void> {
  await fsp.mkdir(dirname(file), { recursive: true, mode: 0o700 });
  let prefix = '';
  try {
    const existing = await fsp.readFile(file);
    if (existing.length > 0 && existing[existing.length - 1] !== 0x0a) prefix = '\n';
  } catch {
    // no file yet: appendFile creates it
  }
  await fsp.appendFile(file, `${prefix}${knownHostsLine(host, port, keyType, keyBlob, hashed)}\n`, { mode: 0o600 });
}
