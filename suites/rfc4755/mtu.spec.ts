/**
 * RFC 4755 §4, §5, §5.1: what crosses a connection and how large. In connected mode the DUT
 * sends IP packets far larger than IPoIB-UD's (65520 octets, the Linux maximum: finding D6) as
 * one RC message each, behind the same 4-octet header (Type 0x0800 or 0x86DD, reserved zero),
 * and only after the REQ/REP/RTU exchange. A peer's REP may ask for less: the DUT then never
 * sends a longer message on that connection (the IP MTU there is the Receive MTU - 4) and
 * answers larger host packets with path-MTU handling, not silence. A Receive MTU below what
 * IPv6 needs (1280 + 4) must not black-hole IPv6 to that peer.
 */
import { expect } from 'chai';
import { ETH_P_IP, ETH_P_IPV6, IPOIB_CM_MAX_MESSAGE_BYTES, IPOIB_CM_MTU, IPOIB_HEADER_LEN } from '../../src/wire/constants.js';
import { CmPartner, PARTNER_IPV4, PARTNER_IPV6 } from '../harness/cm-partner.js';
import { cmOf, cmSummary, rcSummary } from '../harness/cm-views.js';
import { conformance } from '../harness/conformance.js';
import { oncePerLab } from '../harness/once-per-lab.js';
import { echoRequestOf } from '../harness/frames.js';
import { hex4 } from '../harness/hex.js';
import { cachedPathMtu, cmTraffic, ends, flushPathMtusAfter, inMode, mtusInPingText, pingDf, udMtuOf } from './steps.js';

const IPV4_ICMP_OVERHEAD = 20 + 8;
const IPV6_ICMP_OVERHEAD = 40 + 8;
/** The smallest link MTU IPv6 allows (RFC 8200). */
const IPV6_MIN_MTU = 1280;

