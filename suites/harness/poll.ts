/**
 * Waiting for a state the DUT or the fabric reaches in its own time (carrier, a join, a leave,
 * a P_Key table): read it again until it holds or the time is up. A timeout is never thrown:
 * the case asserts on `reached` with its own context, so a failure says what was expected and
 * what was last seen.
 */

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** How long a state the DUT reaches by itself (carrier, a join, a leave) gets by default. */
export const SETTLE_TIMEOUT_MS = 3_000;
/** How often such a state is read again. */
const POLL_INTERVAL_MS = 100;

export interface Polled<T> {
  /** The last value read. */
  value: T;
  /** Whether `done` held for it. */
  reached: boolean;
  /** Milliseconds from the first read until the last one. */
  waitedMs: number;
}

/** Reads `read()` until `done` holds or `timeoutMs` passes; every read is awaited before the next. */
export async function poll<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number, intervalMs = POLL_INTERVAL_MS): Promise<Polled<T>> {
  const started = performance.now();
  for (;;) {
    const value = await read();
    const waitedMs = Math.round(performance.now() - started);
    if (done(value)) return { value, reached: true, waitedMs };
    if (waitedMs >= timeoutMs) return { value, reached: false, waitedMs };
    await sleep(intervalMs);
  }
}
