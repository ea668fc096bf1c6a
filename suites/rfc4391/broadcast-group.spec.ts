/**
 * RFC 4391 §4 and §4.1/§5: the broadcast group. Its MGID (the broadcast-GID: link scope,
 * signature 0x401B, the full-member P_Key, 48 zero bits, 32 one bits), the DUT's full-member
 * join as the SA records it and as the join request shows on the wire, and the addressing of
 * what the DUT sends to it (GRH DGID, MLID, QPN 0xFFFFFF, and the group's SL, TClass,
 * FlowLabel and HopLimit).
 */
import { expect } from 'chai';
import { type Case, conformance } from '../harness/conformance.js';
import type { IpoibFrame } from '../../src/lab/capture.js';
import {
  ETH_P_ARP,
  JOIN_STATE_FULL,
  MAD_METHOD_SET,
  MCAST_QPN,
  PKEY_FULL_MEMBER_BIT,
  QKEY_CONTROLLED_BIT,
  SA_ATTR_MCMEMBER_RECORD,
} from '../../src/wire/constants.js';
import { mcMemberComponents, type McMemberRecord } from '../../src/wire/mcmember-record.js';
import { formatGid } from '../../src/wire/mgid.js';
import { frameSummary, saMadSummary, saRequests } from '../harness/capture-views.js';
import { dutOnFabric, partitionBroadcastMgid, requirePartition, smGroups, subnetBroadcast } from '../harness/fabric-view.js';
import { ipv4Of, rawArp } from '../harness/frames.js';
import { hex2, hex4, hex6, hex8 } from '../harness/hex.js';
import { addChild, waitForCarrier } from '../harness/node-actions.js';
import { broadcastRecord } from '../harness/probe-helpers.js';

/** The partition of the sim lab's child interfaces (lab/partitions/sim-lab.conf, `lab`). */
const CHILD_PKEY = 0x8001;
/** How long a new child interface gets to join its broadcast group and turn the carrier on. */
const CARRIER_TIMEOUT_MS = 8_000;

/** Every field of a multicast frame's addressing that RFC 4391 ties to the broadcast group's record. */
function multicastAddressing(f: IpoibFrame): Record<string, string | number | null> {
  return {
    dgid: f.ib.grh ? formatGid(f.ib.grh.dgid) : null,
    dlid: hex4(f.dlid),
    destQpn: hex6(f.destQpn),
    qkey: hex8(f.qkey),
    sl: f.ib.lrh.sl,
    trafficClass: f.ib.grh ? f.ib.grh.tClass : null,
    flowLabel: f.ib.grh ? f.ib.grh.flowLabel : null,
    hopLimit: f.ib.grh ? f.ib.grh.hopLmt : null,
  };
}

function recordAddressing(r: McMemberRecord): Record<string, string | number | null> {
  return {
    dgid: formatGid(r.mgid),
    dlid: hex4(r.mlid),
    destQpn: hex6(MCAST_QPN),
    qkey: hex8(r.qkey),
    sl: r.sl,
    trafficClass: r.trafficClass,
    flowLabel: r.flowLabel,
    hopLimit: r.hopLimit,
  };
}

