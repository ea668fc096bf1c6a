/**
 * Keeps a TUN data plane's neighbour and multicast tables equal to what the control plane
 * knows. sync() compares the wanted entries with those installed and applies the difference,
 * so it may run as often as the node likes (after every punt batch, on a short timer): a
 * neighbour appears once it is resolved and its PathRecord known, and goes when the control
 * plane forgets it (aged out, path failed, flushed); in connected mode a neighbour with the RC
 * flag carries `connecting` until its connection is up, then `rc` (the QP and the peer's MTU);
 * a group entry appears while its IB group is joined with an MLID and goes when it is left.
 *
 * The data plane looks multicast up by IP address, the control plane by MGID, so the node
 * says which IP addresses to map (track()): the broadcast addresses, the host's groups, and
 * every group address a host packet was sent to.
 *
 * The other way, takeUsed() says which installed entries the fast path sent to since the last
 * call, in the control plane's terms (its neighbours' IP text, its groups' MGIDs), so their
 * ageing counts those transmits.
 */
import { isIPv4 } from 'node:net';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../wire/ip-text.js';
import { formatGid, mgidForIpv4Group, mgidForIpv6Group, parseGid } from '../wire/mgid.js';
import type { IpoibInterface } from './interface.js';
import type { TunDataPlane } from './native/tun-data-plane.js';

/** What the tables read of the control plane. */
export type TablesSource = Pick<IpoibInterface, 'carrier' | 'pkey' | 'fastPathNeighbours' | 'multicastGroups' | 'broadcastMgid' | 'addressList'>;
/** What they write into the data plane. */
export type TablesTarget = Pick<TunDataPlane, 'closed' | 'setNeighbour' | 'deleteNeighbour' | 'setMulticast' | 'deleteMulticast' | 'takeUsed'>;

/** Installed entries the fast path sent to: neighbours by the control plane's IP text, groups by MGID. */
export interface FastPathUse {
  neighbours: string[];
  mgids: string[];
}

const LIMITED_BROADCAST = '255.255.255.255';

interface InstalledNeighbour {
  dlid: number;
  dqpn: number;
  flags: number;
  sl: number;
  rc?: { qpn: number; mtu: number };
  connecting?: boolean;
}

function sameNeighbour(a: InstalledNeighbour, b: InstalledNeighbour): boolean {
  return (
    a.dlid === b.dlid &&
    a.dqpn === b.dqpn &&
    a.flags === b.flags &&
    a.sl === b.sl &&
    a.rc?.qpn === b.rc?.qpn &&
    a.rc?.mtu === b.rc?.mtu &&
    (a.connecting ?? false) === (b.connecting ?? false)
  );
}

interface InstalledGroup {
  mlid: number;
  mgid: string;
}

export class FastPathTables {
  private readonly neighbours = new Map<string, InstalledNeighbour>();
  private readonly groups = new Map<string, InstalledGroup>();
  /** IP group or broadcast address → how it maps: the broadcast group, or by the IP itself. */
  private readonly tracked = new Map<string, 'broadcast' | 'group'>();

  constructor(
    private readonly iface: TablesSource,
    private plane: TablesTarget,
  ) {
    this.tracked.set(LIMITED_BROADCAST, 'broadcast');
  }

  /** Maps a multicast IP address (224/4, ff00::/8) to its group from now on. */
  track(ip: string): void {
    if (!this.tracked.has(ip)) this.tracked.set(ip, 'group');
  }

  /** Stops mapping an address the node tracked (the host left the group). */
  untrack(ip: string): void {
    if (this.tracked.get(ip) === 'group') this.tracked.delete(ip);
  }

  sizes(): { neighbours: number; groups: number } {
    return { neighbours: this.neighbours.size, groups: this.groups.size };
  }

  /**
   * The installed entries the data plane looked up since the last call (their marks are
   * cleared). An address the data plane names but no longer installed here (deleted meanwhile)
   * is left out.
   */
  takeUsed(): FastPathUse {
    if (this.plane.closed) return { neighbours: [], mgids: [] };
    const used = this.plane.takeUsed();
    const neighbours: string[] = [];
    if (used.neighbours.length > 0) {
      // The data plane formats addresses its own way; match them by their octets.
      const installed = new Map([...this.neighbours.keys()].map((ip) => [canonicalIp(ip), ip] as const));
      for (const ip of used.neighbours) {
        const ours = installed.get(canonicalIp(ip));
        if (ours !== undefined) neighbours.push(ours);
      }
    }
    const mgids = new Set<string>();
    if (used.groups.length > 0) {
      const installed = new Map([...this.groups].map(([ip, g]) => [canonicalIp(ip), g.mgid] as const));
      for (const ip of used.groups) {
        const mgid = installed.get(canonicalIp(ip));
        if (mgid !== undefined) mgids.add(mgid);
      }
    }
    return { neighbours, mgids: [...mgids] };
  }

