// On a cluster, `module`, `qsub` and friends are set up by the login profile, which a plain `ssh host cmd` does
// not read. Both transports wrap every command with this one function so they see the same PATH.
import { shellQuote } from './shellQuote';

/**
 * The text handed to the account's shell (sshd runs `$SHELL -c <text>`; the local transport runs `sh -c <text>`).
 * The command becomes one quoted word, so bash receives it byte for byte whatever it contains.
 *
 * With a timeout, coreutils' `timeout` runs the login shell as the leader of its own process group and kills
 * the whole group when time is up. Closing an SSH channel does not stop what runs in it, and an SSH "signal"
 * request is not honoured by every sshd (Debian 12's OpenSSH 9.2 ignores it), so the remote side enforces the
 * deadline itself. A second of grace lets the client's own deadline fire first, with the output so far.
 */
export function loginShellCommand(command: string, timeoutMs?: number): string {
  const login = `bash -lc ${shellQuote(command)}`;
  if (timeoutMs === undefined) return `exec ${login}`;
  const seconds = Math.max(1, Math.ceil(timeoutMs / 1000)) + 1;
  return `exec timeout -s KILL ${seconds} ${login}`;
}

/** How errors name a command: its first 60 characters and the host. */
export function describeCommand(command: string, host: string): string {
  return `"${command.length > 60 ? `${command.slice(0, 57)}...` : command}" on ${host}`;
}
