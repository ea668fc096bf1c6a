/**
 * RFC 4755 §3.2, §5.1, §6: the IPoIB-CM private data (reserved octet, 24-bit UD QPN, 32-bit
 * Receive MTU) of the CM messages the DUT sends while a connection is set up: its REQ (as the
 * active side), its REP (as the passive side) and a consumer-level REJ it sends. Each names
 * the UD QPN of the DUT's link-layer address with the reserved octet zero; the REQ's Receive
 * MTU is the largest packet the DUT takes: its connected-mode MTU + 4.
 */
import { expect } from 'chai';
import { CM_REJ_REASONS, ipoibCmPrivateData } from '../../src/wire/cm.js';
import { CM_REP_PRIVATE_DATA_LEN, IPOIB_HEADER_LEN } from '../../src/wire/constants.js';
import { CmPartner, PARTNER_IPV4 } from '../harness/cm-partner.js';
import { cmOf, cmSummary } from '../harness/cm-views.js';
import { conformance } from '../harness/conformance.js';
import { hex6 } from '../harness/hex.js';
import { cmTraffic, inMode, udMtuOf } from './steps.js';

/** A Receive MTU that leaves no room for a packet behind the 4-octet header. */
const USELESS_RECEIVE_MTU = IPOIB_HEADER_LEN;

describe('RFC 4755 §6: IPoIB-CM private data @cm @rc', function () {
  conformance(
    {
      covers: ['RFC4755-3.2-g', 'RFC4755-6-a', 'RFC4755-6-b', 'RFC4755-6-c', 'RFC4755-5.1-b'],
      title: 'puts its UD QPN and its connected-mode MTU + 4 as Receive MTU, reserved octet zero, in the private data of its REQ',
      tags: ['cm', 'rc', 'mtu'],
      requires: ['connected-mode', 'probe', 'wire-capture', 'ipv4'],
    },
    async (t) => {
      await inMode(t, 'connected');
      const mtu = await t.dut.adapter.mtu();
      const partner = await CmPartner.open(t);
      partner.respondToEchoes(await udMtuOf(t));
      await partner.introduce([4]);
      const { packets } = await t.capture(() => t.dut.adapter.ping(PARTNER_IPV4, { count: 1, waitSeconds: 1 }));
      const reqs = cmOf(cmTraffic(packets).mads, 'REQ', { slid: partner.dut.lid });
      await t.attachJson('REQs from the DUT', { connectedModeMtu: mtu, dutAddress: partner.summary().dut, reqs: reqs.map(cmSummary) });

      expect(reqs.length, 'REQs from the DUT to the peer it pinged').to.be.at.least(1);
      for (const r of reqs) {
        expect(r.ipoib.reserved, 'reserved octet 0 of the REQ\'s private data').to.equal(0);
        expect(hex6(r.ipoib.qpn), 'UD QPN in the REQ\'s private data vs the QPN of the DUT\'s address').to.equal(hex6(partner.dut.link.hwaddr.qpn));
        expect(r.ipoib.receiveMtu, `Receive MTU in the REQ's private data vs the DUT's connected-mode MTU ${mtu} + 4`).to.equal(mtu + IPOIB_HEADER_LEN);
      }
    },
  );

  conformance(
    {
      covers: ['RFC4755-3.2-g', 'RFC4755-6-a', 'RFC4755-6-b', 'RFC4755-6-c'],
      title: 'puts its UD QPN and a Receive MTU, reserved octet zero, in the private data of the REP it answers a REQ with',
      tags: ['cm', 'rc', 'mtu'],
      requires: ['connected-mode', 'probe'],
    },
    async (t) => {
      await inMode(t, 'connected');
      const partner = await CmPartner.open(t);
      const qp = await partner.connectToDut();
      const pd = ipoibCmPrivateData.decode(qp.attributes.remotePrivateData, 0).value;
      await t.attachJson('REP private data', { partner: partner.summary(), rep: { privateData: qp.attributes.remotePrivateData.subarray(0, 8).toString('hex'), reserved: pd.reserved, udQpn: hex6(pd.qpn), receiveMtu: pd.receiveMtu } });

      expect(pd.reserved, 'reserved octet 0 of the REP\'s private data').to.equal(0);
      expect(hex6(pd.qpn), 'UD QPN in the REP\'s private data vs the QPN of the DUT\'s address').to.equal(hex6(partner.dut.link.hwaddr.qpn));
      expect(pd.receiveMtu, 'Receive MTU in the REP\'s private data (room for a packet behind the header)').to.be.greaterThan(IPOIB_HEADER_LEN);
    },
  );

  conformance(
    {
      covers: ['RFC4755-3.2-h', 'RFC4755-6-b', 'RFC4755-6-c'],
      title: 'puts its UD QPN, reserved octet zero, in the private data of a consumer REJ (its answer to a REP whose Receive MTU leaves no room for a packet)',
      tags: ['cm', 'rc', 'mtu'],
      requires: ['connected-mode', 'probe', 'wire-capture', 'ipv4'],
    },
    async (t) => {
      await inMode(t, 'connected');
      const partner = await CmPartner.open(t, { receiveMtu: USELESS_RECEIVE_MTU });
      await partner.introduce([4]);
      const { packets } = await t.capture(() => t.dut.adapter.ping(PARTNER_IPV4, { count: 1, waitSeconds: 1 }));
      const mads = cmTraffic(packets).mads;
      const rejs = cmOf(mads, 'REJ', { slid: partner.dut.lid }).filter((r) => r.msg.body.reason === CM_REJ_REASONS.consumerDefined);
      await t.attachJson('CM exchange', { partner: partner.summary(), mads: mads.map(cmSummary), repPrivateData: partner.privateData(CM_REP_PRIVATE_DATA_LEN).subarray(0, 8).toString('hex') });
      if (rejs.length === 0) return t.skip(`the DUT sent no consumer REJ (reason 28): it ${partner.connections.length > 0 ? 'took the connection with a REP Receive MTU of 4' : 'ended the exchange another way'}, so there is no REJ of its to read`);

      for (const r of rejs) {
        expect(r.ipoib.reserved, 'reserved octet 0 of the REJ\'s private data').to.equal(0);
        expect(hex6(r.ipoib.qpn), 'UD QPN in the REJ\'s private data vs the QPN of the DUT\'s address').to.equal(hex6(partner.dut.link.hwaddr.qpn));
      }
    },
  );
});
