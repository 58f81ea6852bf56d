// What a VHDS update costs a proxy's router: compileRouteConfigs (src/proxy/data/
// route-configs.ts) of a route config sent with `vhds` and N virtual hosts shaped as
// weft generates them, after one virtual host changed. Also the whole compile (every
// virtual host new), for comparison.
//
// Usage: node dist/bench/route-compile.js [--hosts 1000,5000] [--rounds 10]
// Prints one JSON line per size.
import { compileRouteConfigs } from '../src/proxy/data/route-configs.js';
import type { EnvoyObject } from '../src/proxy/types.js';

function opt(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : def;
}

/** A service's outbound virtual host as the generator makes it (short and long names, with and without the port). */
function virtualHost(i: number, routePrefix = '/'): EnvoyObject {
  const short = `svc-${i}`;
  const fqdn = `${short}.bench.svc.cluster.local`;
  const domains = [short, `${short}.bench`, `${short}.bench.svc`, fqdn].flatMap((d) => [d, `${d}:8080`]);
  const cluster = `outbound|8080||${fqdn}`;
  const retryPolicy = { retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes', numRetries: 2 };
  return { name: `http_proxy/${fqdn}:8080`, domains, routes: [{ name: 'default', match: { prefix: routePrefix }, route: { cluster, timeout: { seconds: 0 }, retryPolicy } }] };
}

const rounds = Number(opt('rounds', '10'));
for (const n of opt('hosts', '1000,5000').split(',').map(Number)) {
  const rc: EnvoyObject = { name: 'http_proxy', vhds: { configSource: { ads: {}, resourceApiVersion: 'V3' } } };
  const routes = new Map([['http_proxy', rc]]);
  const vhosts = new Map<string, EnvoyObject>();
  for (let i = 0; i < n; i++) {
    const vh = virtualHost(i);
    vhosts.set(String(vh['name']), vh);
  }
  const fresh = (): Map<string, EnvoyObject> => new Map([...vhosts].map(([k, v]) => [k, { ...v }]));
  for (let r = 0; r < 3; r++) compileRouteConfigs(routes, fresh()); // JIT warm-up
  let t0 = performance.now();
  for (let r = 0; r < rounds; r++) compileRouteConfigs(routes, fresh());
  const wholeMs = (performance.now() - t0) / rounds;
  compileRouteConfigs(routes, vhosts);
  t0 = performance.now();
  for (let r = 0; r < rounds; r++) {
    const vh = virtualHost(r % n, `/v${r}`);
    vhosts.set(String(vh['name']), vh);
    compileRouteConfigs(routes, new Map(vhosts));
  }
  const oneChangedMs = (performance.now() - t0) / rounds;
  console.log(JSON.stringify({ virtualHosts: n, wholeCompileMs: +wholeMs.toFixed(2), oneChangedMs: +oneChangedMs.toFixed(2), rounds }));
}
