// Host patterns as Istio and Gateway API write them: "*", "*.example.com" or an exact name.

/**
 * Whether `pattern` covers `host`. `host` may itself be a wildcard: "*.example.com" covers
 * "*.a.example.com" and itself, not "example.com" (Istio's host.Name.SubsetOf, reversed).
 */
export function hostMatches(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  return pattern === host;
}
