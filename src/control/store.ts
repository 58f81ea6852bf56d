// The resource store: every applied mesh resource, one JSON file per resource
// under <stateDir>/store/, loaded at open so a restart loses nothing.
//
// Identity is API group + kind + namespace + name: Istio's `Gateway`
// (networking.istio.io) and the Gateway API's `Gateway` (gateway.networking.k8s.io)
// are different resources that share a kind. Lookups by kind accept `Kind`
// (case-insensitive) or `Kind.group`; a bare kind that matches several groups is
// refused on delete with WEFT_ERR_AMBIGUOUS_KIND.
import path from 'node:path';
import { apiGroup, resourceKey, type Resource } from '../resources/types.js';
import { ControlError } from './errors.js';
import { JsonDir, type JsonDirLoadProblem } from './json-dir.js';
import { Listeners } from './listeners.js';
import { Mutex } from './mutex.js';
import { stableStringify } from './stable-json.js';

export type ApplyAction = 'created' | 'configured' | 'unchanged';

export interface ResourceId {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
}

export interface ApplyResult extends ResourceId {
  action: ApplyAction;
}

export interface StoreChange {
  changes: (ResourceId & { action: 'created' | 'configured' | 'deleted' })[];
}

export interface ResourceFilter {
  /** `Kind` (case-insensitive) or `Kind.group`. */
  kind?: string;
  namespace?: string;
}


function idOf(r: Resource): ResourceId {
  return { apiVersion: r.apiVersion, kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name };
}

export function kindMatches(r: Resource, kind: string): boolean {
  const k = kind.toLowerCase();
  if (r.kind.toLowerCase() === k) return true;
  const group = apiGroup(r.apiVersion);
  return group !== '' && `${r.kind}.${group}`.toLowerCase() === k;
}

/** The part of a resource that matters for "unchanged": not where it was read from. */
function content(r: Resource): string {
  return stableStringify({ apiVersion: r.apiVersion, kind: r.kind, metadata: r.metadata, spec: r.spec });
}

function parseStored(raw: unknown): Resource {
  const r = raw as Partial<Resource> | null;
  if (!r || typeof r !== 'object') throw new Error('not an object');
  if (typeof r.apiVersion !== 'string' || typeof r.kind !== 'string') throw new Error('missing apiVersion or kind');
  const m = r.metadata as Partial<Resource['metadata']> | undefined;
  if (!m || typeof m.name !== 'string' || typeof m.namespace !== 'string') throw new Error('missing metadata.name or metadata.namespace');
  return {
    apiVersion: r.apiVersion,
    kind: r.kind,
    metadata: { name: m.name, namespace: m.namespace, labels: m.labels ?? {}, annotations: m.annotations ?? {} },
    spec: r.spec,
    ...(r.origin ? { origin: r.origin } : {}),
  };
}

export class ResourceStore {
  readonly #dir: JsonDir<Resource>;
  readonly #lock = new Mutex();
  readonly #listeners: Listeners<StoreChange>;
  /** Files found at open that could not be read; they are left on disk. */
  readonly loadProblems: readonly JsonDirLoadProblem[];

  private constructor(dir: JsonDir<Resource>, problems: JsonDirLoadProblem[], onListenerError: (e: unknown) => void) {
    this.#dir = dir;
    this.loadProblems = problems;
    this.#listeners = new Listeners(onListenerError);
  }

  static async open(stateDir: string, onListenerError?: (e: unknown) => void): Promise<ResourceStore> {
    // 0600: the store holds Secrets (gateway private keys) beside everything else.
    const { dir, problems } = await JsonDir.open(path.join(stateDir, 'store'), parseStored, 0o600);
    return new ResourceStore(dir, problems, onListenerError ?? (() => {}));
  }

  /** Stores each resource; one change event for the whole call (none when nothing changed). */
  apply(resources: readonly Resource[]): Promise<ApplyResult[]> {
    return this.#lock.run(async () => {
      const results: ApplyResult[] = [];
      const changes: StoreChange['changes'] = [];
      for (const r of resources) {
        const key = resourceKey(r);
        const old = this.#dir.get(key);
        let action: ApplyAction;
        if (!old) action = 'created';
        else if (content(old) === content(r)) action = 'unchanged';
        else action = 'configured';
        if (action !== 'unchanged') {
          await this.#dir.set(key, r);
          changes.push({ ...idOf(r), action });
        }
        results.push({ ...idOf(r), action });
      }
      if (changes.length > 0) this.#listeners.emit({ changes });
      return results;
    });
  }

  /** Deletes one resource; returns it, or undefined when there was none. */
  delete(kind: string, namespace: string, name: string): Promise<Resource | undefined> {
    return this.#lock.run(async () => {
      const matches = this.#find(kind, namespace, name);
      if (matches.length > 1) {
        const options = matches.map(([, r]) => `${r.kind}.${apiGroup(r.apiVersion)}`).join(', ');
        throw new ControlError('WEFT_ERR_AMBIGUOUS_KIND', `kind "${kind}" matches ${options}; name one of them`);
      }
      const hit = matches[0];
      if (!hit) return undefined;
      await this.#dir.delete(hit[0]);
      this.#listeners.emit({ changes: [{ ...idOf(hit[1]), action: 'deleted' }] });
      return hit[1];
    });
  }

  get(kind: string, namespace: string, name: string): Resource | undefined {
    return this.#find(kind, namespace, name)[0]?.[1];
  }

  list(filter: ResourceFilter = {}): Resource[] {
    const out: Resource[] = [];
    for (const r of this.#dir.values()) {
      if (filter.kind !== undefined && !kindMatches(r, filter.kind)) continue;
      if (filter.namespace !== undefined && r.metadata.namespace !== filter.namespace) continue;
      out.push(r);
    }
    return out.sort((a, b) => resourceKey(a).localeCompare(resourceKey(b)));
  }

  get size(): number {
    return this.#dir.size;
  }

  onChange(listener: (change: StoreChange) => void): () => void {
    return this.#listeners.add(listener);
  }

  #find(kind: string, namespace: string, name: string): [string, Resource][] {
    const out: [string, Resource][] = [];
    for (const [key, r] of this.#dir.entries()) {
      if (r.metadata.name === name && r.metadata.namespace === namespace && kindMatches(r, kind)) out.push([key, r]);
    }
    return out;
  }
}
