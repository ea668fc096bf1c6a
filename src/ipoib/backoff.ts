/**
 * The multicast join backoff of Linux ib_ipoib: a group starts with backoff 1; each failure
 * doubles it, capped at 16, and the next attempt waits that many seconds. Retries therefore
 * come 2, 4, 8, 16, 16 ... s after each failure, without limit; a success resets it to 1.
 */

export const JOIN_BACKOFF_INITIAL_S = 1;
/** IPOIB_MAX_BACKOFF_SECONDS. TODO(constants) */
export const JOIN_BACKOFF_MAX_S = 16;

/** The backoff after one more failure. */
export function nextBackoff(current: number): number {
  return Math.min(current * 2, JOIN_BACKOFF_MAX_S);
}

/** Delays before attempts 2, 3, ... after `failures` consecutive failures, in seconds (for docs and tests). */
export function backoffSchedule(failures: number): number[] {
  const out: number[] = [];
  let b = JOIN_BACKOFF_INITIAL_S;
  for (let i = 0; i < failures; i++) {
    b = nextBackoff(b);
    out.push(b);
  }
  return out;
}
