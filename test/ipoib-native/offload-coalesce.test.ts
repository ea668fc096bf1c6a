/**
 * Receive coalescing in the C++ offload engine (native/src/tun/offload_coalesce.h): a batch of
 * packets from the fabric, consecutive in-order TCP segments of each flow merged into one packet
 * with a GSO vnet header for the host, everything else passed through unchanged. The segments are
 * built with the project's codecs, so these checks do not lean on the engine's segmentation,
 * except the round trip, which is about exactly that.
 */
import { expect } from 'chai';
import { type CoalescedPacket, MAX_COALESCED_LEN, offloadCoalesce, offloadComplete, offloadSegment, vnetHeader } from '../../src/ipoib/native/offload.js';
import {
  IPOIB_UD_DEFAULT_MTU,
  IPPROTO_UDP,
  TCP_FLAG_ACK,
  TCP_FLAG_CWR,
  TCP_FLAG_ECE,
  TCP_FLAG_FIN,
  TCP_FLAG_PSH,
  TCP_FLAG_RST,
  TCP_FLAG_SYN,
  TCP_FLAG_URG,
  VNET_HDR_F_DATA_VALID,
  VNET_HDR_F_NEEDS_CSUM,
  VNET_HDR_GSO_ECN,
  VNET_HDR_GSO_TCPV4,
  VNET_HDR_GSO_TCPV6,
} from '../../src/wire/constants.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import type { Ipv4Header } from '../../src/wire/ipv4.js';
import { ipv4Packet, makeIpv4Packet } from '../../src/wire/ipv4.js';
import type { Ipv6Header } from '../../src/wire/ipv6.js';
import { TCP_CHECKSUM_AT, tcpHeaderLength, tcpTimestamps, timestampOptions } from '../../src/wire/tcp.js';
import { hex } from '../helpers/roundtrip.js';
import {
  FLOW_V4,
  FLOW_V4_OTHER,
  FLOW_V6,
  type Flow,
  type TcpPacketInit,
  decodeTcpPacket,
  expectChecksumsValid,
  gsoVnet,
  pattern,
  tcpPacket,
  withPartialChecksum,
} from './offload-packets.js';

const MSS = 1400;
const BASE_SEQ = 0x20000000;
const DATA = pattern(128 * 1024, 99);
const TS = timestampOptions(5000, 7000);

interface SegInit extends Partial<TcpPacketInit> {
  /** Payload octets (default MSS). */
  len?: number;
}

/** Segment `i` of a bulk transfer on `flow`: sequence BASE + i * MSS, IPv4 identification 0x1000 + i, timestamps. */
function seg(flow: Flow, i: number, over: SegInit = {}): Buffer {
  const len = over.len ?? MSS;
  return tcpPacket(flow, { seq: BASE_SEQ + i * MSS, flags: TCP_FLAG_ACK, payload: DATA.subarray(i * MSS, i * MSS + len), id: 0x1000 + i, options: TS, ...over });
}

/** Which inputs each output holds. */
const membersOf = (out: CoalescedPacket[]): number[][] => out.map((o) => o.members);

/** A pass-through: the input octets as they were, and a vnet header of zeros. */
function expectPassedThrough(out: CoalescedPacket, input: Buffer, what: string): void {
  expect(out.members.length, `${what}: one member`).to.equal(1);
  expect(out.packet.equals(input), `${what}: unchanged`).to.equal(true);
  expect(out.vnetBytes.equals(Buffer.alloc(10)), `${what}: vnet header all zero`).to.equal(true);
}

/**
 * A merged packet against its inputs: the first's headers but for the lengths and checksums
 * (both valid), PSH from the last, the payloads in order, and a vnet header that describes the
 * segments (GSO type of the family, ECN when the first had CWR, gso_size = the first's payload).
 */