describe('RFC 4391 §4.1, §5: the broadcast group @multicast', () => {
  conformance({
    covers: ['RFC4391-4-h', 'RFC4391-4.1-a', 'RFC4391-4.1-f', 'RFC4391-5-b'],
    title: 'uses the link-scope broadcast-GID ff12:401b:<full-member P_Key>::ffff:ffff and is a full member of that group at the SA',
    tags: ['multicast', 'mgid', 'sa', 'pkey'],
    requires: ['probe', 'sa'],
  }, async (t: Case) => {
    const dut = await dutOnFabric(t);
    const want = partitionBroadcastMgid(dut.pkey);
    const link = await t.dut.adapter.link();
    const members = await t.probe.groupMembers(want);
    await t.attachJson('DUT interface', { ifname: link.ifname, pkey: hex4(dut.pkey), broadcast: formatGid(link.broadcast.gid), broadcastQpn: hex6(link.broadcast.qpn) });
    await t.attachJson(`SA records of ${formatGid(want)}`, members);
    expect(formatGid(link.broadcast.gid), `${link.ifname}'s broadcast address (P_Key ${hex4(dut.pkey)})`).to.equal(formatGid(want));
    expect(hex6(link.broadcast.qpn), `${link.ifname}'s broadcast address QPN`).to.equal(hex6(MCAST_QPN));
    const mine = members.find((m) => m.portGid.equals(dut.hwaddr.gid));
    expect(mine, `the SA lists the DUT port ${formatGid(dut.hwaddr.gid)} among the members of ${formatGid(want)} (members: ${members.map((m) => formatGid(m.portGid)).join(', ') || 'none'})`).to.not.equal(undefined);
    expect(mine!.joinState & JOIN_STATE_FULL, `the DUT's JoinState in ${formatGid(want)} (${hex2(mine!.joinState)}) has FullMember`).to.equal(JOIN_STATE_FULL);
    expect(mine!.pkey & PKEY_FULL_MEMBER_BIT, `the group's P_Key ${hex4(mine!.pkey)} is a full-membership P_Key`).to.equal(PKEY_FULL_MEMBER_BIT);
  });

  conformance({
    covers: ['RFC4391-4-h', 'RFC4391-5-d', 'RFC4391-4.1-d', 'RFC4391-4.1-e', 'RFC4391-6-g', 'RFC4391-3-c'],
    title: 'sends ARP requests and IPv4 limited and directed broadcasts to the broadcast-GID with its MLID, QPN 0xFFFFFF and the SL, TClass, FlowLabel and HopLimit of the group',
    tags: ['multicast', 'arp', 'ib', 'sa'],
    requires: ['wire-capture', 'probe', 'sa', 'ipv4'],
  }, async (t: Case) => {
    const { dut, peer } = t;
    const directed = subnetBroadcast(dut.node.addresses);
    if (!dut.ipv4 || !peer.ipv4 || !directed) t.skip('the lab file gives the DUT and the peer no IPv4 address');
    const peerIpv4 = peer.ipv4;
    const me = await dutOnFabric(t);
    const record = await broadcastRecord(t, me.pkey);
    t.defer(await dut.adapter.flushNeighbours());
    const broadcastPing = (target: string) => dut.transport.run(['ping', '-n', '-b', '-c', '1', '-W', '1', '-I', dut.ifname, target], { timeoutMs: 10_000 });
    const { result, frames } = await t.capture(async () => {
      const [unicast, limited, subnet] = await Promise.all([dut.adapter.ping(peerIpv4, { count: 1, waitSeconds: 2 }), broadcastPing('255.255.255.255'), broadcastPing(directed)]);
      return { unicast, limited: limited.stdout + limited.stderr, subnet: subnet.stdout + subnet.stderr };
    }, { nodes: [dut.fabricNode] });
    const sent = frames.filter((f) => f.slid === me.lid);
    await t.attachJson('pings', result);
    await t.attachJson('frames the DUT sent', sent.map(frameSummary));
    await t.attachJson('broadcast group record (SA)', record);
    const wanted: Array<{ name: string; match: (f: IpoibFrame) => boolean }> = [
      { name: `ARP request for ${peerIpv4}`, match: (f) => f.header?.type === ETH_P_ARP && rawArp(f.body)?.op === 1 && rawArp(f.body)?.tpa === peerIpv4 },
      { name: 'ICMP echo to 255.255.255.255', match: (f) => ipv4Of(f.ib.payload)?.header.dst === '255.255.255.255' },
      { name: `ICMP echo to ${directed}`, match: (f) => ipv4Of(f.ib.payload)?.header.dst === directed },
    ];
    const want = recordAddressing(record);
    for (const w of wanted) {
      const f = sent.find(w.match);
      expect(f, `the DUT's ${w.name} on the wire`).to.not.equal(undefined);
      expect(multicastAddressing(f!), `addressing of the DUT's ${w.name} (GRH DGID, LRH DLID and SL, BTH DestQP, DETH Q_Key, GRH TClass/FlowLabel/HopLimit) against the group record`).to.deep.equal(want);
    }
  });

  conformance({
    covers: ['RFC4391-5-b', 'RFC4391-4.1-a', 'RFC4391-4-h'],
    title: 'joins the broadcast group of a new child interface as a full member, with the P_Key full-member bit in the MGID',
    tags: ['multicast', 'mgid', 'sa', 'pkey'],
    requires: ['wire-capture', 'probe', 'sa', 'partitions'],
    timeoutMs: 40_000,
  }, async (t: Case) => {
    requirePartition(t, CHILD_PKEY, true, 'an IPoIB partition for a child interface');
    const me = await dutOnFabric(t);
    const want = partitionBroadcastMgid(CHILD_PKEY);
    const { result: link, packets } = await t.capture(async () => {
      const child = await addChild(t, t.dut, CHILD_PKEY);
      return (await waitForCarrier(t.dut, child.ifname, CARRIER_TIMEOUT_MS, 0)).value;
    }, { nodes: [t.dut.fabricNode] });
    const requests = saRequests(packets, { slid: me.lid });
    const joins = requests.filter((r) => r.method === MAD_METHOD_SET && r.attributeId === SA_ATTR_MCMEMBER_RECORD && r.mcMember?.mgid.equals(want));
    const members = await t.probe.groupMembers(want);
    await t.attachJson('child interface', link);
    await t.attachJson('SA requests from the DUT', requests.map(saMadSummary));
    await t.attachJson(`SA records of ${formatGid(want)}`, members);
    expect(formatGid(link.broadcast.gid), `${link.ifname}'s broadcast address`).to.equal(formatGid(want));
    expect(joins.length, `SA joins (SubnAdmSet MCMemberRecord) of ${formatGid(want)} from the DUT (MGIDs joined: ${requests.filter((r) => r.mcMember).map((r) => formatGid(r.mcMember!.mgid)).join(', ') || 'none'})`).to.be.greaterThan(0);
    for (const j of joins) {
      const rec = j.mcMember!;
      expect(rec.joinState & JOIN_STATE_FULL, `JoinState ${hex2(rec.joinState)} of the DUT's join of ${formatGid(want)} has FullMember`).to.equal(JOIN_STATE_FULL);
      expect(formatGid(rec.portGid), 'PortGID of the join').to.equal(formatGid(me.hwaddr.gid));
      if (mcMemberComponents(j.componentMask).includes('pkey')) {
        expect(rec.pkey & PKEY_FULL_MEMBER_BIT, `P_Key ${hex4(rec.pkey)} in the join has the full-member bit`).to.equal(PKEY_FULL_MEMBER_BIT);
      }
    }
    const mine = members.find((m) => m.portGid.equals(me.hwaddr.gid));
    expect(mine, `the SA lists the DUT among the members of ${formatGid(want)}`).to.not.equal(undefined);
    expect(mine!.joinState & JOIN_STATE_FULL, `the DUT's JoinState at the SA (${hex2(mine!.joinState)}) has FullMember`).to.equal(JOIN_STATE_FULL);
    expect(link.carrier, `${link.ifname} has carrier after joining`).to.equal(true);
  });

  conformance({
    covers: ['RFC4391-4.1-b'],
    title: 'uses a controlled Q_Key (high bit set) for a broadcast group it creates',
    tags: ['multicast', 'qkey', 'sa'],
    requires: ['probe', 'sa', 'fabric-control'],
  }, async (t: Case) => {
    const me = await dutOnFabric(t);
    const mgid = partitionBroadcastMgid(me.pkey);
    const record = await broadcastRecord(t, me.pkey);
    const group = (await smGroups(t))?.find((g) => g.mgid.equals(mgid));
    await t.attachJson('broadcast group', { record, sm: group ?? null });
    if (group?.preCreated) {
      t.skip(`the SM pre-created ${formatGid(mgid)} with Q_Key ${hex8(record.qkey)} from its partition configuration; the DUT only joined it, so the Q_Key is not the DUT's choice`);
    }
    expect((record.qkey & QKEY_CONTROLLED_BIT) >>> 0, `Q_Key ${hex8(record.qkey)} of a broadcast group the SM did not pre-create is a controlled Q_Key`).to.equal(QKEY_CONTROLLED_BIT);
  });
});
