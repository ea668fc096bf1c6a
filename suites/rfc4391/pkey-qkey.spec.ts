/**
 * RFC 4391 §3, §9.1 and §9.1.2: UD delivery needs the same partition (P_Key) and the same
 * Q_Key, and an IPoIB link uses the Q_Key of its broadcast group for all its traffic. The probe
 * sends ICMP echo requests the DUT's IP stack would answer, with a P_Key the DUT lacks or a
 * wrong Q_Key (no answer may come) and then correctly (the answer shows the silence was a
 * drop); the tap shows which Q_Key and P_Key the DUT's own frames carry.
 */
import { expect } from 'chai';
import { JOIN_STATE_FULL, QKEY_CONTROLLED_BIT } from '../../src/wire/constants.js';
import { broadcastMgid, formatGid } from '../../src/wire/mgid.js';
import { arpFrames, frameSummary, uniqueFrames } from '../harness/capture-views.js';
import { conformance, type Case } from '../harness/conformance.js';
import { dutOnFabric, lidOf, smPortOf } from '../harness/fabric-view.js';
import { arpFrame, echoFrame, isArpReply, isEchoReply } from '../harness/frames.js';
import { hex4, hex8 } from '../harness/hex.js';
import { addChild, resolvePeerAfresh, waitForCarrier } from '../harness/node-actions.js';
import { ANSWER_MS, broadcastRecord, frameOrNull, joinFromProbe, openQp, probeHwAddr, probeOnBroadcast, sendToDut, sendToGroup, SILENCE_MS } from '../harness/probe-helpers.js';

/**
 * The probe as an IPv4 neighbour of the DUT at `probeIp`: a QP on the broadcast group that has
 * asked for the DUT's address, so the DUT knows where to send its answers.
 */
async function knownNeighbour(t: Case, probeIp: string) {
  const { dut, bcast, qp, group } = await probeOnBroadcast(t);
  sendToGroup(qp, group, arpFrame({ sha: probeHwAddr(t, qp), spa: probeIp, tpa: dut.ipv4 }));
  const reply = await frameOrNull(qp, (f) => isArpReply(f.payload, { from: dut.ipv4, to: probeIp, tolerant: true }), ANSWER_MS);
  if (!reply) return t.skip(`the DUT did not answer ${probeIp}'s ARP request (the ARP cases judge that), so it cannot answer echoes either`);
  return { dut, bcast, qp, group };
}

