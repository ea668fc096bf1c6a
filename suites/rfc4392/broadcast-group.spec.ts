/**
 * RFC 4392 §1.3, §3.2, §4 and §4.2.5: an IPoIB link exists through its broadcast group. A port
 * takes part only after it joined (with the SA refusing joins, a new interface must stay
 * silent and without carrier), every link has a broadcast group that ARP uses, the DUT stays a
 * FullMember of it, and after an SM restart (which forgets every member and asks ports to
 * re-register) it joins again and traffic flows. The group's own parameters must suit every
 * member.
 */
import { expect } from 'chai';
import { type Case, conformance } from '../harness/conformance.js';
import type { IpoibFrame } from '../../src/lab/capture.js';
import { ETH_P_ARP, IB_MTU_CODE_TO_BYTES, JOIN_STATE_FULL, MAD_METHOD_GET_RESP, MAD_METHOD_SET, MCAST_QPN, PKEY_BASE_MASK, PKEY_FULL_MEMBER_BIT } from '../../src/wire/constants.js';
import type { McMemberRecord } from '../../src/wire/mcmember-record.js';
import { broadcastMgid, formatGid } from '../../src/wire/mgid.js';
import { frameSummary, saMadSummary, saMcMemberMads } from '../harness/capture-views.js';
import { lidOf, partitionBroadcastMgid } from '../harness/fabric-view.js';
import { hex } from '../harness/hex.js';
import { poll, sleep } from '../harness/poll.js';
import { listenOn } from '../harness/probe-helpers.js';

/** The child partition of the lab (lab/partitions/sim-lab.conf). */
const CHILD_PKEY = 0x8001;
const CHILD_CIDR = '198.51.100.1/24';
const PEER_CHILD_IPV4 = '198.51.100.2';
/** How long a refused interface is watched for carrier or frames. */
const REFUSED_WATCH_MS = 1_000;
/** How long an SM restart may take to be followed by working traffic. */
const RECOVERY_TIMEOUT_MS = 10_000;
const CASE_TIMEOUT_MS = 60_000;

/** The DUT's record in a group's member list (the SA's view), or undefined. */
function memberRecord(members: readonly McMemberRecord[], portGid: Buffer): McMemberRecord | undefined {
  return members.find((m) => m.portGid.equals(portGid));
}

async function dutBroadcastMembership(t: Case, mgid: Buffer, portGid: Buffer): Promise<McMemberRecord | undefined> {
  return memberRecord(await t.probe.groupMembers(mgid), portGid);
}

describe('RFC 4392 §1.3 and §4.2.1: no IPoIB traffic before the broadcast join @multicast', () => {
  conformance({
    covers: ['RFC4392-1.3-d', 'RFC4392-3.2-a', 'RFC4391-2-a', 'RFC4391-5-a'],
    title: 'keeps a new interface without carrier and silent on its partition while the SA refuses its broadcast join',
    tags: ['multicast', 'sa', 'pkey'],
    requires: ['wire-capture', 'probe', 'sa', 'partitions', 'fabric-control'],
    timeoutMs: CASE_TIMEOUT_MS,
  }, async (t: Case) => {
    const sim = t.lab.sim;
    if (!sim) t.skip('this lab cannot make the SA refuse joins');
    const a = t.dut.adapter;
    const parent = await a.link();
    const dutLid = await lidOf(t, parent.hwaddr.gid, parent.pkey ?? 0xffff);
    const mgid = broadcastMgid(CHILD_PKEY);
    // A receiver in the partition's broadcast group, so a broadcast the child sends has a route
    // (the sim drops unrouted multicast before its tap) and shows in the capture.
    await listenOn(t, mgid);

    await sim.refuseJoins(true);
    t.defer(() => sim.refuseJoins(false), 'the SA accepts joins again');
    let childIfname = '';
    const { result, packets, frames } = await t.capture(async () => {
      const child = await a.createChildSysfs(CHILD_PKEY);
      // Deleting the child undoes its admin state and address too.
      t.defer(child.undo, `delete ${child.ifname} (with its state and address)`);
      childIfname = child.ifname;
      await a.setUp(true, child.ifname);
      await a.addAddress(CHILD_CIDR, child.ifname);
      await sleep(REFUSED_WATCH_MS);
      // Traffic the host wants to send meanwhile must not go out.
      const ping = await a.ping(PEER_CHILD_IPV4, { count: 1, waitSeconds: 1, ifname: child.ifname });
      const link = await a.link(child.ifname);
      return { ping, link };
    });
    const mads = saMcMemberMads(packets).filter((m) => m.mcMember.mgid.equals(mgid));
    const joins = mads.filter((m) => m.slid === dutLid && m.method === MAD_METHOD_SET);
    const answers = mads.filter((m) => m.dlid === dutLid && m.method === MAD_METHOD_GET_RESP);
    const inPartition = (f: IpoibFrame): boolean => (f.pkey & PKEY_BASE_MASK) === (CHILD_PKEY & PKEY_BASE_MASK) || (f.ib.grh?.dgid.equals(mgid) ?? false);
    const childFrames = frames.filter((f) => f.slid === dutLid && (f.srcQpn === result.link.hwaddr.qpn || inPartition(f)));
    await t.attachJson('child after the refused join', { ifname: childIfname, carrier: result.link.carrier, operstate: result.link.operstate, ping: result.ping });
    await t.attachJson(`SA MADs for ${formatGid(mgid)}`, mads.map(saMadSummary));
    await t.attachJson('frames from the child', childFrames.map(frameSummary));

    expect(joins.length, `the DUT asked the SA to join ${formatGid(mgid)} (it must join to take part)`).to.be.greaterThan(0);
    expect(answers.every((m) => m.status !== 0), 'the SA refused every join (the fault is in place)').to.equal(true);
    expect(result.link.carrier, `carrier of ${childIfname} while its broadcast join is refused`).to.equal(false);
    expect(childFrames.length, `IPoIB frames sent by ${childIfname} while not joined`).to.equal(0);
    expect(result.ping.received, 'echo replies through an interface that never joined').to.equal(0);
  });
});

