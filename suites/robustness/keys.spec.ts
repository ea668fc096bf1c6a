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
import { arpBody, echoReplyOf, ipoibFrame, isArpReplyFrom } from './probe-frames.js';
import { ANSWER_TIMEOUT_MS, expectUnharmed, PROBE_IPV4, ProbeKit, SILENCE_WINDOW_MS } from './probe-kit.js';

const hex = (n: number, digits: number): string => `0x${n.toString(16).padStart(digits, '0')}`;
/** The lab's probe-only partition (lab/partitions/sim-lab.conf): the DUT's port does not hold it. */
const PROBE_ONLY_PKEY = 0x8004;
/** The lab's child partition, which the DUT's port holds but its parent interface's QP is not on. */
const OTHER_PARTITION_PKEY = 0x8001;
const LIMITED_DEFAULT_PKEY = 0x7fff;

/** An ARP request and an echo request for the DUT, sent from `qp` (its QPN in the ARP sender address) to the DUT's QP. */
function knock(kit: ProbeKit, qp: ProbeQp, o: { qkey?: number } = {}): { echoSeq: number } {
  const to = kit.toDut(o.qkey !== undefined ? { qkey: o.qkey } : {});
  qp.send(to, ipoibFrame(ETH_P_ARP, arpBody({ sha: { ...kit.hwaddr, qpn: qp.qpn }, spa: PROBE_IPV4, tpa: kit.dutIpv4 })));
  const echoSeq = kit.nextSeq();
  qp.send(to, ipoibFrame(ETH_P_IP, kit.echoPacket(4, echoSeq)));
  return { echoSeq };
}

/** Answers from the DUT (ARP replies, echo replies) that reached `qp` within the window. */
async function answersAt(kit: ProbeKit, qp: ProbeQp, windowMs: number): Promise<ProbeFrame[]> {
  return qp.collect((f) => isArpReplyFrom(f, kit.dutIpv4) || echoReplyOf(f)?.identifier === kit.echoId, windowMs);
}

