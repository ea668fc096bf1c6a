/**
 * What the RFC 4391 link-layer cases (hwaddr, ARP, ND, link-local, multicast, P_Key/Q_Key)
 * share: learning where the DUT sits on the fabric, probe QPs and joins with their undo queued,
 * frames built with the src/wire codecs, tolerant readers for what the DUT sent (a seeded or
 * real defect may make a strict decoder throw, and the case must still say what it saw), and
 * the SA requests a capture holds.
 *
 * Nothing here judges: the cases assert.
 */
import { ProbeTimeoutError, SaError } from '../../src/errors.js';
import type { CapturedPacket, IpoibFrame } from '../../src/lab/capture.js';
import { madsOf } from '../../src/lab/ipoib-frames.js';
import type { PingResult } from '../../src/lab/adapters/dut.js';
import type { ProbeFrame, ProbeQp } from '../../src/lab/probe.js';
import { arp, type ArpPacket } from '../../src/wire/arp.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import {
  ETH_P_ARP,
  ETH_P_IP,
  ETH_P_IPV6,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  IPOIB_HWADDR_LEN,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
  MCAST_QPN,
  MGMT_CLASS_SUBN_ADM,
  SA_ATTR_MCMEMBER_RECORD,
  SA_ATTR_PATH_RECORD,
} from '../../src/wire/constants.js';
import { type Icmpv4Echo, icmpv4Message, withIcmpChecksum } from '../../src/wire/icmp.js';
import { ipoibHeader } from '../../src/wire/ipoib-header.js';
import { type IpoibHwAddr, ipoibHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { formatIpv4, parseIpv6 } from '../../src/wire/ip-text.js';
import { ipv4Packet, makeIpv4Packet } from '../../src/wire/ipv4.js';
import { ipv6Packet, makeIpv6Packet } from '../../src/wire/ipv6.js';
import { type McMemberRecord, mcMemberRecord } from '../../src/wire/mcmember-record.js';
import { broadcastMgid, formatGid } from '../../src/wire/mgid.js';
import { type NdMessage, ndMessage, withIcmpv6Checksum } from '../../src/wire/nd.js';
import { type PathRecord, pathRecord } from '../../src/wire/path-record.js';
import { parseSaMad } from '../../src/wire/sa.js';
import type { Case } from '../harness/conformance.js';

/** The lab's default partition, where the DUT's parent interface lives. */
export const DEFAULT_PKEY = 0xffff;
/** How long a "nothing arrives" window lasts (the suites' budget allows at most 500 ms). */
export const SILENCE_MS = 400;
/** How long an answer the DUT owes may take to arrive. */
export const ANSWER_MS = 2_000;

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const hex = (v: number, digits: number): string => `0x${v.toString(16).padStart(digits, '0')}`;
export const hex2 = (v: number): string => hex(v, 2);
export const hex4 = (v: number): string => hex(v, 4);
export const hex6 = (v: number): string => hex(v, 6);
export const hex8 = (v: number): string => hex(v, 8);

// ---- where the DUT is -----------------------------------------------------------------------

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

// Each DUT control call costs a process start on the node, so what cannot change between cases
// of one lab session (the parent interface's address and LID) is read once per session.
const onFabric = new WeakMap<object, Map<string, Promise<DutOnFabric>>>();

/** The DUT interface's address as it reports it, and its LID as the SA gives it (read once per lab session). */
export function dutOnFabric(t: Case, ifname = t.dut.ifname): Promise<DutOnFabric> {
  let byIf = onFabric.get(t.lab);
  if (!byIf) onFabric.set(t.lab, (byIf = new Map()));
  let p = byIf.get(ifname);
  if (!p) {
    p = (async () => {
      const link = await t.dut.adapter.link(ifname);
      const pkey = link.pkey ?? DEFAULT_PKEY;
      const path = await t.probe.pathTo(link.hwaddr.gid, pkey);
      return { ifname, hwaddr: link.hwaddr, lid: path.dlid, pkey, ipv4: t.dut.ipv4 ?? '', ipv6: t.dut.ipv6 ?? '' };
    })();
    // A failed read is not remembered: the next case asks again.
    p.catch(() => byIf.delete(ifname));
    byIf.set(ifname, p);
  }
  return p;
}

const peerAddresses = new WeakMap<object, Promise<IpoibHwAddr>>();

/** The peer's link-layer address as it reports it (read once per lab session). */
export function peerHwAddr(t: Case): Promise<IpoibHwAddr> {
  let p = peerAddresses.get(t.lab);
  if (!p) {
    p = t.peer.adapter.hwaddr();
    p.catch(() => peerAddresses.delete(t.lab));
    peerAddresses.set(t.lab, p);
  }
  return p;
}

/** What the fabric's SM says about a node's port (sim: the manager's status); null elsewhere. */
export async function smPortOf(t: Case, fabricNode: string): Promise<{ guid: bigint; gid: Buffer; lid: number; pkeys: number[] } | null> {
  if (!t.lab.sim) return null;
  const status = (await t.lab.sim.status()) as { ports?: Array<{ node: string; guid: string; gid: string; lid: number; pkeys?: number[] }> };
  const p = status.ports?.find((x) => x.node === fabricNode);
  if (!p) return null;
  return { guid: BigInt(p.guid), gid: parseIpv6(p.gid), lid: p.lid, pkeys: p.pkeys ?? [] };
}

// ---- probe QPs and groups ---------------------------------------------------------------------

/** A probe UD QP in partition `pkey` with Q_Key `qkey`, closed after the case. */
export async function openQp(t: Case, o: { pkey?: number; qkey: number }): Promise<ProbeQp> {
  const pkey = o.pkey ?? DEFAULT_PKEY;
  const pkeyIndex = t.probe.pkeyIndexOf(pkey);
  if (pkeyIndex < 0) t.skip(`the probe port holds no P_Key ${hex4(pkey)}`);
  const qp = await t.probe.openQp({ qkey: o.qkey, pkeyIndex });
  t.defer(() => qp.close(), `close probe QP ${hex6(qp.qpn)}`);
  return qp;
}

/**
 * Joins `mgid` from the probe port with `joinState` (leave queued), attaching `qp` when given
 * (detach queued). Null when the SA refused the join: for a send-only join, that the group
 * does not exist, which is the DUT's doing when the DUT should have created it.
 */
export async function joinFromProbe(t: Case, mgid: Buffer, joinState: number, o: { qp?: ProbeQp; record?: Partial<McMemberRecord> } = {}): Promise<McMemberRecord | null> {
  let rec: McMemberRecord;
  try {
    rec = await t.probe.join({ mgid, joinState, ...(o.record ? { record: o.record } : {}) });
  } catch (e) {
    if (e instanceof SaError) return null;
    throw e;
  }
  t.defer(() => t.probe.leave(mgid, joinState), `probe leaves ${formatGid(mgid)}`);
  if (o.qp) {
    const qp = o.qp;
    qp.attachMulticast(mgid, rec.mlid);
    t.defer(async () => qp.detachMulticast(mgid, rec.mlid), `probe QP detaches from ${formatGid(mgid)}`);
  }
  return rec;
}

/** The SA's record of the broadcast group of `pkey` (its parameters, whoever's membership it is). */
export async function broadcastRecord(t: Case, pkey = DEFAULT_PKEY): Promise<McMemberRecord> {
  const mgid = broadcastMgid(pkey);
  const members = await t.probe.groupMembers(mgid);
  const first = members[0];
  if (first) return first;
  // Nobody is a member yet: a send-only join reads the (pre-created) group's parameters.
  const rec = await joinFromProbe(t, mgid, 0x4);
  if (!rec) t.skip(`the broadcast group ${formatGid(mgid)} does not exist on this fabric`);
  return rec;
}

/** Polls `read` until `done` holds or `timeoutMs` passes; resolves with the last value read. */
export async function pollUntil<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs: number, intervalMs = 100): Promise<T> {
  const until = performance.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (done(v) || performance.now() >= until) return v;
    await sleep(intervalMs);
  }
}

