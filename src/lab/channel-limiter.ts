/**
 * A counting semaphore for SSH channels on one connection. OpenSSH refuses channels beyond
 * MaxSessions (10 by default) with "Channel open failure", so every exec, SFTP session and
 * background process takes a slot first; callers beyond the bound wait in FIFO order.
 */
import { ArgumentError } from '../errors.js';

export class ChannelLimiter {
  private used = 0;
  private peakUsed = 0;
  private readonly queue: (() => void)[] = [];

  constructor(readonly max: number) {
    if (!Number.isInteger(max) || max < 1) throw new ArgumentError('ChannelLimiter', 'max', max, 'an integer of at least 1');
  }

  /** Slots in use now. */
  get inUse(): number {
    return this.used;
  }

  /** Most slots ever in use at once (for tests and reports). */
  get peak(): number {
    return this.peakUsed;
  }

  get waiting(): number {
    return this.queue.length;
  }

  /** Resolves with a release function once a slot is free; calling release twice is harmless. */
  async acquire(): Promise<() => void> {
    if (this.used >= this.max) await new Promise<void>((resolve) => this.queue.push(resolve));
    else this.used += 1; // a waiter inherits the releaser's slot, so the count is not bumped twice
    this.peakUsed = Math.max(this.peakUsed, this.used);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.queue.shift();
      if (next) next();
      else this.used -= 1;
    };
  }
}
