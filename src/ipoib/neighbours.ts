/**
 * The neighbour cache of one interface: IP address → 20-octet IPoIB hardware address, learnt
 * through ARP (IPv4) or ND (IPv6). It plays both the host's ARP/ND table and ib_ipoib's
 * neighbour list, with the kernel's defaults:
 * - while an address resolves, up to 3 packets wait (IPOIB_MAX_PATH_REC_QUEUE); the 4th and
 *   later are dropped and counted;
 * - resolution sends up to 3 solicitations 1 s apart (the host's mcast_solicit and
 *   retrans_time defaults) and then gives up, dropping what waited;
 * - revalidation (RFC 4391 §9.4: a QPN can change under the same IP, so a cached address must
 *   not be trusted forever), as the host's NUD states do: an entry is REACHABLE for a reachable
 *   time (base 30 s × a random factor in [0.5, 1.5), drawn at each confirmation) after it was
 *   confirmed: an ARP reply or request, or an ND message, from that IP naming an address (a
 *   solicited NA without a target option confirms the address held). Then it is STALE; still
 *   used (send(), or a fast path's transmit reported by touch()) it goes to DELAY and keeps
 *   being used for 5 s (delay_first_probe_time); unconfirmed by then it goes to PROBE: up to 3
 *   unicast ARP requests / NS to the cached address, 1 s apart (ucast_solicit), still sending
 *   there. An answer confirms the entry (one naming another address moves it there); none
 *   sends it back to INCOMPLETE (address dropped, packets queued) for a broadcast/multicast
 *   resolution, whose failure removes it as above;
 * - garbage collection (the interface runs `collect()` every 30 s, gc_interval) removes
 *   entries idle for more than 60 s (2 × gc_interval); "idle" counts from the last packet sent
 *   to the neighbour, as the kernel refreshes `alive` on transmit only. Packets a native fast
 *   path sends bypass send(); the node reports them with touch(), so a neighbour in steady use
 *   on the fast path does not age out either.
 *
 * Differences from the kernel: a failed entry is removed at once (the kernel keeps it as FAILED
 * until garbage collection), so FAILED is never listed; the kernel draws the random reachable
 * time per table every few minutes, this table per confirmation; an ARP request from the
 * neighbour confirms it (the kernel leaves the state as it was), since it proves the address
 * just as a reply does.
 */
import { formatHwAddr, type IpoibHwAddr } from '../wire/ipoib-hwaddr.js';
import { type IpoibClock, OneShot } from './clock.js';
import type { IpoibCounters } from './counters.js';

/** Packets held per neighbour while it resolves. TODO(constants) */
export const NEIGH_QUEUE_MAX = 3;
/** Solicitations before resolution fails, and the time between them. TODO(constants) */
export const NEIGH_SOLICIT_TRIES = 3;
export const NEIGH_RETRANS_MS = 1000;
/** arp_tbl.gc_interval default, and the idle limit the kernel derives from it. TODO(constants) */
export const NEIGH_GC_INTERVAL_MS = 30_000;
export const NEIGH_IDLE_LIMIT_MS = 2 * NEIGH_GC_INTERVAL_MS;
/** base_reachable_time, delay_first_probe_time and ucast_solicit defaults. TODO(constants) */
export const NEIGH_BASE_REACHABLE_MS = 30_000;
export const NEIGH_DELAY_PROBE_MS = 5_000;
export const NEIGH_UNICAST_PROBES = 3;
/** The reachable time is the base times a random factor in [MIN, MIN + SPAN). */
const REACHABLE_FACTOR_MIN = 0.5;
const REACHABLE_FACTOR_SPAN = 1;

/** The revalidation timers (the host's per-table NUD parameters); tests shorten them. */
export interface NeighbourTimers {
  /** Base reachable time after a confirmation (randomised 0.5-1.5×). */
  reachableMs: number;
  /** How long a stale entry in use is still used before it is probed. */
  delayMs: number;
  /** Between solicitations, unicast and broadcast. */
  retransMs: number;
}

export const NEIGH_DEFAULT_TIMERS: Readonly<NeighbourTimers> = {
  reachableMs: NEIGH_BASE_REACHABLE_MS,
  delayMs: NEIGH_DELAY_PROBE_MS,
  retransMs: NEIGH_RETRANS_MS,
};

export type IpFamily = 4 | 6;
/** The kernel's NUD state names, lower case (`ipoibctl neigh` prints them upper case, as `ip neigh` does). */
export type NeighbourState = 'incomplete' | 'reachable' | 'stale' | 'delay' | 'probe';