/** The first matching frame on `qp` within `timeoutMs`, or null (the caller asserts). */
export async function frameOrNull(qp: ProbeQp, match: (f: ProbeFrame) => boolean, timeoutMs: number): Promise<ProbeFrame | null> {
  try {
    return await qp.waitFor(match, timeoutMs);
  } catch (e) {
    if (e instanceof ProbeTimeoutError) return null;
    throw e;
  }
}

// ---- frames the probe sends -------------------------------------------------------------------

/** Sends `payload` from `qp` to a multicast group (GRH with the MGID, DLID = its MLID, the group's Q_Key). */
export function sendToGroup(qp: ProbeQp, group: McMemberRecord, payload: Buffer): void {
  qp.send({ dlid: group.mlid, dqpn: MCAST_QPN, qkey: group.qkey, grh: { dgid: group.mgid } }, payload);
}

/** Sends `payload` from `qp` to the DUT's QP (unicast, no GRH). */
export function sendToDut(qp: ProbeQp, dut: DutOnFabric, payload: Buffer, qkey: number, dqpn = dut.hwaddr.qpn): void {
  qp.send({ dlid: dut.lid, dqpn, qkey }, payload);
}

/** Whether a frame the probe received is an ARP reply to `spa`'s request for `tpa` (tolerant read). */
export function isArpReplyFor(f: ProbeFrame, o: { from: string; to: string }): boolean {
  if (f.payload.length < 4 || f.payload.readUInt16BE(0) !== ETH_P_ARP) return false;
  const a = rawArp(f.payload.subarray(4));
  return a !== null && a.op === 2 && a.spa === o.from && a.tpa === o.to;
}