describe('RFC 4392 §4.2 and §4.2.5: the broadcast group of the link @multicast', () => {
  conformance({
    covers: ['RFC4392-4.2-d', 'RFC4392-4.2.5-c', 'RFC4392-3.2-a'],
    title: 'has a broadcast group on its link, sends its ARP requests there, and stays a FullMember of it while idle',
    tags: ['multicast', 'arp', 'sa', 'mgid'],
    requires: ['wire-capture', 'probe', 'sa', 'ipv4'],
  }, async (t: Case) => {
    if (!t.peer.ipv4) t.skip('the lab file gives the peer no IPv4 address');
    const peerIpv4 = t.peer.ipv4;
    const link = await t.dut.adapter.link();
    const pkey = link.pkey ?? 0xffff;
    const want = broadcastMgid(pkey | PKEY_FULL_MEMBER_BIT);
    const members = await t.probe.groupMembers(want);
    const before = memberRecord(members, link.hwaddr.gid);
    const dutLid = await lidOf(t, link.hwaddr.gid, pkey);
    t.defer(await t.dut.adapter.flushNeighbours());
    const { result: ping, frames } = await t.capture(() => t.dut.adapter.ping(peerIpv4, { count: 1, waitSeconds: 2 }), { nodes: [t.dut.fabricNode] });
    const arpRequests = frames.filter((f) => f.slid === dutLid && f.header?.type === ETH_P_ARP && f.destQpn === MCAST_QPN);
    // Idle a while (no traffic of its own), then ask the SA again.
    await sleep(500);
    const after = await dutBroadcastMembership(t, want, link.hwaddr.gid);
    await t.attachJson('broadcast address and group', {
      broadcast: { qpn: hex(link.broadcast.qpn, 6), gid: formatGid(link.broadcast.gid) },
      expected: formatGid(want),
      saRecordBefore: before ? { joinState: before.joinState, mlid: hex(before.mlid, 4) } : null,
      saRecordAfterIdle: after ? { joinState: after.joinState, mlid: hex(after.mlid, 4) } : null,
      ping,
    });
    await t.attachJson('ARP requests the DUT sent', arpRequests.map(frameSummary));

    expect(formatGid(link.broadcast.gid), 'the interface\'s broadcast address GID (the IPv4 broadcast-GID of its P_Key)').to.equal(formatGid(want));
    expect(hex(link.broadcast.qpn, 6), 'the broadcast address QPN').to.equal(hex(MCAST_QPN, 6));
    expect(before, `the SA lists the DUT (${formatGid(link.hwaddr.gid)}) in ${formatGid(want)}`).to.not.equal(undefined);
    expect(before!.joinState & JOIN_STATE_FULL, 'the DUT\'s JoinState in the broadcast group has FullMember').to.equal(JOIN_STATE_FULL);
    expect(ping.received, `the DUT reached ${peerIpv4} after resolving it`).to.equal(1);
    expect(arpRequests.length, 'broadcast ARP requests from the DUT after the neighbour flush').to.be.greaterThan(0);
    for (const f of arpRequests) {
      expect(f.ib.grh ? formatGid(f.ib.grh.dgid) : null, 'GRH DGID of the DUT\'s ARP request').to.equal(formatGid(want));
      expect(hex(f.dlid, 4), 'LRH DLID of the DUT\'s ARP request (the broadcast group\'s MLID)').to.equal(hex(before!.mlid, 4));
    }
    expect(after, 'the DUT is still in the broadcast group after idling').to.not.equal(undefined);
    expect(after!.joinState & JOIN_STATE_FULL, 'the DUT\'s JoinState after idling has FullMember').to.equal(JOIN_STATE_FULL);
  });

  conformance({
    covers: ['RFC4392-4.2.5-c', 'RFC4392-1.3-d'],
    title: 'joins its broadcast group again after the SM restarts and asks ports to re-register, and reaches the peer again',
    tags: ['multicast', 'sa'],
    requires: ['wire-capture', 'probe', 'sa', 'fabric-control', 'ipv4'],
    timeoutMs: CASE_TIMEOUT_MS,
  }, async (t: Case) => {
    const sim = t.lab.sim;
    if (!sim) t.skip('this lab cannot restart the SM');
    if (!t.peer.ipv4) t.skip('the lab file gives the peer no IPv4 address');
    const peerIpv4 = t.peer.ipv4;
    const link = await t.dut.adapter.link();
    const dutLid = await lidOf(t, link.hwaddr.gid, link.pkey ?? 0xffff);
    const bgid = partitionBroadcastMgid(link.pkey ?? 0xffff);
    t.defer(() => sim.setSmRunning(true), 'the SM runs');
    let restartedAtUs = 0;
    const { result, packets } = await t.capture(async () => {
      await sim.setSmRunning(false);
      await sleep(200);
      restartedAtUs = Date.now() * 1000;
      await sim.setSmRunning(true);
      return poll(() => t.dut.adapter.ping(peerIpv4, { count: 1, waitSeconds: 1 }), (p) => p.received === 1, RECOVERY_TIMEOUT_MS);
    });
    const mads = saMcMemberMads(packets).filter((m) => m.mcMember.mgid.equals(bgid));
    const rejoins = mads.filter((m) => m.slid === dutLid && m.method === MAD_METHOD_SET && m.tsUs >= restartedAtUs);
    const granted = mads.filter((m) => m.dlid === dutLid && m.method === MAD_METHOD_GET_RESP && m.status === 0 && m.tsUs >= restartedAtUs);
    const record = await dutBroadcastMembership(t, bgid, link.hwaddr.gid);
    await t.attachJson('after the SM restart', {
      pingRecoveredAfterMs: result.reached ? result.waitedMs : null,
      saRecord: record ? { joinState: record.joinState, mlid: hex(record.mlid, 4) } : null,
    });
    await t.attachJson(`SA MADs for ${formatGid(bgid)}`, mads.map(saMadSummary));

    expect(rejoins.length, `the DUT sent a join for its broadcast group ${formatGid(bgid)} after the SM came back`).to.be.greaterThan(0);
    expect(rejoins.every((m) => (m.mcMember.joinState & JOIN_STATE_FULL) !== 0), 'the re-join asks for FullMember').to.equal(true);
    expect(granted.length, 'the SA granted a re-join').to.be.greaterThan(0);
    expect(record, 'the fresh SA lists the DUT in the broadcast group again').to.not.equal(undefined);
    expect(record!.joinState & JOIN_STATE_FULL, 'the DUT\'s JoinState in the broadcast group has FullMember').to.equal(JOIN_STATE_FULL);
    expect(result.reached, `the DUT reaches ${peerIpv4} again within ${RECOVERY_TIMEOUT_MS} ms`).to.equal(true);
  });

  conformance({
    covers: ['RFC4392-4-b'],
    title: 'finds the broadcast group\'s MTU, rate and P_Key within what every member\'s path allows',
    tags: ['multicast', 'sa', 'mtu', 'pkey'],
    requires: ['probe', 'sa'],
  }, async (t: Case) => {
    const dutLink = await t.dut.adapter.link();
    const peerLink = await t.peer.adapter.link();
    const pkey = dutLink.pkey ?? 0xffff;
    const bgid = partitionBroadcastMgid(pkey);
    const members = await t.probe.groupMembers(bgid);
    const group = members[0];
    if (!group) t.skip(`the SA has no group ${formatGid(bgid)}`);
    const paths = {
      probeToDut: await t.probe.pathTo(dutLink.hwaddr.gid, pkey),
      probeToPeer: await t.probe.pathTo(peerLink.hwaddr.gid, pkey),
    };
    const memberGids = members.map((m) => formatGid(m.portGid));
    await t.attachJson('broadcast group and paths', {
      group: { mgid: formatGid(group.mgid), pkey: hex(group.pkey, 4), qkey: hex(group.qkey, 8), mtu: IB_MTU_CODE_TO_BYTES[group.mtu], rate: group.rate, sl: group.sl, hopLimit: group.hopLimit },
      paths: Object.fromEntries(Object.entries(paths).map(([k, p]) => [k, { mtu: IB_MTU_CODE_TO_BYTES[p.mtu], rate: p.rate, sl: p.sl }])),
      members: memberGids,
    });

    expect(group.pkey & PKEY_FULL_MEMBER_BIT, 'the group\'s P_Key is a full-membership key').to.equal(PKEY_FULL_MEMBER_BIT);
    for (const [name, p] of Object.entries(paths)) {
      expect(group.mtu, `group MTU code ${group.mtu} within the ${name} path MTU code ${p.mtu}`).to.be.at.most(p.mtu);
    }
    expect(memberGids, 'the DUT and the peer could both join the group').to.include.members([formatGid(dutLink.hwaddr.gid), formatGid(peerLink.hwaddr.gid)]);
  });
});

