/**
 * RFC 4755 §2.3, §3.2, §3.3: how many connections, and their life. A connection belongs to a
 * pair of IB endpoints, not to an IP address: two addresses behind one peer share one. The DUT
 * keeps track of the connections it made and accepted: a DREQ from the peer is answered with a
 * DREP and the connection is gone (a new REQ gets a new one); when it and the peer start
 * talking to each other at once, at most one connection each way, and traffic flows. When a REQ from a peer crosses the DUT's own pending
 * REQ to that peer, §3.3 settles it by the two link-layer addresses (flags zeroed, compared
 * octet by octet from the QPN down): the side with the smaller address accepts the other's REQ,
 * the side with the larger one rejects it with a consumer REJ (28) naming its UD QPN. The
 * probe plays the peer with an address below or above the DUT's and crosses the DUT's REQ
 * with its own before answering it.
 */
import { expect } from 'chai';
import { encodeToBuffer } from '../../src/wire/codec.js';
import { CM_REJ_REASONS } from '../../src/wire/cm.js';
import { CM_REJ_PRIVATE_DATA_LEN, CM_REP_PRIVATE_DATA_LEN } from '../../src/wire/constants.js';
import { formatHwAddr, type IpoibHwAddr, ipoibHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { CmPartner, type ConnectOutcome, outcomeText, PARTNER_IPV4, PARTNER_IPV4_ALIAS } from '../harness/cm-partner.js';
import { cmOf, cmSummary } from '../harness/cm-views.js';
import { conformance } from '../harness/conformance.js';
import { hex6 } from '../harness/hex.js';
import { ANSWER_MS } from '../harness/probe-helpers.js';
import { cmTraffic, ends, inMode, udMtuOf } from './steps.js';

/** RFC 4755 §3.3's order: the 20 octets with the flags octet zeroed, most significant first. */
function compareAddresses(a: IpoibHwAddr, b: IpoibHwAddr): number {
  return Buffer.compare(encodeToBuffer(ipoibHwAddr, { ...a, flags: 0 }), encodeToBuffer(ipoibHwAddr, { ...b, flags: 0 }));
}

/** QPNs for the probe's address that put it below or above any DUT address with a QPN between them. */
const LOW_QPN = 0x000002;
const HIGH_QPN = 0xfffffe;

describe('RFC 4755 §3.2, §3.3: connections per peer, their teardown by the peer, and simultaneous ones @cm @rc', function () {
  conformance(
    {
      covers: ['RFC4755-2.3-c'],
      title: 'reaches two IPv4 addresses behind one peer link-layer address over one connection',
      tags: ['cm', 'rc', 'icmp'],
      requires: ['connected-mode', 'probe', 'ipv4'],
    },
    async (t) => {
      await inMode(t, 'connected');
      const partner = await CmPartner.open(t);
      partner.respondToEchoes(await udMtuOf(t));
      await partner.introduce([4]);
      await partner.introduce([4], { ipv4: PARTNER_IPV4_ALIAS });
      const pings = {
        first: await t.dut.adapter.ping(PARTNER_IPV4, { count: 1, waitSeconds: 2 }),
        alias: await t.dut.adapter.ping(PARTNER_IPV4_ALIAS, { count: 1, waitSeconds: 2 }),
      };
      await t.attachJson('partner', { ...partner.summary(), pings });

      expect(pings.first.received, `echo replies from ${PARTNER_IPV4}`).to.equal(1);
      expect(pings.alias.received, `echo replies from ${PARTNER_IPV4_ALIAS} (the same link-layer address)`).to.equal(1);
      expect(partner.requests.length, 'REQs from the DUT to the one peer link-layer address behind both IP addresses').to.equal(1);
    },
  );

  conformance(
    {
      covers: ['RFC4755-3.2-c'],
      probes: ['P-CM-4'],
      title: 'answers a peer\'s DREQ mid-traffic with a DREP, then takes the peer\'s next REQ as a new connection that carries IP',
      tags: ['cm', 'rc', 'ip', 'icmp'],
      requires: ['connected-mode', 'probe', 'wire-capture', 'ipv4'],
    },
    async (t) => {
      await inMode(t, 'connected');
      const partner = await CmPartner.open(t);
      partner.respondToEchoes(await udMtuOf(t));
      await partner.introduce([4]);
      const { result, packets } = await t.capture(async () => {
        const first = await partner.tryConnectToDut();
        let firstAnswered: string | null = null;
        if (first.kind === 'REP') {
          const echo = partner.echoToDut(4);
          await first.qp.send(echo.frame);
          firstAnswered = await partner.echoReplyArrival(echo.sequence, ANSWER_MS);
          await first.qp.close(); // a DREQ while the DUT's answer may still be on its way
        }
        const second = await partner.tryConnectToDut();
        let secondAnswered: string | null = null;
        if (second.kind === 'REP') {
          const echo = partner.echoToDut(4);
          await second.qp.send(echo.frame);
          secondAnswered = await partner.echoReplyArrival(echo.sequence, ANSWER_MS);
        }
        return { first, firstAnswered, second, secondAnswered };
      });
      const mads = cmTraffic(packets).mads;
      const dreq = cmOf(mads, 'DREQ', { dlid: partner.dut.lid })[0];
      const drep = dreq ? cmOf(mads, 'DREP', { slid: partner.dut.lid }).find((d) => d.msg.body.remoteCommId === dreq.msg.body.localCommId) : undefined;
      await t.attachJson('teardown by the peer', { first: outcomeText(result.first), firstAnswered: result.firstAnswered, second: outcomeText(result.second), secondAnswered: result.secondAnswered, mads: mads.map(cmSummary) });

      expect(result.first.kind, `the DUT's answer to the peer's first REQ: ${outcomeText(result.first)}`).to.equal('REP');
      expect(result.firstAnswered, 'the DUT\'s answer to an echo request over the first connection').to.not.equal(null);
      expect(dreq, 'the peer\'s DREQ on the wire').to.not.equal(undefined);
      expect(drep, 'the DUT\'s DREP to the peer\'s DREQ').to.not.equal(undefined);
      expect(result.second.kind, `the DUT's answer to the peer's REQ after the teardown: ${outcomeText(result.second)}`).to.equal('REP');
      expect(result.secondAnswered, 'the DUT\'s answer to an echo request over the new connection').to.not.equal(null);
    },
  );

  conformance(
    {
      covers: ['RFC4755-3.2-c'],
      title: 'when it and the peer connect to each other at the same moment, ends with at most one connection each way and echoes flow both ways',
      tags: ['cm', 'rc', 'icmp'],
      requires: ['connected-mode', 'probe', 'wire-capture', 'ipv4'],
    },
    async (t) => {
      const e = await ends(t);
      await inMode(t, 'connected', [t.dut, t.peer]);
      await Promise.all([t.dut.adapter.flushNeighbours(), t.peer.adapter.flushNeighbours()]);
      const { result, packets } = await t.capture(() =>
        Promise.all([
          t.dut.adapter.ping(t.peer.ipv4!, { count: 3, intervalSeconds: 0.2, waitSeconds: 2 }),
          t.peer.adapter.ping(t.dut.ipv4!, { count: 3, intervalSeconds: 0.2, waitSeconds: 2 }),
        ]),
      );
      const { mads } = cmTraffic(packets);
      const established = (from: number, to: number): number => cmOf(mads, 'RTU', { slid: from, dlid: to }).length;
      const counts = { madeByDut: established(e.dutLid, e.peerLid), madeByPeer: established(e.peerLid, e.dutLid) };
      await t.attachJson('connections', { pings: result, counts, mads: mads.map(cmSummary) });

      expect(result[0].received, 'echo replies to the DUT\'s pings of the peer').to.be.at.least(2);
      expect(result[1].received, 'echo replies to the peer\'s pings of the DUT').to.be.at.least(2);
      expect(counts.madeByDut, 'connections the DUT established to the peer (RTUs it sent)').to.be.at.most(1);
      expect(counts.madeByPeer, 'connections the peer established to the DUT (RTUs the DUT received)').to.be.at.most(1);
      expect(counts.madeByDut + counts.madeByPeer, 'connections between the two').to.be.at.least(1);
    },
  );

  for (const side of ['smaller', 'larger'] as const) {
    conformance(
      {
        covers: ['RFC4755-3.3-a', 'RFC4755-3.3-c'],
        probes: ['P-CM-3'],
        title: `settles a peer's REQ that crosses its own pending REQ by the addresses: the peer's address ${side} than its own, it ${side === 'smaller' ? 'rejects the peer\'s REQ with a consumer REJ (28) naming its UD QPN' : 'accepts the peer\'s REQ'}`,
        tags: ['cm', 'rc'],
        requires: ['connected-mode', 'probe', 'ipv4'],
      },
      async (t) => {
        await inMode(t, 'connected');
        let crossed: Promise<ConnectOutcome> | undefined;
        let peerSmaller = side === 'smaller';
        const partner: CmPartner = await CmPartner.open(t, {
          advertisedQpn: side === 'smaller' ? LOW_QPN : HIGH_QPN,
          // The DUT's REQ is held while the partner's own REQ crosses it; then the partner does its part of the rule.
          decide: async (_req, profile) => {
            crossed ??= partner.tryConnectToDut({ profile });
            await crossed;
            return peerSmaller
              ? { accept: true, privateData: partner.privateData(CM_REP_PRIVATE_DATA_LEN), maxMessageBytes: 65_536 }
              : { accept: false, rejectReason: CM_REJ_REASONS.consumerDefined, privateData: partner.privateData(CM_REJ_PRIVATE_DATA_LEN) };
          },
        });
        peerSmaller = compareAddresses(partner.hwaddr, partner.dut.link.hwaddr) < 0;
        await partner.introduce([4]);
        const { result: ping, packets } = await t.capture(() => t.dut.adapter.ping(PARTNER_IPV4, { count: 1, waitSeconds: 1 }));
        if (!crossed) {
          await t.attachJson('partner', partner.summary());
          return expect.fail('the DUT sent no REQ to the peer, so there was nothing to cross');
        }
        const outcome = await crossed;
        const mads = cmTraffic(packets).mads;
        await t.attachJson('crossing REQs', {
          dutAddress: formatHwAddr(partner.dut.link.hwaddr),
          peerAddress: formatHwAddr(partner.hwaddr),
          peerIs: peerSmaller ? 'smaller' : 'larger',
          dutAnswerToCrossingReq: outcomeText(outcome),
          ping,
          partner: partner.summary(),
          mads: mads.map(cmSummary),
        });
        expect(peerSmaller, `the peer's address ${formatHwAddr(partner.hwaddr)} vs the DUT's ${formatHwAddr(partner.dut.link.hwaddr)} (flags zeroed)`).to.equal(side === 'smaller');

        if (side === 'larger') {
          expect(outcomeText(outcome), 'the DUT\'s answer to a crossing REQ from a peer with the larger address (it has the smaller one: accept)').to.match(/^REP/);
          return;
        }
        expect(outcome.kind, `the DUT's answer to a crossing REQ from a peer with the smaller address (it has the larger one: reject): ${outcomeText(outcome)}`).to.equal('REJ');
        const rej = outcome as Extract<ConnectOutcome, { kind: 'REJ' }>;
        expect(rej.reason, 'reason of the DUT\'s REJ').to.equal(CM_REJ_REASONS.consumerDefined);
        expect(hex6(rej.privateData.readUIntBE(1, 3)), 'UD QPN in the private data of the DUT\'s REJ').to.equal(hex6(partner.dut.link.hwaddr.qpn));
        expect(cmOf(mads, 'REJ', { slid: partner.dut.lid }).length, 'REJs from the DUT on the wire').to.be.at.least(1);
      },
    );
  }
});