/** Flushes the DUT's neighbours after the case (what it learnt about the probe's addresses). */
export function forgetProbeAfter(t: Case): void {
  t.defer(async () => void (await t.dut.adapter.flushNeighbours()), 'flush the DUT neighbours the probe left');
}

/** The probe's own link-layer address for a QP: flags 0, that QPN, the probe port GID. */
export function probeHwAddr(t: Case, qp: ProbeQp, flags = 0): IpoibHwAddr {
  return { flags, qpn: qp.qpn, gid: Buffer.from(t.probe.gid) };
}

export function ipoibFrame(type: number, body: Buffer, reserved = 0): Buffer {
  return Buffer.concat([encodeToBuffer(ipoibHeader, { type, reserved }), body]);
}

const ZERO_HWADDR: IpoibHwAddr = { flags: 0, qpn: 0, gid: Buffer.alloc(16) };

/** An ARP request over IPoIB, ready to send (IPoIB header first). */
export function arpRequestFrame(o: { sha: IpoibHwAddr; spa: string; tpa: string }): Buffer {
  const p: ArpPacket = { htype: 32, ptype: ETH_P_IP, hlen: IPOIB_HWADDR_LEN, plen: 4, op: 1, sha: o.sha, spa: o.spa, tha: ZERO_HWADDR, tpa: o.tpa };
  return ipoibFrame(ETH_P_ARP, encodeToBuffer(arp, p));
}

/** An ICMP echo request in IPv4, ready to send. */
export function echoRequestFrame(o: { src: string; dst: string; identifier: number; sequence: number; data?: Buffer }): Buffer {
  const echo: Icmpv4Echo = { type: ICMP_ECHO_REQUEST, code: 0, checksum: 0, identifier: o.identifier, sequence: o.sequence, data: o.data ?? Buffer.from('ipoib-lab echo') };
  const icmp = withIcmpChecksum(echo);
  const packet = makeIpv4Packet({ src: o.src, dst: o.dst, protocol: IPPROTO_ICMP, payload: encodeToBuffer(icmpv4Message, icmp) });
  return ipoibFrame(ETH_P_IP, encodeToBuffer(ipv4Packet, packet));
}

/** The echo reply (to `identifier`) in a frame the probe received, or null. */
export function echoReplyIn(payload: Buffer, identifier: number): { src: string; dst: string; sequence: number } | null {
  try {
    const h = ipoibHeader.decode(payload, 0).value;
    if (h.type !== ETH_P_IP) return null;
    const ip = ipv4Packet.decode(payload, 4).value;
    if (ip.header.protocol !== IPPROTO_ICMP) return null;
    const m = icmpv4Message.decode(ip.payload, 0).value;
    if (m.type !== ICMP_ECHO_REPLY || m.identifier !== identifier) return null;
    return { src: ip.header.src, dst: ip.header.dst, sequence: m.sequence };
  } catch {
    return null;
  }
}

