/**
 * Time in the connection manager: the IBA's 5-bit time exponents (4.096 µs × 2^n, used by the
 * CM response timeouts, PacketLifeTime and the ACK timeouts), the defaults the CM uses, and the
 * clock the CM schedules retries and time-wait on (injectable, so tests run on a fake one).
 *
 * How the waits are derived (Linux drivers/infiniband/core/cm.c does the same, with a coarser
 * power-of-two conversion to milliseconds):
 * - the active side waits RemoteCMResponseTimeout (which it puts in its REQ) plus two packet
 *   lifetimes for a REP, and sends the REQ at most 1 + MaxCMRetries times;
 * - the passive side waits the REQ's LocalCMResponseTimeout plus two packet lifetimes for an
 *   RTU, and sends the REP at most 1 + MaxCMRetries times (MaxCMRetries from the REQ);
 * - a DREQ is retried with the same wait and count as the handshake of its connection;
 * - time-wait lasts about two packet lifetimes, so that stray packets of the old connection are
 *   gone before its comm ID and QP can be reused.
 */
import { checkUint } from '../../wire/codec.js';

// What Linux IPoIB-CM puts in its REQ's response-timeout fields (≈ 4.3 s) and MaxCMRetries.
export { IPOIB_CM_MAX_CM_RETRIES, IPOIB_CM_RESPONSE_TIMEOUT } from '../../wire/constants.js';
/**
 * PacketLifeTime assumed for CM paths: 0x12, the subnet timeout OpenSM's PathRecords carry
 * (the same default as the sim's subnet-manager DEFAULT_PACKET_LIFE_TIME).
 */
export const CM_DEFAULT_PACKET_LIFE_TIME = 0x12;

/** 4.096 µs × 2^exponent in milliseconds, exactly (2^(n+12) ns). */
export function ibTimeMs(exponent: number): number {
  checkUint('cm.timeExponent', -1, exponent, 5);
  return 2 ** (exponent + 12) / 1e6;
}

/** The smallest exponent whose ibTimeMs() is at least `ms` (31 when none is). */
export function ibTimeExponentFor(ms: number): number {
  if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`cm: ${ms} ms is not a duration`);
  for (let n = 0; n < 31; n++) if (ibTimeMs(n) >= ms) return n;
  return 31;
}

/** How long a sender waits for the answer to a CM message: the response timeout plus a round trip. */
export function cmResponseWaitMs(responseTimeout: number, packetLifeTime: number): number {
  return Math.ceil(ibTimeMs(responseTimeout) + 2 * ibTimeMs(packetLifeTime));
}

/** Time-wait after a connection ends: two packet lifetimes. */
export function cmTimewaitMs(packetLifeTime: number): number {
  return Math.ceil(2 * ibTimeMs(packetLifeTime));
}

/** A handle returned by CmClock.setTimeout. */
export interface CmTimerHandle {
  unref?(): unknown;
}

/** Where the CM reads time and schedules its timers. */
export interface CmClock {
  /** Milliseconds, monotonic. */
  now(): number;
  setTimeout(fn: () => void, ms: number): CmTimerHandle;
  clearTimeout(handle: CmTimerHandle): void;
}

/** The process clock. Timers are unref'd: a pending CM retry never keeps the process alive. */
export const systemClock: CmClock = {
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
