// Bookinfo ratings: stars per reviewer, kept in memory; POST replaces a product's ratings.
// `node ratings.js [port]`

import { parseId, readBody, sendJson, serve } from './common.js';

type Ratings = Record<string, number>;

const userAdded = new Map<number, Ratings>();

function ratingsFor(id: number): { id: number; ratings: Ratings } {
  return { id, ratings: userAdded.get(id) ?? { Reviewer1: 5, Reviewer2: 4 } };
}

/** A JSON object of reviewer -> integer stars 1..5, else undefined. */
function parseRatings(text: string): Ratings | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const out: Ratings = {};
  for (const [reviewer, stars] of Object.entries(value)) {
    if (typeof stars !== 'number' || !Number.isInteger(stars) || stars < 1 || stars > 5) return undefined;
    out[reviewer] = stars;
  }
  return out;
}

serve('ratings', async (req, res, path) => {
  if (path === '/health') return sendJson(res, 200, { status: 'Ratings is healthy' });
  if (!path.startsWith('/ratings/')) return sendJson(res, 404, { error: 'not found' });
  const id = parseId(path.slice('/ratings/'.length));
  if (id === undefined) return sendJson(res, 400, { error: 'please provide numeric product ID' });
  if (req.method === 'GET') return sendJson(res, 200, ratingsFor(id));
  if (req.method === 'POST') {
    const ratings = parseRatings(await readBody(req));
    if (!ratings) return sendJson(res, 400, { error: 'please provide valid ratings JSON' });
    userAdded.set(id, ratings);
    return sendJson(res, 200, ratingsFor(id));
  }
  res.setHeader('allow', 'GET, POST');
  sendJson(res, 405, { error: 'method not allowed' });
});
