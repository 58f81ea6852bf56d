// On-demand CPU profiles and heap snapshots of a running proxy, for the admin server
// (Envoy has /cpuprofiler and /heapprofiler for the same reason): profile the steady
// state under load, without the start-up noise that `node --cpu-prof` records.
// Profiles are written as .cpuprofile / .heapsnapshot files (Chrome DevTools format).
import { Session } from 'node:inspector/promises';
import fs from 'node:fs';
import path from 'node:path';
import v8 from 'node:v8';

export class Profiler {
  private session: Session | undefined;
  private startedAt = 0;

  /** @param dir where files go; @param label part of every file name (the pod name). */
  constructor(
    private readonly dir: string,
    private readonly label: string,
  ) {}

  get cpuRunning(): boolean {
    return this.session !== undefined;
  }

  async startCpu(): Promise<void> {
    if (this.session) throw new Error('a CPU profile is already running');
    const session = new Session();
    session.connect();
    await session.post('Profiler.enable');
    // 100 µs sampling: fine enough for a request path that takes tens of microseconds.
    await session.post('Profiler.setSamplingInterval', { interval: 100 });
    await session.post('Profiler.start');
    this.session = session;
    this.startedAt = Date.now();
  }

  /** Stops the running CPU profile and returns the file it was written to. */
  async stopCpu(): Promise<{ file: string; seconds: number }> {
    const session = this.session;
    if (!session) throw new Error('no CPU profile is running (POST /cpuprofiler?enable=y first)');
    this.session = undefined;
    try {
      const { profile } = await session.post('Profiler.stop');
      const file = this.fileName('cpuprofile');
      await fs.promises.writeFile(file, JSON.stringify(profile));
      return { file, seconds: (Date.now() - this.startedAt) / 1000 };
    } finally {
      session.disconnect();
    }
  }

  /** Writes a heap snapshot (blocks the event loop while V8 walks the heap). */
  heapSnapshot(): string {
    const file = this.fileName('heapsnapshot');
    return v8.writeHeapSnapshot(file);
  }

  private fileName(ext: string): string {
    fs.mkdirSync(this.dir, { recursive: true });
    const stamp = new Date().toISOString().replace(/[:.]/g, '-');
    return path.join(this.dir, `weft-${this.label}-${process.pid}-${stamp}.${ext}`);
  }
}
