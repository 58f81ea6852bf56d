// The nginx references' configs (bench/nginx.ts): the fairness settings the bench's
// comparison depends on (upstream keep-alive, no access log, no disk buffering, one
// worker per HAProxy thread, TLS 1.3 with client certificates between A and B), every
// path inside the instance's own directory, and `nginx -t` accepting all three
// (skipped where nginx is not installed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkNginxConfig, findNginx, nginxPairA, nginxPairB, nginxSingle, startNginxSingle, type NginxOptions } from '../../bench/nginx.js';
import { ADDR } from '../../bench/references.js';
import { makeTlsCa } from '../helpers/tls-certs.js';

const dir = '/tmp/weft-bench-nginx-test/x';
const opts: NginxOptions = { dir, workers: 1, asRoot: false };
const certs = '/certs';

/** upstream name -> its block's body. */
function upstreams(conf: string): Map<string, string> {
  return new Map([...conf.matchAll(/upstream (\S+) \{([^}]*)\}/g)].map((m) => [m[1]!, m[2]!]));
}

/** Every listener with what its location passes to. */
function servers(conf: string): { listen: string; pass: string; body: string }[] {
  return [...conf.matchAll(/server \{\n\s+listen ([^;]+);([\s\S]*?)location \/ \{\s+(\S+ \S+);/g)].map((m) => ({ listen: m[1]!, body: m[2]!, pass: m[3]! }));
}

for (const [name, conf] of [
  ['pair A', nginxPairA(opts, certs)],
  ['pair B', nginxPairB(opts, certs)],
  ['single', nginxSingle(opts)],
] as const) {
  test(`nginx ${name}: every upstream is a keep-alive pool, HTTP/1.1 without Connection: close`, () => {
    const ups = upstreams(conf);
    const srv = servers(conf);
    assert.equal(srv.length, name === 'pair B' ? 2 : 3);
    for (const s of srv) {
      const m = /^(proxy_pass|grpc_pass) (https?|grpcs?):\/\/(\S+)$/.exec(s.pass);
      assert.ok(m, `${s.listen}: ${s.pass}`);
      const body = ups.get(m[3]!);
      assert.ok(body, `${s.listen} passes to upstream ${m[3]}, which is defined`);
      assert.match(body, /keepalive \d+;/);
      assert.match(body, /keepalive_requests 1000000;/);
    }
    assert.match(conf, /proxy_http_version 1\.1;/);
    assert.match(conf, /proxy_set_header Connection "";/);
    assert.match(conf, /^\s+keepalive_requests 1000000;/m, 'downstream connections are not closed after 1,000 requests');
  });

  test(`nginx ${name}: one worker, in the foreground, no access log, no temp files, nothing outside its directory`, () => {
    assert.match(conf, /^daemon off;$/m);
    assert.match(conf, /^worker_processes 1;$/m);
    assert.match(conf, /access_log off;/);
    assert.match(conf, /proxy_request_buffering off;/);
    assert.match(conf, /proxy_max_temp_file_size 0;/);
    assert.doesNotMatch(conf, /^user /m, 'no user switch unless running as root');
    const paths = [...conf.matchAll(/^\s*(pid|lock_file|\w+_temp_path) (\S+);$/gm)];
    assert.equal(paths.length, 7);
    for (const p of paths) assert.ok(p[2]!.startsWith(`${dir}/`), `${p[1]} ${p[2]}`);
    assert.doesNotMatch(conf, /\/etc\/|\/var\//);
  });
}

test('nginx pair: plain HTTP/1.1 and h2c in on the endpoints every topology exposes; mTLS 1.3 between A and B; gRPC as HTTP/2', () => {
  const a = servers(nginxPairA(opts, certs));
  assert.deepEqual(
    a.map((s) => [s.listen, s.pass]),
    [
      [`${ADDR.nginxA}:8080`, 'proxy_pass https://b_http'],
      [`${ADDR.nginxA}:8081 http2`, 'proxy_pass https://b_http'],
      [`${ADDR.nginxA}:8082 http2`, 'grpc_pass grpcs://b_grpc'],
    ],
  );
  const confA = nginxPairA(opts, certs);
  for (const p of ['proxy', 'grpc']) {
    assert.match(confA, new RegExp(`${p}_ssl_certificate /certs/a\\.crt;`));
    assert.match(confA, new RegExp(`${p}_ssl_verify on;`));
    assert.match(confA, new RegExp(`${p}_ssl_name haproxy-b;`));
    assert.match(confA, new RegExp(`${p}_ssl_protocols TLSv1\\.3;`));
  }
  const b = servers(nginxPairB(opts, certs));
  assert.deepEqual(
    b.map((s) => [s.listen, s.pass]),
    [
      [`${ADDR.nginxB}:9443 ssl http2`, 'proxy_pass http://app_http'],
      [`${ADDR.nginxB}:9445 ssl http2`, 'grpc_pass grpc://app_grpc'],
    ],
  );
  for (const s of b) {
    assert.match(s.body, /ssl_verify_client on;/);
    assert.match(s.body, /ssl_client_certificate \/certs\/ca\.crt;/);
    assert.match(s.body, /ssl_protocols TLSv1\.3;/);
  }
  assert.match(upstreams(nginxPairB(opts, certs)).get('app_grpc')!, new RegExp(`server ${ADDR.upstream.replace(/\./g, '\\.')}:8082;`));
});

test('nginx -t accepts the pair and single configs as rendered (real certificates)', { skip: findNginx() ? false : 'nginx not installed' }, async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-nginx-conf-'));
  try {
    const ca = await makeTlsCa('weft-bench-ca');
    fs.writeFileSync(path.join(root, 'ca.crt'), ca.certPem);
    for (const who of ['a', 'b']) {
      const c = await ca.issue([`haproxy-${who}`]);
      fs.writeFileSync(path.join(root, `${who}.crt`), c.certPem);
      fs.writeFileSync(path.join(root, `${who}.key`), c.keyPem);
    }
    const render: [string, (o: NginxOptions) => string][] = [
      ['a', (o) => nginxPairA(o, root)],
      ['b', (o) => nginxPairB(o, root)],
      ['single', nginxSingle],
    ];
    for (const [name, f] of render) {
      const d = path.join(root, name);
      fs.mkdirSync(d);
      const conf = path.join(d, 'nginx.conf');
      fs.writeFileSync(conf, f({ dir: d, workers: 1, asRoot: process.getuid?.() === 0 }));
      await checkNginxConfig(d, conf);
    }
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
});

test('a missing nginx is a clear error, before anything starts', async () => {
  const saved = process.env['WEFT_BENCH_NGINX'];
  process.env['WEFT_BENCH_NGINX'] = '/nonexistent/nginx';
  const runtime = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-nginx-missing-'));
  try {
    await assert.rejects(startNginxSingle(runtime, 1), /WEFT_BENCH_NGINX=\/nonexistent\/nginx is not an executable file/);
    assert.deepEqual(fs.readdirSync(runtime), []);
  } finally {
    if (saved === undefined) delete process.env['WEFT_BENCH_NGINX'];
    else process.env['WEFT_BENCH_NGINX'] = saved;
    fs.rmSync(runtime, { recursive: true, force: true });
  }
});
