// End to end: `weft up samples/bookinfo --detach` as a user runs it, Bookinfo through the
// ingress gateway, every hop between services over mTLS, the CLI's views of it, and the
// faults the foundation issue names: a killed control plane, a crashed app, `weft down`
// leaving no process behind.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import path from 'node:path';
import { makeCa } from '../helpers/pki.js';
import { ProxyAgent, request as undiciRequest } from 'undici';
import { makeMesh, repoRoot, httpGet, eventually, isAlive, processesUsingHome, type TestMesh } from '../helpers/mesh.js';

interface PodStatus {
  name: string;
  namespace: string;
  address: string;
  adminPort: number;
  proxyType: 'sidecar' | 'router';
  deployment: string;
  ready: boolean;
  restarts: number;
  pgids: number[];
}
interface StatusJson {
  control: { ready: boolean };
  pods: PodStatus[];
}
interface ProxyStatusJson {
  id: string;
  protocol?: string;
  xds: Record<string, { status: string }>;
}

let mesh: TestMesh;
let pods: PodStatus[] = [];

/**
 * SYNCED on every type, except RDS of a gateway that runs no Gateway server: it has no
 * route to ask for (Istio's proxy-status shows the idle egress gateway the same way).
 */
function inSync(p: ProxyStatusJson, type: string): boolean {
  const st = p.xds[type]?.status;
  return st === 'SYNCED' || (type === 'RDS' && st === 'NOT SENT' && p.id.startsWith('router~') && p.id.includes('istio-egressgateway'));
}

async function status(): Promise<StatusJson> {
  const res = await mesh.weft(['status', '-o', 'json']);
  assert.equal(res.code, 0, res.stderr);
  return JSON.parse(res.stdout) as StatusJson;
}

function pod(prefix: string): PodStatus {
  const found = pods.find((p) => p.name.startsWith(prefix));
  assert.ok(found, `no pod ${prefix}*`);
  return found;
}

async function stats(p: PodStatus): Promise<Record<string, number>> {
  const res = await httpGet(`http://${p.address}:${p.adminPort}/stats?format=json`);
  return JSON.parse(res.body) as Record<string, number>;
}

function sumStats(s: Record<string, number>, re: RegExp): number {
  return Object.entries(s)
    .filter(([k]) => re.test(k))
    .reduce((a, [, v]) => a + v, 0);
}

const productPage = () => `http://127.0.0.1:${mesh.ingressPort}/productpage`;

before(async () => {
  mesh = await makeMesh(1);
  const up = await mesh.weft(['up', 'samples/bookinfo', '--detach', '--network', String(mesh.network), '--ingress-port', String(mesh.ingressPort)], {
    timeoutMs: 150_000,
  });
  assert.equal(up.code, 0, `weft up failed:\n${up.stdout}\n${up.stderr}`);
  assert.match(up.stdout, /productpage/);
  pods = (await status()).pods;
});

after(async () => {
  if (!mesh) return;
  const down = await mesh.weft(['down'], { timeoutMs: 60_000 });
  assert.equal(down.code, 0, down.stderr);
  // No process started for this mesh may outlive `weft down`.
  await eventually(async () => processesUsingHome(mesh.home).length === 0, 15_000, 'every mesh process to exit');
  fs.rmSync(mesh.home, { recursive: true, force: true });
});

test('the product page loads through the ingress gateway and rotates through the three reviews versions', async () => {
  // Each version renders as the original does: v1 no stars, v2 black, v3 red.
  const expectedColor: Record<string, string | undefined> = { 'reviews-v1': undefined, 'reviews-v2': 'black', 'reviews-v3': 'red' };
  const seen = new Set<string>();
  for (let i = 0; i < 30 && seen.size < 3; i++) {
    const res = await httpGet(productPage());
    assert.equal(res.status, 200);
    assert.match(res.body, /The Comedy of Errors/);
    assert.doesNotMatch(res.body, /currently unavailable/);
    const servedBy = /Reviews served by:\s*(?:<[^>]+>)?\s*(reviews-v\d)-/.exec(res.body);
    assert.ok(servedBy, 'page names the reviews pod');
    const version = servedBy[1]!;
    seen.add(version);
    const colors = [...res.body.matchAll(/data-color="([a-z]+)"/g)].map((m) => m[1]);
    const want = expectedColor[version];
    assert.deepEqual(colors, want ? [want, want] : [], `${version} stars`);
  }
  assert.deepEqual([...seen].sort(), ['reviews-v1', 'reviews-v2', 'reviews-v3']);
});

