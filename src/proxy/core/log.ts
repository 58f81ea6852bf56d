// A tiny async JSON-lines logger. Lines are buffered in memory and written to
// stderr (fd 2) with asynchronous fs.write, one batch at a time: nothing here
// blocks the event loop. When the buffer is over its cap, lines are dropped and
// counted (the count is logged with the next batch).
import fs from 'node:fs';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export type LogFields = Record<string, string | number | boolean | undefined | null>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
  /** Resolves once everything logged so far has been written. */
  flush(): Promise<void>;
}

/** Where batches go: the default writes to fd 2 asynchronously. */
export type LogSink = (chunk: string) => Promise<void>;

export interface LoggerOptions {
  level?: LogLevel;
  sink?: LogSink;
  /** Maximum buffered characters before lines are dropped (default 1 MiB). */
  maxBufferedChars?: number;
  /** Fields on every line (e.g. the pod). */
  base?: LogFields;
}

export function isLogLevel(v: string): v is LogLevel {
  return v in LEVELS;
}

function writeAll(fd: number, data: Buffer): Promise<void> {
  return new Promise((resolve) => {
    let off = 0;
    const step = (): void => {
      if (off >= data.length) return resolve();
      fs.write(fd, data, off, data.length - off, null, (err, written) => {
        if (err) {
          // A non-blocking stderr may say EAGAIN: retry a bit later. Other errors: give up quietly.
          if ((err as NodeJS.ErrnoException).code === 'EAGAIN') return void setTimeout(step, 5).unref();
          return resolve();
        }
        off += written;
        step();
      });
    };
    step();
  });
}

export const stderrSink: LogSink = (chunk) => writeAll(2, Buffer.from(chunk, 'utf8'));

class BufferedWriter {
  private lines: string[] = [];
  private chars = 0;
  private dropped = 0;
  private writing: Promise<void> | undefined;
  private scheduled = false;

  constructor(
    private readonly sink: LogSink,
    private readonly maxChars: number,
  ) {}

  push(line: string): void {
    if (this.chars + line.length > this.maxChars) {
      this.dropped++;
      return;
    }
    this.lines.push(line);
    this.chars += line.length;
    if (!this.scheduled && !this.writing) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        void this.drain();
      });
    }
  }

  private drain(): Promise<void> {
    if (this.writing) return this.writing;
    if (this.lines.length === 0 && this.dropped === 0) return Promise.resolve();
    const run = async (): Promise<void> => {
      while (this.lines.length > 0 || this.dropped > 0) {
        if (this.dropped > 0) {
          this.lines.push(JSON.stringify({ time: new Date().toISOString(), level: 'warn', msg: 'log lines dropped', dropped: this.dropped }) + '\n');
          this.dropped = 0;
        }
        const batch = this.lines.join('');
        this.lines = [];
        this.chars = 0;
        await this.sink(batch);
      }
    };
    this.writing = run().finally(() => {
      this.writing = undefined;
    });
    return this.writing;
  }

  async flush(): Promise<void> {
    // Loop: lines may arrive while a batch is being written.
    for (let i = 0; i < 100 && (this.writing || this.lines.length > 0 || this.dropped > 0); i++) {
      await this.drain();
    }
  }
}

class JsonLogger implements Logger {
  constructor(
    private readonly writer: BufferedWriter,
    private readonly min: number,
    private readonly base: LogFields,
  ) {}

  private log(level: LogLevel, msg: string, fields?: LogFields): void {
    if (LEVELS[level] < this.min) return;
    this.writer.push(JSON.stringify({ time: new Date().toISOString(), level, msg, ...this.base, ...fields }) + '\n');
  }
  debug(msg: string, fields?: LogFields): void {
    this.log('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.log('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.log('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.log('error', msg, fields);
  }
  child(fields: LogFields): Logger {
    return new JsonLogger(this.writer, this.min, { ...this.base, ...fields });
  }
  flush(): Promise<void> {
    return this.writer.flush();
  }
}

export function createLogger(opts: LoggerOptions = {}): Logger {
  const writer = new BufferedWriter(opts.sink ?? stderrSink, opts.maxBufferedChars ?? 1024 * 1024);
  return new JsonLogger(writer, LEVELS[opts.level ?? 'info'], opts.base ?? {});
}

/** A logger that discards everything (tests, embedding). */
export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
  flush: () => Promise.resolve(),
};
