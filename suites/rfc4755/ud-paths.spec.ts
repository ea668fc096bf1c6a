/**
 * RFC 4755 §2.1, §2.2, §7: what stays on the UD QP in connected mode, and what the DUT accepts.
 * Address-resolution replies (ARP replies, neighbor advertisements) go in UD packets even to a
 * peer the DUT has a connection to; multicast and broadcast leave from the UD QP; connections
 * carry only IPv4 and IPv6 (Type 0x0800 / 0x86DD). The DUT takes IP unicast on every mode it
 * supports, in either of its own modes: over a connection a peer made, and over UD while that
 * connection is up.
 */
import { expect } from 'chai';
import type { IpoibMode } from '../../src/lab/adapters/dut.js';
import { ARP_OP_REPLY, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, IPOIB_HEADER_LEN, MCAST_QPN } from '../../src/wire/constants.js';
import { formatIpv6 } from '../../src/wire/ip-text.js';
import { formatGid } from '../../src/wire/mgid.js';
import { arpFrames, frameSummary, uniqueFrames } from '../harness/capture-views.js';
import { CmPartner } from '../harness/cm-partner.js';
import { rcSummary } from '../harness/cm-views.js';
import { conformance } from '../harness/conformance.js';
import { ipv4Of, naOf, ndOf } from '../harness/frames.js';
import { hex4, hex6 } from '../harness/hex.js';
import { pingGroup } from '../harness/node-actions.js';
import { ANSWER_MS } from '../harness/probe-helpers.js';
import { cmTraffic, ends, inMode } from './steps.js';

const ALL_NODES_V6 = 'ff02::1';
const IPV6_HEADER_LEN = 40;
/** Where the destination address sits in an IPv6 header. */
const IPV6_DST_OFFSET = 24;