interface Neighbour {
  readonly ip: string;
  readonly family: IpFamily;
  state: NeighbourState;
  /** Undefined exactly while incomplete. */
  hw: IpoibHwAddr | undefined;
  queue: Buffer[];
  /** Last transmit to this neighbour (or its creation): garbage collection. */
  alive: number;
  /** Last transmit, or -Infinity: whether a stale entry is in use. */
  usedAt: number;
  /** Last confirmation, or undefined. */
  confirmedAt: number | undefined;
  /** Solicitations sent in the current INCOMPLETE or PROBE phase. */
  probes: number;
  /** The one timer of the state machine: solicitation, reachable time, delay, probe. */
  readonly timer: OneShot;
}

/** A neighbour as `ipoibctl neigh` shows it. */
export interface NeighbourInfo {
  ip: string;
  family: IpFamily;
  state: NeighbourState;
  /** `ip link` form of the hardware address; null while incomplete. */
  lladdr: string | null;
  queueLen: number;
  idleMs: number;
  /** Since the last confirmation; null when never confirmed. */
  confirmedAgoMs: number | null;
}

export interface NeighbourEnv {
  readonly clock: IpoibClock;
  readonly counters: IpoibCounters;
  log(line: string): void;
  /**
   * Sends one ARP request or ND solicitation for `ip`: to the broadcast or solicited-node
   * group, or with `to` unicast to that address (a revalidation probe).
   */
  solicit(ip: string, family: IpFamily, to?: IpoibHwAddr): void;
  /** Sends a frame to a resolved hardware address (through the path table). */
  sendTo(hw: IpoibHwAddr, frame: Buffer): void;
  /**
   * The address to use for `ip` changed (learnt, moved, or dropped for a new resolution): a
   * fast path's copy and connections to the old address must follow.
   */
  addressChanged(ip: string): void;
}

const sameHw = (a: IpoibHwAddr | undefined, b: IpoibHwAddr | undefined): boolean =>
  a === b || (a !== undefined && b !== undefined && a.flags === b.flags && a.qpn === b.qpn && a.gid.equals(b.gid));

export class NeighbourTable {
  private readonly table = new Map<string, Neighbour>();
  private readonly timers: NeighbourTimers;

  constructor(
    private readonly env: NeighbourEnv,
    timers: Partial<NeighbourTimers> = {},
    /** A number in [0, 1) (the reachable time's random factor); tests may pin it. */
    private readonly random: () => number = Math.random,
  ) {
    this.timers = { ...NEIGH_DEFAULT_TIMERS, ...timers };
  }

  /** Sends an IP packet (already framed) to `ip`, resolving it first when needed. */
  send(ip: string, family: IpFamily, frame: Buffer): void {
    let n = this.table.get(ip);
    if (!n) {
      n = this.create(ip, family);
      n.usedAt = n.alive;
      n.queue.push(frame);
      this.solicitBroadcast(n);
      return;
    }
    this.used(n);
    if (n.hw) {
      this.env.sendTo(n.hw, frame);
      return;
    }
    if (n.queue.length < NEIGH_QUEUE_MAX) {
      n.queue.push(frame);
    } else {
      this.env.counters.inc('tx_dropped');
      this.env.counters.inc('tx_dropped_neigh_queue');
    }
  }

  /**
   * A peer told us where `ip` is (ARP sender, ND source or target option): the entry is
   * confirmed, at that address. Updates an entry; creates one only when `create` (an ARP
   * request or NS aimed at us, as the host stack does).
   */
  learn(ip: string, family: IpFamily, hw: IpoibHwAddr, create: boolean): void {
    let n = this.table.get(ip);
    if (!n) {
      if (!create) return;
      n = this.create(ip, family);
    }
    const moved = !sameHw(n.hw, hw);
    n.hw = { flags: hw.flags, qpn: hw.qpn, gid: Buffer.from(hw.gid) };
    this.confirmed(n);
    const waiting = n.queue;
    n.queue = [];
    if (moved) this.env.addressChanged(ip);
    for (const frame of waiting) this.env.sendTo(n.hw, frame);
  }

  /** A solicited NA without a target option: the address held is confirmed. False when there is none. */
  confirm(ip: string): boolean {
    const n = this.table.get(ip);
    if (!n?.hw) return false;
    this.confirmed(n);
    return true;
  }

  /**
   * Counts a transmit to `ip` made past send() (by a native fast path): its idle time starts
   * again, and a stale entry is revalidated. False when there is no such neighbour.
   */
  touch(ip: string): boolean {
    const n = this.table.get(ip);
    if (!n) return false;
    this.used(n);
    return true;
  }

