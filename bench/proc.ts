// Per-process CPU and memory from /proc (Linux): CPU = utime + stime of every
// process in a process group (a proxy and any children), RSS = their VmRSS sum,
// private = their pages no other process maps (smaps_rollup's Private_*). RSS also
// counts the program's binary and libraries, which every process running the same
// program shares: 30-42 MB of a Node process's RSS is node's own binary. Private
// memory is what one more such process adds to a machine.
import fs from 'node:fs';

const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux x86-64 and arm64

export interface ProcRef {
  /** e.g. "weft sidecar (client)", "haproxy A". */
  role: string;
  pid: number;
  /** Count every process whose process group is `pid` (a process-group leader). */
  group?: boolean;
}

export interface ProcSample {
  cpuS: number;
  rssMB: number;
  privateMB: number;
  alive: boolean;
}

function statOf(pid: number): { pgrp: number; cpuTicks: number } | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    // rest[0] = state (field 3); pgrp = field 5, utime = 14, stime = 15
    return { pgrp: Number(rest[2]), cpuTicks: Number(rest[11]) + Number(rest[12]) };
  } catch {
    return undefined;
  }
}

function rssOf(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

function privateOf(pid: number): number {
  try {
    const text = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
    let kb = 0;
    for (const m of text.matchAll(/^Private_(?:Clean|Dirty):\s+(\d+) kB/gm)) kb += Number(m[1]);
    return kb / 1024;
  } catch {
    return 0;
  }
}

function pidsOf(ref: ProcRef): number[] {
  if (!ref.group) return [ref.pid];
  const out: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    const c = d.charCodeAt(0);
    if (c < 48 || c > 57) continue;
    const st = statOf(Number(d));
    if (st && st.pgrp === ref.pid) out.push(Number(d));
  }
  return out.length ? out : [ref.pid];
}

export function sample(ref: ProcRef): ProcSample {
  let ticks = 0;
  let rss = 0;
  let priv = 0;
  let alive = false;
  for (const pid of pidsOf(ref)) {
    const st = statOf(pid);
    if (!st) continue;
    alive = true;
    ticks += st.cpuTicks;
    rss += rssOf(pid);
    priv += privateOf(pid);
  }
  return { cpuS: ticks / CLK_TCK, rssMB: rss, privateMB: priv, alive };
}

/** Samples memory every `everyMs` while running; `stop()` gives CPU used and peak RSS and private memory per process. */
export class Meter {
  readonly #refs: ProcRef[];
  readonly #start: ProcSample[];
  readonly #peak: number[];
  readonly #peakPrivate: number[];
  readonly #timer: NodeJS.Timeout;
  readonly #t0 = performance.now();

  constructor(refs: ProcRef[], everyMs = 250) {
    this.#refs = refs;
    this.#start = refs.map(sample);
    this.#peak = this.#start.map((s) => s.rssMB);
    this.#peakPrivate = this.#start.map((s) => s.privateMB);
    this.#timer = setInterval(() => this.#tick(), everyMs);
    this.#timer.unref();
  }

  #tick(): void {
    this.#refs.forEach((r, i) => {
      const s = sample(r);
      if (s.rssMB > this.#peak[i]!) this.#peak[i] = s.rssMB;
      if (s.privateMB > this.#peakPrivate[i]!) this.#peakPrivate[i] = s.privateMB;
    });
  }

  stop(): { role: string; cpuS: number; peakRssMB: number; peakPrivateMB: number; wallS: number }[] {
    clearInterval(this.#timer);
    this.#tick();
    const wallS = (performance.now() - this.#t0) / 1000;
    return this.#refs.map((r, i) => ({ role: r.role, cpuS: sample(r).cpuS - this.#start[i]!.cpuS, peakRssMB: this.#peak[i]!, peakPrivateMB: this.#peakPrivate[i]!, wallS }));
  }
}
