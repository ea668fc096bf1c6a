/**
 * The probe as a case uses it: UD QPs on a partition, multicast joins (which may create a
 * group), group records read from the SA, sending to the DUT or to a group, and waiting for what
 * comes back. Every state change queues its undo on the case (close the QP, leave the group,
 * detach, forget what the DUT learnt about the probe), right where it is made.
 */
import { ProbeTimeoutError, SaError } from '../../src/errors.js';
import type { ProbeFrame, ProbeQp } from '../../src/lab/probe.js';
import { JOIN_STATE_FULL, JOIN_STATE_SEND_ONLY_NON, MCAST_QPN, PKEY_DEFAULT } from '../../src/wire/constants.js';
import type { IpoibHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import type { McMemberRecord } from '../../src/wire/mcmember-record.js';
import { broadcastMgid, formatGid } from '../../src/wire/mgid.js';
import type { Case } from './conformance.js';
import { type DutOnFabric, dutOnFabric } from './fabric-view.js';
import { hex4, hex6 } from './hex.js';

/** How long an answer the DUT owes may take to arrive. */
export const ANSWER_MS = 2_000;
/** How long a "nothing arrives" window lasts (the suites' budget allows at most 500 ms). */
export const SILENCE_MS = 400;

/**
 * A probe UD QP in partition `pkey` (default 0xFFFF) with Q_Key `qkey`, closed after the case;
 * skips when the probe port lacks the P_Key. The P_Key is looked up by partition (either
 * membership), or with `exact` as given, membership bit included (a limited member's QP, or a
 * P_Key such as 0x8000 that names no partition).
 */
export async function openQp(t: Case, o: { pkey?: number; qkey: number; exact?: boolean }): Promise<ProbeQp> {
  const pkey = o.pkey ?? PKEY_DEFAULT;
  const pkeyIndex = o.exact ? t.probe.pkeys.indexOf(pkey) : t.probe.pkeyIndexOf(pkey);
  if (pkeyIndex < 0) t.skip(`the probe port holds no P_Key ${hex4(pkey)}`);
  const qp = await t.probe.openQp({ qkey: o.qkey, pkeyIndex });
  t.defer(() => qp.close(), `close probe QP ${hex6(qp.qpn)}`);
  return qp;
}

/** Attaches `qp` to a group the probe port is a member of, so the QP hears it (detach queued). */
export function attachQp(t: Case, qp: ProbeQp, group: { mgid: Buffer; mlid: number }): void {
  const { mgid, mlid } = group;
  qp.attachMulticast(mgid, mlid);
  t.defer(async () => qp.detachMulticast(mgid, mlid), `probe QP ${hex6(qp.qpn)} detaches from ${formatGid(mgid)}`);
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
  if (o.qp) attachQp(t, o.qp, rec);
  return rec;
}

/**
 * A probe QP that FullMember-joined an existing group and hears it (leave, close and detach
 * queued). The QP is on `pkey` with `qkey`, by default the group's own. A refused join is a lab
 * problem here, not a verdict: it is thrown.
 */
export async function listenOn(t: Case, mgid: Buffer, o: { pkey?: number; qkey?: number } = {}): Promise<{ qp: ProbeQp; group: McMemberRecord }> {
  if (o.pkey !== undefined && t.probe.pkeyIndexOf(o.pkey) < 0) t.skip(`the probe port holds no P_Key ${hex4(o.pkey)}`);
  const group = await joinFromProbe(t, mgid, JOIN_STATE_FULL);
  if (!group) throw new Error(`the SA refused the probe's FullMember join of ${formatGid(mgid)}`);
  const qp = await openQp(t, { pkey: o.pkey ?? group.pkey, qkey: o.qkey ?? group.qkey });
  attachQp(t, qp, group);
  return { qp, group };
}

/**
 * A group's SA record (its parameters, whoever's membership it is). With nobody a member, the
 * case skips, or with `joinIfEmpty` the probe joins SendOnlyNonMember (leave queued) to read the
 * parameters of a group that exists without members, and skips when it does not exist.
 */
export async function groupRecord(t: Case, mgid: Buffer, o: { joinIfEmpty?: boolean } = {}): Promise<McMemberRecord> {
  const [first] = await t.probe.groupMembers(mgid);
  if (first) return first;
  if (!o.joinIfEmpty) return t.skip(`the SA has no group ${formatGid(mgid)}`);
  const rec = await joinFromProbe(t, mgid, JOIN_STATE_SEND_ONLY_NON);
  return rec ?? t.skip(`the group ${formatGid(mgid)} does not exist on this fabric`);
}

/** The SA's record of the broadcast group broadcastMgid(`pkey`), read as groupRecord does with joinIfEmpty. */
export function broadcastRecord(t: Case, pkey = PKEY_DEFAULT): Promise<McMemberRecord> {
  return groupRecord(t, broadcastMgid(pkey), { joinIfEmpty: true });
}

/**
 * The probe as a member of the DUT's broadcast group: a QP on the DUT's partition with the
 * group's Q_Key, attached to the group it FullMember-joined (skips when the SA refuses the join),
 * and the DUT's neighbour entries for the probe flushed after the case.
 */
export async function probeOnBroadcast(t: Case): Promise<{ dut: DutOnFabric; bcast: McMemberRecord; qp: ProbeQp; group: McMemberRecord }> {
  const dut = await dutOnFabric(t);
  const bcast = await broadcastRecord(t, dut.pkey);
  const qp = await openQp(t, { pkey: dut.pkey, qkey: bcast.qkey });
  const mgid = broadcastMgid(bcast.pkey);
  const group = await joinFromProbe(t, mgid, JOIN_STATE_FULL, { qp });
  if (!group) return t.skip(`the probe could not join the broadcast group ${formatGid(mgid)}`);
  forgetProbeAfter(t);
  return { dut, bcast, qp, group };
}

/**
 * The probe FullMember-joins a group with the parameters of `like` (RFC 4391 §10: those of the
 * broadcast group), which creates it when absent; the leave is queued, and `leaveNow` does it
 * early (once).
 */
export async function probeCreates(t: Case, mgid: Buffer, like: McMemberRecord): Promise<McMemberRecord & { leaveNow: () => Promise<void> }> {
  const { qkey, pkey, mtuSelector, mtu, rateSelector, rate, sl, flowLabel, trafficClass, hopLimit, scope } = like;
  const rec = await t.probe.join({ mgid, joinState: JOIN_STATE_FULL, record: { qkey, pkey, mtuSelector, mtu, rateSelector, rate, sl, flowLabel, trafficClass, hopLimit, scope } });
  let left = false;
  const leaveNow = async (): Promise<void> => {
    if (left) return;
    left = true;
    await t.probe.leave(mgid, JOIN_STATE_FULL);
  };
  t.defer(leaveNow, `probe leaves ${formatGid(mgid)}`);
  return Object.assign(rec, { leaveNow });
}

/** The probe's own link-layer address for a QP: `flags`, that QPN, the probe port's GID. */
export function probeHwAddr(t: Case, qp: ProbeQp, flags = 0): IpoibHwAddr {
  return { flags, qpn: qp.qpn, gid: Buffer.from(t.probe.gid) };
}

/** Sends `payload` from `qp` to a multicast group (GRH with the MGID, DLID = its MLID, the group's Q_Key). */
export function sendToGroup(qp: ProbeQp, group: Pick<McMemberRecord, 'mgid' | 'mlid' | 'qkey'>, payload: Buffer): void {
  qp.send({ dlid: group.mlid, dqpn: MCAST_QPN, qkey: group.qkey, grh: { dgid: group.mgid } }, payload);
}

/** Sends `payload` from `qp` with Q_Key `qkey` to the QPN of the DUT's address at its LID (unicast, no GRH). */
export function sendToDut(qp: ProbeQp, dut: { lid: number; hwaddr: { qpn: number } }, payload: Buffer, qkey: number): void {
  qp.send({ dlid: dut.lid, dqpn: dut.hwaddr.qpn, qkey }, payload);
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

/** Flushes the DUT's neighbours after the case: what it learnt about the probe's addresses goes. */
export function forgetProbeAfter(t: Case): void {
  t.defer(async () => void (await t.dut.adapter.flushNeighbours()), 'flush the DUT neighbours the probe left');
}
