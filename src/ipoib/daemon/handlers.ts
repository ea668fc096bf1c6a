/**
 * What each ipoibd control command does to the IpoibHost, and what it answers. The rules for
 * which interface has which sysfs file come from Linux ib_ipoib: a parent has create_child,
 * delete_child, mode, pkey and umcast; a legacy child (create_child) has mode, pkey, umcast and
 * parent; a netlink child (`link add`) has none of them (so `pkey` and `parent` on it are
 * ENOENT), but mode and umcast still change through netlink's changelink, so those work on
 * every interface here.
 */
import { IpoibControlError } from '../../errors.js';
import type { IpoibHost } from '../host.js';
import type { CmConnectionInfo, CmStatus } from '../cm/cm-manager.js';
import type { InterfaceInfo, IpoibInterface, IpoibMode } from '../interface.js';
import type { McastGroupInfo } from '../mcast-manager.js';
import type { NeighbourInfo } from '../neighbours.js';
import type { DataPlaneBinding } from './daemon.js';
import type { DaemonRequest } from './protocol.js';

/** `show` for one interface: InterfaceInfo plus what `ip link` prints in its flags. */
export interface ShowResult extends InterfaceInfo {
  adminUp: boolean;
  /** `ip link` flags: BROADCAST, MULTICAST, UP when admin up, LOWER_UP with carrier. */
  flags: string[];
  /** RFC 2863 operstate as `ip link` shows it (see operstateOf). */
  operstate: 'UP' | 'DOWN' | 'LOWERLAYERDOWN';
  debugLevel: number;
}

export interface StatsResult {
  /** The kernel's eight `ethtool -S` counters, in its order. */
  ethtool: Array<[string, number]>;
  /** Every counter by name, the stack's extras included. */
  all: Record<string, number>;
}

export type HandlerResult =
  /** `defects`: the seeded defects the daemon runs with (empty for a conforming stack), so a report can tell. */
  | { kind: 'hello'; pid: number; node: string; fabric: string; interfaces: string[]; defects: string[] }
  | { kind: 'show'; interfaces: ShowResult[]; defects: string[] }
  | { kind: 'mode'; ifname: string; mode: IpoibMode }
  | { kind: 'cm'; ifname: string; mode: IpoibMode; status: CmStatus; connections: CmConnectionInfo[] }
  | { kind: 'umcast'; ifname: string; umcast: 0 | 1 }
  | { kind: 'mtu'; ifname: string; mtu: number; adminMtu: number; mcastMtu: number }
  | { kind: 'stats'; ifname: string; stats: StatsResult }
  | { kind: 'mcg'; ifname: string; text: string; groups: McastGroupInfo[] }
  | { kind: 'path'; ifname: string; text: string }
  | { kind: 'neigh'; ifname: string; neighbours: NeighbourInfo[] }
  | { kind: 'neigh-flushed'; ifname: string; neighbours: number; paths: number }
  | { kind: 'addresses'; ifname: string; ipv4: string[]; ipv6: string[] }
  | { kind: 'pkey'; ifname: string; pkey: number; text: string }
  | { kind: 'parent'; ifname: string; parent: string }
  | { kind: 'created'; ifname: string }
  | { kind: 'deleted'; ifname: string }
  | { kind: 'debug'; ifname: string; level: number }
  | { kind: 'link'; ifname: string; adminUp: boolean };

export interface HandlerContext {
  host: IpoibHost;
  /** The seeded defects the daemon runs with (TEST ONLY; empty normally). */
  defects: readonly string[];
  node: string;
  fabric: string;
  /** Per-interface debug levels (the daemon logs an interface's own lines only above 0). */
  debugLevels: Map<string, number>;
  /** Admin state of each interface, which IpoibInterface keeps private. */
  adminUp: Set<string>;
  /**
   * Binds a child to its own TUN device when it comes up (the daemon has a namespace and a
   * data plane); the binding then adds the addresses and brings the child up itself.
   */
  bindChild?: (iface: IpoibInterface, addresses: readonly string[]) => Promise<DataPlaneBinding>;
  /** The children's TUN bindings by interface name. */
  childPlanes: Map<string, DataPlaneBinding>;
  /** The parent's TUN binding, once bound. */
  parentPlane?: { ifname: string; binding: DataPlaneBinding };
}

function iface(ctx: HandlerContext, name: string, op: string): IpoibInterface {
  const i = ctx.host.get(name);
  if (!i) throw new IpoibControlError(op, 'ENODEV', `no IPoIB device ${name}`);
  return i;
}

/**
 * The kernel's rule for a netdev without carrier: LOWERLAYERDOWN when its iflink is another
 * device (an ipoib child's is its parent), DOWN otherwise (a parent's is itself).
 */
function operstateOf(adminUp: boolean, carrier: boolean, childType: IpoibInterface['childType']): ShowResult['operstate'] {
  if (!adminUp) return 'DOWN';
  if (carrier) return 'UP';
  return childType === 'parent' ? 'DOWN' : 'LOWERLAYERDOWN';
}

