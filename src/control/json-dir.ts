// A persisted map from string keys to JSON values: one file per key under one
// directory, written atomically, loaded whole at open. Not locked: callers
// serialize their read-compare-write sections (see Mutex).
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash } from 'node:crypto';
import { TEMP_SUFFIX, removeFileDurable, writeFileAtomic } from './atomic-file.js';
import { ControlError, errorMessage } from './errors.js';

interface FileBody {
  key: string;
  value: unknown;
}

export interface JsonDirLoadProblem {
  file: string;
  message: string;
}

/** Validates one stored value; throws with a message naming the field on bad input. */
export type JsonParser<T> = (raw: unknown) => T;

export function fileNameForKey(key: string): string {
  const readable = key.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 100);
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 16);
  return `${readable}-${hash}.json`;
}

export class JsonDir<T> {
  readonly #dir: string;
  readonly #values = new Map<string, T>();
  readonly #fileMode: number;

  private constructor(dir: string, fileMode: number) {
    this.#dir = dir;
    this.#fileMode = fileMode;
  }

  /**
   * Opens (creating) the directory and loads every value. Files that cannot be
   * read or parsed are reported and left on disk untouched, never deleted.
   */
  static async open<T>(dir: string, parse: JsonParser<T>, fileMode = 0o644): Promise<{ dir: JsonDir<T>; problems: JsonDirLoadProblem[] }> {
    const jd = new JsonDir<T>(dir, fileMode);
    const problems: JsonDirLoadProblem[] = [];
    try {
      await fs.mkdir(dir, { recursive: true, mode: 0o700 });
      const names = (await fs.readdir(dir)).sort();
      for (const name of names) {
        const file = path.join(dir, name);
        if (name.endsWith(TEMP_SUFFIX)) {
          await fs.rm(file, { force: true }); // an interrupted write; the previous file is intact
          continue;
        }
        if (!name.endsWith('.json')) continue;
        try {
          const body = JSON.parse(await fs.readFile(file, 'utf8')) as Partial<FileBody>;
          if (typeof body.key !== 'string' || !('value' in body)) throw new Error('missing "key" or "value"');
          jd.#values.set(body.key, parse(body.value));
          // A file written before the mode was narrowed (the store holds Secrets) gets it now.
          if (((await fs.stat(file)).mode & 0o777) !== fileMode) await fs.chmod(file, fileMode);
        } catch (e) {
          problems.push({ file, message: errorMessage(e) });
        }
      }
    } catch (e) {
      throw new ControlError('WEFT_ERR_STORE_IO', `cannot open ${dir}: ${errorMessage(e)}`, { cause: e });
    }
    return { dir: jd, problems };
  }

  get path(): string {
    return this.#dir;
  }

  get(key: string): T | undefined {
    return this.#values.get(key);
  }

  has(key: string): boolean {
    return this.#values.has(key);
  }

  get size(): number {
    return this.#values.size;
  }

  entries(): IterableIterator<[string, T]> {
    return this.#values.entries();
  }

  values(): IterableIterator<T> {
    return this.#values.values();
  }

  /** Writes durably, then updates memory: memory never shows what the disk lacks. */
  async set(key: string, value: T): Promise<void> {
    const body: FileBody = { key, value };
    try {
      await writeFileAtomic(path.join(this.#dir, fileNameForKey(key)), `${JSON.stringify(body, null, 2)}\n`, this.#fileMode);
    } catch (e) {
      throw new ControlError('WEFT_ERR_STORE_IO', `cannot write ${key}: ${errorMessage(e)}`, { cause: e });
    }
    this.#values.set(key, value);
  }

  async delete(key: string): Promise<boolean> {
    if (!this.#values.has(key)) return false;
    try {
      await removeFileDurable(path.join(this.#dir, fileNameForKey(key)));
    } catch (e) {
      throw new ControlError('WEFT_ERR_STORE_IO', `cannot delete ${key}: ${errorMessage(e)}`, { cause: e });
    }
    this.#values.delete(key);
    return true;
  }
}
