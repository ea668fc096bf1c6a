/**
 * Where the stack reads time and schedules its timers (join backoff, send-only retry, neighbour
 * solicitation and garbage collection). Injectable, so tests drive the timers with a fake
 * clock instead of waiting 16 s for a join retry.
 */

/** A handle returned by IpoibClock.setTimeout. */
export interface TimerHandle {
  unref?(): unknown;
}

export interface IpoibClock {
  /** Milliseconds, monotonic. */
  now(): number;
  setTimeout(fn: () => void, ms: number): TimerHandle;
  clearTimeout(handle: TimerHandle): void;
}

/** The process clock. Timers are unref'd: a pending retry never keeps the process alive. */
export const systemClock: IpoibClock = {
  now: () => performance.now(),
  setTimeout(fn, ms) {
    const t = setTimeout(fn, ms);
    t.unref();
    return t;
  },
  clearTimeout(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>);
  },
};

/** One restartable timer on a clock: `arm` replaces a pending shot, `cancel` drops it. */
export class OneShot {
  private handle: TimerHandle | undefined;

  constructor(private readonly clock: IpoibClock) {}

  get pending(): boolean {
    return this.handle !== undefined;
  }

  arm(ms: number, fn: () => void): void {
    this.cancel();
    this.handle = this.clock.setTimeout(() => {
      this.handle = undefined;
      fn();
    }, ms);
  }

  cancel(): void {
    if (this.handle !== undefined) this.clock.clearTimeout(this.handle);
    this.handle = undefined;
  }
}
