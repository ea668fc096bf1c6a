/**
 * A small typed event list for the CM's owners. Unlike Node's EventEmitter, an 'error' event
 * with nobody listening is not thrown, and a listener that throws never breaks the CM's state
 * machine: the exception goes to `onListenerError` and the other listeners still run.
 */
export class Listeners<M extends object> {
  private readonly lists = new Map<keyof M, Set<(payload: never) => void>>();

  constructor(private readonly onListenerError: (err: unknown) => void = () => {}) {}

  /** Subscribes; returns the unsubscribe function. */
  on<K extends keyof M>(event: K, cb: (payload: M[K]) => void): () => void {
    let set = this.lists.get(event);
    if (!set) {
      set = new Set();
      this.lists.set(event, set);
    }
    const fn = cb as (payload: never) => void;
    set.add(fn);
    return () => {
      set.delete(fn);
    };
  }

  emit<K extends keyof M>(event: K, payload: M[K]): void {
    const set = this.lists.get(event);
    if (!set) return;
    for (const cb of [...set]) {
      try {
        (cb as (p: M[K]) => void)(payload);
      } catch (err) {
        this.onListenerError(err);
      }
    }
  }

  clear(): void {
    this.lists.clear();
  }
}