test('the gateway routes only what the VirtualService exposes', async () => {
  assert.equal((await httpGet(`http://127.0.0.1:${mesh.ingressPort}/api/v1/products`)).status, 200);
  assert.equal((await httpGet(`http://127.0.0.1:${mesh.ingressPort}/static/bookinfo.css`)).status, 200);
  const notExposed = await httpGet(`http://127.0.0.1:${mesh.ingressPort}/health`);
  assert.equal(notExposed.status, 404);
});

test('login makes productpage send end-user, and the page greets the user', async () => {
  const login = await fetch(`http://127.0.0.1:${mesh.ingressPort}/login`, {
    method: 'POST',
    body: new URLSearchParams({ username: 'jason', passwd: 'x' }),
    redirect: 'manual',
  });
  assert.ok([301, 302, 303].includes(login.status), `login answered ${login.status}`);
  const cookie = login.headers.get('set-cookie')?.split(';')[0];
  assert.ok(cookie, 'login sets a session cookie');
  const page = await httpGet(productPage(), { cookie });
  assert.match(page.body, /jason/);
});

test('every proxy is SYNCED on every xDS type', async () => {
  const res = await mesh.weft(['proxy-status', '-o', 'json']);
  assert.equal(res.code, 0, res.stderr);
  const proxies = JSON.parse(res.stdout) as ProxyStatusJson[];
  assert.equal(proxies.length, pods.length);
  for (const p of proxies) {
    for (const type of ['LDS', 'CDS', 'EDS', 'RDS', 'SDS']) assert.ok(inSync(p, type), `${p.id} ${type}: ${p.xds[type]?.status}`);
    assert.equal(p.protocol, 'delta', `${p.id} speaks delta xDS`);
    // Sidecars get their outbound routes over VHDS; gateways get theirs whole in RDS.
    if (p.id.startsWith('sidecar~')) assert.ok(inSync(p, 'VHDS'), `${p.id} VHDS: ${p.xds['VHDS']?.status}`);
    else assert.equal(p.xds['VHDS'], undefined, `${p.id} has no VHDS`);
  }
  const table = await mesh.weft(['proxy-status']);
  assert.match(table.stdout, /NAME\s+NAMESPACE\s+CDS\s+LDS\s+EDS\s+RDS\s+VHDS\s+SDS\s+ADS\s+VERSION/);
});

