/**
 * RFC 4755 §7.2: per-destination MTU. In connected mode the DUT's interface MTU (65520 on
 * Linux) is far above what UD carries, so a packet too large for a UD-only peer or for a
 * multicast group must be met with path-MTU handling, an ICMP "fragmentation needed" (IPv4) or
 * "packet too big" (IPv6) to the DUT's own host naming the UD MTU (Linux's behaviour, the
 * oracle of finding D6), never a silent drop, and never a UD packet longer than the UD MTU on
 * the wire. The host then sends within that MTU and gets through.
 */
import { expect } from 'chai';
import { IPOIB_HEADER_LEN } from '../../src/wire/constants.js';
import { frameSummary, uniqueFrames } from '../harness/capture-views.js';
import { CmPartner, PARTNER_IPV4, PARTNER_IPV6 } from '../harness/cm-partner.js';
import { conformance } from '../harness/conformance.js';
import { ends, cachedPathMtu, flushPathMtusAfter, inMode, mtusInPingText, pingDf, udMtuOf } from './steps.js';

/** An ICMP payload that makes a packet larger than IPoIB-UD's 2044 but far below the connected-mode MTU. */
const LARGE_PAYLOAD = 3000;
const IPV4_ICMP_OVERHEAD = 20 + 8;
const IPV6_ICMP_OVERHEAD = 40 + 8;
const ALL_HOSTS_V4 = '224.0.0.1';
const ALL_NODES_V6 = 'ff02::1';

describe('RFC 4755 §7.2: path MTU towards UD destinations in connected mode @cm @mtu @icmp', function () {
  conformance(
    {
      covers: ['RFC4755-7.2-a'],
      probes: ['P-PMTU-2'],
      title: 'in connected mode answers a 3028-octet IPv4 and IPv6 DF packet to a UD-only peer with fragmentation-needed / packet-too-big naming at most the UD MTU, sends nothing longer over UD, and then gets through within it',
      tags: ['cm', 'mtu', 'icmp', 'ipv6'],
      requires: ['connected-mode', 'probe', 'wire-capture', 'ipv4', 'ipv6'],
    },
    async (t) => {
      const udMtu = await udMtuOf(t);
      await inMode(t, 'connected');
      flushPathMtusAfter(t, t.dut);
      const partner = await CmPartner.open(t, { flags: 0 });
      const responder = partner.respondToEchoes(udMtu);
      await partner.introduce([4, 6]);
      const { result, frames } = await t.capture(async () => {
        const large = { v4: await pingDf(t.dut, PARTNER_IPV4, LARGE_PAYLOAD, { count: 2 }), v6: await pingDf(t.dut, PARTNER_IPV6, LARGE_PAYLOAD, { count: 2 }) };
        const cached = { v4: await cachedPathMtu(t.dut, PARTNER_IPV4), v6: await cachedPathMtu(t.dut, PARTNER_IPV6) };
        const within = { v4: await pingDf(t.dut, PARTNER_IPV4, udMtu - IPV4_ICMP_OVERHEAD), v6: await pingDf(t.dut, PARTNER_IPV6, udMtu - IPV6_ICMP_OVERHEAD) };
        return { large, cached, within };
      });
      const dutLid = partner.dut.lid;
      const tooLong = uniqueFrames(frames.filter((f) => f.slid === dutLid && f.ib.payload.length > udMtu + IPOIB_HEADER_LEN));
      const told = { v4: mtusInPingText(result.large.v4.text), v6: mtusInPingText(result.large.v6.text) };
      await t.attachJson('path MTU handling', { udMtu, pings: [result.large.v4.text, result.large.v6.text, result.within.v4.text, result.within.v6.text], mtusInPingOutput: told, cachedPathMtu: result.cached, repliesSent: responder.replies, udFramesLongerThanUdMtu: tooLong.map(frameSummary) });

      expect(tooLong.map(frameSummary), `UD packets from the DUT longer than the UD MTU ${udMtu} + 4`).to.deep.equal([]);
      for (const family of ['v4', 'v6'] as const) {
        expect(told[family].length, `ICMP errors or local refusals ping reported for the ${LARGE_PAYLOAD}-octet IP${family} echo (none: the packet vanished silently)`).to.be.greaterThan(0);
        expect(Math.max(...told[family]), `MTU the DUT's host was told for the IP${family} UD-only peer (the UD MTU is ${udMtu}): ${JSON.stringify(told[family])}`).to.be.at.most(udMtu);
        expect(result.cached[family], `path MTU the DUT's host cached for the IP${family} UD-only peer`).to.not.equal(null);
        expect(result.cached[family]!, `path MTU the DUT's host cached for the IP${family} UD-only peer`).to.be.at.most(udMtu);
        expect(result.within[family].received, `replies to a ${udMtu}-octet IP${family} DF echo (within the learnt MTU)`).to.equal(1);
      }
    },
  );

  conformance(
    {
      covers: ['RFC4755-7.2-a', 'RFC4755-2.1-b'],
      probes: ['P-PMTU-2'],
      title: 'in connected mode answers a 3028-octet IPv4 and IPv6 DF packet to a multicast group with fragmentation-needed / packet-too-big naming at most the UD MTU and sends nothing longer to the group',
      tags: ['cm', 'mtu', 'icmp', 'ipv6', 'multicast'],
      requires: ['connected-mode', 'probe', 'wire-capture', 'ipv4', 'ipv6'],
    },
    async (t) => {
      const udMtu = await udMtuOf(t);
      const e = await ends(t);
      await inMode(t, 'connected');
      flushPathMtusAfter(t, t.dut);
      // Two echoes each: the DUT's host answers its own echo to ff02::1 over loopback, and that
      // reply can end a one-echo ping before the packet-too-big arrives; the second echo then
      // meets the path MTU the error left (or goes out again, too long, if there was none).
      const { result, frames } = await t.capture(async () => ({
        v4: await pingDf(t.dut, ALL_HOSTS_V4, LARGE_PAYLOAD, { ifname: t.dut.ifname, count: 2 }),
        v6: await pingDf(t.dut, ALL_NODES_V6, LARGE_PAYLOAD, { ifname: t.dut.ifname, count: 2 }),
      }));
      const tooLong = uniqueFrames(frames.filter((f) => f.slid === e.dutLid && f.ib.payload.length > udMtu + IPOIB_HEADER_LEN));
      const told = { v4: mtusInPingText(result.v4.text), v6: mtusInPingText(result.v6.text) };
      await t.attachJson('path MTU handling', { udMtu, pings: [result.v4.text, result.v6.text], mtusInPingOutput: told, udFramesLongerThanUdMtu: tooLong.map(frameSummary) });

      expect(tooLong.map(frameSummary), `UD packets from the DUT longer than the UD MTU ${udMtu} + 4`).to.deep.equal([]);
      for (const family of ['v4', 'v6'] as const) {
        expect(told[family].length, `ICMP errors or local refusals ping reported for the ${LARGE_PAYLOAD}-octet IP${family} echo to the group (none: the packet vanished silently)`).to.be.greaterThan(0);
        expect(Math.max(...told[family]), `MTU the DUT's host was told for the IP${family} group (the UD MTU is ${udMtu}): ${JSON.stringify(told[family])}`).to.be.at.most(udMtu);
      }
    },
  );
});
