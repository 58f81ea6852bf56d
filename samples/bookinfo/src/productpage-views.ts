// HTML of the product page and the index, rendered from the JSON the services return.

import type { JsonValue, Upstream } from './common.js';

export interface Product {
  id: number;
  title: string;
  /** Trusted HTML (our own constant). */
  descriptionHtml: string;
}

type JsonObject = { [key: string]: JsonValue };

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c] ?? c);
}

function asObject(v: JsonValue | undefined): JsonObject | undefined {
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? v : undefined;
}

/** A field as display text ('' when missing). */
function text(obj: JsonObject | undefined, key: string): string {
  const v = obj?.[key];
  return typeof v === 'string' || typeof v === 'number' ? escapeHtml(String(v)) : '';
}

function page(title: string, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/static/bookinfo.css">
</head>
<body>
${body}
</body>
</html>
`;
}

const BRAND = '<a class="brand" href="/">BookInfo Sample</a>';

function navbar(user: string | undefined): string {
  const session = user
    ? `<span class="welcome">Welcome ${escapeHtml(user)}</span> <a class="button" href="/logout">Sign out</a>`
    : `<form class="login" method="post" action="/login">
  <input name="username" placeholder="User Name" aria-label="User Name" required>
  <input name="passwd" type="password" placeholder="Password" aria-label="Password">
  <button type="submit">Sign in</button>
</form>`;
  return `<nav>${BRAND}<div class="session">${session}</div></nav>`;
}

function detailsSection(details: Upstream): string {
  const d = asObject(details.body);
  if (details.status !== 200) {
    return `<h4>Error fetching product details!</h4>\n<p>${text(d, 'error')}</p>`;
  }
  const rows: [string, string][] = [
    ['Type', 'type'], ['Pages', 'pages'], ['Publisher', 'publisher'],
    ['Language', 'language'], ['ISBN-10', 'ISBN-10'], ['ISBN-13', 'ISBN-13'],
  ];
  const items = rows.map(([label, key]) => `<dt>${label}:</dt><dd>${text(d, key)}</dd>`).join('\n');
  return `<h4>Book Details</h4>\n<dl>\n${items}\n</dl>`;
}

function stars(rating: JsonObject): string {
  const n = rating.stars;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n > 5) return '';
  const raw = rating.color;
  const color = typeof raw === 'string' && /^[a-z]+$|^#[0-9a-f]{3,6}$/i.test(raw) ? raw : 'black';
  return `<span class="stars" style="color: ${color}" title="${n} of 5 stars" data-stars="${n}" data-color="${color}">${'★'.repeat(n)}${'☆'.repeat(5 - n)}</span>`;
}

function review(r: JsonObject): string {
  const rating = asObject(r.rating);
  let ratingHtml = '';
  if (rating && typeof rating.stars === 'number') ratingHtml = stars(rating);
  else if (rating && typeof rating.error === 'string') ratingHtml = `<p><i>${text(rating, 'error')}</i></p>`;
  return `<blockquote>\n<p>${text(r, 'text')}</p>\n<small>${text(r, 'reviewer')}</small>\n${ratingHtml}\n</blockquote>`;
}

function reviewsSection(reviews: Upstream): string {
  const body = asObject(reviews.body);
  if (reviews.status !== 200) {
    return `<h4>Error fetching product reviews!</h4>\n<p>${text(body, 'error')}</p>`;
  }
  const list = Array.isArray(body?.reviews) ? body.reviews : [];
  const items = list.map(asObject).filter((r): r is JsonObject => r !== undefined).map(review).join('\n');
  const cluster = text(body, 'clustername');
  const where = cluster && cluster !== 'null' ? ` on cluster <u>${cluster}</u>` : '';
  return `<h4>Book Reviews</h4>\n${items}\n<p class="served-by">Reviews served by: <u>${text(body, 'podname')}</u>${where}</p>`;
}

export function productPage(product: Product, details: Upstream, reviews: Upstream, user: string | undefined): string {
  return page(
    'Simple Bookstore App',
    `${navbar(user)}
<main>
<h3>${escapeHtml(product.title)}</h3>
<p class="summary">Summary: ${product.descriptionHtml}</p>
<div class="columns">
<section class="details">
${detailsSection(details)}
</section>
<section class="reviews">
${reviewsSection(reviews)}
</section>
</div>
</main>`,
  );
}

export interface ServiceEntry {
  name: string;
  endpoint: string;
  children: string[];
}

export function indexPage(services: readonly ServiceEntry[]): string {
  const rows = services
    .map((s) => `<tr><td>${escapeHtml(s.name)}</td><td>${escapeHtml(s.endpoint)}</td><td>${escapeHtml(s.children.join(', '))}</td></tr>`)
    .join('\n');
  return page(
    'Simple Bookstore App',
    `<nav>${BRAND}</nav>
<main>
<h3>Hello! This is a simple bookstore application consisting of three services as shown below</h3>
<table>
<tr><th>name</th><th>endpoint</th><th>children</th></tr>
${rows}
</table>
<p>Click on one of the links below to auto generate a request to the backend as a real user or a tester</p>
<p><a href="/productpage?u=normal">Normal user</a></p>
<p><a href="/productpage?u=test">Test user</a></p>
</main>`,
  );
}
