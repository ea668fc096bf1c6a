/**
 * RFC 4392 §1.3.2, §3.2 and §4.2: IP multicast over IB groups. The DUT joins a group before it
 * sends to it, creates groups only by joining them, maps each IP group it listens to onto its
 * own transient MGID, joins when its host starts listening and leaves when it stops; send-only
 * memberships are left when idle and must not leave it sending to a stale MLID. The router rows
 * (§4.2.3) apply only to a DUT that forwards IP.
 */
import { expect } from 'chai';
import { type Case, conformance } from '../harness/conformance.js';
import {
  JOIN_STATE_FULL,
  JOIN_STATE_NON,
  JOIN_STATE_SEND_ONLY_FULL,
  MAD_METHOD_DELETE,
  MAD_METHOD_GET,
  MAD_METHOD_GET_TABLE,
  MAD_METHOD_SET,
  MCAST_QPN,
  MGID_FLAGS_TRANSIENT,
} from '../../src/wire/constants.js';
import type { McMemberRecord } from '../../src/wire/mcmember-record.js';
import { formatGid, mgidForIpv4Group } from '../../src/wire/mgid.js';
import { frameSummary, saMadSummary, saMcMemberMads } from '../harness/capture-views.js';
import { lidOf, partitionBroadcastMgid } from '../harness/fabric-view.js';
import { hex } from '../harness/hex.js';
import { hostListen, pingGroup } from '../harness/node-actions.js';
import { poll } from '../harness/poll.js';
import { attachQp, groupRecord, openQp, probeCreates } from '../harness/probe-helpers.js';

/** IPv4 groups each case uses (administratively scoped; no other suite file uses them). */
const SENT_TO_GROUP = '239.43.92.1';
const UNCREATED_GROUP = '239.43.92.2';
const LISTENED_GROUPS = ['239.43.92.3', '239.43.92.4'] as const;
const STALE_GROUP = '239.43.92.5';
const FILLER_GROUP = '239.43.92.6';
const ROUTED_GROUP = '239.43.92.7';
/** Join states that keep a group alive (and may create one). */
const CREATING_JOIN_STATES = JOIN_STATE_FULL | JOIN_STATE_SEND_ONLY_FULL;
/** The host's multicast memberships reach the IPoIB layer through the IP stack's own bookkeeping. */
const MEMBERSHIP_TIMEOUT_MS = 4_000;
/** Linux (and the reference stack) leave an idle send-only group after the neighbour idle limit (60 s) plus up to one GC pass (30 s). */
const SEND_ONLY_LEAVE_TIMEOUT_MS = 120_000;
const LONG_CASES_ENV = 'IPOIB_SUITE_LONG';

const hexState = (s: number): string => hex(s, 1);

function recordOf(members: readonly McMemberRecord[], portGid: Buffer): McMemberRecord | undefined {
  return members.find((m) => m.portGid.equals(portGid));
}

