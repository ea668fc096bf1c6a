/**
 * RFC 4391 §9.2 (ARP with hardware type 32 and 20-octet addresses) and the §9.1.1-9.1.2 rules
 * that resolution feeds: replies and IP traffic go to the QPN an address names, the address's
 * reserved bits are ignored, and the path (LID, rate, SL) comes from the SA before unicast.
 *
 * The probe plays a neighbour at 192.0.2.2xx: it asks over the broadcast group, reads the
 * reply on its QPs and on the fabric tap, and sends ICMP echo to check the learnt addresses work.
 */
import { expect } from 'chai';
import { ARP_OP_REPLY, ARP_OP_REQUEST, ARPHRD_INFINIBAND, ETH_P_IP, IPOIB_HWADDR_LEN, MAD_METHOD_GET, MAD_METHOD_GET_TABLE, SA_ATTR_PATH_RECORD } from '../../src/wire/constants.js';
import { formatHwAddr, type IpoibHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { formatGid } from '../../src/wire/mgid.js';
import { arpFrames, frameSummary, saMadSummary, saRequests, uniqueFrames } from '../harness/capture-views.js';
import { conformance } from '../harness/conformance.js';
import { dutOnFabric, peerHwAddr } from '../harness/fabric-view.js';
import { arpFrame, echoFrame, isArpReply, isEchoReply, rawArp } from '../harness/frames.js';
import { hex2, hex4, hex6, hex8 } from '../harness/hex.js';
import { resolvePeerAfresh } from '../harness/node-actions.js';
import { ANSWER_MS, frameOrNull, openQp, probeHwAddr, probeOnBroadcast, sendToDut, sendToGroup } from '../harness/probe-helpers.js';

describe('RFC 4391 §9.2: ARP over IPoIB @arp', function () {
  conformance(
    {
      covers: ['RFC4391-9.2-a', 'RFC4391-9.2-b', 'RFC4391-9.2-c', 'RFC4391-9.2-d', 'RFC4391-9.1.1-g', 'RFC4391-9.1.1-f', 'RFC4391-5-d', 'RFC4391-9.1.2-d'],
      title: 'answers an ARP request from the broadcast group with an IPoIB ARP reply (htype 32, hlen 20) to the asker, and is reachable at the address it gives',
      tags: ['arp', 'hwaddr', 'qkey', 'icmp'],
      requires: ['probe', 'wire-capture', 'ipv4'],
    },
    async (t) => {
      const { dut, qp, group } = await probeOnBroadcast(t);
      const probeIp = '192.0.2.201';
      const me = probeHwAddr(t, qp);
      const { result: delivered, frames } = await t.capture(async () => {
        sendToGroup(qp, group, arpFrame({ sha: me, spa: probeIp, tpa: dut.ipv4 }));
        return frameOrNull(qp, (f) => isArpReply(f.payload, { from: dut.ipv4, to: probeIp, tolerant: true }), ANSWER_MS);
      });
      const replies = arpFrames(uniqueFrames(frames.filter((f) => f.slid === dut.lid))).filter((x) => x.arp.tpa === probeIp);
      await t.attachJson('ARP reply on the fabric', {
        probe: { qpn: hex6(qp.qpn), lid: t.probe.lid, address: formatHwAddr(me), ip: probeIp },
        dut: { address: formatHwAddr(dut.hwaddr), lid: dut.lid },
        onTheWire: replies.map((x) => ({ ...frameSummary(x.frame), arp: { ...x.arp, sha: formatHwAddr(x.arp.sha), tha: formatHwAddr(x.arp.tha) } })),
        deliveredToProbe: delivered !== null,
      });

      expect(replies.length, `ARP frames from the DUT answering ${probeIp}'s request (on the tap)`).to.be.greaterThan(0);
      const { frame, arp } = replies[0]!;
      expect(arp.htype, 'ARP hardware type').to.equal(ARPHRD_INFINIBAND);
      expect(hex4(arp.ptype), 'ARP protocol type').to.equal(hex4(ETH_P_IP));
      expect(arp.hlen, 'ARP hardware address length').to.equal(IPOIB_HWADDR_LEN);
      expect(arp.plen, 'ARP protocol address length').to.equal(4);
      expect(arp.op, 'ARP op').to.equal(ARP_OP_REPLY);
      expect(arp.length, 'ARP body octets (8 + 2 × (20 + 4))').to.equal(56);
      expect(formatHwAddr(arp.sha), 'sender hardware address = the DUT interface address').to.equal(formatHwAddr(dut.hwaddr));
      expect(arp.spa, 'sender IP').to.equal(dut.ipv4);
      expect(formatHwAddr(arp.tha), 'target hardware address = the asker').to.equal(formatHwAddr(me));
      expect(hex6(frame.destQpn), 'reply DestQP = the QPN in the asker\'s address').to.equal(hex6(qp.qpn));
      expect(frame.dlid, 'reply DLID = the probe LID').to.equal(t.probe.lid);
      expect(hex8(frame.qkey), 'reply Q_Key = the broadcast group Q_Key').to.equal(hex8(group.qkey));
      expect(delivered, 'the reply reached the probe QP').to.not.equal(null);

      // Reach the DUT only through what its reply said: the QPN and GID in its sender address.
      const advertised: IpoibHwAddr = arp.sha;
      const path = await t.probe.pathTo(advertised.gid, dut.pkey);
      qp.send({ dlid: path.dlid, dqpn: advertised.qpn, qkey: group.qkey }, echoFrame(4, { src: probeIp, dst: dut.ipv4, identifier: 0x4201, sequence: 1 }));
      const echo = await frameOrNull(qp, (f) => isEchoReply(f.payload, { family: 4, identifier: 0x4201 }), ANSWER_MS);
      await t.attachJson('echo to the advertised address', { dlid: path.dlid, dqpn: hex6(advertised.qpn), replied: echo !== null });
      expect(echo, `an echo reply to the echo request sent to QPN ${hex6(advertised.qpn)} (the QPN the DUT's ARP reply advertised)`).to.not.equal(null);
    },
  );

  conformance(
    {
      covers: ['RFC4391-9.2-a', 'RFC4391-9.2-b', 'RFC4391-9.2-c', 'RFC4391-9.2-d'],
      title: 'sends its own ARP requests in the IPoIB format and resolves the peer from its reply',
      tags: ['arp', 'hwaddr'],
      requires: ['probe', 'wire-capture', 'ipv4'],
    },
    async (t) => {
      const dut = await dutOnFabric(t);
      const peerLink = { hwaddr: await peerHwAddr(t) };
      const peerIp = t.peer.ipv4!;
      const { result: pings, frames } = await t.capture(() => resolvePeerAfresh(t, [4]));
      const requests = arpFrames(uniqueFrames(frames.filter((f) => f.slid === dut.lid))).filter((x) => x.arp.tpa === peerIp);
      const neighbours = await t.dut.adapter.neighbours();
      const entry = neighbours.find((n) => n.ip === peerIp);
      await t.attachJson('ARP requests and the neighbour entry', {
        requests: requests.map((x) => ({ ...frameSummary(x.frame), arp: { ...x.arp, sha: formatHwAddr(x.arp.sha), tha: formatHwAddr(x.arp.tha) } })),
        ping: pings.v4,
        neighbour: entry ? { ...entry, hwaddr: entry.hwaddr ? formatHwAddr(entry.hwaddr) : null } : null,
        peerAddress: formatHwAddr(peerLink.hwaddr),
      });

      expect(requests.length, `ARP requests from the DUT for ${peerIp}`).to.be.greaterThan(0);
      for (const { arp } of requests) {
        expect(arp.htype, 'ARP hardware type of the DUT request').to.equal(ARPHRD_INFINIBAND);
        expect(hex4(arp.ptype), 'ARP protocol type').to.equal(hex4(ETH_P_IP));
        expect(arp.hlen, 'ARP hardware address length').to.equal(IPOIB_HWADDR_LEN);
        expect(arp.plen, 'ARP protocol address length').to.equal(4);
        expect(arp.op, 'ARP op').to.equal(ARP_OP_REQUEST);
        expect(arp.length, 'ARP body octets').to.equal(56);
        expect(formatHwAddr(arp.sha), 'sender hardware address = the DUT interface address').to.equal(formatHwAddr(dut.hwaddr));
        expect(arp.spa, 'sender IP').to.equal(dut.ipv4);
      }
      expect(pings.v4?.received ?? 0, `echo replies from the peer ${peerIp} after resolving it`).to.be.greaterThan(0);
      expect(entry?.hwaddr ? formatHwAddr(entry.hwaddr) : 'no resolved entry', `the DUT's neighbour entry for ${peerIp}`).to.equal(formatHwAddr(peerLink.hwaddr));
    },
  );

  conformance(
    {
      covers: ['RFC4391-9.1.1-f', 'RFC4391-9.1.1-g', 'RFC4391-9.1-d'],
      title: 'sends ARP replies and IP traffic to the QPN named in the sender\'s address, not to the QPN the request came from',
      tags: ['arp', 'hwaddr', 'ip', 'icmp'],
      requires: ['probe', 'wire-capture', 'ipv4'],
    },
    async (t) => {
      const { dut, qp: asker, group } = await probeOnBroadcast(t);
      // The QPN the probe advertises; it never sends, so a frame there can only be addressed by QPN.
      const named = await openQp(t, { pkey: dut.pkey, qkey: group.qkey });
      const probeIp = '192.0.2.202';
      const sha = probeHwAddr(t, named);
      await t.capture(async () => {
        sendToGroup(asker, group, arpFrame({ sha, spa: probeIp, tpa: dut.ipv4 }));
        await frameOrNull(named, (f) => isArpReply(f.payload, { from: dut.ipv4, to: probeIp, tolerant: true }), ANSWER_MS);
        sendToDut(asker, dut, echoFrame(4, { src: probeIp, dst: dut.ipv4, identifier: 0x4202, sequence: 1 }), group.qkey);
        await frameOrNull(named, (f) => isEchoReply(f.payload, { family: 4, identifier: 0x4202 }), ANSWER_MS);
      });
      const onNamed = named.received();
      // Frames addressed to the asker (the broadcast copies of its own request aside).
      const onAsker = asker.received().filter((f) => f.slid === dut.lid);
      await t.attachJson('frames per probe QP', {
        asker: { qpn: hex6(asker.qpn), fromDut: onAsker.map((f) => ({ srcQpn: hex6(f.srcQpn), payload: f.payload.subarray(0, 40).toString('hex') })) },
        named: { qpn: hex6(named.qpn), all: onNamed.map((f) => ({ slid: f.slid, srcQpn: hex6(f.srcQpn), payload: f.payload.subarray(0, 40).toString('hex') })) },
      });

      expect(onNamed.some((f) => isArpReply(f.payload, { from: dut.ipv4, to: probeIp, tolerant: true })), `the ARP reply on the QPN named in the request (${hex6(named.qpn)})`).to.equal(true);
      expect(onNamed.some((f) => isEchoReply(f.payload, { family: 4, identifier: 0x4202 })), `the echo reply on the QPN named in the request (${hex6(named.qpn)})`).to.equal(true);
      const unicastToAsker = onAsker.filter((f) => f.payload.length >= 4 && (isArpReply(f.payload, { from: dut.ipv4, to: probeIp, tolerant: true }) || isEchoReply(f.payload, { family: 4, identifier: 0x4202 })));
      expect(unicastToAsker.length, `replies from the DUT on the QP that sent the request (${hex6(asker.qpn)})`).to.equal(0);
    },
  );

  conformance(
    {
      covers: ['RFC4391-9.1.1-e', 'RFC4391-14-c'],
      title: 'ignores the reserved flag bits of a sender\'s address (0x3F, 0x20): it answers that sender and reaches it',
      tags: ['arp', 'hwaddr', 'icmp'],
      requires: ['probe', 'ipv4'],
    },
    async (t) => {
      const { dut, qp, group } = await probeOnBroadcast(t);
      const results: Array<Record<string, unknown>> = [];
      const cases = [
        { flags: 0x3f, ip: '192.0.2.205', id: 0x4205 },
        { flags: 0x20, ip: '192.0.2.206', id: 0x4206 },
      ];
      for (const c of cases) {
        const sha = probeHwAddr(t, qp, c.flags);
        sendToGroup(qp, group, arpFrame({ sha, spa: c.ip, tpa: dut.ipv4 }));
        const reply = await frameOrNull(qp, (f) => isArpReply(f.payload, { from: dut.ipv4, to: c.ip, tolerant: true }), ANSWER_MS);
        sendToDut(qp, dut, echoFrame(4, { src: c.ip, dst: dut.ipv4, identifier: c.id, sequence: 1 }), group.qkey);
        const echo = await frameOrNull(qp, (f) => isEchoReply(f.payload, { family: 4, identifier: c.id }), ANSWER_MS);
        const replyArp = reply ? rawArp(reply.payload.subarray(4)) : null;
        results.push({ flags: hex2(c.flags), ip: c.ip, arpReply: replyArp ? { tha: formatHwAddr(replyArp.tha), srcQpn: hex6(reply!.srcQpn) } : null, echoReply: echo !== null });
      }
      await t.attachJson('answers per flags value', results);
      for (const r of results) {
        expect(r.arpReply, `ARP reply to a request whose sender address has flags ${String(r.flags)}`).to.not.equal(null);
        expect(r.echoReply, `echo reply to ${String(r.ip)} (sender address flags ${String(r.flags)})`).to.equal(true);
      }
    },
  );

  conformance(
    {
      covers: ['RFC4391-9.1.2-a', 'RFC4391-9.1-h', 'RFC4391-9.1.2-g', 'RFC4391-9.1-b', 'RFC4391-9.1-g'],
      title: 'looks the path up at the SA (LID, rate, SL) before its first unicast to a newly resolved neighbour, and sends to that LID',
      tags: ['arp', 'sa'],
      requires: ['probe', 'wire-capture', 'ipv4', 'sa'],
    },
    async (t) => {
      const dut = await dutOnFabric(t);
      const peerLink = { hwaddr: await peerHwAddr(t) };
      const peerGid = formatGid(peerLink.hwaddr.gid);
      await t.dut.adapter.flushNeighbours();
      const kept = (await t.dut.adapter.pathDump()).filter((p) => formatGid(p.dgid) === peerGid);
      if (kept.length > 0) return t.skip(`the DUT keeps its path to ${peerGid} across a neighbour flush, so no lookup can be provoked`);
      const { result: pings, frames, packets } = await t.capture(() => resolvePeerAfresh(t, [4], { flushed: true }));
      const lookups = saRequests(packets, { slid: dut.lid }).filter((r) => r.attributeId === SA_ATTR_PATH_RECORD && (r.method === MAD_METHOD_GET || r.method === MAD_METHOD_GET_TABLE) && r.path && formatGid(r.path.dgid) === peerGid);
      const unicast = uniqueFrames(frames.filter((f) => f.slid === dut.lid && f.destQpn === peerLink.hwaddr.qpn));
      const truth = await t.probe.pathTo(peerLink.hwaddr.gid, dut.pkey);
      await t.attachJson('path lookups and unicast', {
        lookups: lookups.map(saMadSummary),
        unicast: unicast.map(frameSummary),
        saPath: { dlid: truth.dlid, rate: truth.rate, sl: truth.sl, mtu: truth.mtu },
        ping: pings.v4,
      });
      await t.parameter('path rate pacing', 'not observable: every link of the simulated fabric runs at the same rate');

      expect(unicast.length, 'unicast frames from the DUT to the peer QPN').to.be.greaterThan(0);
      expect(lookups.length, `PathRecord queries from the DUT for ${peerGid}`).to.be.greaterThan(0);
      expect(lookups[0]!.tsUs, 'first PathRecord query before the first unicast frame (µs timestamps)').to.be.at.most(unicast[0]!.packet.tsUs);
      for (const f of unicast) {
        expect(f.dlid, 'LRH DLID of DUT unicast = the peer LID the SA gives').to.equal(truth.dlid);
        expect(f.ib.lrh.sl, 'LRH SL of DUT unicast = the PathRecord SL').to.equal(truth.sl);
      }
    },
  );

  conformance(
    {
      covers: ['RFC4391-9.4-b'],
      title: 'revalidates a neighbour entry whose QPN changed without a gratuitous ARP',
      tags: ['arp'],
      requires: ['probe', 'ipv4'],
    },
    async (t) => {
      t.skip('not written yet: revalidation shows only after the neighbour reachable time (about 30 s on Linux, 60 s idle time in the reference stack), beyond the per-case time budget of the certification, and no long-running variant exists yet');
    },
  );
});