function expectMerged(out: CoalescedPacket, inputs: Buffer[], what: string, checksum: 'complete' | 'partial' = 'complete'): void {
  expect(out.members.length, `${what}: members`).to.equal(inputs.length);
  expect(out.packet.length, `${what}: length`).to.be.at.most(MAX_COALESCED_LEN);
  const first = decodeTcpPacket(inputs[0]!);
  const last = decodeTcpPacket(inputs[inputs.length - 1]!);
  const packet = checksum === 'complete' ? out.packet : offloadComplete({ ...out.vnet, gsoType: 0 }, out.packet);
  const m = decodeTcpPacket(packet);
  expectChecksumsValid(m, what);
  expect(m.tcp.payload.equals(Buffer.concat(inputs.map((b) => decodeTcpPacket(b).tcp.payload))), `${what}: payload`).to.equal(true);
  expect(m.tcp.header.flags, `${what}: flags`).to.equal(first.tcp.header.flags | (last.tcp.header.flags & TCP_FLAG_PSH));
  expect({ ...m.tcp.header, flags: 0, checksum: 0 }, `${what}: TCP header`).to.deep.equal({ ...first.tcp.header, flags: 0, checksum: 0 });
  if (m.family === 4) {
    expect({ ...(m.ip as Ipv4Header), totalLength: 0, checksum: 0 }, `${what}: IPv4 header`).to.deep.equal({ ...(first.ip as Ipv4Header), totalLength: 0, checksum: 0 });
  } else {
    expect({ ...(m.ip as Ipv6Header), payloadLength: 0 }, `${what}: IPv6 header`).to.deep.equal({ ...(first.ip as Ipv6Header), payloadLength: 0 });
  }
  const headers = first.tcpOffset + tcpHeaderLength(first.tcp.header);
  const ecn = (first.tcp.header.flags & TCP_FLAG_CWR) !== 0 ? VNET_HDR_GSO_ECN : 0;
  expect(out.vnet, `${what}: vnet header`).to.deep.equal({
    flags: checksum === 'complete' ? VNET_HDR_F_DATA_VALID : VNET_HDR_F_NEEDS_CSUM,
    gsoType: (m.family === 4 ? VNET_HDR_GSO_TCPV4 : VNET_HDR_GSO_TCPV6) | ecn,
    hdrLen: headers,
    gsoSize: first.tcp.payload.length,
    csumStart: checksum === 'complete' ? 0 : first.tcpOffset,
    csumOffset: checksum === 'complete' ? 0 : TCP_CHECKSUM_AT,
  });
}

