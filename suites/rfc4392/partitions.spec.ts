/**
 * RFC 4392 §1.2 and §4.1: an IPoIB link is bounded by its P_Key and its broadcast group. A
 * child interface on partition 0x8001 forms an IP subnet of its own (a different prefix from the
 * default partition's), its frames carry that partition's P_Key and its group's Q_Key, and
 * nothing of it is heard on the default partition. Unicast to the DUT is accepted only with the
 * broadcast group's P_Key and Q_Key, and a limited member reaches only full members.
 */
import { expect } from 'chai';
import { type Case, conformance } from '../harness/conformance.js';
import type { ProbeFrame, ProbeQp } from '../../src/lab/probe.js';
import { ETH_P_ARP, MCAST_QPN, PKEY_BASE_MASK } from '../../src/wire/constants.js';
import { parseIpv4 } from '../../src/wire/ip-text.js';
import type { McMemberRecord } from '../../src/wire/mcmember-record.js';
import { formatGid } from '../../src/wire/mgid.js';
import { frameSummary } from '../harness/capture-views.js';
import { lidOf, partitionBroadcastMgid, smPkeysOf } from '../harness/fabric-view.js';
import { arpFrame, arpOf, isArpReply } from '../harness/frames.js';
import { hex } from '../harness/hex.js';
import { setPortPkeys, upChild } from '../harness/node-actions.js';
import { poll, SETTLE_TIMEOUT_MS, sleep } from '../harness/poll.js';
import { ANSWER_MS, frameOrNull, groupRecord, listenOn, openQp, probeHwAddr, sendToDut, sendToGroup } from '../harness/probe-helpers.js';

/** The child partition of the lab (lab/partitions/sim-lab.conf: both nodes full members). */
const CHILD_PKEY = 0x8001;
/** The child partition's subnet: another prefix than the default partition's 192.0.2.0/24. */
const DUT_CHILD_IPV4 = '198.51.100.1';
const PEER_CHILD_IPV4 = '198.51.100.2';
const CHILD_PREFIX_LEN = 24;
/** Addresses the probe speaks as, in each subnet (no lab node holds them). */
const PROBE_DEFAULT_IPV4 = '192.0.2.83';
const PROBE_CHILD_IPV4 = '198.51.100.83';
/** Cases that make child interfaces run a dozen control commands on the nodes. */
const CHILD_CASE_TIMEOUT_MS = 60_000;
/** How long "no answer" is waited for. */
const SILENCE_MS = 500;
/** Time for a P_Key change event to reach the DUT's stack after the SM applied it. */
const PORT_EVENT_SETTLE_MS = 300;

const samePartition = (a: number, b: number): boolean => (a & PKEY_BASE_MASK) === (b & PKEY_BASE_MASK);

/** Whether a frame's payload carries an IPv4 address anywhere (ARP or IP): a coarse "is this about that subnet". */
function mentions(payload: Buffer, ipv4: string): boolean {
  return payload.includes(parseIpv4(ipv4));
}

const arpReplyFrom = (ip: string) => (f: ProbeFrame): boolean => isArpReply(f.payload, { from: ip });

