// Bookinfo reviews: two reviews of the book; v2 and v3 add star ratings from the ratings
// service (black stars for v2, red for v3). `node reviews.js [port]`
//
// Environment, as in the original: SERVICE_VERSION (v1|v2|v3), ENABLE_RATINGS (true|false,
// default from the version), STAR_COLOR (default from the version), POD_NAME (or HOSTNAME),
// CLUSTER_NAME, RATINGS_URL (default http://ratings:9080).

import { hostname } from 'node:os';
import { forwardHeaders, getJson, parseId, sendJson, serve, serviceUrl, type JsonValue } from './common.js';

const version = process.env.SERVICE_VERSION ?? 'v1';
const ratingsEnabled = (process.env.ENABLE_RATINGS ?? String(version !== 'v1')) === 'true';
const starColor = process.env.STAR_COLOR ?? (version === 'v3' ? 'red' : 'black');
// The original waits 10 s for ratings with black stars and 2.5 s with red ones.
const ratingsTimeoutMs = starColor === 'black' ? 10_000 : 2_500;
const podName = process.env.POD_NAME ?? process.env.HOSTNAME ?? hostname();
// The original prints the missing value as the string "null"; productpage checks for it.
const clusterName = process.env.CLUSTER_NAME ?? 'null';
const ratingsUrl = serviceUrl('ratings');

type Rating = { stars: number; color: string } | { error: string };

interface Review {
  reviewer: string;
  text: string;
  rating?: Rating;
}

const REVIEWS: readonly Review[] = [
  { reviewer: 'Reviewer1', text: 'An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!' },
  { reviewer: 'Reviewer2', text: 'Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.' },
];

/** Reviewer -> stars from the ratings service, or undefined when it cannot be reached. */
async function fetchRatings(id: number, headers: Record<string, string>): Promise<Map<string, number> | undefined> {
  try {
    const { status, body } = await getJson(`${ratingsUrl}/ratings/${id}`, headers, ratingsTimeoutMs);
    if (status !== 200 || !isObject(body) || !isObject(body.ratings)) return undefined;
    const stars = new Map<string, number>();
    for (const [reviewer, value] of Object.entries(body.ratings)) {
      if (typeof value === 'number') stars.set(reviewer, value);
    }
    return stars;
  } catch {
    return undefined;
  }
}

function isObject(v: JsonValue | undefined): v is { [key: string]: JsonValue } {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function withRating(review: Review, ratings: Map<string, number> | undefined): Review {
  const stars = ratings?.get(review.reviewer);
  const rating: Rating = stars === undefined ? { error: 'Ratings service is currently unavailable' } : { stars, color: starColor };
  return { ...review, rating };
}

serve(`reviews-${version}`, async (req, res, path) => {
  if (path === '/health') return sendJson(res, 200, { status: 'Reviews is healthy' });
  if (req.method !== 'GET' || !path.startsWith('/reviews/')) return sendJson(res, 404, { error: 'not found' });
  const id = parseId(path.slice('/reviews/'.length));
  if (id === undefined) return sendJson(res, 400, { error: 'please provide numeric product id' });

  let reviews: Review[] = [...REVIEWS];
  if (ratingsEnabled) {
    const endUser = req.headers['end-user'];
    const headers = forwardHeaders(req.headers, typeof endUser === 'string' ? { 'end-user': endUser } : {});
    const ratings = await fetchRatings(id, headers);
    reviews = reviews.map((r) => withRating(r, ratings));
  }
  sendJson(res, 200, { id: String(id), podname: podName, clustername: clusterName, reviews });
});
