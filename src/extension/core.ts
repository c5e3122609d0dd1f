// The core as the extension host loads it: ssh2, zod and yaml are two thirds of the code, and a window that never
// connects or reads a config should not pay for them at startup. They live in a second bundle (dist/core.js, built
// from coreBundle.ts) required the first time a command, the tree or a config read needs the core. Extension code
// takes core values only from core(), so each core class exists once and `instanceof` holds (the bundle test checks).
import type * as Core from './coreBundle';

export type { Core };

let loaded: typeof Core | undefined;
let loadMs: number | undefined;

export function core(): typeof Core {
  if (!loaded) {
    const started = performance.now();
    // The build maps './coreBundle' to the separate './core.js'; from source it is the module itself.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    loaded = require('./coreBundle') as typeof Core;
    loadMs = performance.now() - started;
  }
  return loaded;
}

/** How long loading the core took, once something needed it. */
export function coreLoadMs(): number | undefined {
  return loadMs;
}
