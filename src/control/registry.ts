// The workload registry: the pods the platform runs (src/model/types.ts Workload),
// put and deleted by the platform, persisted under <stateDir>/registry/.
import path from 'node:path';
import type { Workload } from '../model/types.js';
import { JsonDir, type JsonDirLoadProblem } from './json-dir.js';
import { Listeners } from './listeners.js';
import { Mutex } from './mutex.js';
import { stableStringify } from './stable-json.js';
import { validateWorkload } from './workload-validate.js';

export type RegistryAction = 'created' | 'configured' | 'unchanged' | 'deleted';

export interface RegistryChange {
  namespace: string;
  name: string;
  action: Exclude<RegistryAction, 'unchanged'>;
}

function key(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export class WorkloadRegistry {
  readonly #dir: JsonDir<Workload>;
  readonly #lock = new Mutex();
  readonly #listeners: Listeners<RegistryChange>;
  readonly loadProblems: readonly JsonDirLoadProblem[];

  private constructor(dir: JsonDir<Workload>, problems: JsonDirLoadProblem[], onListenerError: (e: unknown) => void) {
    this.#dir = dir;
    this.loadProblems = problems;
    this.#listeners = new Listeners(onListenerError);
  }

  static async open(stateDir: string, onListenerError?: (e: unknown) => void): Promise<WorkloadRegistry> {
    const { dir, problems } = await JsonDir.open(path.join(stateDir, 'registry'), validateWorkload);
    return new WorkloadRegistry(dir, problems, onListenerError ?? (() => {}));
  }

  /** Validates (throws ControlError WEFT_ERR_BAD_WORKLOAD) and stores a workload. */
  async put(input: unknown): Promise<RegistryAction> {
    const w = validateWorkload(input);
    return this.#lock.run(async () => {
      const k = key(w.namespace, w.name);
      const old = this.#dir.get(k);
      if (old && stableStringify(old) === stableStringify(w)) return 'unchanged';
      await this.#dir.set(k, w);
      const action = old ? 'configured' : 'created';
      this.#listeners.emit({ namespace: w.namespace, name: w.name, action });
      return action;
    });
  }

  delete(namespace: string, name: string): Promise<boolean> {
    return this.#lock.run(async () => {
      const removed = await this.#dir.delete(key(namespace, name));
      if (removed) this.#listeners.emit({ namespace, name, action: 'deleted' });
      return removed;
    });
  }

  get(namespace: string, name: string): Workload | undefined {
    return this.#dir.get(key(namespace, name));
  }

  list(): Workload[] {
    return [...this.#dir.values()].sort((a, b) => key(a.namespace, a.name).localeCompare(key(b.namespace, b.name)));
  }

  onChange(listener: (change: RegistryChange) => void): () => void {
    return this.#listeners.add(listener);
  }
}