test('each sidecar holds a SPIFFE certificate for its own service account, chaining to the mesh root', async () => {
  const reviews = pod('reviews-v2');
  const secret = await mesh.weft(['proxy-config', 'secret', reviews.name, '-o', 'json']);
  assert.equal(secret.code, 0, secret.stderr);
  const secrets = JSON.parse(secret.stdout) as { name: string; type: string }[];
  assert.deepEqual(secrets.map((s) => s.name).sort(), ['ROOTCA', 'default']);
  const dump = JSON.parse((await httpGet(`http://${reviews.address}:${reviews.adminPort}/config_dump`)).body) as {
    certificate: { identity: string; notAfter: string; notBefore: string };
  };
  assert.equal(dump.certificate.identity, 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews');
  const lifetimeH = (Date.parse(dump.certificate.notAfter) - Date.parse(dump.certificate.notBefore)) / 3_600_000;
  assert.ok(lifetimeH > 23 && lifetimeH <= 25, `24 h certificate, got ${lifetimeH} h`);
});

test('requests between services cross two sidecars over mTLS, none in plaintext', async () => {
  for (let i = 0; i < 6; i++) assert.equal((await httpGet(productPage())).status, 200);
  const productpage = await stats(pod('productpage-v1'));
  assert.ok(sumStats(productpage, /^cluster\.outbound\|9080\|\|reviews\..*\.ssl\.handshake$/) >= 1, 'productpage sidecar dialled reviews over TLS');
  assert.ok(sumStats(productpage, /^cluster\.outbound\|9080\|\|details\..*\.upstream_rq_total$/) >= 6);
  for (const name of ['details-v1', 'reviews-v1', 'reviews-v2', 'reviews-v3', 'ratings-v1']) {
    const s = await stats(pod(name));
    assert.ok((s['inbound.9080.rq_mtls'] ?? 0) >= 1, `${name} received mTLS requests`);
    assert.equal(s['inbound.9080.rq_plaintext'] ?? 0, 0, `${name} received no plaintext requests`);
  }
});

test('weft exec runs a command in a pod\'s network context, through its sidecar', async () => {
  const sleeper = pod('productpage-v1');
  const res = await mesh.weft(['exec', sleeper.name, '--', 'curl', '-s', '-m', '5', 'http://reviews:9080/reviews/0']);
  assert.equal(res.code, 0, res.stderr);
  const body = JSON.parse(res.stdout) as { podname: string };
  assert.match(body.podname, /^reviews-v\d-/);
});

test('an invalid resource is rejected with file:line and the running config is unchanged', async () => {
  const before = await mesh.weft(['proxy-config', 'routes', pod('productpage-v1').name, '-o', 'json']);
  const file = path.join(mesh.home, 'bad-vs.yaml');
  fs.writeFileSync(
    file,
    ['apiVersion: networking.istio.io/v1', 'kind: VirtualService', 'metadata:', '  name: reviews', 'spec:', '  hosts: [reviews]', '  http:', '  - route:', '    - destination:', '        host: reviews', '      wieght: 100', ''].join('\n'),
  );
  const res = await mesh.weft(['apply', '-f', file]);
  assert.notEqual(res.code, 0);
  assert.match(res.stdout + res.stderr, /bad-vs\.yaml:11/);
  assert.match(res.stdout + res.stderr, /wieght/);
  const afterRoutes = await mesh.weft(['proxy-config', 'routes', pod('productpage-v1').name, '-o', 'json']);
  assert.equal(afterRoutes.stdout, before.stdout);
});

test('a valid VirtualService applied live changes routing', async () => {
  const file = path.join(mesh.home, 'details-direct.yaml');
  fs.writeFileSync(
    file,
    [
      'apiVersion: networking.istio.io/v1',
      'kind: VirtualService',
      'metadata:',
      '  name: details',
      'spec:',
      '  hosts: [details]',
      '  http:',
      '  - match:',
      '    - uri: {prefix: /details/999}',
      '    directResponse: {status: 418, body: {string: "no such book"}}',
      '  - route:',
      '    - destination: {host: details}',
      '      headers: {response: {set: {x-served-via: weft}}}',
      '',
    ].join('\n'),
  );
  const res = await mesh.weft(['apply', '-f', file]);
  assert.equal(res.code, 0, res.stdout + res.stderr);
  const p = pod('productpage-v1');
  await eventually(
    async () => {
      const r = await mesh.weft(['exec', p.name, '--', 'curl', '-s', '-m', '5', '-o', '/dev/null', '-w', '%{http_code}', 'http://details:9080/details/999']);
      return r.stdout === '418';
    },
    20_000,
    'the direct response to take effect',
  );
  const normal = await mesh.weft(['exec', p.name, '--', 'curl', '-s', '-m', '5', '-i', 'http://details:9080/details/1']);
  assert.match(normal.stdout, /x-served-via: weft/i);
  const del = await mesh.weft(['delete', '-f', file]);
  assert.equal(del.code, 0, del.stderr);
});

// ---- traffic management with the shipped examples (issue 3), in the real mesh ----

const examples = path.join(repoRoot, 'samples/bookinfo/examples');

/** Sends `count` requests for reviews from inside productpage's pod (through its sidecar), `concurrency` at a time. */
async function reviewsFromProductpage(count: number, concurrency: number, headers: Record<string, string> = {}): Promise<{ byVersion: Record<string, number>; failures: number }> {
  const sidecar = pod('productpage-v1');
  const agent = new ProxyAgent({ uri: `http://${sidecar.address}:15001`, proxyTunnel: false, connections: concurrency });
  const byVersion: Record<string, number> = {};
  let failures = 0;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      try {
        const res = await undiciRequest('http://reviews:9080/reviews/0', { dispatcher: agent, headers, headersTimeout: 10_000, bodyTimeout: 10_000 });
        const body = (await res.body.json()) as { podname?: string };
        if (res.statusCode !== 200) failures++;
        const version = /^reviews-(v\d)-/.exec(body.podname ?? '')?.[1] ?? 'none';
        byVersion[version] = (byVersion[version] ?? 0) + 1;
      } catch {
        failures++;
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, worker));
  } finally {
    await agent.close();
  }
  return { byVersion, failures };
}

