/**
 * An in-memory QP1 fabric for CM tests: N ports, LIDs 1..N, delivery on the microtask queue
 * (never inside sendMad, as a real UD send never is), optional seeded random loss, targeted
 * drops, and a log of every datagram offered to the wire so a test can decode what really went
 * out. It does not check lengths: a test port may send a malformed MAD on purpose.
 */
import type { GsiAddress, GsiPort } from '../../src/fabric/gsi.js';

export interface GsiLoopbackOptions {
  /** Probability (0..1) that a datagram is lost. */
  lossRate?: number;
  /** Seed of the loss generator (default 1): the same seed loses the same datagrams. */
  seed?: number;
  /** Timestamps for the log (e.g. a fake clock's now). */
  now?: () => number;
}

export interface WireRecord {
  /** Index of the sending port. */
  from: number;
  to: GsiAddress;
  /** A copy of what was sent. */
  mad: Buffer;
  at: number;
  /** Why it never arrived, if it did not. */
  lost?: 'random' | 'dropWhen' | 'noRoute';
}

export type DropPredicate = (mad: Buffer, from: number, to: GsiAddress) => boolean;

export interface GsiLoopback {
  readonly ports: GsiPort[];
  readonly wire: WireRecord[];
  /** Drops the next `count` datagrams matching `pred` (default: every one, forever). */
  dropWhen(pred: DropPredicate, count?: number): void;
  setLossRate(rate: number): void;
}

/** mulberry32: a small, seedable PRNG; quality is irrelevant here, repeatability is not. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 0x1_0000_0000;
  };
}

/** CA GUID of loopback port `i` (0-based). */
export function loopbackCaGuid(i: number): bigint {
  return 0x0002_c903_00a0_0000n + BigInt(i + 1);
}

export function createGsiLoopback(nPorts: number, o: GsiLoopbackOptions = {}): GsiLoopback {
  const random = prng(o.seed ?? 1);
  let lossRate = o.lossRate ?? 0;
  const now = o.now ?? (() => 0);
  const wire: WireRecord[] = [];
  const drops: { pred: DropPredicate; left: number }[] = [];
  const subscribers: Set<(mad: Buffer, from: GsiAddress) => void>[] = [];
  const ports: GsiPort[] = [];

  for (let i = 0; i < nPorts; i++) {
    const caGuid = loopbackCaGuid(i);
    const gid = Buffer.alloc(16);
    gid.writeBigUInt64BE(0xfe80_0000_0000_0000n, 0);
    gid.writeBigUInt64BE(caGuid, 8);
    const subs = new Set<(mad: Buffer, from: GsiAddress) => void>();
    subscribers.push(subs);
    ports.push({
      lid: i + 1,
      gid,
      caGuid,
      sendMad(to, mad) {
        const rec: WireRecord = { from: i, to: { ...to }, mad: Buffer.from(mad), at: now() };
        wire.push(rec);
        const target = subscribers[to.lid - 1];
        if (!target) {
          rec.lost = 'noRoute';
          return;
        }
        const drop = drops.find((d) => d.left > 0 && d.pred(rec.mad, i, to));
        if (drop) {
          drop.left--;
          rec.lost = 'dropWhen';
          return;
        }
        if (lossRate > 0 && random() < lossRate) {
          rec.lost = 'random';
          return;
        }
        const from: GsiAddress = { lid: i + 1, gid: Buffer.from(gid), qpn: 1, pkeyIndex: to.pkeyIndex ?? 0 };
        queueMicrotask(() => {
          for (const cb of [...target]) cb(Buffer.from(rec.mad), { ...from });
        });
      },
      onMad(cb) {
        subs.add(cb);
        return () => {
          subs.delete(cb);
        };
      },
    });
  }

  return {
    ports,
    wire,
    dropWhen(pred, count = Number.POSITIVE_INFINITY) {
      drops.push({ pred, left: count });
    },
    setLossRate(rate) {
      lossRate = rate;
    },
  };
}
