// @peculiar/x509 2.x loads tsyringe, which needs Reflect.getMetadata and friends at import
// time and no polyfill package is installed: a minimal one, for these tests only.
// Import it before '@peculiar/x509'.
const store = new WeakMap<object, Map<unknown, Map<unknown, unknown>>>();

function table(target: object, prop: unknown, create: boolean): Map<unknown, unknown> | undefined {
  let byProp = store.get(target);
  if (!byProp) {
    if (!create) return undefined;
    store.set(target, (byProp = new Map()));
  }
  let t = byProp.get(prop);
  if (!t && create) byProp.set(prop, (t = new Map()));
  return t;
}

function find(key: unknown, target: object, prop: unknown): Map<unknown, unknown> | undefined {
  for (let t: object | null = target; t; t = Object.getPrototypeOf(t) as object | null) {
    const m = table(t, prop, false);
    if (m?.has(key)) return m;
  }
  return undefined;
}

const api: Record<string, unknown> = {
  defineMetadata: (key: unknown, value: unknown, target: object, prop?: unknown) => void table(target, prop, true)!.set(key, value),
  getOwnMetadata: (key: unknown, target: object, prop?: unknown) => table(target, prop, false)?.get(key),
  hasOwnMetadata: (key: unknown, target: object, prop?: unknown) => table(target, prop, false)?.has(key) ?? false,
  getMetadata: (key: unknown, target: object, prop?: unknown) => find(key, target, prop)?.get(key),
  hasMetadata: (key: unknown, target: object, prop?: unknown) => find(key, target, prop) !== undefined,
  metadata: (key: unknown, value: unknown) => (target: object, prop?: unknown) => void table(target, prop, true)!.set(key, value),
};

const R = Reflect as unknown as Record<string, unknown>;
for (const [name, fn] of Object.entries(api)) if (typeof R[name] !== 'function') R[name] = fn;

export {};