async function statusViaProductpage(url: string, headers: Record<string, string>): Promise<number> {
  const sidecar = pod('productpage-v1');
  const agent = new ProxyAgent({ uri: `http://${sidecar.address}:15001`, proxyTunnel: false });
  try {
    const res = await undiciRequest(url, { dispatcher: agent, headers });
    await res.body.dump();
    return res.statusCode;
  } finally {
    await agent.close();
  }
}

async function applyExample(file: string): Promise<void> {
  const res = await mesh.weft(['apply', '-f', path.join(examples, file)]);
  assert.equal(res.code, 0, `${file}: ${res.stdout}${res.stderr}`);
}

async function deleteExample(file: string): Promise<void> {
  const res = await mesh.weft(['delete', '-f', path.join(examples, file)]);
  assert.equal(res.code, 0, `${file}: ${res.stdout}${res.stderr}`);
}

test('canary 90/10: over 5,000 requests reviews v2 gets 10% within 2 points, v3 none', async () => {
  await applyExample('destination-rules.yaml');
  await applyExample('reviews-canary-90-10.yaml');
  await eventually(async () => {
    const probe = await reviewsFromProductpage(200, 4);
    return !probe.byVersion.v3;
  }, 20_000, 'the canary route to take effect');
  const { byVersion, failures } = await reviewsFromProductpage(5000, 8);
  assert.equal(failures, 0);
  const total = (byVersion.v1 ?? 0) + (byVersion.v2 ?? 0);
  assert.equal(total, 5000, JSON.stringify(byVersion));
  const v2Share = (byVersion.v2 ?? 0) / total;
  assert.ok(Math.abs(v2Share - 0.1) <= 0.02, `v2 share ${(v2Share * 100).toFixed(2)}%`);
});

test('route by end-user header: jason always gets v2, everyone else v1', async () => {
  await applyExample('reviews-route-by-user.yaml');
  await eventually(async () => {
    const r = await reviewsFromProductpage(50, 4, { 'end-user': 'jason' });
    return r.byVersion.v2 === 50;
  }, 20_000, 'the header route to take effect');
  const jason = await reviewsFromProductpage(300, 4, { 'end-user': 'jason' });
  assert.deepEqual(jason.byVersion, { v2: 300 });
  const others = await reviewsFromProductpage(300, 4, { 'end-user': 'someone-else' });
  assert.deepEqual(others.byVersion, { v1: 300 });
});

