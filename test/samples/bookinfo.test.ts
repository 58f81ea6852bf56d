// Bookinfo services as real processes on 127.77.0.x, without the mesh: each service's
// upstream is pointed at a real service or at an in-process test double (named as such)
// through DETAILS_URL / REVIEWS_URL / RATINGS_URL. One case runs productpage with
// HTTP_PROXY set to a double proxy, as a sidecar would be.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';

const NET = '127.77.0';
const PORT = 9080;
const SRC = fileURLToPath(new URL('../../samples/bookinfo/src/', import.meta.url));
const NOWHERE = `http://${NET}.99:${PORT}`; // nothing listens here

interface Service {
  url: string;
  child: ChildProcess;
  output: () => string;
}

const children: ChildProcess[] = [];

/** Starts `<name>.js` on NET.<host>:9080 and waits for /health. */
async function startService(name: string, host: number, env: Record<string, string> = {}): Promise<Service> {
  const ip = `${NET}.${host}`;
  const baseEnv = { ...process.env };
  for (const k of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy']) delete baseEnv[k];
  const child = spawn(process.execPath, [`${SRC}${name}.js`, String(PORT)], {
    env: { ...baseEnv, POD_IP: ip, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  const url = `http://${ip}:${PORT}`;
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}: ${out}`);
    try {
      const res = await fetch(`${url}/health`, { signal: AbortSignal.timeout(500) });
      if (res.ok) return { url, child, output: () => out };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${name} on ${url} not ready`);
}

/** Test double: an HTTP server that records requests and answers with `reply`. */
interface Double {
  url: string;
  requests: { method: string; url: string; headers: IncomingHttpHeaders }[];
  reply: (path: string) => { status: number; body: unknown };
  server: Server;
}

async function startDouble(host: number, reply: Double['reply']): Promise<Double> {
  const double: Double = { url: `http://${NET}.${host}:${PORT}`, requests: [], reply, server: createServer() };
  double.server.on('request', (req, res) => {
    double.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const { status, body } = double.reply(new URL(req.url ?? '/', 'http://x').pathname);
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  });
  await new Promise<void>((resolve) => double.server.listen(PORT, `${NET}.${host}`, resolve));
  return double;
}

async function get(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(url, { headers, redirect: 'manual', signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

const DETAILS_JSON = { id: 0, author: 'William Shakespeare', year: 1595, type: 'paperback', pages: 200, publisher: 'PublisherA', language: 'English', 'ISBN-10': '1234567890', 'ISBN-13': '123-1234567890' };
const REVIEWS_JSON = { id: '0', podname: 'reviews-double', clustername: 'null', reviews: [{ reviewer: 'Reviewer1', text: 'Fine.' }] };
const TRACE = {
  'x-request-id': 'req-1',
  traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01',
  tracestate: 'weft=1',
  'x-b3-traceid': '80f198ee56343ba864fe8b2a57d3eff7',
  'x-b3-spanid': 'e457b5a2e4d86bd1',
  'x-b3-parentspanid': '05e3ac9a4f6e3b90',
  'x-b3-sampled': '1',
  b3: '80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1',
  'x-ot-span-context': 'ot',
  'x-cloud-trace-context': '105445aa7843bc8bf206b120001000/1;o=1',
};

function stars(html: string): { count: number; color: string }[] {
  return [...html.matchAll(/data-stars="(\d)" data-color="([^"]+)"/g)].map((m) => ({ count: Number(m[1]), color: m[2] ?? '' }));
}

let details: Service, ratings: Service, reviewsV1: Service, reviewsV2: Service, reviewsV3: Service;
let reviewsToDouble: Service, pageV1: Service, pageV2: Service, pageV3: Service, pageDoubles: Service, pageDown: Service;
let detailsDouble: Double, reviewsDouble: Double, ratingsDouble: Double;

before(async () => {
  [detailsDouble, reviewsDouble, ratingsDouble] = await Promise.all([
    startDouble(20, () => ({ status: 200, body: DETAILS_JSON })),
    startDouble(21, () => ({ status: 200, body: REVIEWS_JSON })),
    startDouble(22, () => ({ status: 200, body: { id: 0, ratings: { Reviewer1: 3, Reviewer2: 1 } } })),
  ]);
  [details, ratings] = await Promise.all([startService('details', 1), startService('ratings', 2)]);
  const reviews = (host: number, version: string, ratingsUrl = ratings.url): Promise<Service> =>
    startService('reviews', host, { SERVICE_VERSION: version, POD_NAME: `reviews-${version}-pod`, RATINGS_URL: ratingsUrl });
  [reviewsV1, reviewsV2, reviewsV3, reviewsToDouble] = await Promise.all([
    reviews(3, 'v1'),
    reviews(4, 'v2'),
    reviews(5, 'v3'),
    reviews(6, 'v2', ratingsDouble.url),
  ]);
  const page = (host: number, detailsUrl: string, reviewsUrl: string, ratingsUrl = ratings.url): Promise<Service> =>
    startService('productpage', host, { DETAILS_URL: detailsUrl, REVIEWS_URL: reviewsUrl, RATINGS_URL: ratingsUrl });
  [pageV1, pageV2, pageV3, pageDoubles, pageDown] = await Promise.all([
    page(11, details.url, reviewsV1.url),
    page(12, details.url, reviewsV2.url),
    page(13, details.url, reviewsV3.url),
    page(14, detailsDouble.url, reviewsDouble.url, ratingsDouble.url),
    page(15, NOWHERE, NOWHERE, NOWHERE),
  ]);
});

after(() => {
  for (const child of children) child.kill('SIGTERM');
  for (const d of [detailsDouble, reviewsDouble, ratingsDouble]) {
    d?.server.close();
    d?.server.closeAllConnections();
  }
});

describe('details', () => {
  test('returns the book details', async () => {
    const res = await get(`${details.url}/details/0`);
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), DETAILS_JSON);
  });
  test('rejects a non-numeric id', async () => {
    assert.equal((await get(`${details.url}/details/abc`)).status, 400);
  });
});

describe('ratings', () => {
  test('returns the default ratings', async () => {
    const res = await get(`${ratings.url}/ratings/0`);
    assert.deepEqual(JSON.parse(res.body), { id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } });
  });
  test('POST replaces a product\'s ratings; bad JSON is rejected', async () => {
    const post = (body: string): Promise<Response> => fetch(`${ratings.url}/ratings/7`, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
    const ok = await post('{"Reviewer1":2,"Reviewer2":3}');
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { id: 7, ratings: { Reviewer1: 2, Reviewer2: 3 } });
    assert.deepEqual(JSON.parse((await get(`${ratings.url}/ratings/7`)).body), { id: 7, ratings: { Reviewer1: 2, Reviewer2: 3 } });
    assert.equal((await post('not json')).status, 400);
    assert.equal((await post('{"Reviewer1":9}')).status, 400);
  });
});

describe('reviews', () => {
  test('v1 has no ratings and names its pod', async () => {
    const body = JSON.parse((await get(`${reviewsV1.url}/reviews/0`)).body) as { podname: string; reviews: { rating?: unknown }[] };
    assert.equal(body.podname, 'reviews-v1-pod');
    assert.equal(body.reviews.length, 2);
    assert.ok(body.reviews.every((r) => r.rating === undefined));
  });
  test('v2 has black stars, v3 red stars, from ratings', async () => {
    const v2 = JSON.parse((await get(`${reviewsV2.url}/reviews/0`)).body) as { reviews: { rating: unknown }[] };
    const v3 = JSON.parse((await get(`${reviewsV3.url}/reviews/0`)).body) as { reviews: { rating: unknown }[] };
    assert.deepEqual(v2.reviews.map((r) => r.rating), [{ stars: 5, color: 'black' }, { stars: 4, color: 'black' }]);
    assert.deepEqual(v3.reviews.map((r) => r.rating), [{ stars: 5, color: 'red' }, { stars: 4, color: 'red' }]);
  });
  test('forwards end-user and trace headers to ratings, not others', async () => {
    ratingsDouble.requests.length = 0;
    await get(`${reviewsToDouble.url}/reviews/0`, { ...TRACE, 'end-user': 'jason', 'x-private': 'no' });
    const seen = ratingsDouble.requests.at(-1);
    assert.equal(seen?.url, '/ratings/0');
    for (const [k, v] of Object.entries({ ...TRACE, 'end-user': 'jason' })) assert.equal(seen?.headers[k], v, k);
    assert.equal(seen?.headers['x-private'], undefined);
  });
  test('ratings failing gives a rating error per review', async () => {
    ratingsDouble.reply = () => ({ status: 503, body: {} });
    try {
      const body = JSON.parse((await get(`${reviewsToDouble.url}/reviews/0`)).body) as { reviews: { rating: unknown }[] };
      assert.deepEqual(body.reviews.map((r) => r.rating), [
        { error: 'Ratings service is currently unavailable' },
        { error: 'Ratings service is currently unavailable' },
      ]);
    } finally {
      ratingsDouble.reply = () => ({ status: 200, body: { id: 0, ratings: { Reviewer1: 3, Reviewer2: 1 } } });
    }
  });
});

describe('productpage', () => {
  test('renders details, reviews without stars for v1 and the serving pod', async () => {
    const res = await get(`${pageV1.url}/productpage`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /text\/html/);
    assert.match(res.body, /The Comedy of Errors/);
    assert.match(res.body, /<dt>ISBN-10:<\/dt><dd>1234567890<\/dd>/);
    assert.match(res.body, /<dt>Publisher:<\/dt><dd>PublisherA<\/dd>/);
    assert.match(res.body, /An extremely entertaining play by Shakespeare/);
    assert.match(res.body, /Reviews served by: <u>reviews-v1-pod<\/u>/);
    assert.deepEqual(stars(res.body), []);
    assert.doesNotMatch(res.body, /★/);
  });
  test('v2 renders black stars, v3 red stars', async () => {
    const v2 = (await get(`${pageV2.url}/productpage`)).body;
    const v3 = (await get(`${pageV3.url}/productpage`)).body;
    assert.deepEqual(stars(v2), [{ count: 5, color: 'black' }, { count: 4, color: 'black' }]);
    assert.deepEqual(stars(v3), [{ count: 5, color: 'red' }, { count: 4, color: 'red' }]);
    assert.match(v2, /★★★★☆/);
    assert.match(v2, /Reviews served by: <u>reviews-v2-pod<\/u>/);
    assert.match(v3, /Reviews served by: <u>reviews-v3-pod<\/u>/);
  });
  test('logs one line per request', async () => {
    await get(`${pageV1.url}/productpage`);
    await new Promise((r) => setTimeout(r, 100));
    assert.match(pageV1.output(), /productpage "GET \/productpage" 200 \d+\.\dms/);
  });
  test('login sets the session cookie; the page then welcomes the user and sends end-user', async () => {
    const login = await fetch(`${pageDoubles.url}/login`, {
      method: 'POST',
      body: new URLSearchParams({ username: 'jason', passwd: 'x' }),
      redirect: 'manual',
    });
    assert.equal(login.status, 302);
    assert.equal(login.headers.get('location'), '/productpage');
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    assert.equal(cookie, 'session=jason');

    reviewsDouble.requests.length = 0;
    detailsDouble.requests.length = 0;
    const page = await get(`${pageDoubles.url}/productpage`, { cookie });
    assert.match(page.body, /Welcome jason/);
    assert.match(page.body, /href="\/logout"/);
    assert.equal(reviewsDouble.requests.at(-1)?.headers['end-user'], 'jason');
    assert.equal(detailsDouble.requests.at(-1)?.headers['end-user'], 'jason');

    const logout = await get(`${pageDoubles.url}/logout`, { cookie });
    assert.equal(logout.status, 302);
    assert.match(logout.headers.get('set-cookie') ?? '', /^session=;.*Max-Age=0/);
  });
  test('without a session there is a login form and no end-user', async () => {
    reviewsDouble.requests.length = 0;
    const page = await get(`${pageDoubles.url}/productpage`);
    assert.match(page.body, /<form class="login" method="post" action="\/login">/);
    assert.equal(reviewsDouble.requests.at(-1)?.headers['end-user'], undefined);
  });
  test('forwards the tracing headers to details and reviews, and nothing else', async () => {
    reviewsDouble.requests.length = 0;
    detailsDouble.requests.length = 0;
    await get(`${pageDoubles.url}/productpage`, { ...TRACE, 'x-private': 'no', cookie: 'other=1' });
    for (const double of [detailsDouble, reviewsDouble]) {
      const seen = double.requests.at(-1);
      for (const [k, v] of Object.entries(TRACE)) assert.equal(seen?.headers[k], v, `${double.url} ${k}`);
      assert.equal(seen?.headers['x-private'], undefined);
      assert.equal(seen?.headers.cookie, undefined);
    }
  });
  test('details and reviews down: the page still renders with error messages', async () => {
    const res = await get(`${pageDown.url}/productpage`);
    assert.equal(res.status, 200);
    assert.match(res.body, /The Comedy of Errors/);
    assert.match(res.body, /Sorry, product details are currently unavailable for this book\./);
    assert.match(res.body, /Sorry, product reviews are currently unavailable for this book\./);
  });
  test('reviews failing is tried twice, then shown as an error', async () => {
    reviewsDouble.requests.length = 0;
    reviewsDouble.reply = () => ({ status: 503, body: { error: 'down' } });
    try {
      const res = await get(`${pageDoubles.url}/productpage`);
      assert.equal(res.status, 200);
      assert.equal(reviewsDouble.requests.length, 2);
      assert.match(res.body, /Error fetching product reviews!/);
      assert.match(res.body, /<dt>Type:<\/dt><dd>paperback<\/dd>/);
    } finally {
      reviewsDouble.reply = () => ({ status: 200, body: REVIEWS_JSON });
    }
  });
  test('escapes upstream text', async () => {
    reviewsDouble.reply = () => ({ status: 200, body: { ...REVIEWS_JSON, podname: '<script>x</script>' } });
    try {
      const res = await get(`${pageDoubles.url}/productpage`);
      assert.match(res.body, /Reviews served by: <u>&lt;script&gt;x&lt;\/script&gt;<\/u>/);
    } finally {
      reviewsDouble.reply = () => ({ status: 200, body: REVIEWS_JSON });
    }
  });
  test('JSON API: products, details, reviews, ratings; errors keep the upstream status', async () => {
    const products = JSON.parse((await get(`${pageV2.url}/api/v1/products`)).body) as { id: number; title: string }[];
    assert.deepEqual(products.map((p) => [p.id, p.title]), [[0, 'The Comedy of Errors']]);
    assert.deepEqual(JSON.parse((await get(`${pageV2.url}/api/v1/products/0`)).body), DETAILS_JSON);
    const reviews = JSON.parse((await get(`${pageV2.url}/api/v1/products/0/reviews`)).body) as { podname: string };
    assert.equal(reviews.podname, 'reviews-v2-pod');
    assert.deepEqual(JSON.parse((await get(`${pageV2.url}/api/v1/products/0/ratings`)).body), { id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 } });
    const down = await get(`${pageDown.url}/api/v1/products/0`);
    assert.equal(down.status, 500);
    assert.deepEqual(JSON.parse(down.body), { error: 'Sorry, product details are currently unavailable for this book.' });
    assert.equal((await get(`${pageV2.url}/api/v1/products/x`)).status, 400);
  });
  test('index, static CSS, and no way out of the static folder', async () => {
    const index = await get(`${pageV1.url}/`);
    assert.match(index.body, /href="\/productpage\?u=normal"/);
    const css = await get(`${pageV1.url}/static/bookinfo.css`);
    assert.equal(css.status, 200);
    assert.match(css.headers.get('content-type') ?? '', /text\/css/);
    assert.equal((await get(`${pageV1.url}/static/..%2f..%2fpackage.json`)).status, 404);
    assert.equal((await get(`${pageV1.url}/static/missing.css`)).status, 404);
  });
});

describe('productpage through HTTP_PROXY (as behind a sidecar)', () => {
  let proxy: Double;
  let proxied: Service;
  before(async () => {
    // Test double standing in for the sidecar's outbound listener.
    proxy = await startDouble(30, (path) => ({ status: 200, body: path.startsWith('/details') ? DETAILS_JSON : REVIEWS_JSON }));
    proxied = await startService('productpage', 16, { HTTP_PROXY: proxy.url, NO_PROXY: `${NET}.16` });
  });
  after(() => {
    proxy.server.close();
    proxy.server.closeAllConnections();
  });

  test('sends absolute-form requests for details and reviews to the proxy', async () => {
    const res = await get(`${proxied.url}/productpage`);
    assert.match(res.body, /<dt>Type:<\/dt><dd>paperback<\/dd>/);
    assert.match(res.body, /Reviews served by: <u>reviews-double<\/u>/);
    const seen = proxy.requests.map((r) => `${r.method} ${r.url} ${r.headers.host ?? ''}`).sort();
    assert.deepEqual(seen, ['GET http://details:9080/details/0 details:9080', 'GET http://reviews:9080/reviews/0 reviews:9080']);
  });
});
