/**
 * RFC 4755 §3.1: the flags octet of the link-layer address. A DUT that offers connected mode
 * says so with the RC bit (0x80; UC 0x40 may join it) in both modes and keeps the six other bits
 * zero, in the address it reports and in its ARP and ND; one that does not sends 0x00. Flags a
 * peer sends decide how it is reached: RC only when the peer offers it and the DUT is in
 * connected mode (reserved bits ignored), UD for a peer without RC (UD-only 0x00, UC-only 0x40:
 * finding D5), and UD for every peer in datagram mode, whatever its flags.
 */
import { expect } from 'chai';
import type { IpoibFrame } from '../../src/lab/capture.js';
import { ARP_OP_REQUEST, IPOIB_FLAG_RC, IPOIB_FLAG_UC, IPOIB_FLAGS_RESERVED_MASK } from '../../src/wire/constants.js';
import { formatHwAddr, hasRc, type IpoibHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { arpFrames, uniqueFrames } from '../harness/capture-views.js';
import { CmPartner, PARTNER_IPV4, PARTNER_IPV6 } from '../harness/cm-partner.js';
import { cmSummary, rcSummary } from '../harness/cm-views.js';
import { conformance } from '../harness/conformance.js';
import { dutOnFabric } from '../harness/fabric-view.js';
import { echoRequestOf, ndOf } from '../harness/frames.js';
import { hex2, hex6 } from '../harness/hex.js';
import { resolvePeerAfresh } from '../harness/node-actions.js';
import { cmTraffic, inMode, udMtuOf } from './steps.js';

/** The addresses the DUT put in its ARP (sender) and ND (link-layer options) during a capture. */
function advertised(frames: readonly IpoibFrame[], dutLid: number): Array<{ where: string; address: IpoibHwAddr }> {
  const mine = uniqueFrames(frames.filter((f) => f.slid === dutLid));
  const out: Array<{ where: string; address: IpoibHwAddr }> = arpFrames(mine).map((x) => ({ where: `ARP ${x.arp.op === ARP_OP_REQUEST ? 'request' : 'reply'} sender`, address: x.arp.sha }));
  for (const f of mine) {
    const nd = ndOf(f.ib.payload);
    for (const opt of nd?.message.options ?? []) if (opt.kind === 'lladdr') out.push({ where: `ND type ${nd!.message.type} option ${opt.type}`, address: opt.address });
  }
  return out;
}

const flagsText = (a: IpoibHwAddr): string => `${hex2(a.flags)} (${formatHwAddr(a)})`;

describe('RFC 4755 §3.1: the flags of the link-layer address @cm @hwaddr', function () {
  conformance(
    {
      covers: ['RFC4755-3.1-b', 'RFC4755-3.1-c', 'RFC4755-9-b'],
      title: 'advertises RC (0x80) with the six other flag bits zero, in datagram and in connected mode, in its interface address, its ARP and its ND',
      tags: ['cm', 'rc', 'hwaddr', 'arp', 'nd'],
      requires: ['connected-mode', 'probe', 'wire-capture', 'ipv4', 'ipv6'],
    },
    async (t) => {
      const dut = await dutOnFabric(t);
      const seen: Array<{ mode: string; where: string; address: IpoibHwAddr }> = [];
      for (const mode of ['datagram', 'connected'] as const) {
        await inMode(t, mode);
        const link = await t.dut.adapter.link();
        seen.push({ mode, where: 'interface address', address: link.hwaddr });
        const { frames } = await t.capture(() => resolvePeerAfresh(t));
        for (const a of advertised(frames, dut.lid)) seen.push({ mode, ...a });
      }
      await t.attachJson('advertised addresses', seen.map((s) => ({ mode: s.mode, where: s.where, flags: hex2(s.address.flags), address: formatHwAddr(s.address) })));

      for (const mode of ['datagram', 'connected']) {
        expect(seen.filter((s) => s.mode === mode && s.where !== 'interface address').length, `ARP and ND addresses from the DUT in ${mode} mode (none seen: nothing to judge)`).to.be.greaterThan(0);
      }
      for (const s of seen) {
        expect(s.address.flags & IPOIB_FLAGS_RESERVED_MASK, `reserved flag bits (0x3f) of the ${s.where} in ${s.mode} mode: ${flagsText(s.address)}`).to.equal(0);
        expect(s.address.flags & IPOIB_FLAG_RC, `RC bit of the ${s.where} in ${s.mode} mode (the DUT offers connected mode): ${flagsText(s.address)}`).to.equal(IPOIB_FLAG_RC);
      }
    },
  );

  conformance(
    {
      covers: ['RFC4755-3.1-h'],
      title: 'sends the flags octet as zero when it offers no connected mode, in its ARP and its ND',
      tags: ['cm', 'hwaddr', 'arp', 'nd'],
      requires: ['probe', 'wire-capture', 'ipv4', 'ipv6'],
    },
    async (t) => {
      const dut = await dutOnFabric(t);
      if (hasRc(dut.hwaddr)) return t.skip(`the DUT offers connected mode (its address has flags ${hex2(dut.hwaddr.flags)}); the rule is for a UD-only DUT`);
      const { frames } = await t.capture(() => resolvePeerAfresh(t));
      const seen = [{ where: 'interface address', address: dut.hwaddr }, ...advertised(frames, dut.lid)];
      await t.attachJson('advertised addresses', seen.map((s) => ({ where: s.where, flags: hex2(s.address.flags), address: formatHwAddr(s.address) })));
      expect(seen.length, 'addresses from the DUT (interface, ARP, ND)').to.be.greaterThan(1);
      for (const s of seen) expect(s.address.flags, `flags of the ${s.where}: ${flagsText(s.address)}`).to.equal(0);
    },
  );

  for (const flags of [0x00, IPOIB_FLAG_UC]) {
    conformance(
      {
        covers: ['RFC4755-2-b'],
        title: `in connected mode reaches a peer whose address has flags ${hex2(flags)} (no RC) over UD: ARP, and IPv4 and IPv6 echoes both ways, with no CM request to it`,
        tags: ['cm', 'rc', 'hwaddr', 'arp', 'ipv6', 'icmp'],
        requires: ['connected-mode', 'probe', 'wire-capture', 'ipv4', 'ipv6'],
      },
      async (t) => {
        await inMode(t, 'connected');
        const partner = await CmPartner.open(t, { flags });
        const responder = partner.respondToEchoes(await udMtuOf(t));
        const { result, packets } = await t.capture(async () => {
          await partner.introduce([4, 6]);
          return {
            v4: await t.dut.adapter.ping(PARTNER_IPV4, { count: 2, intervalSeconds: 0.2, waitSeconds: 2 }),
            v6: await t.dut.adapter.ping(PARTNER_IPV6, { count: 2, intervalSeconds: 0.2, waitSeconds: 2 }),
          };
        });
        const dutLid = partner.dut.lid;
        const { mads, rc } = cmTraffic(packets, { slid: dutLid });
        const udEchoes = partner.qp.received().filter((f) => echoRequestOf(f.payload) !== null);
        await t.attachJson('partner and traffic', { partner: partner.summary(), pings: result, repliesSent: responder.replies, udEchoRequests: udEchoes.map((f) => ({ srcQpn: hex6(f.srcQpn), octets: f.payload.length })), dutCm: mads.map(cmSummary), dutRc: rc.map(rcSummary) });

        expect(mads.filter((m) => m.msg.kind === 'REQ').map(cmSummary), `CM REQs from the DUT to a peer with flags ${hex2(flags)}`).to.deep.equal([]);
        expect(rc.map(rcSummary), 'RC messages from the DUT').to.deep.equal([]);
        expect(udEchoes.length, 'echo requests from the DUT that reached the peer over UD').to.be.at.least(2);
        for (const f of udEchoes) expect(hex6(f.srcQpn), 'source QPN of the DUT\'s UD echo requests (its UD QPN)').to.equal(hex6(partner.dut.link.hwaddr.qpn));
        expect(result.v4.received, 'IPv4 echo replies the DUT received from the peer (over UD)').to.be.at.least(1);
        expect(result.v6.received, 'IPv6 echo replies the DUT received from the peer (over UD)').to.be.at.least(1);
      },
    );
  }

  conformance(
    {
      covers: ['RFC4755-3.1-d'],
      title: 'in connected mode treats a peer whose address has flags 0xbf (RC and every reserved bit) as offering RC: it connects and its echoes get through',
      tags: ['cm', 'rc', 'hwaddr', 'icmp'],
      requires: ['connected-mode', 'probe', 'wire-capture', 'ipv4'],
    },
    async (t) => {
      const flags = IPOIB_FLAG_RC | IPOIB_FLAG_UC | IPOIB_FLAGS_RESERVED_MASK;
      await inMode(t, 'connected');
      const partner = await CmPartner.open(t, { flags });
      const responder = partner.respondToEchoes(await udMtuOf(t));
      const { result: ping } = await t.capture(async () => {
        await partner.introduce([4]);
        return t.dut.adapter.ping(PARTNER_IPV4, { count: 2, intervalSeconds: 0.2, waitSeconds: 2 });
      });
      const overRc = partner.messages.filter((m) => echoRequestOf(m.payload) !== null);
      await t.attachJson('partner', { ...partner.summary(), ping, repliesSent: responder.replies });

      expect(partner.requests.length, 'CM REQs from the DUT to the peer advertising 0xbf').to.be.at.least(1);
      expect(overRc.length, 'echo requests that reached the peer over its RC connection').to.be.at.least(1);
      expect(ping.received, 'echo replies the DUT received').to.be.at.least(1);
    },
  );

  for (const flags of [IPOIB_FLAG_RC, IPOIB_FLAG_UC, IPOIB_FLAG_RC | IPOIB_FLAG_UC]) {
    conformance(
      {
        covers: ['RFC4755-3.1-g'],
        title: `in datagram mode ignores the flags ${hex2(flags)} of a peer's address as a UD-only implementation does: it answers its ARP and reaches it over UD, with no CM request`,
        tags: ['cm', 'hwaddr', 'arp', 'icmp'],
        requires: ['probe', 'wire-capture', 'ipv4'],
      },
      async (t) => {
        const dut = await dutOnFabric(t);
        // A DUT that offers connected mode is put in datagram mode; one that does not is always there.
        if (hasRc(dut.hwaddr)) await inMode(t, 'datagram');
        const partner = await CmPartner.open(t, { flags });
        const responder = partner.respondToEchoes(await udMtuOf(t));
        const { result: ping, packets } = await t.capture(async () => {
          await partner.introduce([4]);
          return t.dut.adapter.ping(PARTNER_IPV4, { count: 2, intervalSeconds: 0.2, waitSeconds: 2 });
        });
        const { mads } = cmTraffic(packets, { slid: dut.lid });
        const udEchoes = partner.qp.received().filter((f) => echoRequestOf(f.payload) !== null);
        await t.attachJson('partner and traffic', { partner: partner.summary(), ping, repliesSent: responder.replies, dutCm: mads.map(cmSummary) });

        expect(mads.filter((m) => m.msg.kind === 'REQ').map(cmSummary), `CM REQs from the DUT in datagram mode to a peer with flags ${hex2(flags)}`).to.deep.equal([]);
        expect(udEchoes.length, 'echo requests from the DUT that reached the peer over UD').to.be.at.least(2);
        expect(ping.received, 'echo replies the DUT received over UD').to.be.at.least(1);
      },
    );
  }
});
