/**
 * RFC 4391 §2, §5: an IPoIB link exists only once its broadcast group is joined. A DUT
 * interface whose broadcast join cannot succeed (no such group, the SA refusing it, a P_Key
 * the port was not given) must not declare the link usable: no carrier, no ARP or IP on the
 * wire. Once the join succeeds it must bind the group's parameters: the Q_Key from the group
 * record is what its frames carry. Each case uses a child interface of the DUT on one of the
 * lab's partitions (lab/partitions/sim-lab.conf), so the parent link is never disturbed.
 */
import { expect } from 'chai';
import { type Case, conformance } from '../harness/conformance.js';
import type { CapturedPacket, IpoibFrame } from '../../src/lab/capture.js';
import { MAD_METHOD_GET_RESP, MAD_METHOD_SET, PKEY_BASE_MASK, PKEY_FULL_MEMBER_BIT, SA_ATTR_MCMEMBER_RECORD } from '../../src/wire/constants.js';
import { SA_ERR_REQ_INVALID, saErrorCode } from '../../src/wire/mad.js';
import { broadcastMgid, formatGid } from '../../src/wire/mgid.js';
import { frameSummary, saMadSummary, saMcMemberMads, saRequests } from '../harness/capture-views.js';
import { dutOnFabric, requirePartition, smPortOf } from '../harness/fabric-view.js';
import { hex4, hex8 } from '../harness/hex.js';
import { addChild, waitForCarrier } from '../harness/node-actions.js';
import { sleep } from '../harness/poll.js';
import { broadcastRecord } from '../harness/probe-helpers.js';

/** Partitions of the sim lab (lab/partitions/sim-lab.conf) the cases need, by what makes each useful. */
const PKEY_NO_GROUP = 0x8003; // `dark`: no ipoib flag, so no broadcast group exists
const PKEY_CHILDREN = 0x8001; // `lab`: an ordinary IPoIB partition
const PKEY_NOT_IN_DUT_TABLE = 0x8004; // `probeonly`: only the probe port is a member
const PKEY_OTHER_QKEY = 0x8005; // `qkey`: broadcast group Q_Key 0x00001234
/** The child's address and a neighbour it tries to reach (TEST-NET-2; no lab node holds either). */
const CHILD_CIDR = '198.51.100.1/24';
const CHILD_NEIGHBOUR = '198.51.100.2';
/**
 * After the ping (itself a 1 s wait for an answer), how much longer a failing join gets to
 * (wrongly) bring the link up; a carrier declared without a join shows at once.
 */
const FAILED_JOIN_WATCH_MS = 300;
/** How long a child on a working partition gets to join and turn the carrier on. */
const CARRIER_TIMEOUT_MS = 8_000;

/** The SA's answers to MCMemberRecord requests of the port at `dlid`, once each. */
function joinResponses(packets: readonly CapturedPacket[], dlid: number): ReturnType<typeof saMcMemberMads> {
  return saMcMemberMads(packets).filter((m) => m.dlid === dlid && m.method === MAD_METHOD_GET_RESP);
}

/** IPoIB frames (ARP, IP: anything but MADs) the DUT sent in partition `pkey`. */
function dataFramesIn(frames: readonly IpoibFrame[], dutLid: number, pkey: number): IpoibFrame[] {
  return frames.filter((f) => f.slid === dutLid && (f.pkey & PKEY_BASE_MASK) === (pkey & PKEY_BASE_MASK));
}

/** Gives the child CHILD_CIDR and pings CHILD_NEIGHBOUR from it: a DUT that thinks the link is usable sends ARP. */
async function provokeArp(t: Case, ifname: string): Promise<void> {
  await t.dut.adapter.addAddress(CHILD_CIDR, ifname); // removed with the child
  const ping = await t.dut.transport.run(['ping', '-n', '-c', '1', '-W', '1', '-I', ifname, CHILD_NEIGHBOUR], { timeoutMs: 10_000 });
  await t.attach(`ping from ${ifname}`, `${ping.stdout}${ping.stderr}`);
}

/** A child that is up (or refused to be), with traffic provoked when it is. */
async function childWithTraffic(t: Case, pkey: number, o: { upMayBeRefused?: boolean } = {}): Promise<{ ifname: string; upRefused: string | null }> {
  const child = await addChild(t, t.dut, pkey, o);
  if (child.upRefused === null) await provokeArp(t, child.ifname);
  return child;
}

