/**
 * Robustness probes on the DUT's connection manager (research §6.2): REQs to Service IDs that
 * are not the DUT's (other prefix, Type ≠ 0, reserved octets set, another QPN, no prefix),
 * REQs whose IPoIB-CM private data is short, nonsense or garbage, and a flood of REQs beyond
 * what the DUT takes at once. The DUT refuses what is not its (a REJ or silence), takes a
 * reserved octet it must ignore, answers every REQ of a flood with a REP or a REJ, and comes
 * through it all answering as before: a REQ to its own Service ID still gets a connection that
 * carries IP, it answers ARP from the probe and pings from the peer.
 */
import { randomBytes } from 'node:crypto';
import { expect } from 'chai';
import type { RcQp } from '../../src/lab/probe.js';
import { ipoibCmPrivateDataField, ipoibCmServiceId, type IpoibCmProfile } from '../../src/wire/cm.js';
import { CM_REQ_PRIVATE_DATA_LEN, IPOIB_CM_MAX_MESSAGE_BYTES, QPN_MASK } from '../../src/wire/constants.js';
import { CM_PROFILES, CmPartner, type ConnectOutcome, outcomeText } from '../harness/cm-partner.js';
import { type Case, conformance } from '../harness/conformance.js';
import { ANSWER_MS } from '../harness/probe-helpers.js';
import { ProbeHost } from './probe-host.js';
import { expectUnharmed } from './unharmed.js';

/** REQs of the flood: more than Linux takes at once without an SRQ (max_nonsrq_conn_qp, 128). */
const FLOOD_REQS = 160;

const sidText = (sid: bigint): string => `0x${sid.toString(16).padStart(16, '0')}`;

/** The profile whose Service ID the DUT accepts a REQ on (and that connection, closed), or null when it takes none. */
async function acceptedProfile(partner: CmPartner): Promise<{ profile: IpoibCmProfile | null; tried: Record<string, string> }> {
  const tried: Record<string, string> = {};
  for (const profile of CM_PROFILES) {
    const o = await partner.tryConnectToDut({ profile });
    tried[profile] = outcomeText(o);
    if (o.kind === 'REP') {
      await o.qp.close();
      return { profile, tried };
    }
  }
  return { profile: null, tried };
}

/** A connection to the DUT's own Service ID that carries an echo request the DUT answers. */
async function expectWorkingConnection(t: Case, partner: CmPartner, profile: IpoibCmProfile, what: string): Promise<void> {
  const o = await partner.tryConnectToDut({ profile });
  expect(o.kind, `a REQ to the DUT's own Service ID after ${what}: ${outcomeText(o)}`).to.equal('REP');
  const echo = partner.echoToDut(4);
  await (o as Extract<ConnectOutcome, { kind: 'REP' }>).qp.send(echo.frame);
  expect(await partner.echoReplyArrival(echo.sequence, ANSWER_MS), `the DUT's answer to an echo request over a new connection after ${what}`).to.not.equal(null);
}

