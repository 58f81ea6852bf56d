// Node flags for every proxy process (a module of its own: the bench imports it too).
/**
 * A 2 MB young generation (V8's default grows it to 16 MB under load). A proxy's garbage
 * is short-lived per-request objects, so small, frequent scavenges cost little; the default
 * let a sidecar grow from 90 to about 190 MB under load. A fixed heap-growing factor
 * (--heap-growing-percent=50) was measured too: -15 MB at full load for ~8% of throughput,
 * not taken (bench/README.md).
 */
export const PROXY_NODE_FLAGS = ['--max-semi-space-size=2'] as const;