describe('RFC 4391 §2, §5: link bring-up and the broadcast join @multicast', () => {
  conformance({
    covers: ['RFC4391-2-a', 'RFC4391-5-a'],
    title: 'keeps a child interface without carrier and sends no ARP or IP while its partition has no broadcast group',
    tags: ['multicast', 'pkey', 'arp', 'ip'],
    requires: ['wire-capture', 'probe', 'sa', 'partitions'],
    timeoutMs: 45_000,
  }, async (t: Case) => {
    requirePartition(t, PKEY_NO_GROUP, false, 'a partition whose broadcast join cannot succeed');
    const me = await dutOnFabric(t);
    const { result: link, packets, frames } = await t.capture(async () => {
      const { ifname } = await childWithTraffic(t, PKEY_NO_GROUP);
      await sleep(FAILED_JOIN_WATCH_MS);
      return t.dut.adapter.link(ifname);
    }, { nodes: [t.dut.fabricNode] });
    const sent = dataFramesIn(frames, me.lid, PKEY_NO_GROUP);
    const joins = saRequests(packets, { slid: me.lid }).filter((r) => r.method === MAD_METHOD_SET && r.attributeId === SA_ATTR_MCMEMBER_RECORD);
    await t.attachJson('child interface', link);
    await t.attachJson('SA joins from the DUT', joins.map(saMadSummary));
    await t.attachJson(`ARP/IP frames the DUT sent in ${hex4(PKEY_NO_GROUP)}`, sent.map(frameSummary));
    expect(link.carrier, `carrier of ${link.ifname}, whose broadcast group ${formatGid(broadcastMgid(PKEY_NO_GROUP))} does not exist`).to.equal(false);
    expect(sent.map(frameSummary), `ARP or IP frames the DUT sent in partition ${hex4(PKEY_NO_GROUP)} without a broadcast group`).to.deep.equal([]);
  });

  conformance({
    covers: ['RFC4391-2-a', 'RFC4391-5-a', 'RFC4391-4.1-c', 'RFC4391-5-e'],
    title: 'keeps a child interface without carrier and sends no ARP or IP while the SA refuses its broadcast join',
    tags: ['multicast', 'sa', 'pkey', 'arp', 'ip'],
    requires: ['wire-capture', 'probe', 'sa', 'partitions', 'fabric-control'],
    timeoutMs: 45_000,
  }, async (t: Case) => {
    requirePartition(t, PKEY_CHILDREN, true, 'an ordinary IPoIB partition for a child');
    const sim = t.lab.sim!;
    const me = await dutOnFabric(t);
    // ERR_REQ_INVALID is the SA's answer to a join it cannot admit, e.g. a group MTU above the
    // joiner's link MTU (RFC 4391 §4.1, §5); the sim's links all run 4096, so the SA is told to refuse.
    await sim.refuseJoins(true, SA_ERR_REQ_INVALID);
    t.defer(() => sim.refuseJoins(false), 'let the SA accept joins again');
    const bcast = broadcastMgid(PKEY_CHILDREN);
    const { result: link, packets, frames } = await t.capture(async () => {
      const { ifname } = await childWithTraffic(t, PKEY_CHILDREN);
      await sleep(FAILED_JOIN_WATCH_MS);
      return t.dut.adapter.link(ifname);
    }, { nodes: [t.dut.fabricNode] });
    const sent = dataFramesIn(frames, me.lid, PKEY_CHILDREN);
    const responses = joinResponses(packets, me.lid).filter((r) => r.mcMember.mgid.equals(bcast));
    await t.attachJson('child interface', link);
    await t.attachJson(`SA answers to the DUT's joins of ${formatGid(bcast)}`, responses.map((r) => ({ ...saMadSummary(r), saError: saErrorCode(r.status) })));
    await t.attachJson(`ARP/IP frames the DUT sent in ${hex4(PKEY_CHILDREN)}`, sent.map(frameSummary));
    // The lab's part: the DUT asked and the SA said no. Without that the case proves nothing.
    if (!responses.some((r) => saErrorCode(r.status) === SA_ERR_REQ_INVALID)) {
      throw new Error(`the SA did not refuse a DUT join of ${formatGid(bcast)} during the case (answers: ${JSON.stringify(responses.map((r) => r.status))})`);
    }
    expect(link.carrier, `carrier of ${link.ifname} while the SA refuses its broadcast join`).to.equal(false);
    expect(sent.map(frameSummary), `ARP or IP frames the DUT sent in partition ${hex4(PKEY_CHILDREN)} while its broadcast join was refused`).to.deep.equal([]);
  });

  conformance({
    covers: ['RFC4391-5-f'],
    title: 'makes no join and keeps no carrier for a child whose P_Key the SM did not give the port',
    tags: ['multicast', 'pkey', 'sa'],
    requires: ['wire-capture', 'probe', 'sa', 'partitions'],
    timeoutMs: 45_000,
  }, async (t: Case) => {
    const table = (await smPortOf(t, t.dut.fabricNode))?.pkeys ?? null;
    if (!table) t.skip('the DUT port\'s P_Key table cannot be read on this lab (sim status)');
    if (table.some((k) => (k & PKEY_BASE_MASK) === (PKEY_NOT_IN_DUT_TABLE & PKEY_BASE_MASK))) {
      t.skip(`the DUT port holds ${hex4(PKEY_NOT_IN_DUT_TABLE)}; the case needs a P_Key it lacks`);
    }
    const me = await dutOnFabric(t);
    const { result, packets, frames } = await t.capture(async () => {
      const { ifname, upRefused } = await childWithTraffic(t, PKEY_NOT_IN_DUT_TABLE, { upMayBeRefused: true });
      await sleep(FAILED_JOIN_WATCH_MS);
      return { link: await t.dut.adapter.link(ifname), upRefused };
    }, { nodes: [t.dut.fabricNode] });
    const link = result.link;
    if (result.upRefused !== null) await t.attach('the DUT refused to set the child up (it stays down)', result.upRefused);
    const requests = saRequests(packets, { slid: me.lid });
    const inPartition = requests.filter((r) => r.mcMember && (r.mcMember.mgid.readUInt16BE(4) & PKEY_BASE_MASK) === (PKEY_NOT_IN_DUT_TABLE & PKEY_BASE_MASK));
    const sent = dataFramesIn(frames, me.lid, PKEY_NOT_IN_DUT_TABLE);
    await t.attachJson('DUT port P_Key table (SM)', table.map(hex4));
    await t.attachJson('child interface', link);
    await t.attachJson('SA requests from the DUT', requests.map(saMadSummary));
    expect(inPartition.map(saMadSummary), `SA multicast requests the DUT made for partition ${hex4(PKEY_NOT_IN_DUT_TABLE)}, absent from its port's P_Key table`).to.deep.equal([]);
    expect(sent.map(frameSummary), `frames the DUT sent with P_Key ${hex4(PKEY_NOT_IN_DUT_TABLE)}`).to.deep.equal([]);
    expect(link.carrier, `carrier of ${link.ifname}, whose P_Key the port lacks`).to.equal(false);
  });

  conformance({
    covers: ['RFC4391-5-c', 'RFC4391-5-a', 'RFC4391-9.1.2-d'],
    title: 'joins before it sends, then sends with the Q_Key of the broadcast group record (0x00001234 in partition 0x8005)',
    tags: ['multicast', 'qkey', 'pkey', 'sa', 'arp'],
    requires: ['wire-capture', 'probe', 'sa', 'partitions'],
    timeoutMs: 45_000,
  }, async (t: Case) => {
    requirePartition(t, PKEY_OTHER_QKEY, true, 'a broadcast group with a Q_Key of its own');
    const me = await dutOnFabric(t);
    const record = await broadcastRecord(t, PKEY_OTHER_QKEY | PKEY_FULL_MEMBER_BIT);
    const bcast = formatGid(record.mgid);
    const { result: link, packets, frames } = await t.capture(async () => {
      const child = await addChild(t, t.dut, PKEY_OTHER_QKEY);
      const up = (await waitForCarrier(t.dut, child.ifname, CARRIER_TIMEOUT_MS, 0)).value;
      if (up.carrier) await provokeArp(t, child.ifname);
      return up;
    }, { nodes: [t.dut.fabricNode] });
    const sent = dataFramesIn(frames, me.lid, PKEY_OTHER_QKEY);
    const joined = joinResponses(packets, me.lid).filter((r) => formatGid(r.mcMember.mgid) === bcast && r.status === 0);
    await t.attachJson('child interface', link);
    await t.attachJson('broadcast group record (SA)', record);
    await t.attachJson(`frames the DUT sent in ${hex4(PKEY_OTHER_QKEY)}`, sent.map(frameSummary));
    expect(link.carrier, `${link.ifname} got carrier within ${CARRIER_TIMEOUT_MS} ms`).to.equal(true);
    expect(joined.length, `successful SA answers to the DUT's join of ${bcast}`).to.be.greaterThan(0);
    expect(sent.length, `frames the DUT sent from ${link.ifname} (an ARP request for ${CHILD_NEIGHBOUR} at least)`).to.be.greaterThan(0);
    const joinedAtUs = Math.min(...joined.map((r) => r.tsUs));
    const early = sent.filter((f) => f.packet.tsUs < joinedAtUs);
    expect(early.map(frameSummary), `frames the DUT sent in ${hex4(PKEY_OTHER_QKEY)} before the SA answered its broadcast join`).to.deep.equal([]);
    const wrongQkey = sent.filter((f) => f.qkey !== record.qkey);
    expect(wrongQkey.map(frameSummary), `frames from ${link.ifname} whose DETH Q_Key is not the group's ${hex8(record.qkey)}`).to.deep.equal([]);
  });
});