describe('RFC 4392 §4.2.1 and §1.3.2: sending to a group @multicast', () => {
  conformance({
    covers: ['RFC4392-4.2.1-b', 'RFC4391-10-e'],
    title: 'joins an IPv4 multicast group before its first frame to it, and sends to the group\'s MLID',
    tags: ['multicast', 'sa', 'mgid'],
    requires: ['wire-capture', 'probe', 'sa'],
  }, async (t: Case) => {
    const link = await t.dut.adapter.link();
    const pkey = link.pkey ?? 0xffff;
    const mgid = mgidForIpv4Group(SENT_TO_GROUP, pkey);
    const bcast = await groupRecord(t, partitionBroadcastMgid(link.pkey ?? 0xffff));
    const group = await probeCreates(t, mgid, bcast);
    const qp = await openQp(t, { pkey, qkey: bcast.qkey });
    attachQp(t, qp, group);
    const dutLid = await lidOf(t, link.hwaddr.gid, pkey);

    const { packets, frames } = await t.capture(() => pingGroup(t.dut, SENT_TO_GROUP), { nodes: [t.dut.fabricNode] });
    const joins = saMcMemberMads(packets).filter((m) => m.slid === dutLid && m.method === MAD_METHOD_SET && m.mcMember.mgid.equals(mgid));
    const toGroup = frames.filter((f) => f.slid === dutLid && (f.ib.grh?.dgid.equals(mgid) ?? false));
    const members = await t.probe.groupMembers(mgid);
    const dutRecord = recordOf(members, link.hwaddr.gid);
    await t.attachJson('the DUT\'s joins', joins.map(saMadSummary));
    await t.attachJson(`the DUT's frames to ${formatGid(mgid)}`, toGroup.map(frameSummary));
    await t.parameter('send-only JoinState', dutRecord ? hexState(dutRecord.joinState) : 'none');

    expect(toGroup.length, `frames from the DUT to ${SENT_TO_GROUP} (${formatGid(mgid)})`).to.be.greaterThan(0);
    expect(joins.length, `SA joins of ${formatGid(mgid)} from the DUT`).to.be.greaterThan(0);
    const firstJoinUs = Math.min(...joins.map((m) => m.tsUs));
    const firstFrameUs = Math.min(...toGroup.map((f) => f.packet.tsUs));
    expect(firstJoinUs, 'the DUT\'s first join precedes its first frame to the group (µs)').to.be.at.most(firstFrameUs);
    for (const f of toGroup) {
      expect(hex(f.dlid, 4), 'LRH DLID of a frame to the group (its MLID)').to.equal(hex(group.mlid, 4));
      expect(hex(f.destQpn, 6), 'BTH DestQP of a frame to the group').to.equal(hex(MCAST_QPN, 6));
    }
    expect(dutRecord, 'the SA lists the DUT as a member of the group it sends to').to.not.equal(undefined);
    expect(qp.received().filter((f) => f.grh?.dgid.equals(mgid) ?? false).length, 'the probe (a FullMember) received the DUT\'s frames').to.be.greaterThan(0);
  });

  conformance({
    covers: ['RFC4392-1.3.2.1-a', 'RFC4392-1.3.2-a'],
    title: 'creates a multicast group only as a side effect of a SubnAdmSet join with a creating JoinState',
    tags: ['multicast', 'sa'],
    requires: ['wire-capture', 'probe', 'sa'],
  }, async (t: Case) => {
    const link = await t.dut.adapter.link();
    const pkey = link.pkey ?? 0xffff;
    const mgid = mgidForIpv4Group(UNCREATED_GROUP, pkey);
    const dutLid = await lidOf(t, link.hwaddr.gid, pkey);
    if ((await t.probe.groupMembers(mgid)).length > 0) t.skip(`${formatGid(mgid)} already exists`);

    const { packets } = await t.capture(() => pingGroup(t.dut, UNCREATED_GROUP), { nodes: [t.dut.fabricNode] });
    const mads = saMcMemberMads(packets);
    const requests = mads.filter((m) => m.slid === dutLid);
    const joins = requests.filter((m) => m.method === MAD_METHOD_SET && m.mcMember.mgid.equals(mgid));
    const answers = mads.filter((m) => m.dlid === dutLid && m.mcMember.mgid.equals(mgid));
    const members = await t.probe.groupMembers(mgid);
    const dutRecord = recordOf(members, link.hwaddr.gid);
    await t.attachJson('the DUT\'s MCMemberRecord requests and the answers', { requests: requests.map(saMadSummary), answers: answers.map(saMadSummary) });
    await t.attachJson('the group afterwards (SA)', members.map((m) => ({ portGid: formatGid(m.portGid), joinState: hexState(m.joinState), mlid: hex(m.mlid, 4) })));

    const allowed = [MAD_METHOD_SET, MAD_METHOD_DELETE, MAD_METHOD_GET, MAD_METHOD_GET_TABLE];
    for (const m of requests) {
      expect(allowed, `method of a DUT MCMemberRecord request (${hex(m.method, 2)}): joins are SubnAdmSet, leaves SubnAdmDelete`).to.include(m.method);
    }
    expect(joins.length, `the DUT joined ${formatGid(mgid)} before sending to it`).to.be.greaterThan(0);
    const creating = joins.filter((m) => (m.mcMember.joinState & CREATING_JOIN_STATES) !== 0);
    if (members.length > 0) {
      // The group exists now, and only the DUT can have made it: by a join that may create.
      expect(creating.length, `joins with FullMember or SendOnlyFullMember (the group ${formatGid(mgid)} exists now)`).to.be.greaterThan(0);
      expect(dutRecord, 'the DUT is a member of the group its join created').to.not.equal(undefined);
      expect(dutRecord!.joinState & CREATING_JOIN_STATES, 'the creating member\'s JoinState').to.not.equal(0);
    } else {
      expect(creating.length, 'joins with a creating JoinState that left no group behind').to.equal(0);
      expect(answers.every((a) => a.status !== 0), 'the SA refused every non-creating join to the absent group').to.equal(true);
    }
  });
});

