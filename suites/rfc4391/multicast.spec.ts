/**
 * RFC 4391 §10 and §12: IP multicast over IPoIB. A host group the DUT listens to becomes a
 * FullMember join of the mapped MGID (created with the broadcast group's parameters when new)
 * and a FullMember leave when it stops; a group it only sends to needs a join first (send-only
 * or full) and its traffic goes to the group's MLID; a group with no members goes to the
 * on-link routers; failed joins are logged. Also: the DUT's own multicast, delivered back by
 * the fabric, must not reach its IP stack.
 *
 * The DUT's IP stack is made to listen with `ip addr add GROUP/32 dev IF autojoin` (the
 * kernel's own membership, as an application's IP_ADD_MEMBERSHIP would make it) and to send
 * with ping. Membership is read back from the SA (probe.groupMembers), joins off the tap.
 */
import { expect } from 'chai';
import { readFileSync, statSync } from 'node:fs';
import { JOIN_STATE_FULL, JOIN_STATE_SEND_ONLY_FULL, JOIN_STATE_SEND_ONLY_NON, MAD_METHOD_DELETE, MAD_METHOD_SET, MCAST_QPN, SA_ATTR_INFORM_INFO, SA_ATTR_MCMEMBER_RECORD } from '../../src/wire/constants.js';
import { fabricPaths } from '../../src/fabric/sim/run-dir.js';
import type { McMemberRecord } from '../../src/wire/mcmember-record.js';
import { broadcastMgid, formatGid, mgidForIpv4Group } from '../../src/wire/mgid.js';
import { type CapturedSaMad, frameSummary, saMadSummary, saRequests, uniqueFrames } from '../harness/capture-views.js';
import { conformance, type Case } from '../harness/conformance.js';
import { dutOnFabric, subnetBroadcast } from '../harness/fabric-view.js';
import { arpFrame, echoFrame, echoReplyOf, ipv4Of, isArpReply, isEchoReply } from '../harness/frames.js';
import { hex2, hex6, hex8 } from '../harness/hex.js';
import { hostListen, pingGroup } from '../harness/node-actions.js';
import { poll, sleep } from '../harness/poll.js';
import { ANSWER_MS, broadcastRecord, forgetProbeAfter, frameOrNull, joinFromProbe, openQp, probeHwAddr, sendToGroup, SILENCE_MS } from '../harness/probe-helpers.js';

/** How long a host join or leave may take to reach the SA (the reference stack polls the host's groups every 500 ms). */
const MEMBERSHIP_MS = 3_000;

/** The DUT's membership record in `mgid`, polled until `present` holds (or the time is up). */
async function dutMembership(t: Case, mgid: Buffer, dutGid: Buffer, present: boolean, timeoutMs = MEMBERSHIP_MS): Promise<McMemberRecord | null> {
  const mine = (ms: McMemberRecord[]) => ms.find((m) => m.portGid.equals(dutGid)) ?? null;
  const members = await poll(() => t.probe.groupMembers(mgid), (ms) => (mine(ms) !== null) === present, timeoutMs);
  return mine(members.value);
}

/** A sysctl of the DUT's IP stack set for the case (undo queued). */
async function dutSysctl(t: Case, key: string, value: string): Promise<void> {
  const before = (await t.dut.transport.check(['sysctl', '-n', key], { timeoutMs: 10_000 })).stdout.trim();
  if (before === value) return;
  await t.dut.transport.check(['sysctl', '-qw', `${key}=${value}`], { timeoutMs: 10_000 });
  t.defer(async () => void (await t.dut.transport.check(['sysctl', '-qw', `${key}=${before}`], { timeoutMs: 10_000 })), `DUT ${key} back to ${before}`);
}

/** Pings a multicast or broadcast address from the DUT's IP stack (IP TTL 4); no replies is a normal result here. */
function dutPingGroup(t: Case, target: string, count: number, o: { broadcast?: boolean } = {}): Promise<void> {
  return pingGroup(t.dut, target, { count, ttl: 4, ...o });
}

/** The parameters a group created by an IPoIB join must copy from the broadcast group (§10). */
function groupParams(r: McMemberRecord): Record<string, number> {
  return { qkey: r.qkey, pkey: r.pkey, sl: r.sl, mtu: r.mtu, hopLimit: r.hopLimit, trafficClass: r.trafficClass, flowLabel: r.flowLabel, rate: r.rate };
}

