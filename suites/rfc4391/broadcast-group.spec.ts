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
  ETH_P_IP,
  JOIN_STATE_FULL,
  MAD_METHOD_SET,
  MCAST_QPN,
  MGID_SCOPE_LINK,
  PKEY_FULL_MEMBER_BIT,
  QKEY_CONTROLLED_BIT,
  SA_ATTR_MCMEMBER_RECORD,
} from '../../src/wire/constants.js';
import { formatIpv4, parseIpv4 } from '../../src/wire/ip-text.js';
import { ipv4Packet } from '../../src/wire/ipv4.js';
import { mcMemberComponents, type McMemberRecord } from '../../src/wire/mcmember-record.js';
import { broadcastMgid, formatGid } from '../../src/wire/mgid.js';
import { parsePkey } from '../../src/wire/pkey.js';
import { broadcastRecord, dutOnFabric, frameSummary, hex2, hex4, hex6, hex8, pollUntil, rawArp, saRequests, saRequestSummary } from './link-kit.js';

/** The partition of the sim lab's child interfaces (lab/partitions/sim-lab.conf, `lab`). */
const CHILD_PKEY = 0x8001;
/** How long a new child interface gets to join its broadcast group and turn the carrier on. */
const CARRIER_TIMEOUT_MS = 8_000;

/** The broadcast-GID RFC 4391 gives a link: link scope unless configured otherwise, and the P_Key with its full-member bit. */
function expectedBroadcastGid(pkey: number): Buffer {
  return broadcastMgid(pkey | PKEY_FULL_MEMBER_BIT, MGID_SCOPE_LINK);
}

/** The directed broadcast address of the first IPv4 address (CIDR) of a node in the lab file. */
function subnetBroadcast(addresses: readonly string[]): string | null {
  const cidr = addresses.find((a) => !a.includes(':'));
  if (!cidr) return null;
  const [addr, len] = cidr.split('/');
  const prefix = Number(len ?? 32);
  const host = prefix >= 32 ? 0 : 0xffffffff >>> prefix;
  const out = Buffer.alloc(4);
  out.writeUInt32BE((parseIpv4(addr ?? '').readUInt32BE(0) | host) >>> 0, 0);
  return formatIpv4(out);
}

function ipv4Dst(f: IpoibFrame): string | null {
  if (f.header?.type !== ETH_P_IP) return null;
  try {
    return ipv4Packet.decode(f.body, 0).value.header.dst;
  } catch {
    return null;
  }
}

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

/** Skips unless the lab file lists `pkey` as an IPoIB partition. */
function requireIpoibPartition(t: Case, pkey: number): void {
  const p = t.lab.lab.partitions.find((x) => parsePkey(x.pkey) === pkey);
  if (!p || !p.ipoib) t.skip(`the lab file has no IPoIB partition ${hex4(pkey)} for a child interface`);
}

describe('RFC 4391 §4.1, §5: the broadcast group @multicast', () => {
  conformance({
    covers: ['RFC4391-4-h', 'RFC4391-4.1-a', 'RFC4391-4.1-f', 'RFC4391-5-b'],
    title: 'uses the link-scope broadcast-GID ff12:401b:<full-member P_Key>::ffff:ffff and is a full member of that group at the SA',
    tags: ['multicast', 'mgid', 'sa', 'pkey'],
    requires: ['probe', 'sa'],
  }, async (t: Case) => {
    const dut = await dutOnFabric(t);
    const want = expectedBroadcastGid(dut.pkey);
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
      { name: 'ICMP echo to 255.255.255.255', match: (f) => ipv4Dst(f) === '255.255.255.255' },
      { name: `ICMP echo to ${directed}`, match: (f) => ipv4Dst(f) === directed },
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
    requireIpoibPartition(t, CHILD_PKEY);
    const me = await dutOnFabric(t);
    const want = expectedBroadcastGid(CHILD_PKEY);
    const a = t.dut.adapter;
    const { result: link, packets } = await t.capture(async () => {
      const child = await a.createChildSysfs(CHILD_PKEY);
      t.defer(child.undo, `delete ${child.ifname} (and with it its admin state)`);
      await a.setUp(true, child.ifname);
      return pollUntil(() => a.link(child.ifname), (l) => l.carrier, CARRIER_TIMEOUT_MS, 0);
    }, { nodes: [t.dut.fabricNode] });
    const requests = saRequests(packets, { slid: me.lid });
    const joins = requests.filter((r) => r.method === MAD_METHOD_SET && r.attributeId === SA_ATTR_MCMEMBER_RECORD && r.mcMember?.mgid.equals(want));
    const members = await t.probe.groupMembers(want);
    await t.attachJson('child interface', link);
    await t.attachJson('SA requests from the DUT', requests.map(saRequestSummary));
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
    const mgid = expectedBroadcastGid(me.pkey);
    const record = await broadcastRecord(t, me.pkey);
    const status = (await t.lab.sim!.status()) as { groups?: Array<{ mgid: string; preCreated?: boolean }> };
    const group = status.groups?.find((g) => g.mgid === formatGid(mgid));
    await t.attachJson('broadcast group', { record, sm: group ?? null });
    if (group?.preCreated) {
      t.skip(`the SM pre-created ${formatGid(mgid)} with Q_Key ${hex8(record.qkey)} from its partition configuration; the DUT only joined it, so the Q_Key is not the DUT's choice`);
    }
    expect((record.qkey & QKEY_CONTROLLED_BIT) >>> 0, `Q_Key ${hex8(record.qkey)} of a broadcast group the SM did not pre-create is a controlled Q_Key`).to.equal(QKEY_CONTROLLED_BIT);
  });
});