test('fault injection: ratings fails for jason only, and the page says so', async () => {
  await applyExample('ratings-fault-abort.yaml');
  const login = await fetch(`http://127.0.0.1:${mesh.ingressPort}/login`, {
    method: 'POST',
    body: new URLSearchParams({ username: 'jason', passwd: 'x' }),
    redirect: 'manual',
  });
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  await eventually(async () => /Ratings service is currently unavailable/.test((await httpGet(productPage(), { cookie })).body), 20_000, 'the abort to reach jason');
  // Straight to ratings through productpage's sidecar: the abort hits jason, nobody else.
  assert.equal(await statusViaProductpage('http://ratings:9080/ratings/0', { 'end-user': 'jason' }), 500);
  assert.equal(await statusViaProductpage('http://ratings:9080/ratings/0', { 'end-user': 'someone-else' }), 200);
  await deleteExample('ratings-fault-abort.yaml');
});

test('a routing change applied under load drops no request', async () => {
  const load = reviewsFromProductpage(3000, 6);
  await new Promise((r) => setTimeout(r, 300));
  await applyExample('reviews-canary-90-10.yaml');
  await new Promise((r) => setTimeout(r, 300));
  await deleteExample('reviews-canary-90-10.yaml');
  const { failures, byVersion } = await load;
  assert.equal(failures, 0, JSON.stringify(byVersion));
  await deleteExample('destination-rules.yaml');
});

test('with the control plane killed, traffic keeps flowing; restarted, proxies resync by themselves', async () => {
  const controlPids = processesUsingHome(mesh.home).filter((pid) => {
    try {
      return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').includes('control');
    } catch {
      return false;
    }
  });
  assert.equal(controlPids.length, 1, 'one control-plane process');
  process.kill(controlPids[0]!, 'SIGKILL');
  await eventually(async () => !isAlive(controlPids[0]!), 5_000, 'the control plane to die');
  for (let i = 0; i < 5; i++) assert.equal((await httpGet(productPage())).status, 200);
  await eventually(
    async () => {
      const res = await mesh.weft(['proxy-status', '-o', 'json']);
      if (res.code !== 0) return false;
      const proxies = JSON.parse(res.stdout) as ProxyStatusJson[];
      return proxies.length === pods.length && proxies.every((p) => Object.keys(p.xds).every((type) => inSync(p, type)));
    },
    45_000,
    'every proxy to reconnect and resync',
  );
});

test('a crashed app is restarted and its endpoint leaves the pool meanwhile', async () => {
  const ratings = pod('ratings-v1');
  const caller = pod('reviews-v2');
  const appPgid = ratings.pgids[ratings.pgids.length - 1]!;
  const ratingsHealth = async (): Promise<string | undefined> => {
    const dump = JSON.parse((await httpGet(`http://${caller.address}:${caller.adminPort}/config_dump`)).body) as {
      endpoints: Record<string, { clusterName: string; endpoints?: { lbEndpoints?: { healthStatus?: string }[] }[] }>;
    };
    const cla = Object.values(dump.endpoints).find((c) => c.clusterName.startsWith('outbound|9080||ratings.'));
    return cla?.endpoints?.[0]?.lbEndpoints?.[0]?.healthStatus;
  };
  assert.equal(await ratingsHealth(), 'HEALTHY');
  process.kill(-appPgid, 'SIGKILL');
  // The caller's sidecar learns over EDS that the endpoint is out, before the app is back.
  const deadline = Date.now() + 10_000;
  let sawUnhealthy = false;
  while (Date.now() < deadline && !sawUnhealthy) {
    sawUnhealthy = (await ratingsHealth()) === 'UNHEALTHY';
    if (!sawUnhealthy) await new Promise((r) => setTimeout(r, 25));
  }
  assert.ok(sawUnhealthy, 'ratings endpoint marked UNHEALTHY while its app is down');
  await eventually(async () => (await status()).pods.find((p) => p.name === ratings.name)!.restarts >= 1, 30_000, 'the restart to be counted');
  await eventually(async () => (await ratingsHealth()) === 'HEALTHY', 30_000, 'ratings to be back in the pool');
  const res = await httpGet(productPage());
  assert.equal(res.status, 200);
  assert.doesNotMatch(res.body, /Ratings service is currently unavailable/);
});

