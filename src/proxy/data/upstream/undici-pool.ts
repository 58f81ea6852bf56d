// undici's Pool and its request() API, loaded without undici's index. The index also
// loads fetch, WebSocket, EventSource, the cache stores and the mocks: about 8 MB of a
// sidecar's resident memory and 0.2 s of its start-up, for code a proxy never runs.
// The deep paths are stable files of the pinned undici 7 (package.json); the types are
// the public ones.
import { createRequire } from 'node:module';
import type { Dispatcher, Pool as UndiciPool } from 'undici';

const require = createRequire(import.meta.url);

export const Pool = require('undici/lib/dispatcher/pool.js') as typeof UndiciPool;
export type Pool = UndiciPool;

type RequestApi = (this: Dispatcher, opts: Dispatcher.RequestOptions) => Promise<Dispatcher.ResponseData>;
const requestApi = require('undici/lib/api/api-request.js') as RequestApi;

/** `pool.request(opts)` as undici's index would install it on Dispatcher.prototype. */
export function poolRequest(pool: UndiciPool, opts: Dispatcher.RequestOptions): Promise<Dispatcher.ResponseData> {
  return requestApi.call(pool, opts);
}
