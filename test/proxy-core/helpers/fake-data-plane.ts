// A test double of the DataPlane (src/proxy/data is another module): records
// every snapshot it is given and rejects those a test says to reject.
import { ConfigRejectedError, type DataPlane, type OutlierEjectionInfo, type XdsSnapshot } from '../../../src/proxy/types.js';

export class RecordingDataPlane implements DataPlane {
  readonly applied: XdsSnapshot[] = [];
  readonly attempted: XdsSnapshot[] = [];
  /** Returns a rejection message for snapshots to reject. */
  reject: ((s: XdsSnapshot) => string | undefined) | undefined;
  drained: number[] = [];
  closed = false;
  current: XdsSnapshot | undefined;
  /** What outlierEjections() reports. */
  ejections: Record<string, OutlierEjectionInfo[]> = {};

  async apply(snapshot: XdsSnapshot): Promise<void> {
    this.attempted.push(snapshot);
    await new Promise((r) => setImmediate(r));
    const why = this.reject?.(snapshot);
    if (why) throw new ConfigRejectedError(why);
    this.applied.push(snapshot);
    this.current = snapshot;
  }
  async drain(timeoutMs: number): Promise<void> {
    this.drained.push(timeoutMs);
  }
  stats(): Record<string, number> {
    return { 'test_dp.applied': this.applied.length, 'listener_manager.total_listeners_active': this.current?.listeners.size ?? 0 };
  }
  boundListeners(): Record<string, string> {
    return Object.fromEntries([...(this.current?.listeners.keys() ?? [])].map((n) => [n, '127.0.0.1:0']));
  }
  outlierEjections(): Record<string, OutlierEjectionInfo[]> {
    return this.ejections;
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}
