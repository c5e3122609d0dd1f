// The config schema as JSON Schema, for editors other than ours (yaml-language-server's `# yaml-language-server:
// $schema=` comment, JetBrains, …). Generated from the zod schema at build time so the two cannot drift. Draft-07:
// the draft most YAML tooling reads. Checks zod runs in code (memory and walltime parsing, Gadi rules) stay ours.
import { z } from 'zod';
import { clusterConfigSchema } from './schema';

export function clusterConfigJsonSchema(): Record<string, unknown> {
  const schema = z.toJSONSchema(clusterConfigSchema, { io: 'input', target: 'draft-7' }) as Record<string, unknown>;
  return { ...schema, title: 'Dask cluster config (*.dask-cluster.yaml)' };
}