// ---- bad bytes on every kind of listener: that connection fails, the proxy does not ----

function rawExchange(host: string, port: number, payload: Buffer | string, waitMs: number): Promise<{ reply: string; closed: boolean }> {
  return new Promise((resolve) => {
    const sock = net.connect(port, host);
    let reply = '';
    let closed = false;
    sock.on('data', (d: Buffer) => (reply += d.toString('latin1')));
    sock.on('error', () => undefined);
    sock.on('close', () => {
      closed = true;
    });
    sock.on('connect', () => sock.write(payload));
    setTimeout(() => {
      sock.destroy();
      resolve({ reply, closed });
    }, waitMs);
  });
}

test('garbage bytes on the gateway, outbound and inbound listeners fail only that connection', async () => {
  const garbage = Buffer.concat([Buffer.from([0x00, 0xff, 0x13, 0x37]), Buffer.from('NOT HTTP AT ALL\r\n\r\n')]);
  const sidecar = pod('productpage-v1');
  const targets: [string, number][] = [
    ['127.0.0.1', mesh.ingressPort],
    [sidecar.address, 15001],
    [pod('reviews-v1').address, 9080],
  ];
  for (const [host, port] of targets) {
    const { reply, closed } = await rawExchange(host, port, garbage, 1500);
    assert.ok(closed || /^HTTP\/1\.1 400/.test(reply), `${host}:${port} closed or answered 400 (got ${JSON.stringify(reply.slice(0, 40))})`);
  }
  assert.equal((await httpGet(productPage())).status, 200);
});

test('a half-sent request and a client that never reads do not hold up anyone else', async () => {
  const half = net.connect(mesh.ingressPort, '127.0.0.1');
  half.on('error', () => undefined);
  half.write('GET /productpage HTTP/1.1\r\nHost: bookinfo\r\nX-Half: ');
  const greedy = net.connect(mesh.ingressPort, '127.0.0.1');
  greedy.on('error', () => undefined);
  greedy.pause(); // never reads
  greedy.write('GET /productpage HTTP/1.1\r\nHost: bookinfo\r\n\r\n'.repeat(50));
  try {
    for (let i = 0; i < 5; i++) {
      const t0 = Date.now();
      assert.equal((await httpGet(productPage())).status, 200);
      assert.ok(Date.now() - t0 < 3000, 'served promptly');
    }
  } finally {
    half.destroy();
    greedy.destroy();
  }
});

test('a client certificate from another root fails the mTLS handshake and is counted', async () => {
  const reviews = pod('reviews-v1');
  const listenerErrors = (s: Record<string, number>) => sumStats(s, /^listener\.inbound\|9080\.ssl\.(connection_error|fail_verify_error)$/);
  const before = listenerErrors(await stats(reviews));
  const rogueCa = await makeCa('rogue root');
  const rogue = await rogueCa.issue('spiffe://cluster.local/ns/default/sa/bookinfo-productpage');
  const outcome = await new Promise<string>((resolve) => {
    const sock = tls.connect({
      host: reviews.address,
      port: 9080,
      servername: 'outbound_.9080_._.reviews.default.svc.cluster.local',
      ALPNProtocols: ['h2'],
      key: rogue.keyPem,
      cert: rogue.certChainPem,
      rejectUnauthorized: false,
    });
    sock.on('secureConnect', () => {
      // With TLS 1.3 the server's verdict on our certificate arrives after our side completes.
      sock.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
    });
    sock.on('data', () => undefined);
    sock.on('error', (e) => resolve(`error: ${e.message}`));
    sock.on('close', () => resolve('closed'));
    setTimeout(() => {
      sock.destroy();
      resolve('still open');
    }, 3000);
  });
  assert.notEqual(outcome, 'still open');
  await eventually(async () => listenerErrors(await stats(reviews)) > before, 5000, 'the failed handshake to be counted');
  assert.equal((await httpGet(productPage())).status, 200);
});