/** Adds P_Keys to the probe port's table for the case; the old table comes back afterwards. */
async function widenProbeTable(t: Case, extra: readonly number[]): Promise<void> {
  const sim = t.lab.sim!;
  const status = (await sim.status()) as { ports: Array<{ node: string; pkeys: number[] }> };
  const table = status.ports.find((p) => p.node === t.probe.name)?.pkeys;
  if (!table) throw new Error(`the fabric status lists no port ${t.probe.name}`);
  await sim.setPkeys(t.probe.name, [...table, ...extra]);
  t.defer(() => sim.setPkeys(t.probe.name, table), 'the probe port gets its P_Key table back');
  const end = performance.now() + 2000;
  while (!extra.every((k) => t.probe.pkeys.includes(k))) {
    if (performance.now() > end) throw new Error(`the probe port's table did not take ${extra.map((k) => hex(k, 4)).join(', ')} within 2 s`);
    await new Promise((r) => setTimeout(r, 20));
  }
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
      const kit = await ProbeKit.open(t);
      await widenProbeTable(t, [LIMITED_DEFAULT_PKEY, 0x8000]);
      const before = kit.countersAtOpen;
      const refused: Array<{ what: string; pkey: number; qp: ProbeQp }> = [];
      for (const [what, pkey] of [['a P_Key the DUT port lacks', PROBE_ONLY_PKEY], ["another partition's P_Key", OTHER_PARTITION_PKEY], ['the invalid P_Key 0x8000', 0x8000]] as const) {
        const index = t.probe.pkeys.indexOf(pkey);
        if (index < 0) t.skip(`the probe port does not hold ${hex(pkey, 4)}`);
        const qp = await t.probe.openQp({ qkey: IPOIB_DEFAULT_QKEY, pkeyIndex: index });
        t.defer(() => qp.close(), `close the probe QP on ${hex(pkey, 4)}`);
        refused.push({ what, pkey, qp });
      }
      for (const r of refused) knock(kit, r.qp);
      const heard = await Promise.all(refused.map((r) => answersAt(kit, r.qp, SILENCE_WINDOW_MS)));
      await t.attachJson('answers per P_Key', refused.map((r, i) => ({ pkey: hex(r.pkey, 4), what: r.what, answers: heard[i]!.length })));
      refused.forEach((r, i) => expect(heard[i]!.length, `answers from the DUT to frames sent with ${r.what} (${hex(r.pkey, 4)})`).to.equal(0));
      // A limited member of the default partition reaching the DUT's full membership must get through.
      const limited = await t.probe.openQp({ qkey: IPOIB_DEFAULT_QKEY, pkeyIndex: t.probe.pkeys.indexOf(LIMITED_DEFAULT_PKEY) });
      t.defer(() => limited.close(), 'close the limited-member probe QP');
      await expectQpReachable(t, kit.qp, limited);
      // The echo only once the ARP is answered: sent together, the echo could be answered on the
      // address the DUT held for the probe before this ARP (the reference stack learns ARP in
      // its control plane while IP takes its fast path), which would say nothing about P_Keys.
      limited.send(kit.toDut(), ipoibFrame(ETH_P_ARP, arpBody({ sha: { ...kit.hwaddr, qpn: limited.qpn }, spa: PROBE_IPV4, tpa: kit.dutIpv4 })));
      const arpReply = await limited.waitFor((f) => isArpReplyFrom(f, kit.dutIpv4), ANSWER_TIMEOUT_MS);
      const echoSeq = kit.nextSeq();
      limited.send(kit.toDut(), ipoibFrame(ETH_P_IP, kit.echoPacket(4, echoSeq)));
      const echoReply = await limited.waitFor((f) => echoReplyOf(f)?.sequence === echoSeq, ANSWER_TIMEOUT_MS);
      for (const [what, f] of [['ARP reply', arpReply], ['echo reply', echoReply]] as const) {
        expect(f.pkey, `P_Key of the DUT's ${what} to a limited member`).to.equal(PKEY_DEFAULT);
        expect(f.qkey, `Q_Key of the DUT's ${what} to a limited member`).to.equal(IPOIB_DEFAULT_QKEY);
      }
      await expectUnharmed(t, kit, before, 'P_Key mismatches');
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
      const kit = await ProbeKit.open(t);
      await kit.expectArpAnswer('setup');
      const before = kit.countersAtOpen;
      // Answers would go to the kit's QP (right Q_Key): the sender address names it.
      kit.clear();
      const wrong = knock(kit, kit.qp, { qkey: IPOIB_DEFAULT_QKEY + 1 });
      // A QP of another Q_Key asks for the group's Q_Key with the controlled bit: IBA puts the QP's own in the DETH.
      const other = await t.probe.openQp({ qkey: 0x00001234, pkeyIndex: kit.qp.pkeyIndex });
      t.defer(() => other.close(), 'close the Q_Key 0x1234 probe QP');
      const spoof = knock(kit, other, { qkey: (QKEY_CONTROLLED_BIT | IPOIB_DEFAULT_QKEY) >>> 0 });
      const heard = await kit.unicastWithin(SILENCE_WINDOW_MS, (f) => isArpReplyFrom(f, kit.dutIpv4) || echoReplyOf(f) !== null);
      const heardByOther = await answersAt(kit, other, 0);
      await t.attachJson('answers', { toWrongQkey: heard.map((f) => echoReplyOf(f)?.sequence ?? 'ARP reply'), wrongEcho: wrong.echoSeq, spoofEcho: spoof.echoSeq, atQkey1234Qp: heardByOther.length });
      expect(heard.length + heardByOther.length, `answers from the DUT to frames carrying Q_Key ${hex(IPOIB_DEFAULT_QKEY + 1, 8)} or a spoofed controlled Q_Key`).to.equal(0);
      const reply = await kit.expectArpAnswer('after the Q_Key mismatches');
      expect(reply.pkey, "P_Key of the DUT's ARP reply").to.equal(PKEY_DEFAULT);
      await expectUnharmed(t, kit, before, 'Q_Key mismatches');
    },
  );
});