describe('RFC 4392 §3.2 and §4.2.2: listening to IP groups @multicast @ip', () => {
  conformance({
    covers: ['RFC4392-4.2.2-a', 'RFC4392-4.2.2-b', 'RFC4392-3.2.1-a', 'RFC4392-3.2.2-a', 'RFC4391-10-k'],
    title: 'joins each IPv4 group its host listens to as a FullMember on its own transient MGID, and leaves it when the host stops',
    tags: ['multicast', 'mgid', 'sa'],
    requires: ['probe', 'sa'],
  }, async (t: Case) => {
    const link = await t.dut.adapter.link();
    const pkey = link.pkey ?? 0xffff;
    const mgids = LISTENED_GROUPS.map((g) => mgidForIpv4Group(g, pkey));
    const listeners = [];
    for (const g of LISTENED_GROUPS) listeners.push(await hostListen(t, t.dut, g));
    const dutIn = async (mgid: Buffer): Promise<McMemberRecord | undefined> => recordOf(await t.probe.groupMembers(mgid), link.hwaddr.gid);
    const joined = await poll(() => Promise.all(mgids.map(dutIn)), (rs) => rs.every((r) => r !== undefined), MEMBERSHIP_TIMEOUT_MS);
    const mcg = await t.dut.adapter.mcgDump();
    await listeners[0]!.stop();
    const left = await poll(() => dutIn(mgids[0]!), (r) => r === undefined, MEMBERSHIP_TIMEOUT_MS);
    const stillIn = await dutIn(mgids[1]!);
    await t.attachJson('memberships', {
      groups: LISTENED_GROUPS.map((g, i) => ({ group: g, mgid: formatGid(mgids[i]!), joinState: joined.value[i] ? hexState(joined.value[i]!.joinState) : null })),
      joinedAfterMs: joined.reached ? joined.waitedMs : null,
      leftAfterMs: left.reached ? left.waitedMs : null,
      secondStillJoined: stillIn ? hexState(stillIn.joinState) : null,
      mcg: mcg.map((r) => ({ mgid: formatGid(r.mgid), complete: r.complete, sendOnly: r.sendOnly })),
    });

    joined.value.forEach((r, i) => {
      expect(r, `the SA lists the DUT in ${formatGid(mgids[i]!)} (${LISTENED_GROUPS[i]}) within ${MEMBERSHIP_TIMEOUT_MS} ms of the host listening`).to.not.equal(undefined);
      expect(r!.joinState & JOIN_STATE_FULL, `the DUT's JoinState in ${LISTENED_GROUPS[i]}`).to.equal(JOIN_STATE_FULL);
    });
    expect(formatGid(mgids[0]!), 'two IPv4 groups map to two MGIDs').to.not.equal(formatGid(mgids[1]!));
    for (const m of mgids) {
      expect(mcg.some((r) => r.mgid.equals(m)), `the DUT's own group list has ${formatGid(m)}`).to.equal(true);
    }
    for (const r of mcg) {
      expect(r.mgid[0], `MGID ${formatGid(r.mgid)}: multicast prefix`).to.equal(0xff);
      expect((r.mgid[1] ?? 0) >> 4, `MGID ${formatGid(r.mgid)}: flags nibble (T set, nothing else)`).to.equal(MGID_FLAGS_TRANSIENT);
    }
    expect(left.reached, `the DUT left ${formatGid(mgids[0]!)} within ${MEMBERSHIP_TIMEOUT_MS} ms of the host no longer listening`).to.equal(true);
    expect(stillIn, `the DUT is still in ${LISTENED_GROUPS[1]}, which the host still listens to`).to.not.equal(undefined);
  });
});

