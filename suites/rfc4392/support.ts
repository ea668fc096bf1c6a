/**
 * What the RFC 4392 and kernel-semantics suites share: waiting for a state the DUT reaches on
 * its own time, reading the DUT's SA requests out of a capture, and the arrangements several
 * cases need (a child interface with an address and carrier, a multicast listener on a node).
 * Nothing here judges; the cases assert.
 */
import type { Case } from '../harness/conformance.js';
import type { CapturedPacket, IpoibFrame } from '../../src/lab/capture.js';
import type { DutInterface } from '../../src/lab/adapters/dut.js';
import { madsOf } from '../../src/lab/ipoib-frames.js';
import type { LabNodeHandle } from '../../src/lab/lab-session.js';
import { arp, arpOverIpoib } from '../../src/wire/arp.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import { ETH_P_ARP, JOIN_STATE_FULL, MGMT_CLASS_SUBN_ADM, PKEY_FULL_MEMBER_BIT, SA_ATTR_MCMEMBER_RECORD, SA_ATTR_PATH_RECORD } from '../../src/wire/constants.js';
import { etherTypeName, ipoibHeader } from '../../src/wire/ipoib-header.js';
import type { IpoibHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { mcMemberRecord, type McMemberRecord } from '../../src/wire/mcmember-record.js';
import { broadcastMgid, formatGid, parseGid } from '../../src/wire/mgid.js';
import { pathRecord, type PathRecord } from '../../src/wire/path-record.js';
import { parseSaMad } from '../../src/wire/sa.js';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export const hex = (n: number, digits: number): string => `0x${n.toString(16).padStart(digits, '0')}`;

/** How long a state the DUT reaches by itself (carrier, a join, a leave) gets, and how often it is read. */
export const SETTLE_TIMEOUT_MS = 3_000;
const POLL_INTERVAL_MS = 100;

/**
 * Reads `read()` until `done` holds or `timeoutMs` passes. Never throws for a timeout: the case
 * asserts on `reached` with its own context, so a failure says what was expected and seen.
 */
export async function poll<T>(read: () => Promise<T>, done: (v: T) => boolean, timeoutMs = SETTLE_TIMEOUT_MS): Promise<{ value: T; reached: boolean; waitedMs: number }> {
  const started = performance.now();
  for (;;) {
    const value = await read();
    const waitedMs = Math.round(performance.now() - started);
    if (done(value)) return { value, reached: true, waitedMs };
    if (waitedMs >= timeoutMs) return { value, reached: false, waitedMs };
    await sleep(POLL_INTERVAL_MS);
  }
}

/** One MCMemberRecord request or response on QP1, as the tap saw it. */
export interface SaMcMemberMad {
  tsUs: number;
  slid: number;
  dlid: number;
  /** MAD method octet (0x02 Set = join, 0x15 Delete = leave, 0x81/0x95 their responses …). */
  method: number;
  status: number;
  transactionId: bigint;
  record: McMemberRecord;
}

/** Every SA MCMemberRecord MAD in a capture, oldest first (the SA's and the ports' alike). */
export function saMcMemberMads(packets: readonly CapturedPacket[]): SaMcMemberMad[] {
  const out: SaMcMemberMad[] = [];
  for (const m of madsOf(packets)) {
    const h = m.mad?.header;
    if (!h || h.mgmtClass !== MGMT_CLASS_SUBN_ADM || h.attributeId !== SA_ATTR_MCMEMBER_RECORD) continue;
    const sa = parseSaMad(m.ib.payload);
    out.push({
      tsUs: m.packet.tsUs,
      slid: m.slid,
      dlid: m.dlid,
      method: h.method,
      status: h.status,
      transactionId: h.transactionId,
      record: mcMemberRecord.decode(sa.data, 0).value,
    });
  }
  return out;
}

/** One PathRecord query or answer on QP1, as the tap saw it. */
export interface SaPathMad {
  tsUs: number;
  slid: number;
  dlid: number;
  method: number;
  status: number;
  record: PathRecord;
}

/** Every SA PathRecord MAD in a capture (a GetTable answer shows its first record only). */
export function saPathMads(packets: readonly CapturedPacket[]): SaPathMad[] {
  const out: SaPathMad[] = [];
  for (const m of madsOf(packets)) {
    const h = m.mad?.header;
    if (!h || h.mgmtClass !== MGMT_CLASS_SUBN_ADM || h.attributeId !== SA_ATTR_PATH_RECORD) continue;
    const sa = parseSaMad(m.ib.payload);
    out.push({ tsUs: m.packet.tsUs, slid: m.slid, dlid: m.dlid, method: h.method, status: h.status, record: pathRecord.decode(sa.data, 0).value });
  }
  return out;
}

/** The same MAD once: a fabric-wide tap sees a packet as sent and again as accepted. */
export function distinctMads(mads: readonly SaMcMemberMad[]): SaMcMemberMad[] {
  const seen = new Set<string>();
  return mads.filter((m) => {
    const key = `${m.slid}/${m.dlid}/${m.method}/${m.transactionId}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** An SA MAD for the evidence. */
export function describeMad(m: SaMcMemberMad): Record<string, unknown> {
  return {
    tsUs: m.tsUs,
    slid: m.slid,
    dlid: m.dlid,
    method: hex(m.method, 2),
    status: hex(m.status, 4),
    mgid: formatGid(m.record.mgid),
    portGid: formatGid(m.record.portGid),
    joinState: hex(m.record.joinState, 1),
    mlid: hex(m.record.mlid, 4),
    pkey: hex(m.record.pkey, 4),
    qkey: hex(m.record.qkey, 8),
  };
}

/** An IPoIB frame for the evidence. */
export function describeFrame(f: IpoibFrame): Record<string, unknown> {
  return {
    tsUs: f.packet.tsUs,
    slid: f.slid,
    dlid: f.dlid,
    srcQpn: hex(f.srcQpn, 6),
    destQpn: hex(f.destQpn, 6),
    pkey: hex(f.pkey, 4),
    qkey: hex(f.qkey, 8),
    grhDgid: f.ib.grh ? formatGid(f.ib.grh.dgid) : null,
    type: f.header ? etherTypeName(f.header.type) : null,
    udPayloadBytes: f.ib.payload.length,
  };
}

/**
 * The broadcast group of a partition as the lab's SM made it (RFC 4391 §4: the full-member P_Key
 * in the MGID). Cases look groups up by this, never by the broadcast address the DUT reports,
 * so a DUT that reports a wrong one fails instead of making the case skip.
 */
export function partitionBroadcastMgid(pkey: number): Buffer {
  return broadcastMgid(pkey | PKEY_FULL_MEMBER_BIT);
}

/** The LID the SA gives for a port GID (how a black-box test learns where a DUT sits). */
export async function lidOf(t: Case, gid: Buffer, pkey: number): Promise<number> {
  return (await t.probe.pathTo(gid, pkey)).dlid;
}

/** A port's P_Key table as the sim fabric's SM holds it; null when the status does not list the node. */
export async function simPortPkeys(t: Case, node: string): Promise<number[] | null> {
  const sim = t.lab.sim;
  if (!sim) return null;
  const status = (await sim.status()) as { ports?: { node?: unknown; pkeys?: unknown }[] };
  const port = status.ports?.find((p) => p.node === node);
  if (!port || !Array.isArray(port.pkeys) || !port.pkeys.every((k) => typeof k === 'number')) return null;
  return port.pkeys as number[];
}

/** A port's IB MTU code as the sim fabric's SM holds it; null when unknown. */
export async function simPortMtuCode(t: Case, node: string): Promise<number | null> {
  const sim = t.lab.sim;
  if (!sim) return null;
  const status = (await sim.status()) as { ports?: { node?: unknown; mtuCode?: unknown }[] };
  const code = status.ports?.find((p) => p.node === node)?.mtuCode;
  return typeof code === 'number' ? code : null;
}

/** The MGIDs of every group the SA holds a port in (sim fabric status); null when unknown. */
export async function simGroupsOf(t: Case, portGid: Buffer): Promise<{ mgid: Buffer; joinState: number }[] | null> {
  const sim = t.lab.sim;
  if (!sim) return null;
  const status = (await sim.status()) as { groups?: { mgid?: unknown; members?: { portGid?: unknown; joinState?: unknown }[] }[] };
  if (!Array.isArray(status.groups)) return null;
  const out: { mgid: Buffer; joinState: number }[] = [];
  for (const g of status.groups) {
    if (typeof g.mgid !== 'string' || !Array.isArray(g.members)) return null;
    for (const m of g.members) {
      if (typeof m.portGid === 'string' && typeof m.joinState === 'number' && parseGid(m.portGid).equals(portGid)) out.push({ mgid: parseGid(g.mgid), joinState: m.joinState });
    }
  }
  return out;
}

/**
 * Replaces a port's P_Key table through the SM and queues putting the old one back. The SM
 * pushes the change as a P_Key change event, as a real SM does.
 */
export async function setPortPkeys(t: Case, node: string, pkeys: readonly number[]): Promise<number[]> {
  const sim = t.lab.sim;
  if (!sim) t.skip('this lab cannot change P_Key tables (no sim fabric control)');
  const before = await simPortPkeys(t, node);
  if (!before) t.skip(`the sim fabric's status does not list ${node}'s P_Key table`);
  await sim.setPkeys(node, pkeys);
  t.defer(() => sim.setPkeys(node, before), `put back ${node}'s P_Key table`);
  return before;
}

export interface UpChild {
  ifname: string;
  link: DutInterface;
  /** Milliseconds from admin-up until carrier (null: no carrier within the timeout). */
  carrierAfterMs: number | null;
}

/**
 * Makes a child of `node`'s interface for `pkey` (sysfs create_child), sets it up with `cidr`
 * (when given) and waits for carrier. The one undo queued is the child's deletion, which takes
 * its admin state and addresses with it (each control command costs a process on the node, so
 * undoing them one by one first would only slow the case). Carrier is reported, not required:
 * a case that needs it asserts on it.
 */
export async function upChild(t: Case, node: LabNodeHandle, pkey: number, cidr?: string, timeoutMs = SETTLE_TIMEOUT_MS): Promise<UpChild> {
  const a = node.adapter;
  const child = await a.createChildSysfs(pkey);
  t.defer(child.undo, `delete ${child.ifname} on ${node.node.name} (with its state and addresses)`);
  await a.setUp(true, child.ifname);
  if (cidr !== undefined) await a.addAddress(cidr, child.ifname);
  const r = await poll(() => a.link(child.ifname), (l) => l.carrier, timeoutMs);
  return { ifname: child.ifname, link: r.value, carrierAfterMs: r.reached ? r.waitedMs : null };
}

/**
 * Makes the node's IP stack listen to an IPv4 group on `ifname` (`ip addr add G/32 autojoin`:
 * the host joins the group on that device, the way an application's IP_ADD_MEMBERSHIP does).
 * Resolves with a `stop` that leaves the group once; the same is queued as the undo.
 */
export async function hostListen(t: Case, node: LabNodeHandle, group: string, ifname = node.ifname): Promise<{ stop: () => Promise<void> }> {
  const cidr = `${group}/32`;
  const r = await node.transport.run(['ip', 'addr', 'add', cidr, 'dev', ifname, 'autojoin'], { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`${node.node.name}: ip addr add ${cidr} dev ${ifname} autojoin failed: ${r.stderr.trim()}`);
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    const d = await node.transport.run(['ip', 'addr', 'del', cidr, 'dev', ifname], { timeoutMs: 10_000 });
    if (d.code !== 0) throw new Error(`${node.node.name}: ip addr del ${cidr} dev ${ifname} failed: ${d.stderr.trim()}`);
  };
  t.defer(stop, `${node.node.name} stops listening to ${group}`);
  return { stop };
}

/**
 * The probe FullMember-joins a group with the broadcast group's parameters (RFC 4391 §10), which
 * creates it when absent; the leave is queued, and `leaveNow` does it early (once).
 */
export async function probeCreates(t: Case, mgid: Buffer, like: McMemberRecord): Promise<McMemberRecord & { leaveNow: () => Promise<void> }> {
  const { qkey, pkey, mtuSelector, mtu, rateSelector, rate, sl, flowLabel, trafficClass, hopLimit, scope } = like;
  const rec = await t.probe.join({ mgid, joinState: JOIN_STATE_FULL, record: { qkey, pkey, mtuSelector, mtu, rateSelector, rate, sl, flowLabel, trafficClass, hopLimit, scope } });
  let left = false;
  t.defer(async () => {
    if (!left) await t.probe.leave(mgid, JOIN_STATE_FULL);
  }, `probe leaves ${formatGid(mgid)}`);
  const leaveNow = async (): Promise<void> => {
    left = true;
    await t.probe.leave(mgid, JOIN_STATE_FULL);
  };
  return Object.assign(rec, { leaveNow });
}

/** Sends `count` ICMP echoes from the node's IP stack to an IPv4 group through `ifname`; replies are not expected. */
export async function pingGroup(node: LabNodeHandle, group: string, ifname: string, count = 2): Promise<void> {
  // -t 1: link scope; -i 0.2: quick; exit 1 (no reply) is the normal outcome for a group.
  const r = await node.transport.run(['ping', '-n', '-c', String(count), '-i', '0.2', '-W', '1', '-t', '1', '-I', ifname, group], { timeoutMs: 15_000 });
  if (r.code !== 0 && r.code !== 1) throw new Error(`${node.node.name}: ping ${group} via ${ifname} could not run (exit ${r.code}): ${r.stderr.trim()}`);
}

/** An ARP request or reply over IPoIB, with its 4-octet header, as a probe sends it. */
export function arpFrame(o: { op: number; sha: IpoibHwAddr; spa: string; tha: IpoibHwAddr; tpa: string }): Buffer {
  return Buffer.concat([encodeToBuffer(ipoibHeader, { type: ETH_P_ARP, reserved: 0 }), encodeToBuffer(arp, arpOverIpoib(o))]);
}

/** The ARP packet in a probe frame's payload, or null when it is something else. */
export function arpOf(payload: Buffer): ReturnType<typeof arp.decode>['value'] | null {
  if (payload.length < 4 || payload.readUInt16BE(0) !== ETH_P_ARP) return null;
  try {
    return arp.decode(payload, 4).value;
  } catch {
    return null;
  }
}

/** A zero link-layer address (an ARP request's unknown target). */
export const NO_HWADDR: IpoibHwAddr = { flags: 0, qpn: 0, gid: Buffer.alloc(16) };
