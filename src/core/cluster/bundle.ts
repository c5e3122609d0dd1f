// The runtime as the deploying side sees it (runtime/README.md, "Deploying"): its file list, its content hash (the
// same value install.sh and `run.py hash` compute) and a ustar archive of it that install.sh unpacks. Plain Node:
// no local `tar` is needed.
import { createHash } from 'node:crypto';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

export const MANIFEST = '.gadi-dask-runtime.json';
const SAFE_PATH = /^[A-Za-z0-9._/-]+$/;

export interface RuntimeFile {
  path: string; // relative, '/'-separated
  content: Buffer;
  mtime: number; // seconds
}

/** Every regular file under root except __pycache__/, *.pyc and the top-level manifest, sorted by path bytes. */
export function runtimeFiles(root: string): RuntimeFile[] {
  const out: RuntimeFile[] = [];
  const walk = (dir: string, prefix: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const rel = prefix + entry.name;
      const abs = join(dir, entry.name);
      if (entry.isSymbolicLink()) throw new Error(`the runtime may not contain links: ${rel}`);
      if (entry.isDirectory()) {
        if (entry.name !== '__pycache__') walk(abs, rel + '/');
      } else if (entry.isFile() && !entry.name.endsWith('.pyc') && rel !== MANIFEST) {
        if (!SAFE_PATH.test(rel)) throw new Error(`unsupported file name in the runtime: ${rel}`);
        out.push({ path: rel, content: readFileSync(abs), mtime: Math.floor(lstatSync(abs).mtimeMs / 1000) });
      }
    }
  };
  walk(root, '');
  return out.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
}

const sha256 = (data: Buffer | string): string => createHash('sha256').update(data).digest('hex');

/** sha256 over the lines "<sha256 of content>  <path>\n" of the sorted files. */
export function runtimeHash(files: readonly RuntimeFile[]): string {
  return sha256(files.map((f) => `${sha256(f.content)}  ${f.path}\n`).join(''));
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

/** A POSIX ustar archive of regular files (mode 0644), gzip-compressed when asked. */
export function tarball(files: readonly RuntimeFile[], gzip = true): Buffer {
  const blocks: Buffer[] = [];
  for (const f of files) {
    const name = Buffer.from(f.path);
    if (name.length > 100) throw new Error(`path too long for a ustar header: ${f.path}`);
    const h = Buffer.alloc(512);
    name.copy(h, 0);
    h.write(octal(0o644, 8), 100, 'ascii');
    h.write(octal(0, 8), 108, 'ascii');
    h.write(octal(0, 8), 116, 'ascii');
    h.write(octal(f.content.length, 12), 124, 'ascii');
    h.write(octal(f.mtime, 12), 136, 'ascii');
    h.write('        ', 148, 'ascii'); // checksum counts its own field as spaces
    h.write('0', 156, 'ascii');
    h.write('ustar\0', 257, 'ascii');
    h.write('00', 263, 'ascii');
    let sum = 0;
    for (const byte of h) sum += byte;
    h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
    blocks.push(h, f.content, Buffer.alloc((512 - (f.content.length % 512)) % 512));
  }
  blocks.push(Buffer.alloc(1024));
  const tar = Buffer.concat(blocks);
  return gzip ? gzipSync(tar) : tar;
}
