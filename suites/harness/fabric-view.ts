/**
 * The lab's nodes as the fabric sees them: where the DUT sits (its address as it reports it, its
 * LID as the SA gives it), the peer's address, a partition's broadcast-GID, what the simulated
 * fabric's SM holds (ports, P_Key tables, groups and members), and the partitions and addresses
 * the lab file declares. Observations only; nothing here judges.
 */
import { PKEY_DEFAULT, PKEY_FULL_MEMBER_BIT } from '../../src/wire/constants.js';
import type { IpoibHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { formatIpv4, parseIpv4 } from '../../src/wire/ip-text.js';
import { broadcastMgid, parseGid } from '../../src/wire/mgid.js';
import { parsePkey } from '../../src/wire/pkey.js';
import type { Case } from './conformance.js';
import { hex4 } from './hex.js';
import { oncePerLab } from './once-per-lab.js';

// ---- where the DUT and the peer are --------------------------------------------------------------

export interface DutOnFabric {
  ifname: string;
  /** The address the DUT reports for the interface (`ip link` / ipoibctl show). */
  hwaddr: IpoibHwAddr;
  /** The DUT port's LID, from the SA (a PathRecord to the DUT's GID). */
  lid: number;
  pkey: number;
  /** The lab file's addresses of the DUT ('' when it has none of that family; cases needing one require ipv4/ipv6). */
  ipv4: string;
  ipv6: string;
}

/** The LID the SA gives for a port GID in partition `pkey` (how a black-box test learns where a port sits). */
export async function lidOf(t: Case, gid: Buffer, pkey: number): Promise<number> {
  return (await t.probe.pathTo(gid, pkey)).dlid;
}

/** The DUT interface's address as it reports it, and its LID as the SA gives it (read once per lab session). */
export function dutOnFabric(t: Case, ifname = t.dut.ifname): Promise<DutOnFabric> {
  return oncePerLab(t, `dut-on-fabric/${ifname}`, async () => {
    const link = await t.dut.adapter.link(ifname);
    const pkey = link.pkey ?? PKEY_DEFAULT;
    const lid = await lidOf(t, link.hwaddr.gid, pkey);
    return { ifname, hwaddr: link.hwaddr, lid, pkey, ipv4: t.dut.ipv4 ?? '', ipv6: t.dut.ipv6 ?? '' };
  });
}

/** The peer's link-layer address as it reports it (read once per lab session). */
export function peerHwAddr(t: Case): Promise<IpoibHwAddr> {
  return oncePerLab(t, 'peer-hwaddr', () => t.peer.adapter.hwaddr());
}

/** The directed broadcast address of the first IPv4 address (CIDR) in `addresses`, or null without one. */
export function subnetBroadcast(addresses: readonly string[]): string | null {
  const cidr = addresses.find((a) => !a.includes(':'));
  if (!cidr) return null;
  const [addr, len] = cidr.split('/');
  const prefix = Number(len ?? 32);
  const host = prefix >= 32 ? 0 : 0xffffffff >>> prefix;
  const out = Buffer.alloc(4);
  out.writeUInt32BE((parseIpv4(addr ?? '').readUInt32BE(0) | host) >>> 0, 0);
  return formatIpv4(out);
}

// ---- broadcast groups ----------------------------------------------------------------------------

/**
 * The broadcast group of a partition as RFC 4391 §4 defines it (link scope, signature 0x401B,
 * the full-member P_Key). Cases look groups up by this, never by the broadcast address the DUT
 * reports, so a DUT that reports a wrong one fails instead of making the case skip.
 */
export function partitionBroadcastMgid(pkey: number): Buffer {
  return broadcastMgid(pkey | PKEY_FULL_MEMBER_BIT);
}

// ---- the simulated fabric's SM -------------------------------------------------------------------

/** A port as the sim fabric's SM holds it. */
export interface SmPort {
  node: string;
  guid: bigint;
  gid: Buffer;
  lid: number;
  /** Its P_Key table; null when the status does not list one. */
  pkeys: number[] | null;
  /** Its IB MTU code; null when unknown. */
  mtuCode: number | null;
}

/** A multicast group and its members as the sim fabric's SM holds them. */
export interface SmGroup {
  mgid: Buffer;
  /** Created by the SM from its partition configuration, not by a join. */
  preCreated: boolean;
  members: Array<{ portGid: Buffer; joinState: number }>;
}

interface StatusShape {
  ports?: Array<{ node?: unknown; guid?: unknown; gid?: unknown; lid?: unknown; pkeys?: unknown; mtuCode?: unknown }>;
  groups?: Array<{ mgid?: unknown; preCreated?: unknown; members?: Array<{ portGid?: unknown; joinState?: unknown }> }>;
}

async function simStatus(t: Case): Promise<StatusShape | null> {
  return t.lab.sim ? ((await t.lab.sim.status()) as StatusShape) : null;
}

/** What the fabric's SM says about a node's port; null without a sim fabric or when it does not list the node. */
export async function smPortOf(t: Case, node: string): Promise<SmPort | null> {
  const p = (await simStatus(t))?.ports?.find((x) => x.node === node);
  if (!p || typeof p.guid !== 'string' || typeof p.gid !== 'string' || typeof p.lid !== 'number') return null;
  const pkeys = Array.isArray(p.pkeys) && p.pkeys.every((k) => typeof k === 'number') ? (p.pkeys as number[]) : null;
  return { node, guid: BigInt(p.guid), gid: parseGid(p.gid), lid: p.lid, pkeys, mtuCode: typeof p.mtuCode === 'number' ? p.mtuCode : null };
}

/** A port's P_Key table as the sim fabric's SM holds it; null when unknown. */
export async function smPkeysOf(t: Case, node: string): Promise<number[] | null> {
  return (await smPortOf(t, node))?.pkeys ?? null;
}

/** Every group the sim fabric's SM holds, with its members; null when unknown. */
export async function smGroups(t: Case): Promise<SmGroup[] | null> {
  const groups = (await simStatus(t))?.groups;
  if (!Array.isArray(groups)) return null;
  const out: SmGroup[] = [];
  for (const g of groups) {
    if (typeof g.mgid !== 'string' || !Array.isArray(g.members)) return null;
    const members: SmGroup['members'] = [];
    for (const m of g.members) {
      if (typeof m.portGid === 'string' && typeof m.joinState === 'number') members.push({ portGid: parseGid(m.portGid), joinState: m.joinState });
    }
    out.push({ mgid: parseGid(g.mgid), preCreated: g.preCreated === true, members });
  }
  return out;
}

/** The groups the SM holds a port in, with its JoinState in each; null when unknown. */
export async function smGroupsOf(t: Case, portGid: Buffer): Promise<Array<{ mgid: Buffer; joinState: number }> | null> {
  const groups = await smGroups(t);
  if (!groups) return null;
  return groups.flatMap((g) => g.members.filter((m) => m.portGid.equals(portGid)).map((m) => ({ mgid: g.mgid, joinState: m.joinState })));
}

// ---- the lab file --------------------------------------------------------------------------------

/** Skips unless the lab file lists partition `pkey`, with an IPoIB broadcast group or without one as `ipoib` says. */
export function requirePartition(t: Case, pkey: number, ipoib: boolean, why: string): void {
  const p = t.lab.lab.partitions.find((x) => parsePkey(x.pkey) === pkey);
  if (!p || p.ipoib !== ipoib) t.skip(`the lab file has no partition ${hex4(pkey)}${ipoib ? ' with an IPoIB broadcast group' : ' without one'} (${why})`);
}