function joinsFor(reqs: readonly CapturedSaMad[], mgid: Buffer, method: number): CapturedSaMad[] {
  return reqs.filter((r) => r.attributeId === SA_ATTR_MCMEMBER_RECORD && r.method === method && r.mcMember?.mgid.equals(mgid));
}

describe('RFC 4391 §10: IP multicast over IPoIB @multicast @ip', function () {
  conformance(
    {
      covers: ['RFC4391-10-k', 'RFC4391-10-l', 'RFC4391-10-m', 'RFC4391-10-n', 'RFC4391-4-d'],
      title: 'joins a group its IP stack listens to as a FullMember of the mapped MGID, with the broadcast group\'s parameters, and then receives the group\'s traffic',
      tags: ['multicast', 'mgid', 'sa', 'icmp'],
      requires: ['probe', 'wire-capture', 'sa', 'ipv4'],
    },
    async (t) => {
      const dut = await dutOnFabric(t);
      const bcast = await broadcastRecord(t, dut.pkey);
      const group = '239.42.0.3';
      const mgid = mgidForIpv4Group(group, bcast.pkey);
      const existedBefore = (await t.probe.groupMembers(mgid)).length > 0;
      const { result: member, packets } = await t.capture(async () => {
        await hostListen(t, t.dut, group);
        return dutMembership(t, mgid, dut.hwaddr.gid, true);
      });
      const joins = joinsFor(saRequests(packets, { slid: dut.lid }), mgid, MAD_METHOD_SET);
      const created = (await t.probe.groupMembers(mgid))[0] ?? null;
      await t.attachJson('join and group record', {
        group,
        mgid: formatGid(mgid),
        existedBefore,
        joins: joins.map(saMadSummary),
        dutRecord: member ? { joinState: member.joinState } : null,
        broadcast: groupParams(bcast),
        group_: created ? groupParams(created) : null,
      });

      expect(joins.length, `SA joins (SubnAdmSet MCMemberRecord) from the DUT for ${formatGid(mgid)}`).to.be.greaterThan(0);
      expect(hex2(joins[0]!.mcMember!.joinState), 'JoinState of the DUT join').to.equal(hex2(JOIN_STATE_FULL));
      expect(member, `the DUT in the SA's member list of ${formatGid(mgid)}`).to.not.equal(null);
      expect((member?.joinState ?? 0) & JOIN_STATE_FULL, 'FullMember bit of the DUT record').to.equal(JOIN_STATE_FULL);
      if (!existedBefore) {
        // The DUT's join created the group: it carries the broadcast group's parameters.
        const g = groupParams(created!);
        const b = groupParams(bcast);
        expect(g.mtu, 'MTU of the new group = the IPoIB link MTU (the broadcast group\'s)').to.equal(b.mtu);
        expect({ qkey: hex8(g.qkey!), pkey: g.pkey, sl: g.sl, mtu: g.mtu, hopLimit: g.hopLimit }, 'P_Key, Q_Key, SL, MTU, HopLimit of the new group vs the broadcast group').to.deep.equal({ qkey: hex8(b.qkey!), pkey: b.pkey, sl: b.sl, mtu: b.mtu, hopLimit: b.hopLimit });
        expect({ trafficClass: g.trafficClass, flowLabel: g.flowLabel, rate: g.rate }, 'TClass, FlowLabel, Rate of the new group vs the broadcast group').to.deep.equal({ trafficClass: b.trafficClass, flowLabel: b.flowLabel, rate: b.rate });
      }

      // Traffic to the group reaches the DUT's IP stack: an echo to the group is answered.
      await dutSysctl(t, 'net.ipv4.icmp_echo_ignore_broadcasts', '0');
      const qp = await openQp(t, { pkey: dut.pkey, qkey: bcast.qkey });
      const bcastGroup = await joinFromProbe(t, broadcastMgid(bcast.pkey), JOIN_STATE_FULL, { qp });
      const sendTo = await joinFromProbe(t, mgid, JOIN_STATE_SEND_ONLY_NON);
      if (!bcastGroup || !sendTo) return t.skip('the probe could not join the broadcast group or the host group to send');
      forgetProbeAfter(t);
      const probeIp = '192.0.2.203';
      sendToGroup(qp, bcastGroup, arpFrame({ sha: probeHwAddr(t, qp), spa: probeIp, tpa: dut.ipv4 }));
      await frameOrNull(qp, (f) => isArpReply(f.payload, { from: dut.ipv4, to: probeIp, tolerant: true }), ANSWER_MS);
      sendToGroup(qp, sendTo, echoFrame(4, { src: probeIp, dst: group, identifier: 0x4303, sequence: 1 }));
      const reply = await frameOrNull(qp, (f) => isEchoReply(f.payload, { family: 4, identifier: 0x4303 }), ANSWER_MS);
      await t.attachJson('echo to the group', { mlid: sendTo.mlid, replied: reply !== null, from: reply ? echoReplyOf(reply.payload) : null });
      expect(reply, `an echo reply from the DUT to an echo request sent to ${group} (MLID ${sendTo.mlid})`).to.not.equal(null);
    },
  );

  conformance(
    {
      covers: ['RFC4391-10-p'],
      title: 'sends a FullMember leave when its IP stack stops listening to a group, and drops out of the SA\'s member list',
      tags: ['multicast', 'sa'],
      requires: ['probe', 'wire-capture', 'sa', 'ipv4'],
    },
    async (t) => {
      const dut = await dutOnFabric(t);
      const bcast = await broadcastRecord(t, dut.pkey);
      const group = '239.42.0.4';
      const mgid = mgidForIpv4Group(group, bcast.pkey);
      const { stop: leave } = await hostListen(t, t.dut, group);
      const joined = await dutMembership(t, mgid, dut.hwaddr.gid, true);
      if (!joined) return t.skip(`the DUT never joined ${formatGid(mgid)}, so there is nothing to leave (the join case judges that)`);
      const { result: still, packets } = await t.capture(async () => {
        await leave();
        return dutMembership(t, mgid, dut.hwaddr.gid, false);
      });
      const leaves = joinsFor(saRequests(packets, { slid: dut.lid }), mgid, MAD_METHOD_DELETE);
      await t.attachJson('leave', { mgid: formatGid(mgid), leaves: leaves.map(saMadSummary), stillMember: still !== null });

      expect(leaves.length, `SA leaves (SubnAdmDelete MCMemberRecord) from the DUT for ${formatGid(mgid)}`).to.be.greaterThan(0);
      expect((leaves[0]!.mcMember!.joinState & JOIN_STATE_FULL) !== 0, `FullMember bit in the leave's JoinState (${hex2(leaves[0]!.mcMember!.joinState)})`).to.equal(true);
      expect(still, `the DUT's record in ${formatGid(mgid)} ${MEMBERSHIP_MS} ms after the leave`).to.equal(null);
    },
  );

  conformance(
    {
      covers: ['RFC4391-10-a', 'RFC4391-10-e', 'RFC4391-10-g', 'RFC4391-10-h'],
      title: 'joins a group it only sends to before its first packet there, sends to the group\'s MLID, and does not ask the SA again for every packet',
      tags: ['multicast', 'sa'],
      requires: ['probe', 'wire-capture', 'sa', 'ipv4'],
    },
    async (t) => {
      const dut = await dutOnFabric(t);
      const bcast = await broadcastRecord(t, dut.pkey);
      const group = '239.42.0.5';
      const mgid = mgidForIpv4Group(group, bcast.pkey);
      const qp = await openQp(t, { pkey: dut.pkey, qkey: bcast.qkey });
      // The probe listens to the group (and so makes it exist), as another host would.
      const listener = await joinFromProbe(t, mgid, JOIN_STATE_FULL, { qp, record: { qkey: bcast.qkey, pkey: bcast.pkey, mtu: bcast.mtu, mtuSelector: 2, rate: bcast.rate, rateSelector: 2, sl: bcast.sl, trafficClass: bcast.trafficClass, flowLabel: bcast.flowLabel, hopLimit: bcast.hopLimit } });
      if (!listener) return t.skip(`the probe could not create ${formatGid(mgid)}`);
      const packetsSent = 3;
      const { packets, frames } = await t.capture(() => dutPingGroup(t, group, packetsSent));
      const joins = joinsFor(saRequests(packets, { slid: dut.lid }), mgid, MAD_METHOD_SET);
      const data = uniqueFrames(frames.filter((f) => f.slid === dut.lid && ipv4Of(f.ib.payload)?.header.dst === group));
      const heard = qp.received().filter((f) => f.slid === dut.lid);
      await t.attachJson('joins and data', { mgid: formatGid(mgid), mlid: listener.mlid, joins: joins.map(saMadSummary), data: data.map(frameSummary), receivedByProbe: heard.length });
      if (joins[0]) await t.parameter('JoinState of the sender join', hex2(joins[0].mcMember!.joinState));

      expect(data.length, `IPv4 frames from the DUT to ${group}`).to.be.greaterThan(0);
      expect(joins.length, `SA joins from the DUT for ${formatGid(mgid)}`).to.be.greaterThan(0);
      expect([JOIN_STATE_FULL, JOIN_STATE_SEND_ONLY_NON, JOIN_STATE_SEND_ONLY_FULL].map(hex2), 'JoinState of the sender join (FullMember, SendOnlyNonMember, or SendOnlyFullMember)').to.include(hex2(joins[0]!.mcMember!.joinState));
      expect(joins[0]!.tsUs, 'the join went out before the first data frame (µs timestamps)').to.be.at.most(data[0]!.packet.tsUs);
      for (const f of data) {
        expect(f.dlid, 'LRH DLID of DUT multicast = the group MLID').to.equal(listener.mlid);
        expect(f.ib.grh ? formatGid(f.ib.grh.dgid) : 'no GRH', 'GRH DGID of DUT multicast').to.equal(formatGid(mgid));
        expect(hex6(f.destQpn), 'BTH DestQP of DUT multicast').to.equal(hex6(MCAST_QPN));
        expect(hex8(f.qkey), 'Q_Key of DUT multicast = the group Q_Key').to.equal(hex8(listener.qkey));
      }
      expect(heard.length, 'DUT frames the listening probe QP received').to.be.greaterThan(0);
      expect(joins.length, `SA joins for ${packetsSent} packets to one group (cached after the first)`).to.equal(1);
    },
  );

  conformance(
    {
      covers: ['RFC4391-10-i'],
      title: 'subscribes to the SA\'s group create and delete reports (traps 66 and 67) for a multicast group it starts sending to',
      tags: ['multicast', 'sa'],
      requires: ['probe', 'wire-capture', 'sa', 'ipv4'],
    },
    async (t) => {
      const dut = await dutOnFabric(t);
      const bcast = await broadcastRecord(t, dut.pkey);
      const group = '239.42.0.6';
      const mgid = mgidForIpv4Group(group, bcast.pkey);
      const listener = await joinFromProbe(t, mgid, JOIN_STATE_FULL, { record: { qkey: bcast.qkey, pkey: bcast.pkey, mtu: bcast.mtu, mtuSelector: 2, rate: bcast.rate, rateSelector: 2, sl: bcast.sl, trafficClass: bcast.trafficClass, flowLabel: bcast.flowLabel, hopLimit: bcast.hopLimit } });
      if (!listener) return t.skip(`the probe could not create ${formatGid(mgid)}`);
      const { packets } = await t.capture(async () => {
        await dutPingGroup(t, group, 1);
        await sleep(SILENCE_MS);
      });
      const fromDut = saRequests(packets, { slid: dut.lid });
      const subscriptions = fromDut.filter((r) => r.attributeId === SA_ATTR_INFORM_INFO && r.method === MAD_METHOD_SET);
      await t.attachJson('SA requests from the DUT', { mgid: formatGid(mgid), requests: fromDut.map(saMadSummary) });
      await t.parameter('window', 'from the DUT\'s first send to the group until 400 ms after; a subscription made only at interface bring-up is outside it');
      expect(subscriptions.length, 'SubnAdmSet(InformInfo) requests from the DUT while it started sending to the group').to.be.greaterThan(0);
    },
  );

  conformance(
    {
      covers: ['RFC4391-10-b', 'RFC4391-10-c', 'RFC4391-10-d', 'RFC4391-10-j'],
      title: 'sends to a group with no members through the all-routers group, and moves to the group once a listener appears',
      tags: ['multicast', 'sa'],
      requires: ['probe', 'wire-capture', 'sa', 'ipv4'],
    },
    async (t) => {
      const dut = await dutOnFabric(t);
      const bcast = await broadcastRecord(t, dut.pkey);
      const group = '239.42.9.9';
      const mgid = mgidForIpv4Group(group, bcast.pkey);
      const allRouters = mgidForIpv4Group('224.0.0.2', bcast.pkey);
      if ((await t.probe.groupMembers(mgid)).length > 0) return t.skip(`${formatGid(mgid)} already exists, so the no-member case cannot be set up`);
      const params = { qkey: bcast.qkey, pkey: bcast.pkey, mtu: bcast.mtu, mtuSelector: 2, rate: bcast.rate, rateSelector: 2, sl: bcast.sl, trafficClass: bcast.trafficClass, flowLabel: bcast.flowLabel, hopLimit: bcast.hopLimit };
      // The probe plays the on-link router: a FullMember of all-routers.
      const router = await openQp(t, { pkey: dut.pkey, qkey: bcast.qkey });
      const routers = await joinFromProbe(t, allRouters, JOIN_STATE_FULL, { qp: router, record: params });
      if (!routers) return t.skip(`the probe could not join the all-routers group ${formatGid(allRouters)}`);
      const { packets, frames } = await t.capture(() => dutPingGroup(t, group, 2));
      const joins = joinsFor(saRequests(packets, { slid: dut.lid }), mgid, MAD_METHOD_SET);
      const data = uniqueFrames(frames.filter((f) => f.slid === dut.lid && ipv4Of(f.ib.payload)?.header.dst === group));
      const created = await t.probe.groupMembers(mgid);
      const dutCreated = created.find((m) => m.portGid.equals(dut.hwaddr.gid));
      await t.attachJson('sends to a group without members', {
        mgid: formatGid(mgid),
        allRouters: formatGid(allRouters),
        joins: joins.map(saMadSummary),
        data: data.map(frameSummary),
        groupAfter: created.map((m) => ({ portGid: formatGid(m.portGid), joinState: hex2(m.joinState) })),
      });
      if (dutCreated) {
        return t.skip(`the DUT's own join (JoinState ${hex2(dutCreated.joinState)}) created ${formatGid(mgid)}, so its packets never met a group without members (the create-capable send-only join of IBA 1.3 and Linux)`);
      }
      const dgids = data.map((f) => (f.ib.grh ? formatGid(f.ib.grh.dgid) : 'no GRH'));
      expect(data.length, `frames from the DUT to ${group} (dropping them is allowed only without an all-routers group)`).to.be.greaterThan(0);
      expect(dgids.every((d) => d === formatGid(allRouters)), `GRH DGIDs of the DUT's frames to ${group}: want the all-routers MGID ${formatGid(allRouters)} (preferred over the broadcast group)`).to.equal(true);

      // A listener appears: the DUT's traffic must move to the group.
      const listener = await joinFromProbe(t, mgid, JOIN_STATE_FULL, { record: params });
      if (!listener) return t.skip(`the probe could not create ${formatGid(mgid)}`);
      const again = await t.capture(() => dutPingGroup(t, group, 2));
      const moved = uniqueFrames(again.frames.filter((f) => f.slid === dut.lid && ipv4Of(f.ib.payload)?.header.dst === group));
      await t.attachJson('after a listener appeared', moved.map(frameSummary));
      expect(moved.map((f) => (f.ib.grh ? formatGid(f.ib.grh.dgid) : 'no GRH')), 'GRH DGIDs of the DUT frames once the group exists').to.include(formatGid(mgid));
    },
  );

  conformance(
    {
      covers: ['RFC4392-3-a'],
      probes: ['P-MC-4'],
      title: 'drops its own multicast delivered back to its port: its IP stack never receives its own broadcast',
      tags: ['multicast', 'robustness'],
      requires: ['probe', 'wire-capture', 'ipv4'],
    },
    async (t) => {
      const dut = await dutOnFabric(t);
      const bcast = await broadcastRecord(t, dut.pkey);
      const broadcastIp = subnetBroadcast(t.dut.node.addresses);
      if (!broadcastIp) return t.skip('the lab file gives the DUT no IPv4 address');
      const sent = 5;
      let before: Record<string, number> = {};
      let after: Record<string, number> = {};
      const { frames } = await t.capture(
        async () => {
          before = await t.dut.adapter.counters();
          await dutPingGroup(t, broadcastIp, sent, { broadcast: true });
          after = await t.dut.adapter.counters();
        },
        { nodes: [t.dut.fabricNode] },
      );
      // With the capture limited to the DUT's port, a DUT multicast frame seen twice was sent and then accepted back.
      const own = frames.filter((f) => f.slid === dut.lid && f.dlid === bcast.mlid && ipv4Of(f.ib.payload)?.header.dst === broadcastIp);
      const echoedBack = own.length - uniqueFrames(own).length;
      const fromOthers = uniqueFrames(frames.filter((f) => f.slid !== dut.lid)).length;
      const rxDelta = (after.rx_packets ?? 0) - (before.rx_packets ?? 0);
      await t.attachJson('own broadcast and receive counters', { broadcastIp, sent, ownFramesOnTheDutPort: own.length, echoedBack, framesFromOthers: fromOthers, rx_packets: { before: before.rx_packets, after: after.rx_packets }, rx_own_echo: { before: before.rx_own_echo, after: after.rx_own_echo } });
      if (echoedBack === 0) return t.skip('the fabric did not deliver the DUT\'s own multicast back to its port, so there is nothing to filter');
      expect(rxDelta, `rx_packets grew by ${rxDelta} while the DUT port accepted ${fromOthers} frame(s) from others and ${echoedBack} copies of its own broadcast`).to.be.at.most(fromOthers);
    },
  );

  conformance(
    {
      covers: ['RFC4391-10-k'],
      title: 'still joins a host group nobody else on its port holds when umcast is set',
      tags: ['multicast', 'sa'],
      requires: ['probe', 'sa', 'ipv4'],
    },
    async (t) => {
      const dut = await dutOnFabric(t);
      const bcast = await broadcastRecord(t, dut.pkey);
      t.defer(await t.dut.adapter.setUmcast(true), 'umcast back');
      const group = '239.42.0.7';
      const mgid = mgidForIpv4Group(group, bcast.pkey);
      await hostListen(t, t.dut, group);
      const member = await dutMembership(t, mgid, dut.hwaddr.gid, true);
      await t.attachJson('membership with umcast set', { mgid: formatGid(mgid), dutJoinState: member ? hex2(member.joinState) : null });
      expect(member, `the DUT in ${formatGid(mgid)} with umcast set`).to.not.equal(null);
      expect(member!.joinState & JOIN_STATE_FULL, 'FullMember bit').to.equal(JOIN_STATE_FULL);
    },
  );

  conformance(
    {
      covers: ['RFC4391-12-b'],
      title: 'logs an error when a multicast join fails',
      tags: ['multicast', 'sa'],
      requires: ['fabric-control', 'reference-dut', 'ipv4'],
    },
    async (t) => {
      const sim = t.lab.sim;
      if (!sim) return t.skip('the lab cannot make the SA refuse joins');
      const logFile = `${fabricPaths(sim.name).dir}/ipoibd-${t.dut.fabricNode}.log`;
      const dut = await dutOnFabric(t);
      const pkey = (await broadcastRecord(t, dut.pkey)).pkey;
      const group = '239.42.0.9';
      const mgid = mgidForIpv4Group(group, pkey);
      const startAt = statSync(logFile).size;
      await sim.refuseJoins(true);
      t.defer(() => sim.refuseJoins(false), 'SA accepts joins again');
      await hostListen(t, t.dut, group);
      // The log names the group; the kernel's debugfs form has no "::" compression.
      const names = [formatGid(mgid), mgid.toString('hex').replace(/(.{4})(?!$)/g, '$1:')];
      const newLines = (): string[] => readFileSync(logFile, 'utf8').slice(startAt).split('\n').filter(Boolean);
      const lines = (await poll(async () => newLines(), (ls) => ls.some((l) => names.some((n) => l.includes(n))), MEMBERSHIP_MS, 200)).value;
      await t.attachJson('log lines after the refused join', { logFile, mgid: names, lines: lines.slice(-20) });
      const logged = lines.filter((l) => names.some((n) => l.includes(n)) && /fail|error|refus/i.test(l));
      expect(logged.length, `log lines about the failed join of ${names[0]}`).to.be.greaterThan(0);
    },
  );
});
