/**
 * RFC 4391 §1, §2 and §6: what every frame the DUT puts on the fabric looks like (a UD SEND
 * Only with a DETH, the 4-octet encapsulation header with the payload's EtherType and zero
 * reserved bits, the broadcast group's Q_Key), and what it accepts (any reserved value, unicast
 * with and without a GRH). Frames are judged as the fabric tap saw them; the probe plays a
 * peer that can set any header field.
 */
import { expect } from 'chai';
import { type Case, conformance } from '../harness/conformance.js';
import type { DutInterface } from '../../src/lab/adapters/dut.js';
import type { IpoibFrame } from '../../src/lab/capture.js';
import type { ProbeFrame, ProbeQp } from '../../src/lab/probe.js';
import { arp } from '../../src/wire/arp.js';
import { ARPHRD_INFINIBAND, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, IPOIB_HEADER_LEN, MCAST_QPN, OP_UD_SEND_ONLY } from '../../src/wire/constants.js';
import { etherTypeName } from '../../src/wire/ipoib-header.js';
import type { IpoibHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { ipv4Packet } from '../../src/wire/ipv4.js';
import { formatGid } from '../../src/wire/mgid.js';
import { frameSummary, probeFrameSummary } from '../harness/capture-views.js';
import { lidOf } from '../harness/fabric-view.js';
import { arpFrame, echoFrame, isArpReply, isEchoReply } from '../harness/frames.js';
import { hex } from '../harness/hex.js';
import { ANSWER_MS, forgetProbeAfter, frameOrNull, openQp, probeHwAddr } from '../harness/probe-helpers.js';

/** An address in the DUT's IPv4 subnet that no lab node holds: the probe speaks as this host. */
const PROBE_IPV4 = '192.0.2.77';
/** Reserved values the receive check sends: all ones, only the lowest bit, only the highest bit. */
const RESERVED_VALUES = [0xffff, 0x0001, 0x8000] as const;

/** The payload's own idea of its protocol: IP version nibble, or ARP hardware type. */
function payloadKind(f: IpoibFrame): string {
  const type = f.header?.type;
  if (type === ETH_P_ARP) {
    try {
      return `ARP htype ${arp.decode(f.body, 0).value.htype}`;
    } catch (e) {
      return `undecodable ARP (${(e as Error).message})`;
    }
  }
  return f.body.length > 0 ? `IP version ${(f.body[0] ?? 0) >> 4}` : 'empty';
}

/** What payloadKind() must say for a Type, or null for a Type RFC 4391 does not carry. */
function expectedKind(type: number): string | null {
  if (type === ETH_P_IP) return 'IP version 4';
  if (type === ETH_P_IPV6) return 'IP version 6';
  if (type === ETH_P_ARP) return `ARP htype ${ARPHRD_INFINIBAND}`;
  return null;
}

/**
 * Traffic in which the DUT sends every kind of frame it has: after both neighbour tables are
 * flushed, the peer pings the DUT over IPv4 (the DUT answers an ARP request, then the echo,
 * both unicast) and the DUT pings the peer over IPv6 (a multicast neighbor solicitation, then
 * unicast echoes). Resolves with the DUT's frames.
 */
async function dutTraffic(t: Case): Promise<{ frames: IpoibFrame[]; dutLid: number; link: DutInterface }> {
  const { dut, peer } = t;
  if (!dut.ipv4 || !peer.ipv4 || !dut.ipv6 || !peer.ipv6) t.skip('the lab file gives the DUT and the peer no IPv4 and IPv6 addresses');
  const link = await dut.adapter.link();
  const dutLid = await lidOf(t, link.hwaddr.gid, link.pkey ?? 0xffff);
  t.defer(await dut.adapter.flushNeighbours());
  t.defer(await peer.adapter.flushNeighbours());
  const dutIpv4 = dut.ipv4;
  const peerIpv6 = peer.ipv6;
  const { result, frames } = await t.capture(async () => {
    const v4 = await peer.adapter.ping(dutIpv4, { count: 1, waitSeconds: 2 });
    const v6 = await dut.adapter.ping(peerIpv6, { count: 1, waitSeconds: 2 });
    return { v4, v6 };
  }, { nodes: [dut.fabricNode] });
  await t.attachJson('pings', result);
  const sent = frames.filter((f) => f.slid === dutLid);
  await t.attachJson('frames the DUT sent', sent.map(frameSummary));
  // Whether the pings were answered is left to the cases that judge resolution; here they only make traffic.
  return { frames: sent, dutLid, link };
}

describe('RFC 4391 §6: the encapsulation header @encap', () => {
  conformance({
    covers: ['RFC4391-6-a', 'RFC4391-6-b', 'RFC4391-6-d', 'RFC4391-14-c'],
    title: 'starts every frame it sends with a 4-octet header: the EtherType of the payload, then a zero Reserved field',
    tags: ['encap', 'arp', 'ip', 'ipv6'],
    requires: ['wire-capture', 'probe', 'sa', 'ipv4', 'ipv6'],
  }, async (t: Case) => {
    const { frames } = await dutTraffic(t);
    const types = new Set(frames.map((f) => f.header?.type));
    expect([...types].map((x) => (x === undefined ? 'short' : etherTypeName(x))), 'EtherTypes among the DUT\'s frames (ARP, IPv4 and IPv6 were provoked)')
      .to.include.members(['ARP', 'IPv4', 'IPv6']);
    for (const f of frames) {
      const what = `DUT frame to LID ${f.dlid} QPN ${hex(f.destQpn, 6)} (${f.ib.payload.length}-octet UD payload)`;
      expect(f.header, `${what}: at least the 4-octet header`).to.not.equal(null);
      const h = f.header!;
      expect(hex(h.reserved, 4), `${what}: Reserved field (octets 2-3 of the header)`).to.equal('0x0000');
      const want = expectedKind(h.type);
      expect(want, `${what}: Type ${hex(h.type, 4)} is one RFC 4391 carries (IPv4, ARP, IPv6)`).to.not.equal(null);
      expect(payloadKind(f), `${what}: payload under Type ${etherTypeName(h.type)}`).to.equal(want);
    }
  });

  conformance({
    covers: ['RFC4391-1-a', 'RFC4391-2-b', 'RFC4391-6-f', 'RFC4391-9.1.2-d'],
    title: 'sends IP and ARP as UD SEND Only messages with a DETH, from the QPN of its link-layer address, with the broadcast group\'s Q_Key',
    tags: ['encap', 'ib', 'qkey', 'arp', 'ip'],
    requires: ['wire-capture', 'probe', 'sa', 'ipv4', 'ipv6'],
  }, async (t: Case) => {
    const { frames, link } = await dutTraffic(t);
    const dutHwaddr = link.hwaddr;
    const members = await t.probe.groupMembers(link.broadcast.gid);
    await t.attachJson('broadcast group records (SA)', members);
    const groupQkey = members[0]?.qkey;
    expect(groupQkey, `the SA has a record of the broadcast group ${formatGid(link.broadcast.gid)}`).to.not.equal(undefined);
    for (const f of frames) {
      const what = `DUT ${f.header ? etherTypeName(f.header.type) : 'short'} frame to LID ${f.dlid} QPN ${hex(f.destQpn, 6)}`;
      expect(hex(f.ib.bth.opcode, 2), `${what}: BTH OpCode (UD SEND Only)`).to.equal(hex(OP_UD_SEND_ONLY, 2));
      expect(f.ib.deth, `${what}: a DETH`).to.not.equal(undefined);
      expect(hex(f.srcQpn, 6), `${what}: DETH source QP = the QPN in the DUT's link-layer address`).to.equal(hex(dutHwaddr.qpn, 6));
      expect(hex(f.qkey, 8), `${what}: DETH Q_Key = the broadcast group's`).to.equal(hex(groupQkey!, 8));
      if (f.header?.type === ETH_P_IP) {
        const totalLength = ipv4Packet.decode(f.body, 0).value.header.totalLength;
        expect(f.ib.payload.length, `${what}: UD message length = 4 + IPv4 total length (${totalLength})`).to.equal(IPOIB_HEADER_LEN + totalLength);
      }
    }
    const unicast = frames.filter((f) => f.destQpn !== MCAST_QPN);
    expect(unicast.length, 'unicast frames from the DUT (ARP reply, echo reply, echo request) among those judged').to.be.greaterThan(0);
  });
});

/** The probe as a host on the DUT's link: a QP on the DUT's partition with the group's Q_Key. */
interface ProbeHost {
  qp: ProbeQp;
  dutLid: number;
  dutQpn: number;
  dutGid: Buffer;
  qkey: number;
  dutIpv4: string;
  sha: IpoibHwAddr;
}

async function probeHost(t: Case): Promise<ProbeHost> {
  const dutIpv4 = t.dut.ipv4;
  if (!dutIpv4) t.skip('the lab file gives the DUT no IPv4 address');
  const link = await t.dut.adapter.link();
  const pkey = link.pkey ?? 0xffff;
  const [record] = await t.probe.groupMembers(link.broadcast.gid);
  if (!record) throw new Error(`the SA has no record of the DUT's broadcast group ${formatGid(link.broadcast.gid)}`);
  const qp = await openQp(t, { pkey, qkey: record.qkey });
  const dutLid = await lidOf(t, link.hwaddr.gid, pkey);
  // The DUT learns the probe's address from its ARP requests; that entry goes after the case.
  forgetProbeAfter(t);
  return { qp, dutLid, dutQpn: link.hwaddr.qpn, dutGid: link.hwaddr.gid, qkey: record.qkey, dutIpv4, sha: probeHwAddr(t, qp) };
}

function arpRequest(h: ProbeHost, reserved: number): Buffer {
  return arpFrame({ sha: h.sha, spa: PROBE_IPV4, tpa: h.dutIpv4, reserved });
}

function echoRequest(h: ProbeHost, reserved: number, sequence: number): Buffer {
  return echoFrame(4, { src: PROBE_IPV4, dst: h.dutIpv4, identifier: 0x4391, sequence, data: Buffer.from('ipoib encapsulation check') }, reserved);
}

const isArpReplyToProbe = (f: ProbeFrame): boolean => isArpReply(f.payload, { to: PROBE_IPV4 });

function isEchoReplyToProbe(sequence: number): (f: ProbeFrame) => boolean {
  return (f) => isEchoReply(f.payload, { family: 4, dst: PROBE_IPV4, sequence });
}

describe('RFC 4391 §6: what the DUT accepts @encap', () => {
  conformance({
    covers: ['RFC4391-6-c', 'RFC4391-14-c'],
    title: 'answers ARP requests and ICMP echoes whose encapsulation Reserved field is 0xffff, 0x0001 or 0x8000',
    tags: ['encap', 'arp', 'icmp'],
    requires: ['probe', 'sa', 'ipv4'],
  }, async (t: Case) => {
    const h = await probeHost(t);
    const outcome: Record<string, string> = {};
    let sequence = 0;
    for (const reserved of RESERVED_VALUES) {
      h.qp.clear();
      h.qp.send({ dlid: h.dutLid, dqpn: h.dutQpn, qkey: h.qkey }, arpRequest(h, reserved));
      const arpReply = await frameOrNull(h.qp, isArpReplyToProbe, ANSWER_MS);
      outcome[`ARP request, Reserved ${hex(reserved, 4)}`] = arpReply ? 'answered' : 'no reply';
      sequence += 1;
      h.qp.send({ dlid: h.dutLid, dqpn: h.dutQpn, qkey: h.qkey }, echoRequest(h, reserved, sequence));
      const echoReply = await frameOrNull(h.qp, isEchoReplyToProbe(sequence), ANSWER_MS);
      outcome[`ICMP echo request, Reserved ${hex(reserved, 4)}`] = echoReply ? 'answered' : 'no reply';
    }
    await t.attachJson('outcome per frame', outcome);
    await t.attachJson('frames at the probe', h.qp.received().map(probeFrameSummary));
    for (const [frame, result] of Object.entries(outcome)) expect(result, `the DUT's answer to an ${frame}`).to.equal('answered');
  });

  conformance({
    covers: ['RFC4391-6-h'],
    title: 'answers a unicast ICMP echo that arrives with a GRH and one that arrives without',
    tags: ['encap', 'ib', 'icmp'],
    requires: ['probe', 'sa', 'ipv4'],
  }, async (t: Case) => {
    const h = await probeHost(t);
    // The DUT learns the probe's address from the ARP request, so its echo replies can leave.
    h.qp.send({ dlid: h.dutLid, dqpn: h.dutQpn, qkey: h.qkey }, arpRequest(h, 0));
    const arpReply = await frameOrNull(h.qp, isArpReplyToProbe, ANSWER_MS);
    await t.attachJson('ARP reply', arpReply ? probeFrameSummary(arpReply) : null);
    expect(arpReply, `the DUT answers the probe's ARP request for ${h.dutIpv4} (needed before the echoes)`).to.not.equal(null);
    const outcome: Record<string, string> = {};
    const variants = [
      { name: 'with a GRH (DGID = the DUT GID)', sequence: 101, grh: { dgid: h.dutGid } },
      { name: 'without a GRH', sequence: 102, grh: undefined },
    ];
    for (const v of variants) {
      h.qp.send({ dlid: h.dutLid, dqpn: h.dutQpn, qkey: h.qkey, ...(v.grh ? { grh: v.grh } : {}) }, echoRequest(h, 0, v.sequence));
      const reply = await frameOrNull(h.qp, isEchoReplyToProbe(v.sequence), ANSWER_MS);
      outcome[v.name] = reply ? 'answered' : 'no reply';
    }
    await t.attachJson('outcome per echo', outcome);
    await t.attachJson('frames at the probe', h.qp.received().map(probeFrameSummary));
    for (const [name, result] of Object.entries(outcome)) expect(result, `the DUT's answer to an ICMP echo ${name}`).to.equal('answered');
  });
});