describe('RFC 4392 §4.1: an IPoIB link is one partition and one broadcast group @pkey', () => {
  conformance({
    covers: ['RFC4392-4.1-a', 'RFC4392-4-c', 'RFC4392-4.1-b'],
    title: 'runs a second IP subnet on a P_Key 0x8001 child: every frame of it carries P_Key 0x8001 and that group\'s Q_Key, and none of it reaches the default partition',
    tags: ['pkey', 'qkey', 'ip', 'arp', 'multicast'],
    requires: ['wire-capture', 'probe', 'sa', 'partitions'],
    timeoutMs: CHILD_CASE_TIMEOUT_MS,
  }, async (t: Case) => {
    const dutChild = await upChild(t, t.dut, CHILD_PKEY, `${DUT_CHILD_IPV4}/${CHILD_PREFIX_LEN}`);
    const peerChild = await upChild(t, t.peer, CHILD_PKEY, `${PEER_CHILD_IPV4}/${CHILD_PREFIX_LEN}`);
    expect(dutChild.carrierAfterMs, `the DUT's ${dutChild.ifname} has carrier (joined its broadcast group)`).to.not.equal(null);
    expect(peerChild.carrierAfterMs, `the peer's ${peerChild.ifname} has carrier`).to.not.equal(null);

    const parent = await t.dut.adapter.link();
    const childMgid = partitionBroadcastMgid(CHILD_PKEY);
    const defaultMgid = partitionBroadcastMgid(parent.pkey ?? 0xffff);
    const childGroup = await groupRecord(t, childMgid);
    const defaultGroup = await groupRecord(t, defaultMgid);
    // Probe ears on both partitions' broadcast groups: the child's must hear the DUT's ARP, the default's nothing of it.
    const childEar = (await listenOn(t, childMgid, { pkey: childGroup.pkey, qkey: childGroup.qkey })).qp;
    const defaultEar = (await listenOn(t, defaultMgid, { pkey: defaultGroup.pkey, qkey: defaultGroup.qkey })).qp;
    const dutLid = await lidOf(t, parent.hwaddr.gid, defaultGroup.pkey);

    const { result: ping, frames } = await t.capture(
      () => t.dut.adapter.ping(PEER_CHILD_IPV4, { count: 2, waitSeconds: 2, ifname: dutChild.ifname }),
      { nodes: [t.dut.fabricNode] },
    );
    const childFrames = frames.filter((f) => f.slid === dutLid && f.srcQpn === dutChild.link.hwaddr.qpn);
    const leaked = frames.filter((f) => samePartition(f.pkey, defaultGroup.pkey) && (mentions(f.body, DUT_CHILD_IPV4) || mentions(f.body, PEER_CHILD_IPV4)));
    const heardOnChild = childEar.received().filter((f) => mentions(f.payload, DUT_CHILD_IPV4));
    const heardOnDefault = defaultEar.received().filter((f) => mentions(f.payload, DUT_CHILD_IPV4) || mentions(f.payload, PEER_CHILD_IPV4));
    await t.attachJson('ping over the child', ping);
    await t.attachJson('groups (SA)', { child: { ...childGroup, mgid: formatGid(childMgid) }, default: { ...defaultGroup, mgid: formatGid(defaultMgid) } });
    await t.attachJson('frames the DUT child sent', childFrames.map(frameSummary));
    await t.attachJson('child-subnet frames with the default P_Key', leaked.map(frameSummary));
    await t.attachJson('probe: heard on each partition', { child: heardOnChild.length, default: heardOnDefault.length });

    expect(ping.received, `the DUT's ${dutChild.ifname} reaches the peer's child ${PEER_CHILD_IPV4} (2 echoes)`).to.equal(2);
    expect(childFrames.length, `frames from the DUT child's QPN ${hex(dutChild.link.hwaddr.qpn, 6)}`).to.be.greaterThan(0);
    expect(childFrames.some((f) => f.destQpn === MCAST_QPN && f.header?.type === ETH_P_ARP), 'the DUT child resolved the peer with a broadcast ARP request').to.equal(true);
    for (const f of childFrames) {
      const what = `DUT child frame to LID ${f.dlid} QPN ${hex(f.destQpn, 6)}`;
      expect(hex(f.pkey, 4), `${what}: BTH P_Key (the child's partition, ${hex(childGroup.pkey, 4)})`).to.equal(hex(childGroup.pkey, 4));
      expect(hex(f.qkey, 8), `${what}: DETH Q_Key (the child's broadcast group's)`).to.equal(hex(childGroup.qkey, 8));
    }
    expect(leaked.length, 'frames about the child subnet carrying the default partition\'s P_Key').to.equal(0);
    expect(heardOnChild.length, 'the probe on the child partition heard the DUT child\'s ARP (the ears work)').to.be.greaterThan(0);
    expect(heardOnDefault.length, 'frames about the child subnet heard on the default partition\'s broadcast group').to.equal(0);
  });

  conformance({
    covers: ['RFC4392-4.1-a', 'RFC4392-4.1-b'],
    title: 'answers an ARP request for an address on one partition only on that partition, never through the other',
    tags: ['pkey', 'arp', 'multicast'],
    requires: ['probe', 'sa', 'partitions'],
    timeoutMs: CHILD_CASE_TIMEOUT_MS,
  }, async (t: Case) => {
    if (!t.dut.ipv4) t.skip('the lab file gives the DUT no IPv4 address');
    const dutIpv4 = t.dut.ipv4;
    const child = await upChild(t, t.dut, CHILD_PKEY, `${DUT_CHILD_IPV4}/${CHILD_PREFIX_LEN}`);
    expect(child.carrierAfterMs, `the DUT's ${child.ifname} has carrier`).to.not.equal(null);
    const parent = await t.dut.adapter.link();
    const childMgid = partitionBroadcastMgid(CHILD_PKEY);
    const defaultMgid = partitionBroadcastMgid(parent.pkey ?? 0xffff);
    const childGroup = await groupRecord(t, childMgid);
    const defaultGroup = await groupRecord(t, defaultMgid);
    const onChild = (await listenOn(t, childMgid, { pkey: childGroup.pkey, qkey: childGroup.qkey })).qp;
    const onDefault = (await listenOn(t, defaultMgid, { pkey: defaultGroup.pkey, qkey: defaultGroup.qkey })).qp;

    const ask = (qp: ProbeQp, group: McMemberRecord, spa: string, tpa: string): void => sendToGroup(qp, group, arpFrame({ sha: probeHwAddr(t, qp), spa, tpa }));
    // Crossed: the child's address asked on the default partition, the parent's on the child's.
    ask(onDefault, defaultGroup, PROBE_DEFAULT_IPV4, DUT_CHILD_IPV4);
    ask(onChild, childGroup, PROBE_CHILD_IPV4, dutIpv4);
    const crossedDefault = await onDefault.collect(arpReplyFrom(DUT_CHILD_IPV4), SILENCE_MS);
    const crossedChild = await onChild.collect(arpReplyFrom(dutIpv4), 0);
    // Straight: each address asked on its own partition (the control that the DUT answers at all).
    ask(onChild, childGroup, PROBE_CHILD_IPV4, DUT_CHILD_IPV4);
    ask(onDefault, defaultGroup, PROBE_DEFAULT_IPV4, dutIpv4);
    const straightChild = await frameOrNull(onChild, arpReplyFrom(DUT_CHILD_IPV4), ANSWER_MS);
    const straightDefault = await frameOrNull(onDefault, arpReplyFrom(dutIpv4), ANSWER_MS);
    const show = (f: ProbeFrame | null): unknown => (f ? { srcQpn: hex(f.srcQpn, 6), pkey: hex(f.pkey, 4), qkey: hex(f.qkey, 8), arp: arpOf(f.payload) } : null);
    await t.attachJson('answers', {
      crossed: { childAddressOnDefault: crossedDefault.map(show), parentAddressOnChild: crossedChild.map(show) },
      straight: { childAddressOnChild: show(straightChild), parentAddressOnDefault: show(straightDefault) },
    });

    expect(straightChild, `an ARP reply for ${DUT_CHILD_IPV4} on partition ${hex(childGroup.pkey, 4)}`).to.not.equal(null);
    expect(straightDefault, `an ARP reply for ${dutIpv4} on partition ${hex(defaultGroup.pkey, 4)}`).to.not.equal(null);
    expect(straightChild!.srcQpn, `the reply for ${DUT_CHILD_IPV4} comes from the child's QPN`).to.equal(child.link.hwaddr.qpn);
    expect(hex(straightChild!.pkey, 4), `P_Key of the reply for ${DUT_CHILD_IPV4}`).to.equal(hex(childGroup.pkey, 4));
    expect(crossedDefault.length, `ARP replies for the child's ${DUT_CHILD_IPV4} on the default partition`).to.equal(0);
    expect(crossedChild.length, `ARP replies for the parent's ${dutIpv4} on partition ${hex(childGroup.pkey, 4)}`).to.equal(0);
  });

  conformance({
    covers: ['RFC4392-4-c'],
    title: 'accepts unicast only with the broadcast group\'s P_Key and Q_Key, and answers with them',
    tags: ['pkey', 'qkey', 'arp'],
    requires: ['wire-capture', 'probe', 'sa', 'partitions'],
  }, async (t: Case) => {
    if (!t.dut.ipv4) t.skip('the lab file gives the DUT no IPv4 address');
    const dutIpv4 = t.dut.ipv4;
    const link = await t.dut.adapter.link();
    const group = await groupRecord(t, partitionBroadcastMgid(link.pkey ?? 0xffff));
    const dutLid = await lidOf(t, link.hwaddr.gid, group.pkey);
    const right = await openQp(t, { pkey: group.pkey, qkey: group.qkey });
    const otherPartition = await openQp(t, { pkey: CHILD_PKEY, qkey: group.qkey });
    const wrongQkey = group.qkey ^ 0x1;

    const request = (qp: ProbeQp): Buffer => arpFrame({ sha: probeHwAddr(t, qp), spa: PROBE_DEFAULT_IPV4, tpa: dutIpv4 });
    const to = { dlid: dutLid, dqpn: link.hwaddr.qpn };
    const rxBefore = (await t.dut.adapter.counters()).rx_packets ?? 0;
    right.send({ ...to, qkey: wrongQkey }, request(right));
    otherPartition.send({ ...to, qkey: group.qkey }, request(otherPartition));
    const badQkeyAnswers = await right.collect(arpReplyFrom(dutIpv4), SILENCE_MS);
    const badPkeyAnswers = await otherPartition.collect(arpReplyFrom(dutIpv4), 0);
    const rxAfterBad = (await t.dut.adapter.counters()).rx_packets ?? 0;
    const { result: good, frames } = await t.capture(async () => {
      right.send({ ...to, qkey: group.qkey }, request(right));
      return frameOrNull(right, arpReplyFrom(dutIpv4), ANSWER_MS);
    }, { nodes: [t.dut.fabricNode] });
    // What the DUT put on the wire, whether or not the probe's port accepted it.
    const sentReplies = frames.filter((f) => f.slid === dutLid && f.srcQpn === link.hwaddr.qpn && f.destQpn === right.qpn);
    await t.attachJson('stimuli and answers', {
      dut: { lid: dutLid, qpn: hex(link.hwaddr.qpn, 6) },
      group: { pkey: hex(group.pkey, 4), qkey: hex(group.qkey, 8) },
      wrongQkey: { sentQkey: hex(wrongQkey, 8), answers: badQkeyAnswers.length },
      wrongPkey: { sentPkey: hex(otherPartition.pkey, 4), answers: badPkeyAnswers.length },
      rxPackets: { before: rxBefore, afterBadOnes: rxAfterBad },
      good: good ? { pkey: hex(good.pkey, 4), qkey: hex(good.qkey, 8), srcQpn: hex(good.srcQpn, 6) } : null,
    });
    await t.attachJson('the DUT\'s unicast to the probe on the wire', sentReplies.map(frameSummary));

    expect(badQkeyAnswers.length, `ARP replies to a request with Q_Key ${hex(wrongQkey, 8)} (the group's is ${hex(group.qkey, 8)})`).to.equal(0);
    expect(badPkeyAnswers.length, `ARP replies to a request with P_Key ${hex(otherPartition.pkey, 4)} (the group's is ${hex(group.pkey, 4)})`).to.equal(0);
    expect(rxAfterBad - rxBefore, 'rx_packets moved for the frames with the wrong P_Key or Q_Key').to.equal(0);
    expect(sentReplies.length, 'the DUT answered the request with the group\'s P_Key and Q_Key (on the wire)').to.be.greaterThan(0);
    for (const f of sentReplies) {
      expect(hex(f.pkey, 4), 'BTH P_Key of the DUT\'s unicast reply').to.equal(hex(group.pkey, 4));
      expect(hex(f.qkey, 8), 'DETH Q_Key of the DUT\'s unicast reply').to.equal(hex(group.qkey, 8));
    }
    expect(good, 'the probe received the DUT\'s reply').to.not.equal(null);
  });
});

