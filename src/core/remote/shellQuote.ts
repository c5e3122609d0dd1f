// The one function that puts a value into a remote shell command. Everything we send over SSH or to a local
// shell goes through it: nothing is interpolated raw.

/** POSIX single-quote a value so that any shell reads it back as exactly one word, byte for byte. */
export function shellQuote(value: string): string {
  if (value.includes('\0')) throw new Error('A NUL byte cannot be passed to a remote command');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

/** Join a command and its arguments, each quoted. */
export function shellJoin(argv: readonly string[]): string {
  return argv.map(shellQuote).join(' ');
}
