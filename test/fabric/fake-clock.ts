/**
 * A deterministic CmClock for tests: time moves only in tick(), timers fire in due order
 * (ties in the order they were set), and queued microtasks (MAD deliveries, promise callbacks)
 * run to completion before each timer and at the end of every tick.
 */
import type { CmClock, CmTimerHandle } from '../../src/fabric/sim/cm-timing.js';

interface FakeTimer extends CmTimerHandle {
  readonly id: number;
  readonly due: number;
  readonly fn: () => void;
  unrefd: boolean;
}

export interface FakeClock extends CmClock {
  /** Advances time by `ms`, firing every timer that falls due on the way. */
  tick(ms: number): Promise<void>;
  /** Lets queued deliveries and promise callbacks run without moving time. */
  settle(): Promise<void>;
  /** Timers set and neither fired nor cleared. */
  pendingTimers(): number;
  /** Every timer ever set, and whether it was unref'd. */
  readonly created: readonly { unrefd: boolean }[];
}

function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function createFakeClock(start = 0): FakeClock {
  let now = start;
  let nextId = 1;
  const timers = new Map<number, FakeTimer>();
  const created: FakeTimer[] = [];

  return {
    now: () => now,
    setTimeout(fn, ms) {
      const t: FakeTimer = {
        id: nextId++,
        due: now + Math.max(0, ms),
        fn,
        unrefd: false,
        unref() {
          t.unrefd = true;
        },
      };
      timers.set(t.id, t);
      created.push(t);
      return t;
    },
    clearTimeout(handle) {
      timers.delete((handle as FakeTimer).id);
    },
    async tick(ms) {
      const target = now + ms;
      for (;;) {
        await drainMicrotasks();
        let next: FakeTimer | undefined;
        for (const t of timers.values()) {
          if (t.due <= target && (!next || t.due < next.due || (t.due === next.due && t.id < next.id))) next = t;
        }
        if (!next) break;
        timers.delete(next.id);
        now = next.due;
        next.fn();
      }
      now = target;
      await drainMicrotasks();
    },
    settle: drainMicrotasks,
    pendingTimers: () => timers.size,
    created,
  };
}