describe('RFC 4755 §5: MTU on a connection @cm @rc @mtu', function () {
  conformance(
    {
      covers: ['RFC4755-5-c'],
      title: 'starts in datagram mode with the default IPoIB MTU (the broadcast group\'s MTU - 4) although it offers connected mode',
      tags: ['cm', 'mtu'],
      requires: ['connected-mode', 'probe', 'sa'],
    },
    async (t) => {
      // The mode the DUT was found in when the lab session opened, as the interop cases read it.
      const mode = await oncePerLab(t, `mode/${t.dut.node.name}/${t.dut.ifname}`, () => t.dut.adapter.mode());
      const udMtu = await udMtuOf(t);
      const mtu = mode === 'datagram' ? await t.dut.adapter.mtu() : null;
      await t.attachJson('defaults', { mode, mtu, groupMtuMinus4: udMtu });
      expect(mode, 'the mode the DUT was in when the lab opened').to.equal('datagram');
      expect(mtu, 'the DUT\'s MTU in its default mode vs the broadcast group\'s MTU - 4').to.equal(udMtu);
    },
  );

  conformance(
    {
      covers: ['RFC4755-5-d', 'RFC4755-4-a', 'RFC4755-4-b', 'RFC4755-2.3-a'],
      title: 'in connected mode sends a 65520-octet IPv4 and IPv6 packet as one 65524-octet RC message behind the IPoIB header, after the REQ/REP/RTU exchange',
      tags: ['cm', 'rc', 'mtu', 'encap', 'ipv6', 'icmp'],
      requires: ['connected-mode', 'probe', 'wire-capture', 'ipv4', 'ipv6'],
      timeoutMs: 40_000,
    },
    async (t) => {
      const e = await ends(t);
      await inMode(t, 'connected', [t.dut, t.peer]);
      const mtu = await t.dut.adapter.mtu();
      await t.dut.adapter.flushNeighbours();
      const sizes = { v4: IPOIB_CM_MTU - IPV4_ICMP_OVERHEAD, v6: IPOIB_CM_MTU - IPV6_ICMP_OVERHEAD };
      const { result, packets } = await t.capture(async () => ({
        v4: await t.dut.adapter.ping(t.peer.ipv4!, { size: sizes.v4, dontFragment: true, count: 1, waitSeconds: 3 }),
        v6: await t.dut.adapter.ping(t.peer.ipv6!, { size: sizes.v6, dontFragment: true, count: 1, waitSeconds: 3 }),
      }));
      const { mads, rc } = cmTraffic(packets, { slid: e.dutLid, dlid: e.peerLid });
      const full = rc.filter((m) => m.payload.length === IPOIB_CM_MAX_MESSAGE_BYTES);
      await t.attachJson('RC messages and CM from the DUT to the peer', { connectedModeMtu: mtu, pings: result, sizes, mads: mads.map(cmSummary), rc: rc.map(rcSummary) });
      await t.parameter('connected-mode MTU', mtu);

      expect(rc.length, 'RC messages from the DUT to the peer').to.be.greaterThan(0);
      for (const m of rc) {
        expect([hex4(ETH_P_IP), hex4(ETH_P_IPV6)], `Type of the IPoIB header an RC message from the DUT starts with (${m.payload.length} octets)`).to.include(hex4(m.payload.readUInt16BE(0)));
        expect(m.payload.readUInt16BE(2), 'reserved field of the IPoIB header of an RC message from the DUT').to.equal(0);
      }
      expect(full.map((m) => hex4(m.payload.readUInt16BE(0))), `Types of the ${IPOIB_CM_MAX_MESSAGE_BYTES}-octet RC messages (a 65520-octet IPv4 and IPv6 packet each, ping -M do)`).to.include.members([hex4(ETH_P_IP), hex4(ETH_P_IPV6)]);
      expect(result.v4.received, 'replies to the 65520-octet IPv4 echo request').to.equal(1);
      expect(result.v6.received, 'replies to the 65520-octet IPv6 echo request').to.equal(1);
      // The first RC data on a connection the DUT made comes after its RTU on it.
      for (const req of cmOf(mads, 'REQ')) {
        const rep = cmOf(cmTraffic(packets, { slid: e.peerLid, dlid: e.dutLid }).mads, 'REP').find((r) => r.msg.body.remoteCommId === req.msg.body.localCommId);
        const rtu = cmOf(mads, 'RTU').find((r) => r.msg.body.localCommId === req.msg.body.localCommId);
        const first = rep ? rc.find((m) => m.destQpn === rep.msg.body.localQpn) : undefined;
        if (!rep || !first) continue;
        expect(rtu, `the DUT's RTU for its connection to QP ${rep.msg.body.localQpn}`).to.not.equal(undefined);
        expect(first.tsUs, 'capture time of the DUT\'s first RC message on its connection vs of its RTU (µs)').to.be.at.least(rtu!.tsUs);
      }
    },
  );

  conformance(
    {
      covers: ['RFC4755-5.1-c', 'RFC4755-5.1-e', 'RFC4755-5.1-d'],
      title: 'honours a REP Receive MTU of 4000: a 3996-octet IPv4 packet crosses as one 4000-octet RC message, a 3997-octet one is refused with path-MTU handling, nothing longer is sent',
      tags: ['cm', 'rc', 'mtu', 'icmp'],
      requires: ['connected-mode', 'probe', 'ipv4'],
    },
    async (t) => {
      const receiveMtu = 4000;
      const fits = receiveMtu - IPOIB_HEADER_LEN;
      await inMode(t, 'connected');
      flushPathMtusAfter(t, t.dut);
      const partner = await CmPartner.open(t, { receiveMtu });
      await partner.introduce([4]);
      const atFit = await pingDf(t.dut, PARTNER_IPV4, fits - IPV4_ICMP_OVERHEAD);
      const overFit = await pingDf(t.dut, PARTNER_IPV4, fits + 1 - IPV4_ICMP_OVERHEAD);
      const pathMtu = await cachedPathMtu(t.dut, PARTNER_IPV4);
      const lengths = partner.messages.map((m) => m.payload.length);
      await t.attachJson('connection and messages', { partner: partner.summary(), pings: [atFit.text, overFit.text], cachedPathMtu: pathMtu });

      expect(partner.connections.length, 'connections the DUT made to the peer').to.be.at.least(1);
      expect(lengths, `octets of the RC messages the DUT sent (the ${fits}-octet packet as one ${receiveMtu}-octet message)`).to.include(receiveMtu);
      expect(Math.max(...lengths), `the longest RC message the DUT sent on a connection whose REP said Receive MTU ${receiveMtu}`).to.be.at.most(receiveMtu);
      const told = [...mtusInPingText(overFit.text), ...(pathMtu === null ? [] : [pathMtu])];
      expect(told.filter((m) => m <= fits), `path MTUs the DUT's host was told for the ${fits + 1}-octet packet (ping's ICMP errors and route cache: ${JSON.stringify(told)}); the packet must not vanish silently`).to.not.deep.equal([]);
    },
  );

  conformance(
    {
      covers: ['RFC4755-5-b'],
      title: 'does not black-hole IPv6 to a peer whose REP Receive MTU (1024) is below the IPv6 minimum: a 1280-octet IPv6 packet reaches it, or the DUT refuses the REP',
      tags: ['cm', 'rc', 'mtu', 'ipv6', 'icmp'],
      requires: ['connected-mode', 'probe', 'wire-capture', 'ipv6'],
    },
    async (t) => {
      const receiveMtu = 1024;
      await inMode(t, 'connected');
      flushPathMtusAfter(t, t.dut);
      const partner = await CmPartner.open(t, { receiveMtu });
      const responder = partner.respondToEchoes(await udMtuOf(t));
      await partner.introduce([6]);
      const { result: ping, packets } = await t.capture(async () => {
        const first = await pingDf(t.dut, PARTNER_IPV6, IPV6_MIN_MTU - IPV6_ICMP_OVERHEAD);
        // A host that learnt a path MTU from the first try sends its second within it.
        const second = await pingDf(t.dut, PARTNER_IPV6, IPV6_MIN_MTU - IPV6_ICMP_OVERHEAD);
        return { first, second };
      });
      const reached = [...partner.qp.received().map((f) => f.payload), ...partner.messages.map((m) => m.payload)].filter((p) => echoRequestOf(p) !== null && p.length - IPOIB_HEADER_LEN >= IPV6_MIN_MTU);
      const refusedRep = cmOf(cmTraffic(packets, { slid: partner.dut.lid }).mads, 'REJ').length > 0;
      await t.attachJson('IPv6 to a peer with Receive MTU 1024', { partner: partner.summary(), pings: [ping.first.text, ping.second.text], repliesSent: responder.replies, reached: reached.length, refusedRep, cachedPathMtu: await cachedPathMtu(t.dut, PARTNER_IPV6) });

      expect(reached.length > 0 || refusedRep, `a ${IPV6_MIN_MTU}-octet IPv6 packet from the DUT reached the peer (${reached.length} did, over UD or RC), or the DUT refused the REP (${refusedRep})`).to.equal(true);
    },
  );
});
