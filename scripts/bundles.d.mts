import type { BuildOptions } from 'esbuild';

export function nodeBundles(production: boolean, outdir?: string): { name: string; options: BuildOptions }[];

export const NODE_EXTERNALS: string[];

export const CLI_BUNDLES: string[];
