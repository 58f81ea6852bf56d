// Bookinfo productpage: the web page and a small JSON API, built from the details and
// reviews services. `node productpage.js [port]`
//
// Environment: DETAILS_URL, REVIEWS_URL, RATINGS_URL (defaults http://<name>:9080),
// STATIC_DIR (default samples/bookinfo/static), HTTP_PROXY/NO_PROXY.

import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { forwardHeaders, getJson, parseId, readBody, sendJson, sendText, serve, serviceUrl, type Upstream } from './common.js';
import { indexPage, productPage, type Product } from './productpage-views.js';

const TIMEOUT_MS = 3_000;
const services = { details: serviceUrl('details'), reviews: serviceUrl('reviews'), ratings: serviceUrl('ratings') };
// dist/samples/bookinfo/src/productpage.js -> samples/bookinfo/static
const staticDir = resolve(process.env.STATIC_DIR ?? fileURLToPath(new URL('../../../../samples/bookinfo/static', import.meta.url)));

const PRODUCTS: readonly Product[] = [
  {
    id: 0,
    title: 'The Comedy of Errors',
    descriptionHtml:
      '<a href="https://en.wikipedia.org/wiki/The_Comedy_of_Errors">Wikipedia Summary</a>: The Comedy of Errors is one of <b>William Shakespeare\'s</b> early plays. It is his shortest and one of his most farcical comedies, with a major part of the humour coming from slapstick and mistaken identity, in addition to puns and word play.',
  },
];

const SERVICE_TABLE = [
  { name: services.details, endpoint: 'details', children: [] },
  { name: services.ratings, endpoint: 'ratings', children: [] },
  { name: services.reviews, endpoint: 'reviews', children: ['ratings'] },
];

/** One call to a service; any failure becomes `{status, {error}}` as in the original. */
async function call(service: keyof typeof services, id: number, headers: Record<string, string>, error: string): Promise<Upstream> {
  try {
    const res = await getJson(`${services[service]}/${service}/${id}`, headers, TIMEOUT_MS);
    if (res.status === 200) return res;
    return { status: res.status, body: { error } };
  } catch {
    return { status: 500, body: { error } };
  }
}

const details = (id: number, h: Record<string, string>): Promise<Upstream> =>
  call('details', id, h, 'Sorry, product details are currently unavailable for this book.');
const ratings = (id: number, h: Record<string, string>): Promise<Upstream> =>
  call('ratings', id, h, 'Sorry, product ratings are currently unavailable for this book.');

/** Reviews are tried twice, like the original (which keeps this on purpose for the fault-injection task). */
async function reviews(id: number, h: Record<string, string>): Promise<Upstream> {
  const error = 'Sorry, product reviews are currently unavailable for this book.';
  const first = await call('reviews', id, h, error);
  return first.status === 200 ? first : call('reviews', id, h, error);
}

// The session cookie holds the user name; a sample, not an authentication scheme.
const USER_NAME = /^[\x21-\x7e](?:[\x20-\x7e]{0,62}[\x21-\x7e])?$/;

function sessionUser(req: IncomingMessage): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name !== 'session') continue;
    try {
      const user = decodeURIComponent(value.join('='));
      return USER_NAME.test(user) ? user : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

function upstreamHeaders(req: IncomingMessage): Record<string, string> {
  const user = sessionUser(req);
  return forwardHeaders(req.headers, user ? { 'end-user': user } : {});
}

function redirect(res: ServerResponse, location: string, cookie?: string): void {
  res.writeHead(302, { location, 'content-length': 0, ...(cookie ? { 'set-cookie': cookie } : {}) });
  res.end();
}

async function login(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const user = new URLSearchParams(await readBody(req)).get('username')?.trim() ?? '';
  if (!USER_NAME.test(user)) return redirect(res, '/productpage');
  redirect(res, '/productpage', `session=${encodeURIComponent(user)}; Path=/; HttpOnly; SameSite=Lax`);
}

const CONTENT_TYPES: Record<string, string> = {
  '.css': 'text/css; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

async function staticFile(res: ServerResponse, path: string): Promise<void> {
  let data: Buffer;
  let type: string | undefined;
  try {
    const file = resolve(staticDir, decodeURIComponent(path.slice('/static/'.length)));
    type = CONTENT_TYPES[extname(file)];
    if (!file.startsWith(staticDir + sep) || !type) return sendText(res, 404, 'not found');
    data = await readFile(file);
  } catch {
    return sendText(res, 404, 'not found');
  }
  res.writeHead(200, { 'content-type': type, 'content-length': data.length, 'cache-control': 'max-age=300' });
  res.end(data);
}

async function productRoute(req: IncomingMessage, res: ServerResponse, path: string): Promise<void> {
  const [id, sub] = path.slice('/api/v1/products/'.length).split('/');
  const productId = parseId(id ?? '');
  if (productId === undefined) return sendJson(res, 400, { error: 'please provide numeric product id' });
  const headers = upstreamHeaders(req);
  const source = sub === undefined ? details : sub === 'reviews' ? reviews : sub === 'ratings' ? ratings : undefined;
  if (!source) return sendJson(res, 404, { error: 'not found' });
  const result = await source(productId, headers);
  sendJson(res, result.status, result.body);
}

serve('productpage', async (req, res, path) => {
  const method = req.method ?? 'GET';
  if (path === '/health') return sendText(res, 200, 'Product page is healthy');
  if (path === '/login' && method === 'POST') return login(req, res);
  if (path === '/logout') return redirect(res, '/productpage', 'session=; Path=/; Max-Age=0; HttpOnly; SameSite=Lax');
  if (method !== 'GET' && method !== 'HEAD') return sendText(res, 405, 'method not allowed');
  if (path === '/' || path === '/index.html') return sendText(res, 200, indexPage(SERVICE_TABLE), 'text/html; charset=utf-8');
  if (path === '/productpage') {
    const product = PRODUCTS[0];
    const headers = upstreamHeaders(req);
    const [d, r] = await Promise.all([details(product.id, headers), reviews(product.id, headers)]);
    return sendText(res, 200, productPage(product, d, r, sessionUser(req)), 'text/html; charset=utf-8');
  }
  if (path === '/api/v1/products') return sendJson(res, 200, PRODUCTS);
  if (path.startsWith('/api/v1/products/')) return productRoute(req, res, path);
  if (path.startsWith('/static/')) return staticFile(res, path);
  sendText(res, 404, 'not found');
});
