/**
 * RFC 4755 §3.2, §3.5: the Service ID of IPoIB-CM connections. The DUT's REQ goes to the
 * IETF prefix | the peer's UD QPN (octet 0 as the RFC draws it, 0x01, or as Linux sends it,
 * 0x10: finding D1, recorded as a parameter, either accepted), Type 0, reserved octets zero,
 * followed by the peer's REP and the DUT's RTU. The DUT listens on the prefix | its own UD QPN:
 * a REQ there gets a REP naming a connected QP other than its UD QP; a REQ to another QPN does
 * not get a connection.
 */
import { expect } from 'chai';
import { CM_TRANSPORT_RC, ipoibCmServiceId, type IpoibCmProfile, parseIpoibCmServiceId } from '../../src/wire/cm.js';
import { QPN_MASK } from '../../src/wire/constants.js';
import { CM_PROFILES, CmPartner, type ConnectOutcome, outcomeText, PARTNER_IPV4 } from '../harness/cm-partner.js';
import { cmOf, cmSummary } from '../harness/cm-views.js';
import { conformance } from '../harness/conformance.js';
import { hex2, hex6 } from '../harness/hex.js';
import { ANSWER_MS } from '../harness/probe-helpers.js';
import { cmTraffic, inMode, udMtuOf } from './steps.js';

const sidText = (sid: bigint): string => `0x${sid.toString(16).padStart(16, '0')}`;

/** IBA's time unit for timeouts: 4.096 µs × 2^exponent. */
const IB_TIME_UNIT_US = 4.096;
/** TCP's minimum retransmission timeout (RFC 6298 allows 1 s; Linux uses 200 ms), the RFC's yardstick. */
const TCP_MIN_RTO_MS = 200;
/** An RNR retry count of 7 means "retry forever". */
const RNR_RETRY_FOREVER = 7;

