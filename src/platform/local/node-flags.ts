// Node flags for every proxy process (a module of its own: the bench imports it too).
/**
 * A 2 MB young generation (V8's default grows it to 16 MB under load). A proxy's garbage
 * is short-lived per-request objects, so small, frequent scavenges cost little; the default
 * let a sidecar grow from 90 to about 190 MB under load. A fixed heap-growing factor
 * (--heap-growing-percent=50) was measured too: -15 MB at full load for ~8% of throughput,
 * not taken (bench/README.md).
 * GC on the main thread only: a proxy's heap is tens of MB, too small for V8's helper
 * threads to pay, and on a node where the app and the proxy share the cores a scavenge
 * that waits for a descheduled helper is a latency spike. Same throughput and CPU, p99
 * at 1,000 rps -20 to -60% (gRPC 38-62 ms -> 19-22 ms; bench/README.md).
 */
export const PROXY_NODE_FLAGS = ['--max-semi-space-size=2', '--single-threaded-gc'] as const;