function showOf(ctx: HandlerContext, i: IpoibInterface): ShowResult {
  const adminUp = ctx.adminUp.has(i.name);
  const flags = ['BROADCAST', 'MULTICAST', ...(adminUp ? ['UP'] : []), ...(i.carrier ? ['LOWER_UP'] : [])];
  return { ...i.info(), adminUp, flags, operstate: operstateOf(adminUp, i.carrier, i.childType), debugLevel: ctx.debugLevels.get(i.name) ?? 0 };
}

function addressesOf(i: IpoibInterface): HandlerResult {
  return { kind: 'addresses', ifname: i.name, ipv4: i.addressList(4), ipv6: i.addressList(6) };
}

const hex4 = (n: number): string => `0x${n.toString(16).padStart(4, '0')}`;

/** What sysfs `mode` takes, exactly (ipoib's mode_store compares with strcmp). */
const MODE_TEXT: ReadonlyMap<string, IpoibMode> = new Map([
  ['datagram\n', 'datagram'],
  ['connected\n', 'connected'],
]);

/**
 * An interface's counters with its data plane's folded in. With a TUN data plane every received
 * frame crosses the plane (it punts ARP, ND and the unusual to the stack), so receive counts are
 * the plane's; sends come from both (the fast path through the plane, the stack's own ARP/ND and
 * first packets straight on the QP), so they add up, as do errors and drops. The plane counts
 * octets with the 4-octet header, the kernel's rx_bytes without it: corrected here. The plane's
 * own extras appear as `plane_*`.
 */
export function mergeStats(ethtool: Array<[string, number]>, all: Record<string, number>, plane: Readonly<Record<string, number>> | undefined): StatsResult {
  if (!plane) return { ethtool, all };
  const stack = Object.fromEntries(ethtool) as Record<string, number>;
  const p = (k: string): number => plane[k] ?? 0;
  const merged: Record<string, number> = {
    rx_packets: p('rx_packets'),
    tx_packets: p('tx_packets') + (stack.tx_packets ?? 0),
    rx_bytes: Math.max(0, p('rx_bytes') - 4 * p('rx_packets')),
    tx_bytes: p('tx_bytes') + (stack.tx_bytes ?? 0),
    tx_errors: p('tx_errors') + (stack.tx_errors ?? 0),
    rx_dropped: p('rx_dropped') + (stack.rx_dropped ?? 0),
    tx_dropped: p('tx_dropped') + (stack.tx_dropped ?? 0),
    multicast: p('multicast'),
  };
  const planeExtras = Object.fromEntries(Object.entries(plane).map(([k, v]) => [`plane_${k}`, v]));
  return { ethtool: ethtool.map(([k]) => [k, merged[k] ?? 0]), all: { ...all, ...merged, ...planeExtras } };
}