describe('RFC 4392 §4.2.5: send-only memberships @multicast', () => {
  conformance({
    covers: ['RFC4392-4.2.5-a'],
    title: 'leaves a send-only multicast group some time after it stopped sending to it',
    tags: ['multicast', 'sa'],
    requires: ['probe', 'sa'],
    timeoutMs: SEND_ONLY_LEAVE_TIMEOUT_MS + 30_000,
  }, async (t: Case) => {
    if (process.env[LONG_CASES_ENV] !== '1') {
      t.skip(`Linux and the reference stack leave an idle send-only group after the neighbour idle limit (60 s) plus up to one GC pass (30 s), longer than the certification's time budget; set ${LONG_CASES_ENV}=1 to run this case`);
    }
    const link = await t.dut.adapter.link();
    const pkey = link.pkey ?? 0xffff;
    const mgid = mgidForIpv4Group(SENT_TO_GROUP, pkey);
    const bcast = await groupRecord(t, partitionBroadcastMgid(link.pkey ?? 0xffff));
    await probeCreates(t, mgid, bcast);
    await pingGroup(t.dut, SENT_TO_GROUP);
    const dutIn = async (): Promise<McMemberRecord | undefined> => recordOf(await t.probe.groupMembers(mgid), link.hwaddr.gid);
    const joined = await dutIn();
    const left = await poll(dutIn, (r) => r === undefined, SEND_ONLY_LEAVE_TIMEOUT_MS);
    await t.parameter('send-only idle leave after (ms)', left.reached ? left.waitedMs : 'never');
    expect(joined, 'the DUT joined the group it sent to').to.not.equal(undefined);
    expect(left.reached, `the DUT left the idle send-only group within ${SEND_ONLY_LEAVE_TIMEOUT_MS} ms`).to.equal(true);
  });

  conformance({
    covers: ['RFC4392-4.2.5-f'],
    title: 'never sends to the MLID of a group that was deleted and whose MLID went to another group',
    tags: ['multicast', 'sa'],
    requires: ['wire-capture', 'probe', 'sa'],
  }, async (t: Case) => {
    const link = await t.dut.adapter.link();
    const pkey = link.pkey ?? 0xffff;
    const mgid = mgidForIpv4Group(STALE_GROUP, pkey);
    const bcast = await groupRecord(t, partitionBroadcastMgid(link.pkey ?? 0xffff));
    const group = await probeCreates(t, mgid, bcast);
    await pingGroup(t.dut, STALE_GROUP, { count: 1 });
    const dut = recordOf(await t.probe.groupMembers(mgid), link.hwaddr.gid);
    await t.parameter('send-only JoinState', dut ? hexState(dut.joinState) : 'none');
    if (!dut) {
      expect.fail(`the DUT sent to ${STALE_GROUP} without being a member of ${formatGid(mgid)}`);
    }
    if ((dut.joinState & CREATING_JOIN_STATES) !== 0) {
      t.skip(`the DUT joins groups it only sends to with JoinState ${hexState(dut.joinState)}, which keeps the group and its MLID alive; the stale-MLID hazard of SendOnlyNonMember and NonMember ports does not arise`);
    }
    // The DUT is a non-full member: the probe's leave deletes the group; a new group takes its MLID.
    await group.leaveNow();
    const filler = await probeCreates(t, mgidForIpv4Group(FILLER_GROUP, pkey), bcast);
    const dutLid = await lidOf(t, link.hwaddr.gid, pkey);
    const { frames } = await t.capture(() => pingGroup(t.dut, STALE_GROUP, { count: 2 }), { nodes: [t.dut.fabricNode] });
    const now = (await t.probe.groupMembers(mgid))[0];
    const toGroup = frames.filter((f) => f.slid === dutLid && (f.ib.grh?.dgid.equals(mgid) ?? false));
    await t.attachJson('MLIDs', { deletedGroupMlid: hex(group.mlid, 4), fillerMlid: hex(filler.mlid, 4), groupNow: now ? hex(now.mlid, 4) : null });
    await t.attachJson('the DUT\'s frames to the deleted group', toGroup.map(frameSummary));
    for (const f of toGroup) {
      expect(now, `the DUT sent to ${formatGid(mgid)} although the group no longer exists`).to.not.equal(undefined);
      expect(hex(f.dlid, 4), 'DLID of a frame to the re-joined group (its current MLID)').to.equal(hex(now!.mlid, 4));
    }
  });
});

