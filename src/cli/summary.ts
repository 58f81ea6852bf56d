// The short summary `weft up` prints once the mesh runs.

import type { MeshFile } from '../platform/local/mesh-file.js';
import { renderPairs, renderTable } from './table.js';

export function meshSummary(m: MeshFile, stopHint: string): string {
  const pairs: [string, string][] = [
    ['control plane', `${m.controlAddress}   (API ${m.apiUrl})`],
    ['ingress', m.ingressUrl],
  ];
  // The first exposed page as a URL to open (the product page for Bookinfo), the other paths after it.
  const [first, ...more] = m.appUrls;
  if (first) pairs.push(['open', first]);
  if (more.length) pairs.push(['also routed', more.map((u) => (u.startsWith(m.ingressUrl) ? u.slice(m.ingressUrl.length) : u)).join(', ')]);
  const pods = renderTable(
    ['POD', 'NAMESPACE', 'READY', 'ADDRESS', 'APP ADDRESS'],
    m.pods.map((p) => [p.name, p.namespace, `${p.readyContainers}/${p.containers}`, p.address, p.proxyType === 'router' ? `${p.appAddress} (gateway)` : p.appAddress]),
    { indent: '  ' },
  );
  const notReady = m.pods.filter((p) => !p.ready).length;
  const head = notReady ? `weft mesh is up on network ${m.network}; ${notReady} pod${notReady > 1 ? 's are' : ' is'} not ready yet` : `weft mesh is up on network ${m.network}`;
  return `${head}\n\n${renderPairs(pairs, '  ')}\n\n${pods}\n\n  ${stopHint}\n`;
}
