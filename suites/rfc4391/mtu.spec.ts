/**
 * RFC 4391 §7: the IPoIB link MTU is the broadcast group's IB MTU minus the 4-octet header;
 * 2044 octets (a 2048-octet group) must work, and by default. The group MTU is read from the
 * SA, the interface MTU from the DUT, and the frames' sizes from the fabric tap.
 */
import { expect } from 'chai';
import { type Case, conformance } from '../harness/conformance.js';
import type { DutInterface } from '../../src/lab/adapters/dut.js';
import type { IpoibFrame } from '../../src/lab/capture.js';
import { IB_MTU_CODE_TO_BYTES, IPOIB_HEADER_LEN, IPOIB_UD_DEFAULT_MTU } from '../../src/wire/constants.js';
import { ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST, icmpv4Message } from '../../src/wire/icmp.js';
import { formatGid } from '../../src/wire/mgid.js';
import type { McMemberRecord } from '../../src/wire/mcmember-record.js';
import { lidOf, requirePartition } from '../harness/fabric-view.js';
import { ipv4Of } from '../harness/frames.js';
import { addChild, waitForCarrier } from '../harness/node-actions.js';

/** IPv4 header (20) + ICMP echo header (8): a ping of MTU - 28 data octets fills the MTU exactly. */
const IPV4_ICMP_OVERHEAD = 28;
/** The 4096-octet partition of the sim lab (lab/partitions/sim-lab.conf, `jumbo`). */
const JUMBO_PKEY = 0x8002;
/** How long a new child interface gets to join its broadcast group and turn the carrier on. */
const CARRIER_TIMEOUT_MS = 8_000;
/** A ping large enough to need several fragments at any IB MTU up to 4096. */
const LARGE_PING_BYTES = 8_000;

/** The broadcast group's SA record for an interface (any member's: the group fields are shared). */
async function expectGroupRecord(t: Case, link: DutInterface): Promise<McMemberRecord> {
  const members = await t.probe.groupMembers(link.broadcast.gid);
  await t.attachJson(`SA records of ${formatGid(link.broadcast.gid)}`, members);
  const record = members[0];
  expect(record, `the SA knows the broadcast group ${formatGid(link.broadcast.gid)} of ${link.ifname}`).to.not.equal(undefined);
  return record!;
}

function ibMtuBytes(record: McMemberRecord): number {
  const bytes = IB_MTU_CODE_TO_BYTES[record.mtu];
  expect(bytes, `the group's MTU code ${record.mtu} is one IBA defines (1..5)`).to.not.equal(undefined);
  return bytes!;
}

function sizesOf(frames: readonly IpoibFrame[]): Array<Record<string, number | string>> {
  return frames.map((f) => {
    const ip = ipv4Of(f.ib.payload);
    return { dlid: f.dlid, udPayloadBytes: f.ib.payload.length, ...(ip ? { ipTotalLength: ip.header.totalLength, fragmentOffset: ip.header.fragmentOffset, moreFragments: String(ip.header.moreFragments) } : {}) };
  });
}

