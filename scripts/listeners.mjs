// Watches, while the test layers run, for a listening socket that is not on loopback and belongs to a process a
// layer started (every process of a layer carries LAYER_ENV in its environment, detached ones too). Tests bind
// loopback only: dask's default for a scheduler, worker or dashboard is every address, which a test must not take.
// Processes the sandbox's sshd starts for its users do not carry it; the sandbox's own tests check those users.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { setInterval } from 'node:timers';

export const LAYER_ENV = 'GADI_DASK_TEST_LAYER';

const loopback = (address) => /^(127\.|::1$|::ffff:127\.)/.test(address);

/** `127.0.0.1:80`, `[::1]:80`, `127.0.0.53%lo:53`, `*:80`: the address without port, brackets or interface. */
const hostOf = (local) => local.slice(0, local.lastIndexOf(':')).replace(/^\[|\]$/g, '').replace(/%.*$/, '');

function layerOf(pid) {
  try {
    const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
    const entry = env.find((e) => e.startsWith(`${LAYER_ENV}=`));
    return entry?.slice(LAYER_ENV.length + 1);
  } catch {
    return undefined; // gone already, or not ours to read
  }
}

function commandOf(pid) {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ').trim().slice(0, 160);
  } catch {
    return '?';
  }
}

/** From `ss -Hltnp`'s lines: each listener that is not on loopback, with the pids that hold it. */
export function wideListeners(text) {
  return text.split('\n').map((line) => line.trim().split(/\s+/)).filter((cols) => cols.length >= 5 && !loopback(hostOf(cols[3])))
    .map((cols) => ({ address: cols[3], pids: [...cols.slice(5).join(' ').matchAll(/pid=(\d+)/g)].map((m) => Number(m[1])) }));
}

/** Samples `ss` every second; `seen(layer)` lists what that layer's processes listened on outside loopback. */
export function watchListeners() {
  const found = new Map(); // layer → Set of "address (command)"
  let busy = false;
  const sample = () => {
    if (busy) return;
    busy = true;
    execFile('ss', ['-Hltnp'], { timeout: 5000 }, (err, out) => {
      busy = false;
      if (err) return; // no ss here: nothing to say
      for (const { address, pids } of wideListeners(out)) {
        for (const pid of pids) {
          const layer = layerOf(pid);
          if (layer) found.set(layer, (found.get(layer) ?? new Set()).add(`${address} (${commandOf(pid)})`));
        }
      }
    });
  };
  setInterval(sample, 1000).unref(); // the layers keep the run alive, not the watch
  return { seen: (layer) => [...(found.get(layer) ?? [])] };
}
