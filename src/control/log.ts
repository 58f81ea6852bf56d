// The control plane's logger: lines are queued and written to stderr off the
// calling path (fs.write on the thread pool), so no request ever waits on a log write.
import fs from 'node:fs';

export type LogLevel = 'info' | 'warn' | 'error';
export type Logger = (level: LogLevel, message: string) => void;

const MAX_QUEUED = 10_000;

export function createStderrLogger(component = 'control'): Logger {
  let queue: string[] = [];
  let writing = false;
  let dropped = 0;
  const flush = (): void => {
    if (writing || queue.length === 0) return;
    writing = true;
    const lines = queue;
    queue = [];
    if (dropped > 0) {
      lines.push(`${new Date().toISOString()} warn ${component}: ${dropped} log lines dropped\n`);
      dropped = 0;
    }
    fs.write(2, lines.join(''), () => {
      writing = false;
      if (queue.length > 0) setImmediate(flush);
    });
  };
  return (level, message) => {
    if (queue.length >= MAX_QUEUED) {
      dropped++;
      return;
    }
    queue.push(`${new Date().toISOString()} ${level} ${component}: ${message}\n`);
    if (!writing) setImmediate(flush);
  };
}

/** A logger that keeps lines in memory (for tests and embedding). */
export function createMemoryLogger(): Logger & { lines: string[] } {
  const lines: string[] = [];
  const log = ((level: LogLevel, message: string) => {
    lines.push(`${level} ${message}`);
  }) as Logger & { lines: string[] };
  log.lines = lines;
  return log;
}