describe('RFC 4755 §7: what stays on UD in connected mode @cm @rc', function () {
  conformance(
    {
      covers: ['RFC4755-7-d', 'RFC4755-2.2-b', 'RFC4755-4-b'],
      title: 'in connected mode, with its connection to the peer up, answers the peer\'s ARP request and neighbor solicitation in UD packets, never on the connection',
      tags: ['cm', 'rc', 'arp', 'nd', 'ipv6'],
      requires: ['connected-mode', 'probe', 'wire-capture', 'ipv4', 'ipv6'],
    },
    async (t) => {
      const e = await ends(t);
      await inMode(t, 'connected', [t.dut, t.peer]);
      // The DUT's own connection to the peer, then the peer forgets the DUT and asks again.
      const out = { v4: await t.dut.adapter.ping(t.peer.ipv4!, { count: 1, waitSeconds: 2 }), v6: await t.dut.adapter.ping(t.peer.ipv6!, { count: 1, waitSeconds: 2 }) };
      await t.peer.adapter.flushNeighbours();
      const { result: back, packets, frames } = await t.capture(async () => ({
        v4: await t.peer.adapter.ping(t.dut.ipv4!, { count: 1, waitSeconds: 2 }),
        v6: await t.peer.adapter.ping(t.dut.ipv6!, { count: 1, waitSeconds: 2 }),
      }));
      const fromDut = uniqueFrames(frames.filter((f) => f.slid === e.dutLid && f.dlid === e.peerLid));
      const arpReplies = arpFrames(fromDut).filter((x) => x.arp.op === ARP_OP_REPLY);
      const nas = fromDut.filter((f) => naOf(f.ib.payload) !== null);
      const { rc } = cmTraffic(packets, { slid: e.dutLid, dlid: e.peerLid });
      const resolutionOverRc = rc.filter((m) => m.payload.length >= 2 && (m.payload.readUInt16BE(0) === ETH_P_ARP || ndOf(m.payload) !== null));
      await t.attachJson('the DUT\'s answers', { pingsOut: out, pingsBack: back, udArpReplies: arpReplies.map((x) => frameSummary(x.frame)), udNas: nas.map(frameSummary), rc: rc.map(rcSummary) });

      expect(out.v4.received + out.v6.received, 'echo replies to the DUT\'s own pings of the peer (its connection came up)').to.be.at.least(1);
      expect(resolutionOverRc.map(rcSummary), 'ARP or ND messages from the DUT on its connection to the peer').to.deep.equal([]);
      for (const m of rc) expect([hex4(ETH_P_IP), hex4(ETH_P_IPV6)], 'Type of an RC message from the DUT').to.include(hex4(m.payload.readUInt16BE(0)));
      expect(arpReplies.length, 'ARP replies from the DUT to the peer in UD packets').to.be.at.least(1);
      expect(nas.length, 'neighbor advertisements from the DUT to the peer in UD packets').to.be.at.least(1);
      for (const f of [...arpReplies.map((x) => x.frame), ...nas]) expect(hex6(f.srcQpn), 'source QPN of the DUT\'s UD answer (its UD QPN)').to.equal(hex6(e.dutQpn));
      expect(back.v4.received, 'echo replies to the peer\'s IPv4 ping once it resolved the DUT').to.equal(1);
      expect(back.v6.received, 'echo replies to the peer\'s IPv6 ping once it resolved the DUT').to.equal(1);
    },
  );

  conformance(
    {
      covers: ['RFC4755-2.1-b', 'RFC4755-7-c'],
      title: 'in connected mode sends IPv4 broadcast and IPv6 multicast from its UD QP to the group (DETH source QPN = its UD QPN), never on a connection',
      tags: ['cm', 'rc', 'multicast', 'ipv6', 'icmp'],
      requires: ['connected-mode', 'probe', 'wire-capture', 'ipv4', 'ipv6'],
    },
    async (t) => {
      const e = await ends(t);
      await inMode(t, 'connected', [t.dut, t.peer]);
      // A connection to the peer first, so there is one the multicast could wrongly take.
      await t.dut.adapter.ping(t.peer.ipv4!, { count: 1, waitSeconds: 2 });
      const broadcast = `${t.dut.ipv4!.split('.').slice(0, 3).join('.')}.255`;
      const { packets, frames } = await t.capture(async () => {
        await pingGroup(t.dut, broadcast, { broadcast: true, count: 1 });
        await pingGroup(t.dut, ALL_NODES_V6, { count: 1 });
      });
      const fromDut = uniqueFrames(frames.filter((f) => f.slid === e.dutLid));
      const v4 = fromDut.filter((f) => ipv4Of(f.ib.payload)?.header.dst === broadcast);
      const v6 = fromDut.filter((f) => f.header?.type === ETH_P_IPV6 && f.body.length >= IPV6_HEADER_LEN && formatIpv6(f.body.subarray(IPV6_DST_OFFSET, IPV6_HEADER_LEN)) === ALL_NODES_V6);
      const { rc } = cmTraffic(packets, { slid: e.dutLid });
      // IPv6 to any multicast address (ff00::/8) counts as well as the IPv4 broadcast.
      const groupOverRc = rc.filter((m) => ipv4Of(m.payload)?.header.dst === broadcast || (m.payload.readUInt16BE(0) === ETH_P_IPV6 && m.payload.length >= IPOIB_HEADER_LEN + IPV6_HEADER_LEN && m.payload[IPOIB_HEADER_LEN + IPV6_DST_OFFSET] === 0xff));
      await t.attachJson('the DUT\'s multicast', { broadcast, v4: v4.map(frameSummary), v6: v6.map(frameSummary), rc: rc.map(rcSummary) });

      expect(v4.length, `IPv4 packets to ${broadcast} from the DUT in UD packets`).to.be.at.least(1);
      expect(v6.length, `IPv6 packets to ${ALL_NODES_V6} from the DUT in UD packets`).to.be.at.least(1);
      for (const f of [...v4, ...v6]) {
        expect(hex6(f.destQpn), 'destination QPN of the DUT\'s multicast (the multicast QPN)').to.equal(hex6(MCAST_QPN));
        expect(hex6(f.srcQpn), 'DETH source QPN of the DUT\'s multicast (its UD QPN)').to.equal(hex6(e.dutQpn));
        expect(f.ib.grh ? formatGid(f.ib.grh.dgid).startsWith('ff') : false, 'the multicast carries a GRH whose destination is a multicast GID').to.equal(true);
      }
      expect(groupOverRc.map(rcSummary), 'broadcast or multicast IP from the DUT on a connection').to.deep.equal([]);
    },
  );

  for (const mode of ['datagram', 'connected'] as const satisfies readonly IpoibMode[]) {
    conformance(
      {
        covers: ['RFC4755-7-b'],
        title: `in ${mode} mode accepts IP unicast over a connection a peer made to it and over UD while that connection is up, answering both`,
        tags: ['cm', 'rc', 'ip', 'icmp'],
        requires: ['connected-mode', 'probe', 'ipv4'],
      },
      async (t) => {
        await inMode(t, mode);
        const partner = await CmPartner.open(t);
        await partner.introduce([4]);
        const qp = await partner.connectToDut().catch((err: unknown) => err as Error);
        if (qp instanceof Error) {
          await t.attachJson('partner', { ...partner.summary(), connect: qp.message });
          expect.fail(`the DUT refused the peer's connection (${qp.name}: ${qp.message}), so IP over RC cannot reach it`);
        }
        const overRc = partner.echoToDut(4);
        await qp.send(overRc.frame);
        const rcAnswer = await partner.echoReplyArrival(overRc.sequence, ANSWER_MS);
        const overUd = partner.echoToDut(4);
        partner.sendToDut(overUd.frame);
        const udAnswer = await partner.echoReplyArrival(overUd.sequence, ANSWER_MS);
        await t.attachJson('partner', { ...partner.summary(), answers: { overRc: rcAnswer, overUd: udAnswer } });

        expect(rcAnswer, 'the DUT\'s answer to an echo request that came over the peer\'s connection').to.not.equal(null);
        expect(udAnswer, 'the DUT\'s answer to an echo request that came over UD while the connection was up').to.not.equal(null);
      },
    );
  }
});