describe('offload engine: receive coalescing of in-order TCP segments @offload @native @ip @ipv6', function () {
  for (const flow of [FLOW_V4, FLOW_V6]) {
    it(`merges in-order segments of one IPv${flow.family} flow into one GSO packet with valid checksums @offload @native @ip @ipv6`, function () {
      const segs = [0, 1, 2, 3, 4].map((i) => seg(flow, i));
      const out = offloadCoalesce(segs);
      expect(membersOf(out)).to.deep.equal([[0, 1, 2, 3, 4]]);
      expectMerged(out[0]!, segs, 'merged');
    });

    it(`merges IPv${flow.family} segments without options and with an odd segment size (payload sums at odd offsets) @offload @native @ip @ipv6`, function () {
      const segs = [0, 1, 2, 3].map((i) => tcpPacket(flow, { seq: 100 + i * 1001, flags: TCP_FLAG_ACK, payload: pattern(i === 3 ? 17 : 1001, i + 1), id: 7 + i }));
      const out = offloadCoalesce(segs);
      expect(membersOf(out)).to.deep.equal([[0, 1, 2, 3]]);
      expectMerged(out[0]!, segs, 'merged');
    });

    it(`offers the partial-checksum form for IPv${flow.family}: NEEDS_CSUM at the TCP checksum, which completes to the same packet @offload @native @ip @ipv6`, function () {
      const segs = [0, 1, 2].map((i) => seg(flow, i));
      const [partial] = offloadCoalesce(segs, { checksum: 'partial' });
      const [complete] = offloadCoalesce(segs);
      expectMerged(partial!, segs, 'partial', 'partial');
      expect(offloadComplete({ ...partial!.vnet, gsoType: 0 }, partial!.packet), 'completed').to.deep.equal(complete!.packet);
    });
  }

  it('keeps interleaved flows apart, each merged in its own order, where its first segment stood @offload @native @ip @ipv6', function () {
    const a = [0, 1, 2].map((i) => seg(FLOW_V4, i));
    const b = [0, 1, 2].map((i) => seg(FLOW_V4_OTHER, i, { id: 0x2000 + i }));
    const c = [0, 1].map((i) => seg(FLOW_V6, i));
    const batch = [a[0]!, b[0]!, c[0]!, a[1]!, b[1]!, c[1]!, a[2]!, b[2]!];
    const out = offloadCoalesce(batch);
    expect(membersOf(out)).to.deep.equal([[0, 3, 6], [1, 4, 7], [2, 5]]);
    expectMerged(out[0]!, a, 'flow A');
    expectMerged(out[1]!, b, 'flow B');
    expectMerged(out[2]!, c, 'flow C (IPv6)');
  });

  it('passes other packets through unchanged and in place: UDP, not IP, empty, truncated TCP, a lone segment @offload @native @ip @ipv6', function () {
    const udp = encodeToBuffer(ipv4Packet, makeIpv4Packet({ src: '10.0.0.1', dst: '10.0.0.2', protocol: IPPROTO_UDP, payload: pattern(30) }));
    const junk = hex('60 00 00');
    const lone = seg(FLOW_V6, 9);
    const s0 = seg(FLOW_V4, 0);
    const truncated = s0.subarray(0, 30);
    const batch = [udp, s0, junk, seg(FLOW_V4, 1), Buffer.alloc(0), truncated, lone];
    const out = offloadCoalesce(batch);
    expect(membersOf(out)).to.deep.equal([[0], [1, 3], [2], [4], [5], [6]]);
    for (const [k, i] of [[0, 0], [2, 2], [3, 4], [4, 5], [5, 6]] as const) expectPassedThrough(out[k]!, batch[i]!, `input ${i}`);
  });

  it('an IPv4 fragment between the same addresses ends the open merge (its ports are unknown) @offload @native @ip', function () {
    const frag = Buffer.from(seg(FLOW_V4, 50));
    frag.writeUInt16BE(0x2000, 6); // MF
    frag.writeUInt16BE(0, 10);
    const out = offloadCoalesce([seg(FLOW_V4, 0), seg(FLOW_V4, 1), frag, seg(FLOW_V4, 2), seg(FLOW_V4, 3)]);
    expect(membersOf(out)).to.deep.equal([[0, 1], [2], [3, 4]]);
  });
});

