/**
 * The neighbour cache of one interface: IP address → 20-octet IPoIB hardware address, learnt
 * through ARP (IPv4) or ND (IPv6). It plays both the host's ARP/ND table and ib_ipoib's
 * neighbour list, with the kernel's defaults:
 * - while an address resolves, up to 3 packets wait (IPOIB_MAX_PATH_REC_QUEUE); the 4th and
 *   later are dropped and counted;
 * - resolution sends up to 3 solicitations 1 s apart (the host's mcast_solicit and
 *   retrans_time defaults) and then gives up, dropping what waited;
 * - garbage collection (the interface runs `collect()` every 30 s, gc_interval) removes
 *   entries idle for more than 60 s (2 × gc_interval); "idle" counts from the last packet sent
 *   to the neighbour, as the kernel refreshes `alive` on transmit only. Packets a native fast
 *   path sends bypass send(); the node reports them with touch(), so a neighbour in steady use
 *   on the fast path does not age out either.
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

export type IpFamily = 4 | 6;
export type NeighbourState = 'incomplete' | 'reachable';

interface Neighbour {
  readonly ip: string;
  readonly family: IpFamily;
  state: NeighbourState;
  hw: IpoibHwAddr | undefined;
  queue: Buffer[];
  /** Last transmit to this neighbour (or its creation). */
  alive: number;
  probes: number;
  readonly probeTimer: OneShot;
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
}

export interface NeighbourEnv {
  readonly clock: IpoibClock;
  readonly counters: IpoibCounters;
  log(line: string): void;
  /** Sends one ARP request or ND solicitation for `ip`. */
  solicit(ip: string, family: IpFamily): void;
  /** Sends a frame to a resolved hardware address (through the path table). */
  sendTo(hw: IpoibHwAddr, frame: Buffer): void;
}

export class NeighbourTable {
  private readonly table = new Map<string, Neighbour>();

  constructor(private readonly env: NeighbourEnv) {}

  /** Sends an IP packet (already framed) to `ip`, resolving it first when needed. */
  send(ip: string, family: IpFamily, frame: Buffer): void {
    let n = this.table.get(ip);
    const now = this.env.clock.now();
    if (!n) {
      n = { ip, family, state: 'incomplete', hw: undefined, queue: [], alive: now, probes: 0, probeTimer: new OneShot(this.env.clock) };
      this.table.set(ip, n);
      n.queue.push(frame);
      this.probe(n);
      return;
    }
    n.alive = now;
    if (n.state === 'reachable' && n.hw) {
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
   * A peer told us where `ip` is (ARP sender, ND source or target option). Updates an entry;
   * creates one only when `create` (an ARP request or NS aimed at us, as the host stack does).
   */
  learn(ip: string, family: IpFamily, hw: IpoibHwAddr, create: boolean): void {
    let n = this.table.get(ip);
    if (!n) {
      if (!create) return;
      n = { ip, family, state: 'incomplete', hw: undefined, queue: [], alive: this.env.clock.now(), probes: 0, probeTimer: new OneShot(this.env.clock) };
      this.table.set(ip, n);
    }
    n.hw = { flags: hw.flags, qpn: hw.qpn, gid: Buffer.from(hw.gid) };
    n.state = 'reachable';
    n.probeTimer.cancel();
    const waiting = n.queue;
    n.queue = [];
    for (const frame of waiting) this.env.sendTo(n.hw, frame);
  }

  /**
   * Counts a transmit to `ip` made past send() (by a native fast path): its idle time starts
   * again. False when there is no such neighbour.
   */
  touch(ip: string): boolean {
    const n = this.table.get(ip);
    if (!n) return false;
    n.alive = this.env.clock.now();
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

  /** Forgets everything (interface going away), dropping what waited. */
  clear(): void {
    for (const n of [...this.table.values()]) this.remove(n, 'tx_dropped_unresolved');
  }

  list(): NeighbourInfo[] {
    return [...this.table.values()].map((n) => this.info(n));
  }

  private info(n: Neighbour): NeighbourInfo {
    return {
      ip: n.ip,
      family: n.family,
      state: n.state,
      lladdr: n.hw ? formatHwAddr(n.hw) : null,
      queueLen: n.queue.length,
      idleMs: this.env.clock.now() - n.alive,
    };
  }

  private probe(n: Neighbour): void {
    n.probes++;
    this.env.solicit(n.ip, n.family);
    n.probeTimer.arm(NEIGH_RETRANS_MS, () => {
      if (this.table.get(n.ip) !== n || n.state !== 'incomplete') return;
      if (n.probes < NEIGH_SOLICIT_TRIES) return this.probe(n);
      this.env.log(`neighbour ${n.ip} did not answer ${n.probes} solicitations`);
      this.remove(n, 'tx_dropped_unresolved');
    });
  }

  private remove(n: Neighbour, why: 'tx_dropped_unresolved' | 'tx_dropped_no_path'): void {
    n.probeTimer.cancel();
    if (n.queue.length > 0) {
      this.env.counters.inc('tx_dropped', n.queue.length);
      this.env.counters.inc(why, n.queue.length);
    }
    n.queue = [];
    this.table.delete(n.ip);
  }
}