/** An ND message in IPv6 (hop limit 255, checksum filled in), ready to send. */
export function ndFrame(o: { src: Buffer; dst: Buffer; message: NdMessage }): Buffer {
  const m = withIcmpv6Checksum(o.message, o.src, o.dst);
  const packet = makeIpv6Packet({ src: o.src, dst: o.dst, nextHeader: IPPROTO_ICMPV6, hopLimit: 255, payload: encodeToBuffer(ndMessage, m) });
  return ipoibFrame(ETH_P_IPV6, encodeToBuffer(ipv6Packet, packet));
}

/** The solicited-node multicast address of an IPv6 address (ff02::1:ffXX:XXXX). */
export function solicitedNode(addr: Buffer): Buffer {
  const g = parseIpv6('ff02::1:ff00:0');
  addr.copy(g, 13, 13, 16);
  return g;
}

/**
 * Makes the DUT resolve the peer afresh over IPv4 and IPv6 (its neighbours flushed first, unless
 * the caller just did), so its ARP request, NS and first unicast frames go out; resolves with
 * both ping results.
 */
export async function resolvePeerAfresh(t: Case, families: ReadonlyArray<4 | 6> = [4, 6], o: { flushed?: boolean } = {}): Promise<{ v4: PingResult | null; v6: PingResult | null }> {
  if (o.flushed !== true) await t.dut.adapter.flushNeighbours();
  const v4 = families.includes(4) && t.peer.ipv4 ? await t.dut.adapter.ping(t.peer.ipv4, { count: 1, waitSeconds: 2 }) : null;
  const v6 = families.includes(6) && t.peer.ipv6 ? await t.dut.adapter.ping(t.peer.ipv6, { count: 1, waitSeconds: 2 }) : null;
  return { v4, v6 };
}

// ---- reading what the DUT sent ------------------------------------------------------------

/**
 * An ARP body read field by field, whatever its hlen says: the DUT under test may announce a
 * wrong length while still carrying 20-octet addresses, and the case must report both.
 */
export interface RawArp {
  htype: number;
  ptype: number;
  hlen: number;
  plen: number;
  op: number;
  /** Octets 8..27 as a 20-octet address (what an IPoIB sender puts there). */
  sha: IpoibHwAddr;
  spa: string;
  tha: IpoibHwAddr;
  tpa: string;
  /** Octets after the 56 an IPoIB/IPv4 ARP body has. */
  length: number;
}

export function rawArp(body: Buffer): RawArp | null {
  if (body.length < 56) return null;
  return {
    htype: body.readUInt16BE(0),
    ptype: body.readUInt16BE(2),
    hlen: body.readUInt8(4),
    plen: body.readUInt8(5),
    op: body.readUInt16BE(6),
    sha: ipoibHwAddr.decode(body, 8).value,
    spa: formatIpv4(body.subarray(28, 32)),
    tha: ipoibHwAddr.decode(body, 32).value,
    tpa: formatIpv4(body.subarray(52, 56)),
    length: body.length,
  };
}

/** ARP frames in a capture, read tolerantly. */
export function arpFrames(frames: readonly IpoibFrame[]): Array<{ frame: IpoibFrame; arp: RawArp }> {
  const out: Array<{ frame: IpoibFrame; arp: RawArp }> = [];
  for (const f of frames) {
    if (f.header?.type !== ETH_P_ARP) continue;
    const a = rawArp(f.body);
    if (a) out.push({ frame: f, arp: a });
  }
  return out;
}