describe('RFC 4392 §1.2: full and limited partition membership @pkey', () => {
  conformance({
    covers: ['RFC4392-1.2-h'],
    title: 'accepts a limited member\'s frame while it is a full member of the partition, and drops it once it is a limited member too',
    tags: ['pkey', 'arp'],
    requires: ['probe', 'sa', 'partitions', 'fabric-control'],
    timeoutMs: CHILD_CASE_TIMEOUT_MS,
  }, async (t: Case) => {
    const limited = CHILD_PKEY & PKEY_BASE_MASK;
    const probeTable = await smPkeysOf(t, t.probe.name);
    const dutTable = await smPkeysOf(t, t.dut.fabricNode);
    if (!probeTable || !dutTable) t.skip('the sim fabric does not show the P_Key tables');
    if (!dutTable.includes(CHILD_PKEY)) t.skip(`the DUT port is not a full member of ${hex(CHILD_PKEY, 4)}`);
    await setPortPkeys(t, t.probe.name, [...probeTable, limited]);
    const probeHasIt = await poll(async () => t.probe.pkeys, (k) => k.includes(limited), SETTLE_TIMEOUT_MS);
    if (!probeHasIt.reached) t.skip(`the probe port did not get the limited P_Key ${hex(limited, 4)}`);

    const child = await upChild(t, t.dut, CHILD_PKEY, `${DUT_CHILD_IPV4}/${CHILD_PREFIX_LEN}`);
    expect(child.carrierAfterMs, `the DUT's ${child.ifname} has carrier`).to.not.equal(null);
    const group = await groupRecord(t, partitionBroadcastMgid(CHILD_PKEY));
    const dutLid = await lidOf(t, child.link.hwaddr.gid, CHILD_PKEY);
    const qp = await openQp(t, { pkey: limited, qkey: group.qkey, exact: true });
    const ask = (): void => sendToDut(qp, { lid: dutLid, hwaddr: child.link.hwaddr }, arpFrame({ sha: probeHwAddr(t, qp), spa: PROBE_CHILD_IPV4, tpa: DUT_CHILD_IPV4 }), group.qkey);
    const rx = async (): Promise<number> => (await t.dut.adapter.counters(child.ifname)).rx_packets ?? 0;

    // Limited probe → full DUT: one side is full, so the frame is accepted (and answered).
    const rx0 = await rx();
    ask();
    const answered = await frameOrNull(qp, arpReplyFrom(DUT_CHILD_IPV4), ANSWER_MS);
    const rx1 = await rx();

    // The DUT port becomes a limited member of the same partition: limited → limited must be dropped.
    await setPortPkeys(t, t.dut.fabricNode, dutTable.map((k) => (k === CHILD_PKEY ? limited : k)));
    await poll(() => smPkeysOf(t, t.dut.fabricNode), (k) => k?.includes(limited) ?? false, SETTLE_TIMEOUT_MS);
    await sleep(PORT_EVENT_SETTLE_MS);
    const rx2 = await rx();
    qp.clear();
    ask();
    const answeredLimited = await qp.collect(arpReplyFrom(DUT_CHILD_IPV4), SILENCE_MS);
    const rx3 = await rx();
    await t.attachJson('limited membership', {
      probePkey: hex(qp.pkey, 4),
      fullDut: { answered: answered !== null, rxPacketsMoved: rx1 - rx0 },
      limitedDut: { answers: answeredLimited.length, rxPacketsMoved: rx3 - rx2 },
    });

    expect(hex(qp.pkey, 4), 'the probe QP sends as a limited member').to.equal(hex(limited, 4));
    expect(answered, `the DUT (full member of ${hex(CHILD_PKEY, 4)}) accepts and answers a limited member's ARP request`).to.not.equal(null);
    expect(rx1 - rx0, `rx_packets of ${child.ifname} for the limited member's request while the DUT is a full member`).to.be.greaterThan(0);
    expect(rx3 - rx2, `rx_packets of ${child.ifname} for a limited member's request once the DUT is a limited member too (must be dropped)`).to.equal(0);
    expect(answeredLimited.length, 'ARP replies once both are limited members').to.equal(0);
  });
});