describe('RFC 4391 §9.1: partitions and Q_Keys @pkey @qkey', function () {
  conformance(
    {
      covers: ['RFC4391-3-b', 'RFC4391-9.1-f', 'RFC4392-1.2-g'],
      title: 'never answers an ICMP echo carrying a P_Key it does not hold (0x8004), and answers the same echo in its own partition',
      tags: ['pkey', 'icmp'],
      requires: ['probe', 'partitions', 'ipv4'],
    },
    async (t) => {
      const foreign = 0x8004;
      const port = await smPortOf(t, t.dut.fabricNode);
      if (port?.pkeys?.some((k) => (k & 0x7fff) === (foreign & 0x7fff))) return t.skip(`the DUT port holds ${hex4(foreign)} on this lab`);
      const probeIp = '192.0.2.204';
      const { dut, bcast, qp } = await knownNeighbour(t, probeIp);
      const outsider = await openQp(t, { pkey: foreign, qkey: bcast.qkey });
      sendToDut(outsider, dut, echoFrame(4, { src: probeIp, dst: dut.ipv4, identifier: 0x4401, sequence: 1 }), bcast.qkey);
      const wrong = await frameOrNull(qp, (f) => isEchoReply(f.payload, { family: 4, identifier: 0x4401, sequence: 1 }), SILENCE_MS);
      const alsoOutsider = outsider.received().filter((f) => isEchoReply(f.payload, { family: 4, identifier: 0x4401 }));
      sendToDut(qp, dut, echoFrame(4, { src: probeIp, dst: dut.ipv4, identifier: 0x4401, sequence: 2 }), bcast.qkey);
      const right = await frameOrNull(qp, (f) => isEchoReply(f.payload, { family: 4, identifier: 0x4401, sequence: 2 }), ANSWER_MS);
      await t.attachJson('echo replies', { foreignPkey: hex4(foreign), ownPkey: hex4(qp.pkey), replyToForeign: wrong !== null || alsoOutsider.length > 0, replyToOwn: right !== null });

      expect(wrong, `an echo reply to the request sent with P_Key ${hex4(foreign)}`).to.equal(null);
      expect(alsoOutsider.length, `echo replies on the probe QP of partition ${hex4(foreign)}`).to.equal(0);
      expect(right, `an echo reply to the same request sent with P_Key ${hex4(qp.pkey)} (shows the silence was a drop)`).to.not.equal(null);
    },
  );

  conformance(
    {
      covers: ['RFC4391-3-b', 'RFC4391-9.1-e', 'RFC4391-9.1.2-d'],
      title: 'never answers an ICMP echo carrying a wrong Q_Key, and answers the same echo sent with the broadcast group\'s Q_Key',
      tags: ['qkey', 'icmp'],
      requires: ['probe', 'ipv4'],
    },
    async (t) => {
      const probeIp = '192.0.2.207';
      const { dut, bcast, qp } = await knownNeighbour(t, probeIp);
      const wrongQkey = (bcast.qkey ^ 0x1) >>> 0;
      sendToDut(qp, dut, echoFrame(4, { src: probeIp, dst: dut.ipv4, identifier: 0x4402, sequence: 1 }), wrongQkey);
      const wrong = await frameOrNull(qp, (f) => isEchoReply(f.payload, { family: 4, identifier: 0x4402, sequence: 1 }), SILENCE_MS);
      sendToDut(qp, dut, echoFrame(4, { src: probeIp, dst: dut.ipv4, identifier: 0x4402, sequence: 2 }), bcast.qkey);
      const right = await frameOrNull(qp, (f) => isEchoReply(f.payload, { family: 4, identifier: 0x4402, sequence: 2 }), ANSWER_MS);
      await t.attachJson('echo replies', { groupQkey: hex8(bcast.qkey), wrongQkey: hex8(wrongQkey), replyToWrong: wrong !== null, replyToRight: right !== null });

      expect(wrong, `an echo reply to the request sent with Q_Key ${hex8(wrongQkey)}`).to.equal(null);
      expect(right, `an echo reply to the same request with the group Q_Key ${hex8(bcast.qkey)} (shows the silence was a drop)`).to.not.equal(null);
    },
  );

  conformance(
    {
      covers: ['RFC4391-9.1.2-d', 'RFC4392-4-c', 'RFC4392-4.3-c'],
      title: 'sends every frame, unicast and multicast, with the broadcast group\'s Q_Key and P_Key',
      tags: ['qkey', 'pkey', 'multicast', 'arp', 'nd'],
      requires: ['probe', 'wire-capture', 'ipv4'],
    },
    async (t) => {
      const { dut, bcast, qp, group } = await probeOnBroadcast(t);
      const probeIp = '192.0.2.208';
      const { result: pings, frames } = await t.capture(async () => {
        sendToGroup(qp, group, arpFrame({ sha: probeHwAddr(t, qp), spa: probeIp, tpa: dut.ipv4 }));
        await frameOrNull(qp, (f) => isArpReply(f.payload, { from: dut.ipv4, to: probeIp, tolerant: true }), ANSWER_MS);
        return resolvePeerAfresh(t);
      });
      const mine = uniqueFrames(frames.filter((f) => f.slid === dut.lid));
      const unicast = mine.filter((f) => f.destQpn !== 0xffffff);
      const offKey = mine.filter((f) => f.qkey !== bcast.qkey);
      const offPkey = mine.filter((f) => (f.pkey & 0x7fff) !== (bcast.pkey & 0x7fff));
      await t.attachJson('DUT frames and their keys', {
        groupQkey: hex8(bcast.qkey),
        groupPkey: hex4(bcast.pkey),
        pings,
        arpReplies: arpFrames(unicast).length,
        frames: mine.map(frameSummary),
      });

      expect(unicast.length, 'unicast frames from the DUT (its ARP reply, its replies and pings to the peer)').to.be.greaterThan(0);
      expect(offKey.map(frameSummary), `DUT frames whose Q_Key is not the broadcast group's ${hex8(bcast.qkey)}`).to.deep.equal([]);
      expect(offPkey.map(frameSummary), `DUT frames whose P_Key is not the broadcast group's ${hex4(bcast.pkey)}`).to.deep.equal([]);
    },
  );

  conformance(
    {
      covers: ['RFC4391-9.1.2-d', 'RFC4391-5-c'],
      title: 'takes its Q_Key from the broadcast group it joined: a child in the partition whose group has Q_Key 0x00001234 answers ARP with that Q_Key',
      tags: ['qkey', 'pkey', 'arp'],
      requires: ['probe', 'wire-capture', 'partitions', 'ipv4'],
      timeoutMs: 45_000,
    },
    async (t) => {
      const pkey = 0x8005;
      const port = await smPortOf(t, t.dut.fabricNode);
      if (port && !port.pkeys?.some((k) => (k & 0x7fff) === (pkey & 0x7fff))) return t.skip(`the DUT port does not hold ${hex4(pkey)} on this lab`);
      const bcast = await broadcastRecord(t, pkey);
      if (bcast.qkey === (await broadcastRecord(t, 0xffff)).qkey) return t.skip(`the broadcast group of ${hex4(pkey)} has the default partition's Q_Key on this lab`);
      // Deleting the child (queued by addChild) takes it down and drops its address with it.
      const child = await addChild(t, t.dut, pkey);
      const link = (await waitForCarrier(t.dut, child.ifname, 5_000, 250)).value;
      if (!link.carrier) expect.fail(`${child.ifname} (P_Key ${hex4(pkey)}) got no carrier within 5 s, so its Q_Key cannot be observed`);
      const dutIp = '198.51.100.1';
      await t.dut.adapter.addAddress(`${dutIp}/24`, child.ifname);
      const dutLid = await lidOf(t, link.hwaddr.gid, pkey);

      const qp = await openQp(t, { pkey, qkey: bcast.qkey });
      const group = await joinFromProbe(t, broadcastMgid(bcast.pkey), JOIN_STATE_FULL, { qp });
      if (!group) return t.skip(`the probe could not join ${formatGid(broadcastMgid(bcast.pkey))}`);
      const probeIp = '198.51.100.204';
      const { result: reply, frames } = await t.capture(async () => {
        sendToGroup(qp, group, arpFrame({ sha: probeHwAddr(t, qp), spa: probeIp, tpa: dutIp }));
        return frameOrNull(qp, (f) => isArpReply(f.payload, { from: dutIp, to: probeIp, tolerant: true }), ANSWER_MS);
      });
      const replies = arpFrames(uniqueFrames(frames.filter((f) => f.slid === dutLid))).filter((x) => x.arp.tpa === probeIp);
      await t.attachJson('child and its ARP reply', { child: child.ifname, pkey: hex4(pkey), groupQkey: hex8(bcast.qkey), replies: replies.map((x) => frameSummary(x.frame)), deliveredToProbe: reply !== null });

      expect(replies.length, `ARP replies from ${child.ifname} on the tap`).to.be.greaterThan(0);
      for (const { frame } of replies) {
        expect(hex8(frame.qkey), `Q_Key of ${child.ifname}'s ARP reply = its broadcast group's`).to.equal(hex8(bcast.qkey));
        expect(hex4(frame.pkey | 0x8000), `P_Key of ${child.ifname}'s ARP reply`).to.equal(hex4(pkey));
      }
      expect(reply, 'the reply reached the probe QP, which has the group\'s Q_Key').to.not.equal(null);
    },
  );

  conformance(
    {
      covers: ['RFC4391-13-c'],
      title: 'uses a controlled Q_Key (top bit set) in its transmissions',
      tags: ['qkey'],
      requires: ['probe', 'wire-capture', 'ipv4'],
    },
    async (t) => {
      const dut = await dutOnFabric(t);
      const bcast = await broadcastRecord(t, dut.pkey);
      if ((bcast.qkey & QKEY_CONTROLLED_BIT) === 0) {
        return t.skip(`the broadcast group's Q_Key is ${hex8(bcast.qkey)}, not a controlled one (the OpenSM and Linux default, finding D3); the DUT must use the group's Q_Key (9.1.2-d), so its choice cannot be observed here`);
      }
      const { frames } = await t.capture(() => resolvePeerAfresh(t, [4]));
      const mine = uniqueFrames(frames.filter((f) => f.slid === dut.lid));
      await t.attachJson('DUT frames', mine.map(frameSummary));
      expect(mine.length, 'frames from the DUT').to.be.greaterThan(0);
      for (const f of mine) expect((f.qkey & QKEY_CONTROLLED_BIT) >>> 0, `controlled bit of Q_Key ${hex8(f.qkey)}`).to.equal(QKEY_CONTROLLED_BIT);
    },
  );
});
