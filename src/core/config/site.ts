// Which site's rules apply: Gadi's when the file says `site: gadi`, or when it connects to a Gadi login node.

export type SiteKind = 'gadi' | 'generic';

const GADI_HOST = /^(gadi|gadi\.nci\.org\.au|gadi-login-[a-z0-9.-]+)$/;

/** True for `gadi`, `gadi.nci.org.au` and `gadi-login-*` names (a `user@` prefix is allowed). */
export function isGadiHost(host: string): boolean {
  return GADI_HOST.test(host.trim().toLowerCase().replace(/^[^@]*@/, ''));
}

/** An explicit `site` wins; otherwise the host decides. */
export function detectSite(site: unknown, host: unknown): SiteKind {
  if (typeof site === 'string' && site.trim()) return site.trim().toLowerCase() === 'gadi' ? 'gadi' : 'generic';
  return typeof host === 'string' && isGadiHost(host) ? 'gadi' : 'generic';
}
