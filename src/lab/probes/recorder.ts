/**
 * What a probe keeps of one stream of arrivals (a QP's frames, QP1's MADs): the list in arrival
 * order, waits for a matching item with a deadline, and "everything within a window" for checks
 * that something does NOT arrive. Shared by the probe implementations.
 */
import { ProbeTimeoutError, StateError } from '../../errors.js';

interface Waiter<T> {
  match: (item: T) => boolean;
  resolve: (item: T) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export class Recorder<T> {
  private items: T[] = [];
  private readonly waiters = new Set<Waiter<T>>();
  /** Open collect() windows: their timers and how to end them early. */
  private readonly windows = new Map<NodeJS.Timeout, () => void>();
  private closed = false;

  /** `what` names one item in timeout messages, e.g. "frame on QP 0x000012". */
  constructor(private readonly what: string) {}

  add(item: T): void {
    if (this.closed) return;
    this.items.push(item);
    for (const w of [...this.waiters]) {
      if (!w.match(item)) continue;
      this.waiters.delete(w);
      clearTimeout(w.timer);
      w.resolve(item);
    }
  }

  all(): readonly T[] {
    return this.items;
  }

  clear(): void {
    this.items = [];
  }

  /** The first item (already here or arriving) that matches; ProbeTimeoutError after timeoutMs. */
  waitFor(match: (item: T) => boolean, timeoutMs: number): Promise<T> {
    if (this.closed) return Promise.reject(new StateError(`waitFor(${this.what})`, 'closed'));
    const found = this.items.find(match);
    if (found !== undefined) return Promise.resolve(found);
    const countAtStart = this.items.length;
    return new Promise<T>((resolve, reject) => {
      const w: Waiter<T> = {
        match,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.waiters.delete(w);
          reject(new ProbeTimeoutError(`matching ${this.what}`, timeoutMs, this.items.length - countAtStart));
        }, timeoutMs),
      };
      this.waiters.add(w);
    });
  }

  /** Every matching item received (since creation or the last clear()) once windowMs has passed. */
  collect(match: (item: T) => boolean, windowMs: number): Promise<T[]> {
    if (this.closed) return Promise.reject(new StateError(`collect(${this.what})`, 'closed'));
    return new Promise<T[]>((resolve) => {
      const end = (): void => {
        clearTimeout(timer);
        this.windows.delete(timer);
        resolve(this.items.filter(match));
      };
      const timer = setTimeout(end, windowMs);
      this.windows.set(timer, end);
    });
  }

  /** Stops recording; pending waits reject with StateError, open windows end now with what they have. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.waiters) {
      clearTimeout(w.timer);
      w.reject(new StateError(`waitFor(${this.what})`, 'closed'));
    }
    this.waiters.clear();
    for (const end of [...this.windows.values()]) end();
  }
}