describe('RFC 4755 §3.5: the IPoIB-CM Service ID @cm @rc', function () {
  conformance(
    {
      covers: ['RFC4755-3.5-b', 'RFC4755-3.5-c', 'RFC4755-3.5-d', 'RFC4755-3.5-e', 'RFC4755-3.2-a', 'RFC4755-2.3-b'],
      title: 'sends its REQ to the IETF prefix | the peer\'s UD QPN with Type 0 and zero reserved octets, offering an RC QP of its own, and completes it with an RTU',
      tags: ['cm', 'rc'],
      requires: ['connected-mode', 'probe', 'wire-capture', 'ipv4'],
    },
    async (t) => {
      await inMode(t, 'connected');
      const partner = await CmPartner.open(t);
      partner.respondToEchoes(await udMtuOf(t));
      await partner.introduce([4]);
      const { result: ping, packets } = await t.capture(() => t.dut.adapter.ping(PARTNER_IPV4, { count: 1, waitSeconds: 1 }));
      const dutLid = partner.dut.lid;
      const { mads } = cmTraffic(packets);
      const reqs = cmOf(mads, 'REQ', { slid: dutLid });
      await t.attachJson('CM exchange', { partner: partner.summary(), ping, mads: mads.map(cmSummary) });

      expect(reqs.length, 'REQs from the DUT to the peer it pinged (none: it never tried to connect)').to.be.at.least(1);
      const req = reqs[0]!;
      const sid = parseIpoibCmServiceId(req.msg.body.serviceId);
      await t.parameter('Service-ID prefix the DUT sends (D1)', `${hex2(sid.prefix)}${sid.profile ? ` (${sid.profile})` : ''}`);
      expect([0x10, 0x01].map(hex2), `octet 0 of the REQ's Service ID ${sidText(req.msg.body.serviceId)}: the IETF prefix, 0x01 by the RFC's figure or 0x10 as Linux sends (D1)`).to.include(hex2(sid.prefix));
      expect(sid.type, `Type (octet 1) of the Service ID ${sidText(req.msg.body.serviceId)}`).to.equal(0);
      expect(sid.reserved, `reserved octets 2-4 of the Service ID ${sidText(req.msg.body.serviceId)}`).to.equal(0);
      expect(hex6(sid.qpn), 'QPN (octets 5-7) of the Service ID vs the UD QPN in the peer\'s address').to.equal(hex6(partner.hwaddr.qpn));
      expect(req.msg.body.transportServiceType, 'transport service type of the REQ (the peer offered RC)').to.equal(CM_TRANSPORT_RC);
      expect(req.msg.body.localQpn, 'the DUT\'s connected QP offered in the REQ').to.not.equal(0);
      expect(hex6(req.msg.body.localQpn), 'the REQ\'s QP vs the DUT\'s UD QPN (a connection has a QP of its own)').to.not.equal(hex6(partner.dut.link.hwaddr.qpn));
      const rep = cmOf(mads, 'REP', { dlid: dutLid }).find((m) => m.msg.body.remoteCommId === req.msg.body.localCommId);
      expect(rep, 'the peer\'s REP to the DUT\'s REQ').to.not.equal(undefined);
      const rtu = cmOf(mads, 'RTU', { slid: dutLid }).find((m) => m.msg.body.localCommId === req.msg.body.localCommId);
      expect(rtu, 'the DUT\'s RTU after the REP').to.not.equal(undefined);
    },
  );

  conformance(
    {
      covers: ['RFC4755-3.5-e', 'RFC4755-2.3-b', 'RFC4755-2.2-a'],
      title: 'listens on the IETF prefix | its own UD QPN: a REQ there gets a REP with a connected QP that carries IP, a REQ to another QPN gets no connection',
      tags: ['cm', 'rc', 'ip', 'icmp'],
      requires: ['connected-mode', 'probe', 'ipv4'],
    },
    async (t) => {
      await inMode(t, 'connected');
      const partner = await CmPartner.open(t);
      const responder = partner.respondToEchoes(await udMtuOf(t));
      await partner.introduce([4]);
      const dutQpn = partner.dut.link.hwaddr.qpn;
      const byProfile = new Map<IpoibCmProfile, ConnectOutcome>();
      for (const profile of CM_PROFILES) byProfile.set(profile, await partner.tryConnectToDut({ serviceId: ipoibCmServiceId(dutQpn, profile) }));
      const accepted = [...byProfile.entries()].filter(([, o]) => o.kind === 'REP');
      const otherQpn = (dutQpn + 1) & QPN_MASK;
      const wrong = await partner.tryConnectToDut({ serviceId: ipoibCmServiceId(otherQpn, accepted[0]?.[0] ?? 'linux') });
      // The accepted connection must carry IP: an echo request over it, answered.
      let reply: string | null = null;
      const first = accepted[0]?.[1];
      if (first?.kind === 'REP') {
        const echo = partner.echoToDut(4);
        await first.qp.send(echo.frame);
        reply = await partner.echoReplyArrival(echo.sequence, ANSWER_MS);
      }
      await t.parameter('Service-ID prefixes the DUT accepts (D1)', accepted.map(([p]) => p).join(', ') || 'none');
      await t.attachJson('REQs from the partner', {
        partner: partner.summary(),
        repliesSent: responder.replies,
        outcomes: Object.fromEntries([...byProfile.entries()].map(([p, o]) => [`${p} ${sidText(ipoibCmServiceId(dutQpn, p))}`, outcomeText(o)])),
        wrongQpn: { serviceId: sidText(ipoibCmServiceId(otherQpn, accepted[0]?.[0] ?? 'linux')), outcome: outcomeText(wrong) },
        echoReply: reply,
      });

      expect(accepted.length, `REQs to the prefix | the DUT's UD QPN ${hex6(dutQpn)} that got a REP (linux: ${outcomeText(byProfile.get('linux')!)}; rfc: ${outcomeText(byProfile.get('rfc')!)})`).to.be.at.least(1);
      const qp = (accepted[0]![1] as Extract<ConnectOutcome, { kind: 'REP' }>).qp;
      expect(hex6(qp.attributes.remoteQpn), 'the QP the DUT\'s REP names vs its UD QPN (a connection has a QP of its own)').to.not.equal(hex6(dutQpn));
      expect(reply, 'the DUT\'s answer to an echo request sent over the connection').to.not.equal(null);
      expect(wrong.kind, `a REQ to the Service ID of QPN ${hex6(otherQpn)}, not the DUT's (${outcomeText(wrong)})`).to.not.equal('REP');
    },
  );

  conformance(
    {
      covers: ['RFC4755-7.1-b'],
      title: 'asks in its REQ for RC retries that end within TCP\'s 200 ms minimum RTO: retry count × local ACK timeout at most 200 ms, and no endless RNR retries',
      tags: ['cm', 'rc'],
      requires: ['connected-mode', 'probe', 'wire-capture', 'ipv4'],
    },
    async (t) => {
      await inMode(t, 'connected');
      const partner = await CmPartner.open(t);
      partner.respondToEchoes(await udMtuOf(t));
      await partner.introduce([4]);
      const { packets } = await t.capture(() => t.dut.adapter.ping(PARTNER_IPV4, { count: 1, waitSeconds: 1 }));
      const req = cmOf(cmTraffic(packets).mads, 'REQ', { slid: partner.dut.lid })[0];
      if (!req) return expect.fail('the DUT sent no REQ to the peer it pinged');
      const b = req.msg.body;
      const ackTimeoutMs = b.primaryPath.localAckTimeout === 0 ? 0 : (IB_TIME_UNIT_US * 2 ** b.primaryPath.localAckTimeout) / 1000;
      const retriesMs = b.retryCount * ackTimeoutMs;
      await t.attachJson('RC timers of the REQ', { ...cmSummary(req), ackTimeoutMs, retriesMs });

      expect(retriesMs, `time RC retransmissions may take: retry count ${b.retryCount} × local ACK timeout ${ackTimeoutMs.toFixed(1)} ms (exponent ${b.primaryPath.localAckTimeout})`).to.be.at.most(TCP_MIN_RTO_MS);
      expect(b.rnrRetryCount, 'RNR retry count of the REQ (7 retries forever)').to.be.below(RNR_RETRY_FOREVER);
    },
  );
});