/** Runs one validated request. Throws IpoibControlError (or another Error) on failure. */
export async function handle(ctx: HandlerContext, r: DaemonRequest): Promise<HandlerResult> {
  switch (r.cmd) {
    case 'hello':
      return { kind: 'hello', pid: process.pid, node: ctx.node, fabric: ctx.fabric, interfaces: ctx.host.list().map((i) => i.name), defects: [...ctx.defects] };
    case 'show': {
      const list = r.ifname === undefined ? ctx.host.list() : [iface(ctx, r.ifname, `${r.ifname}.show`)];
      return { kind: 'show', interfaces: list.map((i) => showOf(ctx, i)), defects: [...ctx.defects] };
    }
    case 'mode': {
      const i = iface(ctx, r.ifname, `${r.ifname}.mode`);
      if (r.value !== undefined) {
        // The kernel compares the whole written text, newline included, case-sensitively:
        // `echo connected` works, `printf connected` is EINVAL.
        const word = MODE_TEXT.get(r.value);
        if (word === undefined) throw new IpoibControlError(`${r.ifname}.mode`, 'EINVAL', `${JSON.stringify(r.value)} is neither "datagram\\n" nor "connected\\n"`);
        i.setMode(word);
      }
      return { kind: 'mode', ifname: i.name, mode: i.mode };
    }
    case 'cm': {
      const i = iface(ctx, r.ifname, `${r.ifname}.cm`);
      return { kind: 'cm', ifname: i.name, mode: i.mode, status: i.info().cm, connections: i.connections() };
    }
    case 'umcast': {
      const i = iface(ctx, r.ifname, `${r.ifname}.umcast`);
      if (r.value !== undefined) i.setUmcast(r.value);
      return { kind: 'umcast', ifname: i.name, umcast: i.umcast };
    }
    case 'mtu': {
      const i = iface(ctx, r.ifname, `${r.ifname}.mtu`);
      if (r.value !== undefined) i.setMtu(r.value);
      const info = i.info();
      return { kind: 'mtu', ifname: i.name, mtu: info.mtu, adminMtu: info.adminMtu, mcastMtu: info.mcastMtu };
    }
    case 'stats': {
      const i = iface(ctx, r.ifname, `${r.ifname}.stats`);
      const plane = ctx.parentPlane?.ifname === i.name ? ctx.parentPlane.binding : ctx.childPlanes.get(i.name);
      return { kind: 'stats', ifname: i.name, stats: mergeStats(i.ethtoolStats(), i.stats(), plane?.counters?.()) };
    }
    case 'mcg': {
      const i = iface(ctx, r.ifname, `${r.ifname}_mcg`);
      return { kind: 'mcg', ifname: i.name, text: i.mcgDump(), groups: i.multicastGroups() };
    }
    case 'path': {
      const i = iface(ctx, r.ifname, `${r.ifname}_path`);
      return { kind: 'path', ifname: i.name, text: i.pathDump() };
    }
    case 'neigh': {
      const i = iface(ctx, r.ifname, `${r.ifname}.neigh`);
      return { kind: 'neigh', ifname: i.name, neighbours: i.neighbours() };
    }
    case 'neigh_flush': {
      const i = iface(ctx, r.ifname, `${r.ifname}.neigh`);
      return { kind: 'neigh-flushed', ifname: i.name, ...i.flushNeighbours() };
    }
    case 'addr_add': {
      const i = iface(ctx, r.ifname, `${r.ifname}.addr`);
      i.addAddress(r.address);
      return addressesOf(i);
    }
    case 'addr_del': {
      const i = iface(ctx, r.ifname, `${r.ifname}.addr`);
      i.removeAddress(r.address);
      return addressesOf(i);
    }
    case 'pkey': {
      const i = iface(ctx, r.ifname, `${r.ifname}/pkey`);
      if (i.childType === 'rtnl') throw new IpoibControlError(`${r.ifname}/pkey`, 'ENOENT', `${r.ifname} was made by netlink and has no sysfs pkey file; 'show' has its P_Key`);
      return { kind: 'pkey', ifname: i.name, pkey: i.pkey, text: hex4(i.pkey) };
    }
    case 'parent': {
      const i = iface(ctx, r.ifname, `${r.ifname}/parent`);
      if (i.childType !== 'legacy' || i.parent === undefined) {
        throw new IpoibControlError(`${r.ifname}/parent`, 'ENOENT', `only children made by create_child have a parent file (${r.ifname} is ${i.childType === 'parent' ? 'a parent' : 'a netlink child'})`);
      }
      return { kind: 'parent', ifname: i.name, parent: i.parent };
    }
    case 'up': {
      const i = iface(ctx, r.ifname, `${r.ifname}.up`);
      const addresses = r.addresses ?? [];
      if (ctx.bindChild && i.childType !== 'parent' && !ctx.childPlanes.has(i.name)) {
        ctx.childPlanes.set(i.name, await ctx.bindChild(i, addresses));
      } else {
        for (const a of addresses) i.addAddress(a);
        await i.open();
      }
      ctx.adminUp.add(i.name);
      return { kind: 'link', ifname: i.name, adminUp: true };
    }
    case 'down': {
      const i = iface(ctx, r.ifname, `${r.ifname}.down`);
      await unbind(ctx, i.name);
      await i.close();
      ctx.adminUp.delete(i.name);
      return { kind: 'link', ifname: i.name, adminUp: false };
    }
    case 'create_child': {
      const child = ctx.host.createChild(r.ifname, r.pkey);
      return { kind: 'created', ifname: child.name };
    }
    case 'delete_child': {
      const before = new Set(ctx.host.list().map((i) => i.name));
      await ctx.host.deleteChild(r.ifname, r.pkey);
      const gone = [...before].find((n) => !ctx.host.get(n)) ?? '';
      await forget(ctx, gone);
      return { kind: 'deleted', ifname: gone };
    }
    case 'link_add': {
      const child = await ctx.host.addLink({
        link: r.link,
        ...(r.name !== undefined ? { name: r.name } : {}),
        ...(r.pkey !== undefined ? { pkey: r.pkey } : {}),
        ...(r.mode !== undefined ? { mode: r.mode } : {}),
        ...(r.umcast !== undefined ? { umcast: r.umcast } : {}),
      });
      return { kind: 'created', ifname: child.name };
    }
    case 'link_del': {
      await ctx.host.deleteLink(r.name);
      if (!ctx.host.get(r.name)) await forget(ctx, r.name);
      return { kind: 'deleted', ifname: r.name };
    }
    case 'debug': {
      const i = iface(ctx, r.ifname, `${r.ifname}.debug`);
      if (r.level !== undefined) ctx.debugLevels.set(i.name, r.level);
      return { kind: 'debug', ifname: i.name, level: ctx.debugLevels.get(i.name) ?? 0 };
    }
  }
}

/** Removes a child's TUN device (its binding takes the interface admin down). */
async function unbind(ctx: HandlerContext, name: string): Promise<void> {
  const plane = ctx.childPlanes.get(name);
  if (!plane) return;
  ctx.childPlanes.delete(name);
  await plane.close();
}

/** An interface was deleted: its TUN device, admin state and debug level go too. */
async function forget(ctx: HandlerContext, name: string): Promise<void> {
  await unbind(ctx, name).catch(() => undefined);
  ctx.adminUp.delete(name);
  ctx.debugLevels.delete(name);
}
