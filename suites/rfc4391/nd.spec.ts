/**
 * RFC 4391 §9.3: IPv6 Neighbor Discovery over IPoIB. The link-layer address option is type 1
 * (source) or 2 (target), length 3 (24 octets): two zero octets, then the 20-octet address.
 * The probe solicits the DUT through its solicited-node group (MGID signature 0x601B, §4) and
 * reads the NA; the DUT's own NS for the peer is read off the fabric tap.
 */
import { expect } from 'chai';
import { ETH_P_IPV6, ICMPV6_NA, ICMPV6_NS, JOIN_STATE_FULL, JOIN_STATE_SEND_ONLY_NON, ND_OPT_SOURCE_LLADDR, ND_OPT_TARGET_LLADDR } from '../../src/wire/constants.js';
import type { IpoibFrame } from '../../src/lab/capture.js';
import { formatHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { formatIpv6, parseIpv6 } from '../../src/wire/ip-text.js';
import { formatGid, mgidForIpv6Group } from '../../src/wire/mgid.js';
import type { NdMessage, NdOption } from '../../src/wire/nd.js';
import { frameSummary, uniqueFrames } from '../harness/capture-views.js';
import { conformance } from '../harness/conformance.js';
import { dutOnFabric, peerHwAddr } from '../harness/fabric-view.js';
import { ipoibFrame, ndOf, nsPacket, solicitedNode } from '../harness/frames.js';
import { hex4, hex6, hex8 } from '../harness/hex.js';
import { resolvePeerAfresh } from '../harness/node-actions.js';
import { poll } from '../harness/poll.js';
import { ANSWER_MS, broadcastRecord, forgetProbeAfter, frameOrNull, joinFromProbe, openQp, probeHwAddr } from '../harness/probe-helpers.js';

/** What the cases say about one link-layer option, whatever its length. */
function optionSummary(o: NdOption): Record<string, unknown> {
  if (o.kind === 'lladdr') return { type: o.type, length: 3, pad: hex4(o.pad), address: formatHwAddr(o.address) };
  return { type: o.type, length: o.length, data: o.data.toString('hex') };
}

/** Checks the one lladdr option of `type` a message must carry: length 3, zero padding, `want` as address. */
function expectLladdrOption(m: NdMessage, type: number, want: string, what: string): void {
  const opts = m.options.filter((o) => o.type === type);
  expect(opts.length, `${what}: link-layer address options of type ${type}`).to.equal(1);
  const o = opts[0]!;
  const length = o.kind === 'lladdr' ? 3 : o.length;
  expect(length, `${what}: option length in units of 8 octets (3: type, length, two zero octets, the 20-octet address)`).to.equal(3);
  if (o.kind !== 'lladdr') return;
  expect(hex4(o.pad), `${what}: the two octets before the address`).to.equal(hex4(0));
  expect(formatHwAddr(o.address), `${what}: the address in the option`).to.equal(want);
}

function ndEvidence(frames: readonly IpoibFrame[]): Array<Record<string, unknown>> {
  return frames.map((f) => {
    const nd = ndOf(f.ib.payload);
    return { ...frameSummary(f), nd: nd ? { type: nd.message.type, src: formatIpv6(nd.src), dst: formatIpv6(nd.dst), hopLimit: nd.hopLimit, options: nd.message.options.map(optionSummary) } : null };
  });
}

describe('RFC 4391 §9.3: IPv6 Neighbor Discovery over IPoIB @nd @ipv6', function () {
  conformance(
    {
      covers: ['RFC4391-9.3-a', 'RFC4391-9.3-b', 'RFC4391-9.3-c', 'RFC4391-9.1.1-b', 'RFC4391-4-e', 'RFC4391-9.1.2-d'],
      title: 'answers an NS sent to its solicited-node group with an NA whose target link-layer option is type 2, length 3, two zero octets and its address',
      tags: ['nd', 'ipv6', 'hwaddr', 'multicast', 'qkey'],
      requires: ['probe', 'wire-capture', 'ipv6'],
    },
    async (t) => {
      const dut = await dutOnFabric(t);
      const bcast = await broadcastRecord(t, dut.pkey);
      const qp = await openQp(t, { pkey: dut.pkey, qkey: bcast.qkey });
      forgetProbeAfter(t);
      const target = parseIpv6(dut.ipv6);
      const groupIp = solicitedNode(target);
      const mgid = mgidForIpv6Group(formatIpv6(groupIp), bcast.pkey);
      const group = await joinFromProbe(t, mgid, JOIN_STATE_SEND_ONLY_NON);
      await t.attachJson('solicited-node group', { address: formatIpv6(groupIp), mgid: formatGid(mgid), joined: group !== null });
      expect(group, `the DUT's solicited-node group ${formatGid(mgid)} exists (the SA accepts a send-only join to it)`).to.not.equal(null);

      const probeIp = parseIpv6('2001:db8:1b::c9');
      const me = probeHwAddr(t, qp);
      const ns = nsPacket({ src: probeIp, dst: groupIp, target, options: [{ kind: 'lladdr', type: ND_OPT_SOURCE_LLADDR, pad: 0, address: me }] });
      const isNa = (payload: Buffer) => {
        const nd = ndOf(payload);
        return nd !== null && nd.message.type === ICMPV6_NA && nd.message.target.equals(target);
      };
      const { result: delivered, frames } = await t.capture(async () => {
        qp.send({ dlid: group!.mlid, dqpn: 0xffffff, qkey: group!.qkey, grh: { dgid: mgid, hopLimit: 255 } }, ipoibFrame(ETH_P_IPV6, ns));
        return frameOrNull(qp, (f) => isNa(f.payload), ANSWER_MS);
      });
      const naFrames = uniqueFrames(frames.filter((f) => f.slid === dut.lid)).filter((f) => {
        const nd = ndOf(f.ib.payload);
        return nd !== null && nd.message.type === ICMPV6_NA && nd.message.target.equals(target);
      });
      await t.attachJson('NA on the fabric', { probe: { address: formatHwAddr(me), ip: formatIpv6(probeIp) }, dut: formatHwAddr(dut.hwaddr), onTheWire: ndEvidence(naFrames), deliveredToProbe: delivered !== null });

      expect(naFrames.length, `NAs from the DUT for ${dut.ipv6} (on the tap)`).to.be.greaterThan(0);
      const f = naFrames[0]!;
      const na = ndOf(f.ib.payload)!;
      expectLladdrOption(na.message, ND_OPT_TARGET_LLADDR, formatHwAddr(dut.hwaddr), 'NA');
      if (na.message.type === ICMPV6_NA) expect(na.message.solicited, 'NA solicited flag').to.equal(true);
      expect(formatIpv6(na.dst), 'NA destination = the soliciting address').to.equal(formatIpv6(probeIp));
      expect(hex6(f.destQpn), 'NA DestQP = the QPN in the NS source option').to.equal(hex6(qp.qpn));
      expect(hex8(f.qkey), 'NA Q_Key = the broadcast group Q_Key').to.equal(hex8(bcast.qkey));
      expect(delivered, 'the NA reached the probe QP').to.not.equal(null);
    },
  );

  conformance(
    {
      covers: ['RFC4391-9.3-a', 'RFC4391-9.3-b', 'RFC4391-9.3-c', 'RFC4391-4-e'],
      title: 'sends its NS to the target\'s solicited-node group with a source link-layer option of type 1, length 3, two zero octets and its address, and resolves the peer',
      tags: ['nd', 'ipv6', 'hwaddr', 'multicast'],
      requires: ['probe', 'wire-capture', 'ipv6'],
    },
    async (t) => {
      const dut = await dutOnFabric(t);
      const peerAddr = await peerHwAddr(t);
      const peerIp = parseIpv6(t.peer.ipv6!);
      const groupIp = solicitedNode(peerIp);
      const wantMgid = mgidForIpv6Group(formatIpv6(groupIp), (await broadcastRecord(t, dut.pkey)).pkey);
      const { result: pings, frames } = await t.capture(() => resolvePeerAfresh(t, [6]));
      const nsFrames = uniqueFrames(frames.filter((f) => f.slid === dut.lid)).filter((f) => {
        const nd = ndOf(f.ib.payload);
        return nd !== null && nd.message.type === ICMPV6_NS && nd.message.target.equals(peerIp);
      });
      const neighbours = await t.dut.adapter.neighbours();
      const entry = neighbours.find((n) => n.ip === formatIpv6(peerIp) || n.ip === t.peer.ipv6);
      await t.attachJson('NS on the fabric and the neighbour entry', {
        onTheWire: ndEvidence(nsFrames),
        expectedMgid: formatGid(wantMgid),
        ping: pings.v6,
        neighbour: entry ? { ...entry, hwaddr: entry.hwaddr ? formatHwAddr(entry.hwaddr) : null } : null,
        peerAddress: formatHwAddr(peerAddr),
      });

      expect(nsFrames.length, `NSs from the DUT for ${t.peer.ipv6}`).to.be.greaterThan(0);
      for (const f of nsFrames) {
        const ns = ndOf(f.ib.payload)!;
        expectLladdrOption(ns.message, ND_OPT_SOURCE_LLADDR, formatHwAddr(dut.hwaddr), 'NS');
        expect(formatIpv6(ns.dst), 'NS destination = the target\'s solicited-node address').to.equal(formatIpv6(groupIp));
        expect(f.ib.grh ? formatGid(f.ib.grh.dgid) : 'no GRH', 'NS GRH DGID = the solicited-node MGID (signature 0x601B)').to.equal(formatGid(wantMgid));
      }
      expect(pings.v6?.received ?? 0, `echo replies from ${t.peer.ipv6} after resolving it`).to.be.greaterThan(0);
      expect(entry?.hwaddr ? formatHwAddr(entry.hwaddr) : 'no resolved entry', `the DUT's neighbour entry for ${t.peer.ipv6}`).to.equal(formatHwAddr(peerAddr));
    },
  );

  conformance(
    {
      covers: ['RFC4391-4-e', 'RFC4391-10-k'],
      title: 'is a FullMember of the all-nodes group and of the solicited-node group of each of its IPv6 addresses, under signature 0x601B',
      tags: ['nd', 'ipv6', 'multicast', 'sa'],
      requires: ['probe', 'ipv6', 'sa'],
    },
    async (t) => {
      const dut = await dutOnFabric(t);
      const pkey = (await broadcastRecord(t, dut.pkey)).pkey;
      const addresses = (await t.dut.adapter.addresses()).filter((a) => a.family === 'inet6');
      const groups = [{ why: 'all-nodes ff02::1', mgid: mgidForIpv6Group('ff02::1', pkey) }];
      for (const a of addresses) {
        const g = formatIpv6(solicitedNode(parseIpv6(a.address)));
        groups.push({ why: `solicited-node ${g} of ${a.address}`, mgid: mgidForIpv6Group(g, pkey) });
      }
      const dutGid = formatGid(dut.hwaddr.gid);
      const seen: Array<Record<string, unknown>> = [];
      for (const g of groups) {
        // A new address's group may still be joining: give it the time a join takes.
        const members = (await poll(() => t.probe.groupMembers(g.mgid), (ms) => ms.some((m) => formatGid(m.portGid) === dutGid), 1_000)).value;
        const mine = members.find((m) => formatGid(m.portGid) === dutGid);
        seen.push({ group: g.why, mgid: formatGid(g.mgid), dutJoinState: mine ? mine.joinState : null });
      }
      await t.attachJson('IPv6 groups and the DUT membership', { addresses: addresses.map((a) => a.address), groups: seen });

      expect(addresses.length, 'IPv6 addresses on the DUT interface').to.be.greaterThan(0);
      for (const s of seen) {
        expect(s.dutJoinState, `the DUT's JoinState in ${String(s.group)} (${String(s.mgid)})`).to.be.a('number');
        expect((s.dutJoinState as number) & JOIN_STATE_FULL, `FullMember bit of the DUT in ${String(s.group)}`).to.equal(JOIN_STATE_FULL);
      }
    },
  );
});