describe('robustness probes: the connection manager @robustness @cm @rc', function () {
  conformance(
    {
      covers: ['RFC4755-3.5-c', 'RFC4755-3.5-e'],
      probes: ['P-CM-1'],
      title: 'refuses REQs to Service IDs that are not its own (Type 1, reserved octets set, another QPN, no prefix, all ones) and still connects on its own',
      tags: ['robustness', 'cm', 'rc', 'arp'],
      requires: ['connected-mode', 'probe', 'ipv4'],
      timeoutMs: 40_000,
    },
    async (t) => {
      t.defer(await t.dut.adapter.setMode('connected'), 'the DUT back to its mode and MTU');
      const host = await ProbeHost.open(t);
      const partner = await CmPartner.open(t);
      await partner.introduce([4]);
      const { profile, tried } = await acceptedProfile(partner);
      await t.parameter('Service-ID prefixes the DUT accepts (D1)', profile ?? 'none');
      if (profile === null) {
        await t.attachJson('REQs to the DUT\'s own Service ID', tried);
        return expect.fail(`the DUT accepts a REQ on neither profile's Service ID for its UD QPN (${JSON.stringify(tried)})`);
      }
      const qpn = partner.dut.link.hwaddr.qpn;
      const good = ipoibCmServiceId(qpn, profile);
      const bad: Array<{ what: string; serviceId: bigint }> = [
        { what: 'Type 1', serviceId: good | (1n << 48n) },
        { what: 'reserved octets 2-4 set', serviceId: good | (0x000001n << 24n) },
        { what: 'another QPN', serviceId: ipoibCmServiceId((qpn + 1) & QPN_MASK, profile) },
        { what: 'no prefix', serviceId: BigInt(qpn) },
        { what: 'all ones', serviceId: 0xffff_ffff_ffff_ffffn },
      ];
      const other = CM_PROFILES.find((p) => p !== profile)!;
      const results: Array<{ what: string; serviceId: string; outcome: string; kind: string }> = [];
      for (const b of bad) {
        const o = await partner.tryConnectToDut({ serviceId: b.serviceId });
        results.push({ what: b.what, serviceId: sidText(b.serviceId), outcome: outcomeText(o), kind: o.kind });
      }
      const otherPrefix = await partner.tryConnectToDut({ profile: other });
      await t.parameter(`REQ to the ${other} prefix`, outcomeText(otherPrefix));
      await t.attachJson('REQs to other Service IDs', { acceptedProfile: profile, results, otherPrefix: outcomeText(otherPrefix) });

      for (const r of results) expect(r.kind, `the DUT's answer to a REQ to ${r.serviceId} (${r.what}): ${r.outcome}`).to.not.equal('REP');
      await expectWorkingConnection(t, partner, profile, 'REQs to other Service IDs');
      await expectUnharmed(t, host, host.countersAtOpen, 'REQs to other Service IDs');
    },
  );

  conformance(
    {
      covers: ['RFC4755-6-d'],
      probes: ['P-CM-2'],
      title: 'takes a REQ whose private data has the reserved octet set, and comes through REQs with short, nonsense or garbage private data still connecting and answering',
      tags: ['robustness', 'cm', 'rc', 'arp', 'mtu'],
      requires: ['connected-mode', 'probe', 'ipv4'],
      timeoutMs: 40_000,
    },
    async (t) => {
      t.defer(await t.dut.adapter.setMode('connected'), 'the DUT back to its mode and MTU');
      const host = await ProbeHost.open(t);
      const partner = await CmPartner.open(t);
      await partner.introduce([4]);
      const { profile, tried } = await acceptedProfile(partner);
      if (profile === null) return expect.fail(`the DUT accepts a REQ on neither profile's Service ID for its UD QPN (${JSON.stringify(tried)})`);
      const mine = partner.qp.qpn;
      const pd = (reserved: number, qpn: number, receiveMtu: number): Buffer => ipoibCmPrivateDataField({ reserved, qpn, receiveMtu }, CM_REQ_PRIVATE_DATA_LEN);
      const reservedSet = await partner.tryConnectToDut({ profile, privateData: pd(0xff, mine, IPOIB_CM_MAX_MESSAGE_BYTES) });
      let reservedSetCarries: string | null = null;
      if (reservedSet.kind === 'REP') {
        const echo = partner.echoToDut(4);
        await reservedSet.qp.send(echo.frame);
        reservedSetCarries = await partner.echoReplyArrival(echo.sequence, ANSWER_MS);
      }
      const odd: Array<{ what: string; privateData: Buffer }> = [
        { what: 'short (2 octets)', privateData: Buffer.from([0, 0]) },
        { what: 'empty', privateData: Buffer.alloc(0) },
        { what: 'UD QPN 0', privateData: pd(0, 0, IPOIB_CM_MAX_MESSAGE_BYTES) },
        { what: 'UD QPN 0xffffff', privateData: pd(0, QPN_MASK, IPOIB_CM_MAX_MESSAGE_BYTES) },
        { what: 'Receive MTU 0', privateData: pd(0, mine, 0) },
        { what: 'Receive MTU 1', privateData: pd(0, mine, 1) },
        { what: 'Receive MTU 1279', privateData: pd(0, mine, 1279) },
        { what: 'Receive MTU 0xffffffff', privateData: pd(0, mine, 0xffff_ffff) },
        { what: 'garbage', privateData: randomBytes(CM_REQ_PRIVATE_DATA_LEN) },
      ];
      const results: Array<{ what: string; privateData: string; outcome: string }> = [];
      const opened: RcQp[] = [];
      for (const o of odd) {
        const r = await partner.tryConnectToDut({ profile, privateData: o.privateData });
        if (r.kind === 'REP') opened.push(r.qp);
        results.push({ what: o.what, privateData: o.privateData.subarray(0, 8).toString('hex'), outcome: outcomeText(r) });
      }
      for (const qp of opened) await qp.close();
      await t.attachJson('REQs with odd private data', { reservedOctetSet: { outcome: outcomeText(reservedSet), echoAnswered: reservedSetCarries }, results });

      expect(reservedSet.kind, `the DUT's answer to a REQ whose private data has reserved octet 0xff (to be ignored): ${outcomeText(reservedSet)}`).to.equal('REP');
      expect(reservedSetCarries, 'the DUT\'s answer to an echo request over that connection').to.not.equal(null);
      await expectWorkingConnection(t, partner, profile, 'REQs with odd private data');
      await expectUnharmed(t, host, host.countersAtOpen, 'REQs with odd private data');
    },
  );

  conformance(
    {
      covers: ['RFC4755-3.2-c', 'RFC4755-3.2-e'],
      probes: ['P-CM-4'],
      title: `answers each of ${FLOOD_REQS} REQs sent at once with a REP or a REJ, takes connections again once they are closed, and comes through answering as before`,
      tags: ['robustness', 'cm', 'rc', 'arp'],
      requires: ['connected-mode', 'probe', 'ipv4'],
      timeoutMs: 60_000,
    },
    async (t) => {
      t.defer(await t.dut.adapter.setMode('connected'), 'the DUT back to its mode and MTU');
      const host = await ProbeHost.open(t);
      const partner = await CmPartner.open(t);
      await partner.introduce([4]);
      const { profile, tried } = await acceptedProfile(partner);
      if (profile === null) return expect.fail(`the DUT accepts a REQ on neither profile's Service ID for its UD QPN (${JSON.stringify(tried)})`);
      const started = performance.now();
      const outcomes = await Promise.all(Array.from({ length: FLOOD_REQS }, () => partner.tryConnectToDut({ profile, cmTimeoutMs: 1000, cmRetries: 2 })));
      const floodMs = Math.round(performance.now() - started);
      const tally: Record<string, number> = {};
      for (const o of outcomes) {
        const key = o.kind === 'REJ' ? `REJ ${o.reason} (${o.reasonName})` : o.kind;
        tally[key] = (tally[key] ?? 0) + 1;
      }
      for (const o of outcomes) if (o.kind === 'REP') await o.qp.close();
      await t.attachJson('flood', { reqs: FLOOD_REQS, floodMs, tally });
      await t.parameter('REQ flood outcome', JSON.stringify(tally));

      expect(tally.none ?? 0, `REQs of the flood the DUT left unanswered (${JSON.stringify(tally)})`).to.equal(0);
      expect(tally.REP ?? 0, `REQs of the flood the DUT accepted (${JSON.stringify(tally)})`).to.be.greaterThan(0);
      await expectWorkingConnection(t, partner, profile, `a flood of ${FLOOD_REQS} REQs, closed again`);
      const delta = await expectUnharmed(t, host, host.countersAtOpen, `a flood of ${FLOOD_REQS} REQs`);
      const backwards = Object.entries(delta).filter(([, v]) => v < 0);
      expect(backwards, 'counters of the DUT that went backwards during the flood').to.deep.equal([]);
    },
  );
});