describe('RFC 4392 §4.2.3: IPoIB routers @multicast', () => {
  /** Skips unless the DUT forwards IPv4 (the router rows apply to routers only). */
  async function requireRouter(t: Case): Promise<void> {
    const r = await t.dut.transport.run(['cat', '/proc/sys/net/ipv4/ip_forward'], { timeoutMs: 5_000 });
    const forwarding = r.code === 0 && r.stdout.trim() === '1';
    await t.parameter('net.ipv4.ip_forward', r.code === 0 ? r.stdout.trim() : 'unreadable');
    if (!forwarding) t.skip('the DUT does not forward IPv4 (net.ipv4.ip_forward is not 1): it is a host, and these rows apply to IPoIB routers');
  }

  conformance({
    covers: ['RFC4392-4.2.3-b', 'RFC4392-4.2.3-c'],
    title: 'as a router, joins a group another port creates, as a NonMember',
    tags: ['multicast', 'sa'],
    requires: ['probe', 'sa'],
  }, async (t: Case) => {
    await requireRouter(t);
    const link = await t.dut.adapter.link();
    const mgid = mgidForIpv4Group(ROUTED_GROUP, link.pkey ?? 0xffff);
    await probeCreates(t, mgid, await groupRecord(t, partitionBroadcastMgid(link.pkey ?? 0xffff)));
    const r = await poll(async () => recordOf(await t.probe.groupMembers(mgid), link.hwaddr.gid), (x) => x !== undefined, MEMBERSHIP_TIMEOUT_MS);
    await t.parameter('router JoinState', r.value ? hexState(r.value.joinState) : 'none');
    expect(r.value, `the router DUT joined ${formatGid(mgid)} after the probe created it`).to.not.equal(undefined);
    expect(hexState(r.value!.joinState), 'the router\'s JoinState (NonMember, so it does not keep the group alive)').to.equal(hexState(JOIN_STATE_NON));
  });

  conformance({
    covers: ['RFC4392-4.2.3-d'],
    title: 'as a router, joins a group again after it was deleted and created anew',
    tags: ['multicast', 'sa'],
    requires: ['probe', 'sa'],
  }, async (t: Case) => {
    await requireRouter(t);
    const link = await t.dut.adapter.link();
    const mgid = mgidForIpv4Group(ROUTED_GROUP, link.pkey ?? 0xffff);
    const bcast = await groupRecord(t, partitionBroadcastMgid(link.pkey ?? 0xffff));
    const first = await probeCreates(t, mgid, bcast);
    const dutIn = async (): Promise<McMemberRecord | undefined> => recordOf(await t.probe.groupMembers(mgid), link.hwaddr.gid);
    await poll(dutIn, (x) => x !== undefined, MEMBERSHIP_TIMEOUT_MS);
    await first.leaveNow();
    const existsAfterLeave = (await t.probe.groupMembers(mgid)).length > 0;
    if (existsAfterLeave) t.skip('the router DUT keeps the group alive (a full member), so it is never deleted and re-created');
    await probeCreates(t, mgidForIpv4Group(FILLER_GROUP, link.pkey ?? 0xffff), bcast);
    const second = await probeCreates(t, mgid, bcast);
    const again = await poll(dutIn, (x) => x !== undefined, MEMBERSHIP_TIMEOUT_MS);
    await t.attachJson('MLIDs', { first: hex(first.mlid, 4), second: hex(second.mlid, 4), routerRecord: again.value ? hex(again.value.mlid, 4) : null });
    expect(again.value, 'the router DUT joined the re-created group').to.not.equal(undefined);
    expect(hex(again.value!.mlid, 4), 'MLID in the router\'s new membership').to.equal(hex(second.mlid, 4));
  });
});