  /** Applies the difference between the control plane's tables and the data plane's. */
  sync(): void {
    if (this.plane.closed) return;
    this.syncNeighbours();
    this.syncGroups();
  }

  /** Follows a new data plane (empty tables): what is wanted is installed by the next sync(). */
  retarget(plane: TablesTarget): void {
    this.plane = plane;
    this.neighbours.clear();
    this.groups.clear();
  }

  /** Forgets every installed entry (the data plane's tables go with it, or are being emptied). */
  clear(): void {
    if (!this.plane.closed) {
      for (const ip of this.neighbours.keys()) this.plane.deleteNeighbour(ip);
      for (const ip of this.groups.keys()) this.plane.deleteMulticast(ip);
    }
    this.neighbours.clear();
    this.groups.clear();
  }

  private syncNeighbours(): void {
    const wanted = new Map<string, InstalledNeighbour>();
    if (this.iface.carrier) {
      for (const n of this.iface.fastPathNeighbours()) {
        wanted.set(n.ip, {
          dlid: n.dlid,
          dqpn: n.qpn,
          flags: n.flags,
          sl: n.sl,
          ...(n.rc ? { rc: { ...n.rc } } : {}),
          ...(n.connecting ? { connecting: true } : {}),
        });
      }
    }
    for (const ip of [...this.neighbours.keys()]) {
      if (wanted.has(ip)) continue;
      this.plane.deleteNeighbour(ip);
      this.neighbours.delete(ip);
    }
    for (const [ip, n] of wanted) {
      const had = this.neighbours.get(ip);
      if (had && sameNeighbour(had, n)) continue;
      this.plane.setNeighbour(ip, n);
      this.neighbours.set(ip, n);
    }
  }

  private syncGroups(): void {
    const joined = new Map<string, number>();
    if (this.iface.carrier) {
      for (const g of this.iface.multicastGroups()) if (g.joined && g.mlid !== null) joined.set(g.mgid, g.mlid);
    }
    const broadcasts = new Set([LIMITED_BROADCAST, ...this.subnetBroadcasts()]);
    const wanted = new Map<string, InstalledGroup>();
    const addresses = new Set([...this.tracked.keys(), ...broadcasts]);
    for (const ip of addresses) {
      const mgid = broadcasts.has(ip) ? formatGid(this.iface.broadcastMgid()) : this.mgidOf(ip);
      const mlid = mgid === undefined ? undefined : joined.get(mgid);
      if (mgid !== undefined && mlid !== undefined) wanted.set(ip, { mlid, mgid });
    }
    for (const ip of [...this.groups.keys()]) {
      if (wanted.has(ip)) continue;
      this.plane.deleteMulticast(ip);
      this.groups.delete(ip);
    }
    for (const [ip, g] of wanted) {
      const had = this.groups.get(ip);
      if (had && had.mlid === g.mlid && had.mgid === g.mgid) continue;
      this.plane.setMulticast(ip, { mlid: g.mlid, mgid: parseGid(g.mgid) });
      this.groups.set(ip, g);
    }
  }

  /** The directed broadcast address of every IPv4 address on the interface (`a.b.c.255/24`). */
  private subnetBroadcasts(): string[] {
    const out: string[] = [];
    for (const cidr of this.iface.addressList(4)) {
      const [ip, len] = cidr.split('/');
      const prefix = Number(len);
      if (ip === undefined || !(prefix >= 0 && prefix <= 30)) continue;
      const n = ip.split('.').reduce((acc, o) => ((acc << 8) | Number(o)) >>> 0, 0);
      const host = prefix === 0 ? 0xffffffff : (0xffffffff >>> prefix) >>> 0;
      const b = (n | host) >>> 0;
      out.push([b >>> 24, (b >>> 16) & 0xff, (b >>> 8) & 0xff, b & 0xff].join('.'));
    }
    return out;
  }

  private mgidOf(ip: string): string | undefined {
    try {
      const mgid = ip.includes(':') ? mgidForIpv6Group(ip, this.iface.pkey) : mgidForIpv4Group(ip, this.iface.pkey);
      return formatGid(mgid);
    } catch {
      return undefined; // not a group address: nothing to map
    }
  }
}

/** One text form per address (the octets, formatted again), so two spellings compare equal. */
function canonicalIp(ip: string): string {
  return isIPv4(ip) ? formatIpv4(parseIpv4(ip)) : formatIpv6(parseIpv6(ip));
}
