// The monitoring port (15014): Prometheus text at /metrics, and liveness.
import http from 'node:http';
import type { MetricsRegistry } from './metrics.js';
import { sendError, sendText } from './http-util.js';

export function createMonitoringHandler(registry: MetricsRegistry): http.RequestListener {
  return (req, res) => {
    const path = new URL(req.url ?? '/', 'http://monitoring').pathname;
    if (req.method !== 'GET') return sendError(res, 405, 'WEFT_ERR_BAD_REQUEST', 'GET only');
    if (path === '/metrics') return sendText(res, 200, 'text/plain; version=0.0.4; charset=utf-8', registry.render());
    if (path === '/healthz') return sendText(res, 200, 'text/plain', 'ok\n');
    sendError(res, 404, 'WEFT_ERR_NOT_FOUND', `no such endpoint: ${path}`);
  };
}