describe('RFC 4391 §7: the link MTU @mtu', () => {
  conformance({
    covers: ['RFC4391-7-b', 'RFC4391-7-f', 'RFC4391-7-e', 'RFC4391-5-c'],
    title: 'takes the broadcast group\'s IB MTU minus 4 as its interface MTU (2044 on the default 2048-octet group)',
    tags: ['mtu', 'ib', 'sa'],
    requires: ['probe', 'sa'],
  }, async (t: Case) => {
    const link = await t.dut.adapter.link();
    const record = await expectGroupRecord(t, link);
    const groupBytes = ibMtuBytes(record);
    await t.attachJson('DUT interface', link);
    expect(link.carrier, `${link.ifname} has carrier (joined its broadcast group)`).to.equal(true);
    expect(link.mtu, `${link.ifname} MTU with a ${groupBytes}-octet broadcast group (SA MTU code ${record.mtu})`).to.equal(groupBytes - IPOIB_HEADER_LEN);
    expect(link.mtu, `${link.ifname} MTU left at its defaults`).to.be.at.least(IPOIB_UD_DEFAULT_MTU);
  });

  conformance({
    covers: ['RFC4391-7-b', 'RFC4391-7-d', 'RFC4391-7-f', 'RFC4391-5-c'],
    title: 'gives a child interface on a 4096-octet broadcast group the MTU 4092',
    tags: ['mtu', 'pkey', 'sa'],
    requires: ['probe', 'sa', 'partitions'],
  }, async (t: Case) => {
    requirePartition(t, JUMBO_PKEY, true, 'the sim lab\'s 4096-octet group');
    const child = await addChild(t, t.dut, JUMBO_PKEY);
    const link = (await waitForCarrier(t.dut, child.ifname, CARRIER_TIMEOUT_MS, 0)).value;
    await t.attachJson('child interface', link);
    expect(link.carrier, `${child.ifname} got carrier within ${CARRIER_TIMEOUT_MS} ms (joined ${formatGid(link.broadcast.gid)})`).to.equal(true);
    const record = await expectGroupRecord(t, link);
    const groupBytes = ibMtuBytes(record);
    if (groupBytes !== 4096) t.skip(`the SA gives the group of partition 0x${JUMBO_PKEY.toString(16)} an IB MTU of ${groupBytes}, not 4096`);
    expect(link.mtu, `${child.ifname} MTU with a ${groupBytes}-octet broadcast group`).to.equal(groupBytes - IPOIB_HEADER_LEN);
  });

  conformance({
    covers: ['RFC4391-7-c', 'RFC4391-7-e'],
    title: 'carries 2044-octet IPv4 packets with DF set in both directions at its default MTU',
    tags: ['mtu', 'icmp', 'ip'],
    requires: ['wire-capture', 'probe', 'sa', 'ipv4'],
  }, async (t: Case) => {
    const { dut, peer } = t;
    if (!dut.ipv4 || !peer.ipv4) t.skip('the lab file gives the DUT and the peer no IPv4 address');
    const dutIpv4 = dut.ipv4;
    const peerIpv4 = peer.ipv4;
    const link = await dut.adapter.link();
    const groupBytes = ibMtuBytes(await expectGroupRecord(t, link));
    if (groupBytes < IPOIB_UD_DEFAULT_MTU + IPOIB_HEADER_LEN) t.skip(`the DUT's broadcast group has an IB MTU of ${groupBytes}, too small for 2044-octet IP packets`);
    const dutLid = await lidOf(t, link.hwaddr.gid, link.pkey ?? 0xffff);
    const size = IPOIB_UD_DEFAULT_MTU - IPV4_ICMP_OVERHEAD;
    const { result, frames } = await t.capture(async () => ({
      peerToDut: await peer.adapter.ping(dutIpv4, { count: 1, size, dontFragment: true, waitSeconds: 2 }),
      dutToPeer: await dut.adapter.ping(peerIpv4, { count: 1, size, dontFragment: true, waitSeconds: 2 }),
    }), { nodes: [dut.fabricNode] });
    const echoes = frames.filter((f) => f.slid === dutLid && ipv4Of(f.ib.payload)?.header.protocol === 1);
    await t.attachJson('pings', result);
    await t.attachJson('ICMP frames the DUT sent', sizesOf(echoes));
    expect(result.peerToDut.received, `the peer's ${size}-octet DF ping of the DUT was answered`).to.equal(1);
    expect(result.dutToPeer.received, `the DUT's ${size}-octet DF ping of the peer was answered`).to.equal(1);
    const kinds = echoes.map((f) => {
      const ip = ipv4Of(f.ib.payload)!;
      return { type: icmpv4Message.decode(ip.payload, 0).value.type, totalLength: ip.header.totalLength, df: ip.header.dontFragment, ud: f.ib.payload.length };
    });
    for (const type of [ICMP_ECHO_REPLY, ICMP_ECHO_REQUEST]) {
      const k = kinds.find((x) => x.type === type);
      const name = type === ICMP_ECHO_REPLY ? 'echo reply' : 'echo request';
      expect(k, `the DUT's ${name} on the wire`).to.not.equal(undefined);
      expect(k!.totalLength, `IPv4 total length of the DUT's ${name}`).to.equal(IPOIB_UD_DEFAULT_MTU);
      expect(k!.ud, `UD payload of the DUT's ${name} (header + packet)`).to.equal(IPOIB_UD_DEFAULT_MTU + IPOIB_HEADER_LEN);
    }
  });

  conformance({
    covers: ['RFC4391-7-b', 'RFC4391-7-f'],
    title: 'refuses a DF packet one octet over its MTU and never puts a frame larger than the group MTU on the wire',
    tags: ['mtu', 'icmp', 'ip'],
    requires: ['wire-capture', 'probe', 'sa', 'ipv4'],
  }, async (t: Case) => {
    const { dut, peer } = t;
    if (!dut.ipv4 || !peer.ipv4) t.skip('the lab file gives the DUT and the peer no IPv4 address');
    const peerIpv4 = peer.ipv4;
    const link = await dut.adapter.link();
    const record = await expectGroupRecord(t, link);
    const groupBytes = ibMtuBytes(record);
    const ipMtu = groupBytes - IPOIB_HEADER_LEN;
    const dutLid = await lidOf(t, link.hwaddr.gid, link.pkey ?? 0xffff);
    const overBy1 = ipMtu - IPV4_ICMP_OVERHEAD + 1;
    const { result, frames } = await t.capture(async () => ({
      // The host's own answer (EMSGSIZE, "message too long") is the evidence, so run ping directly.
      dfOver: await dut.transport.run(['ping', '-n', '-c', '1', '-W', '1', '-M', 'do', '-s', String(overBy1), '-I', dut.ifname, peerIpv4], { timeoutMs: 10_000 }),
      large: await dut.adapter.ping(peerIpv4, { count: 1, size: LARGE_PING_BYTES, waitSeconds: 2 }),
    }), { nodes: [dut.fabricNode] });
    const sent = frames.filter((f) => f.slid === dutLid);
    await t.attachJson('pings', { dfOver: { code: result.dfOver.code, stdout: result.dfOver.stdout, stderr: result.dfOver.stderr }, large: result.large });
    await t.attachJson('frames the DUT sent', sizesOf(sent));
    const oversized = sent.filter((f) => f.ib.payload.length > groupBytes);
    expect(sizesOf(oversized), `DUT frames with a UD payload above the group MTU of ${groupBytes}`).to.deep.equal([]);
    const dfTooBig = sent.filter((f) => {
      const ip = ipv4Of(f.ib.payload);
      return ip !== null && ip.header.dontFragment && ip.header.totalLength > ipMtu;
    });
    expect(sizesOf(dfTooBig), `DF packets above ${ipMtu} octets that left the DUT`).to.deep.equal([]);
    expect(result.dfOver.stdout.match(/(\d+) received/)?.[1], `a ${overBy1}-octet DF ping (IP packet ${ipMtu + 1} octets) got no reply`).to.equal('0');
    expect(result.large.received, `the DUT's ${LARGE_PING_BYTES}-octet ping (fragmented) was answered`).to.equal(1);
    const fragments = sent.filter((f) => {
      const ip = ipv4Of(f.ib.payload);
      return ip !== null && (ip.header.moreFragments || ip.header.fragmentOffset > 0);
    });
    expect(fragments.length, `IPv4 fragments the DUT sent for the ${LARGE_PING_BYTES}-octet ping`).to.be.at.least(Math.ceil((LARGE_PING_BYTES + IPV4_ICMP_OVERHEAD) / ipMtu));
  });
});
