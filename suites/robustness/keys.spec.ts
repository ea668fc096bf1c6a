/**
 * Robustness probes on partition and queue keys (research §6.2, P-KEY-1, P-KEY-2): frames with a
 * P_Key the DUT's port does not hold, with another partition's P_Key to the DUT's default
 * partition QP, with an invalid P_Key, from a limited member, and with a wrong or spoofed
 * controlled Q_Key. Only a limited member of the DUT's partition may get through; the DUT's own
 * answers carry the broadcast group's P_Key and Q_Key.
 */
import { expect } from 'chai';
import { ProbeTimeoutError } from '../../src/errors.js';
import type { ProbeFrame, ProbeQp } from '../../src/lab/probe.js';
import { ETH_P_ARP, ETH_P_IP, IPOIB_DEFAULT_QKEY, PKEY_DEFAULT, QKEY_CONTROLLED_BIT } from '../../src/wire/constants.js';
import { conformance, type Case } from '../harness/conformance.js';
import { smPkeysOf } from '../harness/fabric-view.js';
import { arpBody, echoReplyOf, ipoibFrame, isArpReply } from '../harness/frames.js';
import { hex } from '../harness/hex.js';
import { setPortPkeys } from '../harness/node-actions.js';
import { poll } from '../harness/poll.js';
import { ANSWER_MS, openQp, SILENCE_MS } from '../harness/probe-helpers.js';
import { PROBE_IPV4, ProbeHost } from './probe-host.js';
import { expectUnharmed } from './unharmed.js';

/** The lab's probe-only partition (lab/partitions/sim-lab.conf): the DUT's port does not hold it. */
const PROBE_ONLY_PKEY = 0x8004;
/** The lab's child partition, which the DUT's port holds but its parent interface's QP is not on. */
const OTHER_PARTITION_PKEY = 0x8001;
const LIMITED_DEFAULT_PKEY = 0x7fff;

/** An ARP request and an echo request for the DUT, sent from `qp` (its QPN in the ARP sender address) to the DUT's QP. */
function knock(host: ProbeHost, qp: ProbeQp, o: { qkey?: number } = {}): { echoSeq: number } {
  const to = host.toDut(o.qkey !== undefined ? { qkey: o.qkey } : {});
  qp.send(to, ipoibFrame(ETH_P_ARP, arpBody({ sha: { ...host.hwaddr, qpn: qp.qpn }, spa: PROBE_IPV4, tpa: host.dutIpv4 })));
  const echoSeq = host.nextSeq();
  qp.send(to, ipoibFrame(ETH_P_IP, host.echoPacket(4, echoSeq)));
  return { echoSeq };
}

/** Answers from the DUT (ARP replies, echo replies) that reached `qp` within the window. */
async function answersAt(host: ProbeHost, qp: ProbeQp, windowMs: number): Promise<ProbeFrame[]> {
  return qp.collect((f) => isArpReply(f.payload, { from: host.dutIpv4 }) || echoReplyOf(f.payload)?.identifier === host.echoId, windowMs);
}

/** Adds P_Keys to the probe port's table for the case; the old table comes back afterwards. */
async function widenProbeTable(t: Case, extra: readonly number[]): Promise<void> {
  const table = await smPkeysOf(t, t.probe.name);
  if (!table) throw new Error(`the fabric status lists no port ${t.probe.name}`);
  await setPortPkeys(t, t.probe.name, [...table, ...extra]);
  const taken = await poll(async () => t.probe.pkeys, (pkeys) => extra.every((k) => pkeys.includes(k)), 2000, 20);
  if (!taken.reached) throw new Error(`the probe port's table did not take ${extra.map((k) => hex(k, 4)).join(', ')} within 2 s`);
}

/**
 * Lab precondition: a frame from one probe QP reaches `to` (so the probe port's new P_Key table
 * is in force where frames are checked, not only in what the port reports).
 */
async function expectQpReachable(t: Case, from: ProbeQp, to: ProbeQp): Promise<void> {
  const marker = Buffer.from(`probe table check ${to.qpn}`);
  for (let attempt = 0; attempt < 20; attempt++) {
    from.send({ dlid: t.probe.lid, dqpn: to.qpn, qkey: to.qkey }, marker);
    try {
      await to.waitFor((f) => f.payload.equals(marker), 100);
      to.clear();
      return;
    } catch (e) {
      // not yet: the table change is still on its way to the port's receive checks
      if (!(e instanceof ProbeTimeoutError)) throw e;
    }
  }
  throw new Error(`lab: the probe QP on P_Key ${hex(to.pkey, 4)} receives nothing from the probe's own QP after the P_Key table change`);
}