describe('offload engine: what stops coalescing @offload @native @ip @ipv6', function () {
  const s = (i: number, over: SegInit = {}) => seg(FLOW_V4, i, over);
  const cases: Array<[string, Buffer[], number[][]]> = [
    ['a gap in the sequence', [s(0), s(1), s(3), s(4)], [[0, 1], [2, 3]]],
    ['a retransmission (it ends the merge, and opens the next with what follows it)', [s(0), s(1), s(1), s(2)], [[0, 1], [2, 3]]],
    ['an old segment (sequence before the merge\'s end)', [s(0), s(1), s(0, { id: 0x1002 }), s(2, { id: 0x1003 })], [[0, 1], [2], [3]]],
    ['a FIN', [s(0), s(1), s(2, { flags: TCP_FLAG_ACK | TCP_FLAG_FIN }), s(3)], [[0, 1], [2], [3]]],
    ['an RST', [s(0), s(1), s(2, { flags: TCP_FLAG_ACK | TCP_FLAG_RST }), s(3)], [[0, 1], [2], [3]]],
    ['a SYN', [s(0, { flags: TCP_FLAG_SYN | TCP_FLAG_ACK }), s(1), s(2)], [[0], [1, 2]]],
    ['URG', [s(0), s(1, { flags: TCP_FLAG_ACK | TCP_FLAG_URG }), s(2)], [[0], [1], [2]]],
    ['a pure ACK of the same flow in between', [s(0), s(1, { len: 0 }), s(1)], [[0], [1], [2]]],
    ['a segment without ACK', [s(0), s(1, { flags: 0 }), s(2)], [[0], [1], [2]]],
    ['a different ACK number', [s(0), s(1, { ack: 0x11223345 }), s(2, { ack: 0x11223345 })], [[0], [1, 2]]],
    ['a different window', [s(0), s(1, { window: 2048 })], [[0], [1]]],
    ['a different ECE', [s(0), s(1, { flags: TCP_FLAG_ACK | TCP_FLAG_ECE })], [[0], [1]]],
    ['CWR after the first segment', [s(0), s(1, { flags: TCP_FLAG_ACK | TCP_FLAG_CWR }), s(2)], [[0], [1, 2]]],
    ['a different timestamp echo', [s(0), s(1, { options: timestampOptions(5000, 7001) })], [[0], [1]]],
    ['a timestamp going backwards', [s(0), s(1, { options: timestampOptions(4999, 7000) })], [[0], [1]]],
    ['options other than timestamps (SACK)', [s(0), s(1, { options: hex('0101050a 00000001 00000002') }), s(2)], [[0], [1], [2]]],
    ['no options after timestamps', [s(0), s(1, { options: Buffer.alloc(0) })], [[0], [1]]],
    ['a different TOS', [s(0), s(1, { dscp: 10 })], [[0], [1]]],
    ['a different ECN field', [s(0), s(1, { ecn: 3 })], [[0], [1]]],
    ['a different TTL', [s(0), s(1, { ttl: 63 })], [[0], [1]]],
    ['DF changing', [s(0), s(1, { df: false })], [[0], [1]]],
    ['IPv4 options', [s(0), s(1, { ipOptions: hex('94040000') }), s(2)], [[0], [1], [2]]],
    ['IPv4 identifications jumping by 2', [s(0), s(1, { id: 0x1002 })], [[0], [1]]],
    ['IPv4 identifications switching from counting to fixed', [s(0), s(1), s(2, { id: 0x1001 })], [[0, 1], [2]]],
    ['a fixed IPv4 identification without DF', [s(0, { df: false }), s(1, { df: false, id: 0x1000 })], [[0], [1]]],
    ['a segment larger than the first', [s(0, { len: 1000 }), s(1, { seq: BASE_SEQ + 1000 })], [[0], [1]]],
    ['a segment smaller than the first (it is the last merged)', [s(0), s(1, { len: 600 }), s(2, { seq: BASE_SEQ + MSS + 600 })], [[0, 1], [2]]],
    ['PSH (the segment with it is the last merged)', [s(0), s(1, { flags: TCP_FLAG_ACK | TCP_FLAG_PSH }), s(2), s(3)], [[0, 1], [2, 3]]],
    ['PSH on the first segment', [s(0, { flags: TCP_FLAG_ACK | TCP_FLAG_PSH }), s(1)], [[0], [1]]],
  ];
  for (const [what, batch, want] of cases) {
    it(`${what} @offload @native @ip`, function () {
      const out = offloadCoalesce(batch);
      expect(membersOf(out)).to.deep.equal(want);
      for (const o of out) {
        if (o.members.length === 1) expectPassedThrough(o, batch[o.members[0]!]!, `input ${o.members[0]}`);
        else expectMerged(o, o.members.map((i) => batch[i]!), `inputs ${o.members.join(',')}`);
      }
    });
  }

  it('a fixed IPv4 identification with DF set merges, and so does a timestamp that moves forward (the first one kept) @offload @native @ip', function () {
    const batch = [seg(FLOW_V4, 0), seg(FLOW_V4, 1, { id: 0x1000 }), seg(FLOW_V4, 2, { id: 0x1000, options: timestampOptions(5001, 7000) })];
    const out = offloadCoalesce(batch);
    expect(membersOf(out)).to.deep.equal([[0, 1, 2]]);
    expectMerged(out[0]!, batch, 'merged');
    expect(tcpTimestamps(decodeTcpPacket(out[0]!.packet).tcp.header.options)).to.deep.equal({ tsVal: 5000, tsEcr: 7000 });
  });

  it('a segment with a bad TCP or IPv4 header checksum is never merged, and ends its flow\'s merge @offload @native @ip @ipv6', function () {
    const badTcp = Buffer.from(seg(FLOW_V4, 1));
    badTcp[badTcp.length - 1]! ^= 0x01;
    const badIp = Buffer.from(seg(FLOW_V4, 1));
    badIp.writeUInt16BE(badIp.readUInt16BE(10) ^ 0x0100, 10);
    const badV6 = Buffer.from(seg(FLOW_V6, 1));
    badV6[badV6.length - 5]! ^= 0x80;
    for (const [bad, flow] of [[badTcp, FLOW_V4], [badIp, FLOW_V4], [badV6, FLOW_V6]] as const) {
      const batch = [seg(flow, 0), bad, seg(flow, 2)];
      const out = offloadCoalesce(batch);
      expect(membersOf(out)).to.deep.equal([[0], [1], [2]]);
      expectPassedThrough(out[1]!, bad, 'the corrupted segment');
    }
  });

  it(`never builds a packet over ${MAX_COALESCED_LEN} octets: a long run becomes several merges @offload @native @ip`, function () {
    const batch = Array.from({ length: 60 }, (_, i) => seg(FLOW_V4, i, { id: (0x1000 + i) & 0xffff }));
    const out = offloadCoalesce(batch);
    const perMerge = Math.floor((MAX_COALESCED_LEN - 52) / MSS);
    expect(out.map((o) => o.members.length)).to.deep.equal([perMerge, 60 - perMerge]);
    expectMerged(out[0]!, batch.slice(0, perMerge), 'first');
    expectMerged(out[1]!, batch.slice(perMerge), 'second');
  });
});

