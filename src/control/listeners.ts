// A typed set of change listeners; a throwing listener never stops the others.
export class Listeners<E> {
  readonly #set = new Set<(event: E) => void>();
  constructor(private readonly onListenerError: (e: unknown) => void = () => {}) {}

  add(listener: (event: E) => void): () => void {
    this.#set.add(listener);
    return () => this.#set.delete(listener);
  }

  emit(event: E): void {
    for (const l of this.#set) {
      try {
        l(event);
      } catch (e) {
        this.onListenerError(e);
      }
    }
  }
}