/** The ND message in an IPoIB frame (with its IPv6 addresses), or null (not ND, or undecodable). */
export function ndIn(f: { header: { type: number } | null; body: Buffer }): { src: Buffer; dst: Buffer; hopLimit: number; message: NdMessage } | null {
  if (f.header?.type !== ETH_P_IPV6) return null;
  try {
    const ip = ipv6Packet.decode(f.body, 0).value;
    if (ip.header.nextHeader !== IPPROTO_ICMPV6) return null;
    const type = ip.payload[0] ?? 0;
    if (type < 133 || type > 136) return null;
    return { src: ip.header.src, dst: ip.header.dst, hopLimit: ip.header.hopLimit, message: ndMessage.decode(ip.payload, 0).value };
  } catch {
    return null;
  }
}

/** The same packet seen twice by a fabric-wide tap (sent, then accepted): keep the first. */
export function uniqueFrames<F extends { packet: CapturedPacket }>(frames: readonly F[]): F[] {
  const seen = new Set<string>();
  return frames.filter((f) => {
    const key = f.packet.raw.toString('hex');
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** A one-line summary of an IPoIB frame for the evidence. */
export function frameSummary(f: IpoibFrame): Record<string, unknown> {
  return {
    slid: f.slid,
    dlid: f.dlid,
    srcQpn: hex6(f.srcQpn),
    destQpn: hex6(f.destQpn),
    qkey: hex8(f.qkey),
    pkey: hex4(f.pkey),
    dgid: f.ib.grh ? formatGid(f.ib.grh.dgid) : null,
    type: f.header ? hex4(f.header.type) : null,
    reserved: f.header ? hex4(f.header.reserved) : null,
    body: f.body.subarray(0, 64).toString('hex'),
  };
}

// ---- SA requests in a capture -----------------------------------------------------------------

export interface SaRequest {
  slid: number;
  method: number;
  attributeId: number;
  transactionId: bigint;
  componentMask: bigint;
  /** Set for MCMemberRecord requests. */
  mcMember?: McMemberRecord;
  /** Set for PathRecord requests. */
  path?: PathRecord;
  tsUs: number;
}

/** The SA requests (not responses) in a capture, once each (the tap shows a packet sent and accepted). */
export function saRequests(packets: readonly CapturedPacket[], o: { slid?: number } = {}): SaRequest[] {
  const out: SaRequest[] = [];
  const seen = new Set<string>();
  for (const m of madsOf(packets)) {
    if (!m.mad || m.mad.header.mgmtClass !== MGMT_CLASS_SUBN_ADM || (m.mad.header.method & 0x80) !== 0) continue;
    if (o.slid !== undefined && m.slid !== o.slid) continue;
    const key = `${m.slid}:${m.mad.header.method}:${m.mad.header.transactionId}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const sa = parseSaMad(m.ib.payload);
    const r: SaRequest = {
      slid: m.slid,
      method: sa.header.method,
      attributeId: sa.header.attributeId,
      transactionId: sa.header.transactionId,
      componentMask: sa.sa.componentMask,
      tsUs: m.packet.tsUs,
    };
    if (sa.header.attributeId === SA_ATTR_MCMEMBER_RECORD) r.mcMember = mcMemberRecord.decode(sa.data, 0).value;
    if (sa.header.attributeId === SA_ATTR_PATH_RECORD) r.path = pathRecord.decode(sa.data, 0).value;
    out.push(r);
  }
  return out;
}

export function saRequestSummary(r: SaRequest): Record<string, unknown> {
  return {
    slid: r.slid,
    method: hex2(r.method),
    attributeId: hex4(r.attributeId),
    transactionId: `0x${r.transactionId.toString(16)}`,
    componentMask: `0x${r.componentMask.toString(16)}`,
    ...(r.mcMember ? { mgid: formatGid(r.mcMember.mgid), portGid: formatGid(r.mcMember.portGid), joinState: hex2(r.mcMember.joinState), qkey: hex8(r.mcMember.qkey), mtu: r.mcMember.mtu, pkey: hex4(r.mcMember.pkey), sl: r.mcMember.sl, trafficClass: r.mcMember.trafficClass, flowLabel: r.mcMember.flowLabel, hopLimit: r.mcMember.hopLimit, rate: r.mcMember.rate } : {}),
    ...(r.path ? { dgid: formatGid(r.path.dgid), sgid: formatGid(r.path.sgid) } : {}),
  };
}