describe('offload engine: coalescing undoes segmentation @offload @native @ip @ipv6 @mtu', function () {
  for (const flow of [FLOW_V4, FLOW_V6]) {
    for (const flags of [TCP_FLAG_ACK, TCP_FLAG_ACK | TCP_FLAG_PSH, TCP_FLAG_ACK | TCP_FLAG_CWR | TCP_FLAG_ECE | TCP_FLAG_PSH]) {
      it(`IPv${flow.family}, flags 0x${flags.toString(16)}: segments merge back into the original, which cuts into the same segments @offload @native @ip @ipv6 @mtu`, function () {
        const mss = IPOIB_UD_DEFAULT_MTU - (flow.family === 4 ? 20 : 40) - 20 - TS.length;
        const size = 30 * mss + 123;
        const original = tcpPacket(flow, { seq: 0xfffff000, flags, payload: DATA.subarray(0, size), id: 0xfff0, options: TS });
        const ecn = (flags & TCP_FLAG_CWR) !== 0;
        const segments = offloadSegment(gsoVnet(withPartialChecksum(original), mss, ecn), withPartialChecksum(original), IPOIB_UD_DEFAULT_MTU);
        const out = offloadCoalesce(segments);
        expect(out.map((o) => o.members.length), 'one merge of every segment').to.deep.equal([segments.length]);
        expect(out[0]!.packet.equals(original), 'the original super-packet, checksums complete').to.equal(true);
        expect(out[0]!.vnet.gsoSize).to.equal(mss);
        expect(out[0]!.vnet.gsoType).to.equal((flow.family === 4 ? VNET_HDR_GSO_TCPV4 : VNET_HDR_GSO_TCPV6) | (ecn ? VNET_HDR_GSO_ECN : 0));
        const again = offloadSegment(out[0]!.vnet, out[0]!.packet, IPOIB_UD_DEFAULT_MTU);
        expect(again.length).to.equal(segments.length);
        again.forEach((a, i) => expect(a.equals(segments[i]!), `segment ${i}`).to.equal(true));
      });
    }
  }

  it('the merged packet of a batch without GSO vnet flags is just as the host would have sent it @offload @native @ip', function () {
    const segs = [0, 1].map((i) => seg(FLOW_V4, i));
    const [merged] = offloadCoalesce(segs);
    expect(offloadSegment(vnetHeader(), merged!.packet, MAX_COALESCED_LEN), 'a valid IP packet on its own').to.have.length(1);
  });
});