  /** Deletes every neighbour whose GID is `gid` (its path failed), dropping what waited. */
  removeByGid(gid: Buffer): void {
    for (const n of [...this.table.values()]) {
      if (n.hw?.gid.equals(gid)) this.remove(n, 'tx_dropped_no_path');
    }
  }

  /** One garbage collection pass: removes entries idle longer than the limit. */
  collect(): void {
    const now = this.env.clock.now();
    for (const n of [...this.table.values()]) {
      if (now - n.alive > NEIGH_IDLE_LIMIT_MS) {
        this.env.counters.inc('neigh_gc_removed');
        this.remove(n, 'tx_dropped_unresolved');
      }
    }
  }

  /** Forgets everything (interface going down or away), dropping what waited; no timer is left. */
  clear(): void {
    for (const n of [...this.table.values()]) this.remove(n, 'tx_dropped_unresolved');
  }

  list(): NeighbourInfo[] {
    return [...this.table.values()].map((n) => this.info(n));
  }

  private info(n: Neighbour): NeighbourInfo {
    const now = this.env.clock.now();
    return {
      ip: n.ip,
      family: n.family,
      state: n.state,
      lladdr: n.hw ? formatHwAddr(n.hw) : null,
      queueLen: n.queue.length,
      idleMs: now - n.alive,
      confirmedAgoMs: n.confirmedAt === undefined ? null : now - n.confirmedAt,
    };
  }

  private create(ip: string, family: IpFamily): Neighbour {
    const now = this.env.clock.now();
    const n: Neighbour = { ip, family, state: 'incomplete', hw: undefined, queue: [], alive: now, usedAt: -Infinity, confirmedAt: undefined, probes: 0, timer: new OneShot(this.env.clock) };
    this.table.set(ip, n);
    return n;
  }

  /** Runs `fn` on a timer of `n`, unless `n` left the table meanwhile. */
  private arm(n: Neighbour, ms: number, fn: () => void): void {
    n.timer.arm(ms, () => {
      if (this.table.get(n.ip) === n) fn();
    });
  }

  private used(n: Neighbour): void {
    const now = this.env.clock.now();
    n.alive = now;
    n.usedAt = now;
    if (n.state === 'stale') this.delay(n);
  }

  private confirmed(n: Neighbour): void {
    n.state = 'reachable';
    n.probes = 0;
    n.confirmedAt = this.env.clock.now();
    const reachableMs = this.timers.reachableMs * (REACHABLE_FACTOR_MIN + REACHABLE_FACTOR_SPAN * this.random());
    this.arm(n, reachableMs, () => this.reachableExpired(n));
  }

  /** Reachable no more: probed soon when it was just used, else left stale until its next use. */
  private reachableExpired(n: Neighbour): void {
    if (this.env.clock.now() - n.usedAt < this.timers.delayMs) return this.delay(n);
    n.state = 'stale';
  }

  private delay(n: Neighbour): void {
    n.state = 'delay';
    this.arm(n, this.timers.delayMs, () => {
      n.state = 'probe';
      n.probes = 0;
      this.probeUnicast(n);
    });
  }

  private probeUnicast(n: Neighbour): void {
    const hw = n.hw;
    if (!hw) return; // only a resolved entry is probed; learn() or a new resolution took over
    n.probes++;
    this.env.solicit(n.ip, n.family, hw);
    this.arm(n, this.timers.retransMs, () => {
      if (n.probes < NEIGH_UNICAST_PROBES) return this.probeUnicast(n);
      this.env.log(`neighbour ${n.ip} did not answer ${n.probes} unicast solicitations to ${formatHwAddr(hw)}; resolving it again`);
      n.state = 'incomplete';
      n.hw = undefined;
      n.probes = 0;
      this.env.addressChanged(n.ip);
      this.solicitBroadcast(n);
    });
  }

  private solicitBroadcast(n: Neighbour): void {
    n.probes++;
    this.env.solicit(n.ip, n.family);
    this.arm(n, this.timers.retransMs, () => {
      if (n.state !== 'incomplete') return;
      if (n.probes < NEIGH_SOLICIT_TRIES) return this.solicitBroadcast(n);
      this.env.log(`neighbour ${n.ip} did not answer ${n.probes} solicitations`);
      this.remove(n, 'tx_dropped_unresolved');
    });
  }

  private remove(n: Neighbour, why: 'tx_dropped_unresolved' | 'tx_dropped_no_path'): void {
    n.timer.cancel();
    if (n.queue.length > 0) {
      this.env.counters.inc('tx_dropped', n.queue.length);
      this.env.counters.inc(why, n.queue.length);
    }
    n.queue = [];
    this.table.delete(n.ip);
  }
}
