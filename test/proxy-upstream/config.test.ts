// Pure parts: cluster compilation, transport socket matching, SAN parsing, strategies.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { compileCluster } from '../../src/proxy/data/upstream/cluster-config.js';
import { compileLoadAssignment, lbCandidates, selectTransport } from '../../src/proxy/data/upstream/endpoints.js';
import { FieldPath } from '../../src/proxy/data/upstream/object-form.js';
import { parseSubjectAltName, sanAllowed } from '../../src/proxy/data/upstream/san.js';
import { createLoadBalancer } from '../../src/proxy/data/upstream/lb/index.js';
import { cla, cluster, rootSecret } from './helpers/xds.js';

const C = 'outbound|9080||reviews.default.svc.cluster.local';

describe('cluster config', () => {
  it('compiles the mesh cluster the control plane emits', () => {
    const cfg = compileCluster(C, cluster(C, { sans: ['spiffe://cluster.local/ns/default/sa/reviews'], protocol: 'downstream', connectTimeoutMs: 1500 }), new Map([['ROOTCA', rootSecret('PEM')]]));
    assert.equal(cfg.type, 'EDS');
    assert.equal(cfg.edsName, C);
    assert.equal(cfg.connectTimeoutMs, 1500);
    assert.equal(cfg.protocol, 'downstream');
    const specs = compileLoadAssignment(cla(C, [{ address: '10.0.0.1', port: 80, mesh: true }, { address: '10.0.0.2', port: 80 }]), new FieldPath('x', ''), true);
    const mesh = selectTransport(cfg, specs[0]!.tlsMatch);
    const plain = selectTransport(cfg, specs[1]!.tlsMatch);
    assert.equal(mesh.kind, 'tls');
    assert.equal(plain.kind, 'plaintext');
    if (mesh.kind !== 'tls') return;
    assert.equal(mesh.tls.caPem, 'PEM');
    assert.equal(mesh.tls.cert.kind, 'workload');
    assert.deepEqual(mesh.tls.alpn, ['h2']);
    assert.equal(mesh.tls.sni, 'outbound_.8080_._.svc.default.svc.cluster.local');
    assert.equal(mesh.tls.sans[0]!.exact, 'spiffe://cluster.local/ns/default/sa/reviews');
  });

  it('the ROOTCA secret not received yet is not an error; its arrival changes the fingerprint', () => {
    const a = compileCluster(C, cluster(C), new Map());
    const b = compileCluster(C, cluster(C), new Map([['ROOTCA', rootSecret('PEM')]]));
    const ta = a.transportSocketMatches[0]!.socket;
    const tb = b.transportSocketMatches[0]!.socket;
    assert.equal(ta.kind === 'tls' && ta.tls.caPem, undefined);
    assert.notEqual(ta.fingerprint, tb.fingerprint);
  });

  it('protocol options: explicit h2, explicit http/1.1, default', () => {
    assert.equal(compileCluster(C, cluster(C, { protocol: 'h2' }), new Map()).protocol, 'h2');
    assert.equal(compileCluster(C, cluster(C, { protocol: 'http/1.1' }), new Map()).protocol, 'http/1.1');
    assert.equal(compileCluster(C, cluster(C), new Map()).protocol, 'http/1.1');
  });

  it('priority failover: the lowest priority with healthy hosts', () => {
    const hosts = [
      { healthy: false, priority: 0, id: 'a', outlier: { ejected: false } },
      { healthy: true, priority: 1, id: 'b', outlier: { ejected: false } },
      { healthy: true, priority: 2, id: 'c', outlier: { ejected: false } },
    ];
    assert.deepEqual(lbCandidates(hosts, 0).hosts.map((h) => h.id), ['b']);
    // An ejected host is as unavailable as an unhealthy one.
    hosts[1]!.outlier.ejected = true;
    assert.deepEqual(lbCandidates(hosts, 0).hosts.map((h) => h.id), ['c']);
  });
});

describe('SANs', () => {
  it('parses node subjectaltname strings, quoted values included', () => {
    const s = parseSubjectAltName('URI:spiffe://cluster.local/ns/a/sa/b, DNS:x.example, IP Address:10.0.0.1, URI:"spiffe://td/ns/with,comma/sa/c"');
    assert.deepEqual(s.uri, ['spiffe://cluster.local/ns/a/sa/b', 'spiffe://td/ns/with,comma/sa/c']);
    assert.deepEqual(s.dns, ['x.example']);
    assert.deepEqual(s.ip, ['10.0.0.1']);
    assert.equal(sanAllowed([{ type: 'URI', exact: 'spiffe://cluster.local/ns/a/sa/b', ignoreCase: false }], s), true);
    assert.equal(sanAllowed([{ type: 'URI', exact: 'spiffe://cluster.local/ns/a/sa/z', ignoreCase: false }], s), false);
    assert.equal(sanAllowed([{ type: 'DNS', suffix: '.example', ignoreCase: false }], s), true);
    assert.equal(sanAllowed([], s), true);
  });
});

describe('load balancers', () => {
  const hosts = ['a', 'b', 'c', 'd'].map((key) => ({ key: `${key}:80`, weight: 1, active: 0 }));

  it('weighted round robin follows the weights', () => {
    const lb = createLoadBalancer('ROUND_ROBIN');
    lb.setHosts([
      { key: 'a', weight: 3, active: 0 },
      { key: 'b', weight: 1, active: 0 },
    ]);
    const counts: Record<string, number> = {};
    for (let i = 0; i < 400; i++) {
      const k = lb.pick()!.key;
      counts[k] = (counts[k] ?? 0) + 1;
    }
    assert.equal(counts['a'], 300);
    assert.equal(counts['b'], 100);
  });

  it('ring hash is consistent and moves only the removed host keys', () => {
    const lb = createLoadBalancer('RING_HASH');
    lb.setHosts(hosts);
    const before = new Map<string, string>();
    for (let i = 0; i < 500; i++) before.set(`k${i}`, lb.pick(`k${i}`)!.key);
    for (let i = 0; i < 500; i++) assert.equal(lb.pick(`k${i}`)!.key, before.get(`k${i}`));
    lb.setHosts(hosts.slice(0, 3));
    for (let i = 0; i < 500; i++) {
      const was = before.get(`k${i}`)!;
      if (was !== 'd:80') assert.equal(lb.pick(`k${i}`)!.key, was);
    }
  });

  it('least request prefers the idler host', () => {
    const lb = createLoadBalancer('LEAST_REQUEST');
    lb.setHosts([
      { key: 'busy', weight: 1, active: 100 },
      { key: 'idle', weight: 1, active: 0 },
    ]);
    let idle = 0;
    for (let i = 0; i < 200; i++) if (lb.pick()!.key === 'idle') idle++;
    assert.ok(idle > 130, `idle picked ${idle}/200`);
  });
});