describe('robustness probes: P_Key and Q_Key mismatches @robustness @pkey @qkey', function () {
  conformance(
    {
      covers: ['RFC4391-3-b', 'RFC4391-9.1-f', 'RFC4392-1.2-g', 'RFC4392-1.2-h'],
      title: "takes nothing sent with a P_Key its port lacks, another partition's P_Key or an invalid P_Key, answers a limited member of its partition, and keeps working (P-KEY-1)",
      tags: ['robustness', 'pkey', 'arp', 'icmp'],
      requires: ['probe', 'fabric-control', 'partitions', 'ipv4'],
    },
    async (t) => {
      const host = await ProbeHost.open(t);
      await widenProbeTable(t, [LIMITED_DEFAULT_PKEY, 0x8000]);
      const before = host.countersAtOpen;
      const refused: Array<{ what: string; pkey: number; qp: ProbeQp }> = [];
      for (const [what, pkey] of [['a P_Key the DUT port lacks', PROBE_ONLY_PKEY], ["another partition's P_Key", OTHER_PARTITION_PKEY], ['the invalid P_Key 0x8000', 0x8000]] as const) {
        const qp = await openQp(t, { pkey, qkey: IPOIB_DEFAULT_QKEY, exact: true });
        refused.push({ what, pkey, qp });
      }
      for (const r of refused) knock(host, r.qp);
      const heard = await Promise.all(refused.map((r) => answersAt(host, r.qp, SILENCE_MS)));
      await t.attachJson('answers per P_Key', refused.map((r, i) => ({ pkey: hex(r.pkey, 4), what: r.what, answers: heard[i]!.length })));
      refused.forEach((r, i) => expect(heard[i]!.length, `answers from the DUT to frames sent with ${r.what} (${hex(r.pkey, 4)})`).to.equal(0));
      // A limited member of the default partition reaching the DUT's full membership must get through.
      const limited = await openQp(t, { pkey: LIMITED_DEFAULT_PKEY, qkey: IPOIB_DEFAULT_QKEY, exact: true });
      await expectQpReachable(t, host.qp, limited);
      // The echo only once the ARP is answered: sent together, the echo could be answered on the
      // address the DUT held for the probe before this ARP (the reference stack learns ARP in
      // its control plane while IP takes its fast path), which would say nothing about P_Keys.
      limited.send(host.toDut(), ipoibFrame(ETH_P_ARP, arpBody({ sha: { ...host.hwaddr, qpn: limited.qpn }, spa: PROBE_IPV4, tpa: host.dutIpv4 })));
      const arpReply = await limited.waitFor((f) => isArpReply(f.payload, { from: host.dutIpv4 }), ANSWER_MS);
      const echoSeq = host.nextSeq();
      limited.send(host.toDut(), ipoibFrame(ETH_P_IP, host.echoPacket(4, echoSeq)));
      const echoReply = await limited.waitFor((f) => echoReplyOf(f.payload)?.sequence === echoSeq, ANSWER_MS);
      for (const [what, f] of [['ARP reply', arpReply], ['echo reply', echoReply]] as const) {
        expect(f.pkey, `P_Key of the DUT's ${what} to a limited member`).to.equal(PKEY_DEFAULT);
        expect(f.qkey, `Q_Key of the DUT's ${what} to a limited member`).to.equal(IPOIB_DEFAULT_QKEY);
      }
      await expectUnharmed(t, host, before, 'P_Key mismatches');
    },
  );

  conformance(
    {
      covers: ['RFC4391-9.1-e', 'RFC4392-1.2-i', 'RFC4392-1.2-j', 'RFC4392-4-c', 'RFC4391-9.1.2-d'],
      title: 'takes nothing sent with a Q_Key other than the broadcast group one, nor a controlled Q_Key a sender cannot use, and answers with the group Q_Key (P-KEY-2)',
      tags: ['robustness', 'qkey', 'arp', 'icmp'],
      requires: ['probe', 'ipv4'],
    },
    async (t) => {
      const host = await ProbeHost.open(t);
      await host.expectArpAnswer('setup');
      const before = host.countersAtOpen;
      // Answers would go to the host's QP (right Q_Key): the sender address names it.
      host.clear();
      const wrong = knock(host, host.qp, { qkey: IPOIB_DEFAULT_QKEY + 1 });
      // A QP of another Q_Key asks for the group's Q_Key with the controlled bit: IBA puts the QP's own in the DETH.
      const other = await openQp(t, { pkey: host.qp.pkey, qkey: 0x00001234, exact: true });
      const spoof = knock(host, other, { qkey: (QKEY_CONTROLLED_BIT | IPOIB_DEFAULT_QKEY) >>> 0 });
      const heard = await host.unicastWithin(SILENCE_MS, (f) => isArpReply(f.payload, { from: host.dutIpv4 }) || echoReplyOf(f.payload) !== null);
      const heardByOther = await answersAt(host, other, 0);
      await t.attachJson('answers', { toWrongQkey: heard.map((f) => echoReplyOf(f.payload)?.sequence ?? 'ARP reply'), wrongEcho: wrong.echoSeq, spoofEcho: spoof.echoSeq, atQkey1234Qp: heardByOther.length });
      expect(heard.length + heardByOther.length, `answers from the DUT to frames carrying Q_Key ${hex(IPOIB_DEFAULT_QKEY + 1, 8)} or a spoofed controlled Q_Key`).to.equal(0);
      const reply = await host.expectArpAnswer('after the Q_Key mismatches');
      expect(reply.pkey, "P_Key of the DUT's ARP reply").to.equal(PKEY_DEFAULT);
      await expectUnharmed(t, host, before, 'Q_Key mismatches');
    },
  );
});
