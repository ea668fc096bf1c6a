/**
 * Software TSO in the C++ offload engine (native/src/tun/offload_segment.h): large TCP packets
 * with a virtio-net header, as the host hands them to a TUN device with IFF_VNET_HDR, cut into
 * packets that fit the UD MTU. Every segment is read back with the project's codecs and checked
 * field by field (test/ipoib-native/offload-packets.ts); offload-tshark.test.ts asks Wireshark too.
 */
import { expect } from 'chai';
import { ArgumentError, OffloadError } from '../../src/errors.js';
import {
  OFFLOAD_REFUSALS,
  type OffloadRefusal,
  type VnetHeader,
  encodeVnetHeader,
  offloadComplete,
  offloadSegment,
  vnetHeader,
} from '../../src/ipoib/native/offload.js';
import { loadNative } from '../../src/native/addon.js';
import {
  IPOIB_UD_DEFAULT_MTU,
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
  VNET_HDR_GSO_NONE,
  VNET_HDR_GSO_TCPV4,
  VNET_HDR_GSO_TCPV6,
  VNET_HDR_GSO_UDP,
  VNET_HDR_LEN,
} from '../../src/wire/constants.js';
import { timestampOptions } from '../../src/wire/tcp.js';
import { hex } from '../helpers/roundtrip.js';
import {
  FLOW_V4,
  FLOW_V6,
  type Flow,
  type TcpPacketInit,
  decodeTcpPacket,
  expectValidSegmentation,
  gsoVnet,
  pattern,
  tcpPacket,
  withPartialChecksum,
} from './offload-packets.js';

/** The UD MTUs of a 2048- and a 4096-octet IB MTU. */
const UD_MTUS = [IPOIB_UD_DEFAULT_MTU, 4092] as const;
const TS = timestampOptions(0x01020304, 0x0a0b0c0d);
/** IP + TCP (with timestamps) header octets. */
const headersOf = (flow: Flow): number => (flow.family === 4 ? 20 : 40) + 20 + TS.length;
/** The largest TCP payload one IP packet can carry with those headers. */
const maxPayloadOf = (flow: Flow): number => (flow.family === 4 ? 65535 - headersOf(flow) : 65535 - 20 - TS.length);

/** A super-packet as the host's TCP hands it over: partial checksum, NEEDS_CSUM, gso_size = MSS. */
function superPacket(flow: Flow, payloadLen: number, flags: number, over: Partial<TcpPacketInit> = {}): Buffer {
  return withPartialChecksum(tcpPacket(flow, { seq: 0x10000000, flags, payload: pattern(payloadLen, payloadLen), options: TS, ...over }));
}

function expectRefusal(fn: () => unknown, reason: OffloadRefusal): OffloadError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught, `should be refused with ${reason}`).to.be.instanceOf(OffloadError);
  const err = caught as OffloadError;
  expect(err.reason, err.message).to.equal(reason);
  return err;
}

describe('offload engine: software TSO of TCP GSO packets @offload @native @ip @ipv6 @mtu', function () {
  for (const flow of [FLOW_V4, FLOW_V6]) {
    for (const mtu of UD_MTUS) {
      const mss = mtu - headersOf(flow);
      const sizes = [mss + 1, 2 * mss, 3 * mss - 1, 30001, maxPayloadOf(flow)];
      it(`IPv${flow.family} at MTU ${mtu}: ${sizes.join(', ')} payload octets cut into valid segments @offload @native @ip @ipv6 @mtu`, function () {
        for (const size of sizes) {
          for (const flags of [TCP_FLAG_ACK, TCP_FLAG_ACK | TCP_FLAG_PSH, TCP_FLAG_ACK | TCP_FLAG_PSH | TCP_FLAG_FIN]) {
            const p = superPacket(flow, size, flags);
            const segs = offloadSegment(gsoVnet(p, mss), p, mtu);
            expectValidSegmentation(p, segs, mtu, mss);
            expect(segs.every((s) => s.length <= mtu)).to.equal(true);
          }
        }
      });
    }
  }

  it('keeps CWR on the first segment only and ECE on all, with the ECN GSO flag @offload @native @ip @ipv6', function () {
    for (const flow of [FLOW_V4, FLOW_V6]) {
      const mss = IPOIB_UD_DEFAULT_MTU - headersOf(flow);
      const p = superPacket(flow, 5 * mss + 7, TCP_FLAG_ACK | TCP_FLAG_CWR | TCP_FLAG_ECE | TCP_FLAG_PSH | TCP_FLAG_FIN);
      const segs = offloadSegment(gsoVnet(p, mss, true), p, IPOIB_UD_DEFAULT_MTU);
      expectValidSegmentation(p, segs, IPOIB_UD_DEFAULT_MTU, mss);
      const flags = segs.map((s) => decodeTcpPacket(s).tcp.header.flags);
      expect(flags.map((f) => (f & TCP_FLAG_CWR) !== 0)).to.deep.equal([true, false, false, false, false, false]);
      expect(flags.every((f) => (f & TCP_FLAG_ECE) !== 0), 'ECE on every segment').to.equal(true);
    }
  });

  it('wraps sequence numbers past 2^32 and IPv4 identifications past 0xffff @offload @native @ip', function () {
    const mss = IPOIB_UD_DEFAULT_MTU - headersOf(FLOW_V4);
    const p = superPacket(FLOW_V4, 4 * mss, TCP_FLAG_ACK, { seq: 0xffffffff - mss, id: 0xfffe });
    const segs = offloadSegment(gsoVnet(p, mss), p, IPOIB_UD_DEFAULT_MTU);
    expectValidSegmentation(p, segs, IPOIB_UD_DEFAULT_MTU, mss);
    expect(segs.map((s) => decodeTcpPacket(s).tcp.header.seq)).to.deep.equal([0xffffffff - mss, 0xffffffff, mss - 1, 2 * mss - 1]);
  });

  it('copies IPv4 options and an IPv6 hop-by-hop header into every segment @offload @native @ip @ipv6', function () {
    const routerAlert = hex('94040000');
    const v4 = superPacket(FLOW_V4, 9000, TCP_FLAG_ACK | TCP_FLAG_PSH, { ipOptions: routerAlert });
    const mss4 = IPOIB_UD_DEFAULT_MTU - headersOf(FLOW_V4) - routerAlert.length;
    expectValidSegmentation(v4, offloadSegment(gsoVnet(v4, mss4), v4, IPOIB_UD_DEFAULT_MTU), IPOIB_UD_DEFAULT_MTU, mss4);

    const padN = hex('00 00 0104 00000000'); // next header (filled in), length 0 (8 octets), PadN of 4
    const v6 = superPacket(FLOW_V6, 9000, TCP_FLAG_ACK, { hopByHop: padN });
    const mss6 = IPOIB_UD_DEFAULT_MTU - headersOf(FLOW_V6) - padN.length;
    const segs = offloadSegment(gsoVnet(v6, mss6), v6, IPOIB_UD_DEFAULT_MTU);
    expectValidSegmentation(v6, segs, IPOIB_UD_DEFAULT_MTU, mss6);
    expect(segs[0]![6], 'next header: hop-by-hop').to.equal(0);
  });

  it('cuts a gso_size that no longer fits the MTU down to what does, never over the MTU @offload @native @ip @mtu', function () {
    const p = superPacket(FLOW_V4, 20000, TCP_FLAG_ACK);
    const fits = IPOIB_UD_DEFAULT_MTU - headersOf(FLOW_V4);
    const segs = offloadSegment(gsoVnet(p, 9000), p, IPOIB_UD_DEFAULT_MTU);
    expectValidSegmentation(p, segs, IPOIB_UD_DEFAULT_MTU, fits);
  });

  it('sends a GSO packet whose payload fits in one segment, even an empty one, as one packet @offload @native @ip', function () {
    for (const size of [0, 1, 100]) {
      const p = superPacket(FLOW_V4, size, TCP_FLAG_ACK | TCP_FLAG_PSH);
      const segs = offloadSegment(gsoVnet(p, 1400), p, IPOIB_UD_DEFAULT_MTU);
      expectValidSegmentation(p, segs, IPOIB_UD_DEFAULT_MTU, 1400);
    }
  });

  it('accepts a GSO packet without NEEDS_CSUM, or with DATA_VALID, and computes every checksum anyway @offload @native @ip @ipv6', function () {
    for (const flow of [FLOW_V4, FLOW_V6]) {
      const mss = IPOIB_UD_DEFAULT_MTU - headersOf(flow);
      const p = tcpPacket(flow, { seq: 1, flags: TCP_FLAG_ACK, payload: pattern(7000), options: TS });
      p.writeUInt16BE(0xdead, p.length - 7000 - 16); // a checksum field full of junk: it is recomputed
      for (const flags of [0, VNET_HDR_F_DATA_VALID]) {
        const v: VnetHeader = { ...gsoVnet(p, mss), flags, csumStart: 0, csumOffset: 0 };
        expectValidSegmentation(p, offloadSegment(v, p, IPOIB_UD_DEFAULT_MTU), IPOIB_UD_DEFAULT_MTU, mss);
      }
    }
  });

  it('passes a packet without GSO through unchanged when it fits, and refuses one over the MTU @offload @native @ip @mtu', function () {
    const p = tcpPacket(FLOW_V4, { seq: 1, flags: TCP_FLAG_ACK, payload: pattern(1000) });
    const [out, ...rest] = offloadSegment(vnetHeader(), p, IPOIB_UD_DEFAULT_MTU);
    expect(rest).to.deep.equal([]);
    expect(out).to.deep.equal(p);
    const big = tcpPacket(FLOW_V4, { seq: 1, flags: TCP_FLAG_ACK, payload: pattern(3000) });
    expectRefusal(() => offloadSegment(vnetHeader(), big, IPOIB_UD_DEFAULT_MTU), 'exceeds-mtu');
  });

  it('reads the vnet header little-endian, as TUN writes it @offload @native @tun', function () {
    const p = superPacket(FLOW_V4, 3000, TCP_FLAG_ACK);
    const mss = 1000;
    const bytes = encodeVnetHeader(gsoVnet(p, mss));
    expect(bytes.length).to.equal(VNET_HDR_LEN);
    expect(bytes.readUInt16LE(4), 'gso_size at octets 4-5, little-endian').to.equal(mss);
    expect(offloadSegment(bytes, p, IPOIB_UD_DEFAULT_MTU)).to.have.length(3);
  });
});

describe('offload engine: refusals, each with its reason @offload @native @ip @ipv6 @mtu', function () {
  const v4 = superPacket(FLOW_V4, 5000, TCP_FLAG_ACK);
  const v6 = superPacket(FLOW_V6, 5000, TCP_FLAG_ACK);
  const gso4 = gsoVnet(v4, 1400);
  const gso6 = gsoVnet(v6, 1400);
  const mtu = IPOIB_UD_DEFAULT_MTU;
  const edit = (p: Buffer, at: number, octets: number[]): Buffer => {
    const c = Buffer.from(p);
    octets.forEach((o, i) => (c[at + i] = o));
    return c;
  };
  const small = tcpPacket(FLOW_V4, { seq: 1, flags: TCP_FLAG_ACK, payload: pattern(100) });

  /** One case per refusal: what the engine is given, and the call. */
  const CASES: Record<OffloadRefusal, Array<[string, () => unknown]>> = {
    'vnet-header-short': [['9 octets of vnet header', () => offloadSegment(Buffer.alloc(9), v4, mtu)]],
    'vnet-flags-unknown': [['flag 0x04 (RSC_INFO)', () => offloadSegment({ ...gso4, flags: 0x04 | VNET_HDR_F_NEEDS_CSUM }, v4, mtu)]],
    'gso-type-unsupported': [
      ['UDP fragmentation offload (3)', () => offloadSegment({ ...gso4, gsoType: VNET_HDR_GSO_UDP }, v4, mtu)],
      ['UDP_L4 (5)', () => offloadSegment({ ...gso4, gsoType: 5 }, v4, mtu)],
      ['ECN without a TCP type', () => offloadSegment({ ...vnetHeader(), gsoType: VNET_HDR_GSO_ECN }, small, mtu)],
    ],
    'gso-size-zero': [['gso_size 0', () => offloadSegment({ ...gso4, gsoSize: 0 }, v4, mtu)]],
    'gso-family-mismatch': [
      ['TCPV6 on IPv4', () => offloadSegment({ ...gso4, gsoType: VNET_HDR_GSO_TCPV6 }, v4, mtu)],
      ['TCPV4 on IPv6', () => offloadSegment({ ...gso6, gsoType: VNET_HDR_GSO_TCPV4 }, v6, mtu)],
    ],
    'gso-needs-segmentation': [['completing a GSO packet', () => offloadComplete(gso4, v4)]],
    'not-ip': [['version 5', () => offloadSegment(gso4, edit(v4, 0, [0x55]), mtu)]],
    'ip-header-truncated': [
      ['10 octets', () => offloadSegment(gso4, v4.subarray(0, 10), mtu)],
      ['IHL 15 on a 40-octet packet', () => offloadSegment(gso4, edit(v4.subarray(0, 40), 0, [0x4f]), mtu)],
      ['a hop-by-hop header past the end', () => offloadSegment(gso6, edit(v6.subarray(0, 48), 4, [0, 8, 0, 64, 0, 0]).subarray(0, 48), mtu)],
    ],
    'ip-length-mismatch': [
      ['one octet more than the IPv4 total length', () => offloadSegment(gso4, Buffer.concat([v4, Buffer.alloc(1)]), mtu)],
      ['one octet less than the IPv6 payload length', () => offloadSegment(gso6, v6.subarray(0, v6.length - 1), mtu)],
    ],
    'ip-fragment': [['MF set', () => offloadSegment(gso4, edit(v4, 6, [0x20, 0]), mtu)]],
    'ipv6-extension-header': [['a routing header (43)', () => offloadSegment(gso6, edit(v6, 6, [43]), mtu)]],
    'ipv6-jumbogram': [['payload length 0', () => offloadSegment(gso6, edit(v6, 4, [0, 0]), mtu)]],
    'not-tcp': [
      ['IPv4 protocol 17', () => offloadSegment(gso4, edit(v4, 9, [17]), mtu)],
      ['IPv6 next header 17', () => offloadSegment(gso6, edit(v6, 6, [17]), mtu)],
    ],
    'tcp-header-truncated': [
      ['data offset 4', () => offloadSegment(gso4, edit(v4, 20 + 12, [0x40]), mtu)],
      ['data offset 15 on a 60-octet IPv4 packet', () => offloadSegment(gso4, edit(edit(v4.subarray(0, 60), 2, [0, 60]), 32, [0xf0]), mtu)],
    ],
    'gso-tcp-flags': [
      ['SYN', () => offloadSegment(gso4, edit(v4, 33, [TCP_FLAG_ACK | TCP_FLAG_SYN]), mtu)],
      ['RST', () => offloadSegment(gso4, edit(v4, 33, [TCP_FLAG_ACK | TCP_FLAG_RST]), mtu)],
      ['URG', () => offloadSegment(gso6, edit(v6, 53, [TCP_FLAG_ACK | TCP_FLAG_URG]), mtu)],
    ],
    'csum-not-tcp': [
      ['csum_start 0', () => offloadSegment({ ...gso4, csumStart: 0 }, v4, mtu)],
      ['csum_offset 6 (the UDP checksum)', () => offloadSegment({ ...gso6, csumOffset: 6 }, v6, mtu)],
    ],
    'csum-start-out-of-bounds': [
      ['csum_start = length', () => offloadComplete({ ...vnetHeader(), flags: VNET_HDR_F_NEEDS_CSUM, csumStart: small.length, csumOffset: 0 }, small)],
      ['csum_start 0xffff', () => offloadSegment({ ...vnetHeader(), flags: VNET_HDR_F_NEEDS_CSUM, csumStart: 0xffff }, small, mtu)],
    ],
    'csum-offset-out-of-bounds': [
      ['field one octet past the end', () => offloadComplete({ ...vnetHeader(), flags: VNET_HDR_F_NEEDS_CSUM, csumStart: 20, csumOffset: small.length - 21 }, small)],
      ['csum_offset 0xffff', () => offloadSegment({ ...vnetHeader(), flags: VNET_HDR_F_NEEDS_CSUM, csumStart: 20, csumOffset: 0xffff }, small, mtu)],
    ],
    'mtu-too-small': [['IPv6 + TCP with timestamps (72 octets) at MTU 72', () => offloadSegment(gso6, v6, 72)]],
    'exceeds-mtu': [['a 5052-octet packet without GSO', () => offloadSegment(vnetHeader(), v4, mtu)]],
  };

  it('every refusal reason has a case here, and the engine knows no others @offload @native', function () {
    expect(Object.keys(CASES).sort()).to.deep.equal([...OFFLOAD_REFUSALS].sort());
    expect(loadNative().offloadRefusals).to.deep.equal([...OFFLOAD_REFUSALS]);
  });

  for (const reason of OFFLOAD_REFUSALS) {
    it(`${reason}: refused with that reason and a message saying why @offload @native @ip @ipv6 @mtu`, function () {
      for (const [what, call] of CASES[reason]) {
        const err = expectRefusal(call, reason);
        expect(err.message, what).to.match(/^offload(Segment|Complete): \S/);
        expect(err.op, what).to.match(/^offload(Segment|Complete)$/);
      }
    });
  }

  it('checks its arguments before the engine sees them @offload @native @mtu', function () {
    expect(() => offloadSegment(gso4, v4, 67)).to.throw(ArgumentError, /mtu/);
    expect(() => offloadSegment(gso4, v4, 65536)).to.throw(ArgumentError, /mtu/);
    expect(() => offloadSegment(Buffer.alloc(11), v4, mtu)).to.throw(ArgumentError, /vnet/);
    expect(() => offloadSegment({ ...gso4, gsoSize: 0x10000 }, v4, mtu)).to.throw(ArgumentError, /gsoSize/);
    expect(() => offloadSegment(gso4, 'packet' as unknown as Buffer, mtu)).to.throw(ArgumentError, /packet/);
    expect(() => offloadComplete(null as unknown as VnetHeader, v4)).to.throw(ArgumentError, /vnet/);
  });

  it('the engine built with the virtio-net constants of constants.ts @offload @native', function () {
    const l = loadNative().offloadLayout;
    expect([l.vnetHdrLen, l.flagNeedsCsum, l.flagDataValid, l.gsoNone, l.gsoTcpv4, l.gsoUdp, l.gsoTcpv6, l.gsoEcn]).to.deep.equal([
      VNET_HDR_LEN,
      VNET_HDR_F_NEEDS_CSUM,
      VNET_HDR_F_DATA_VALID,
      VNET_HDR_GSO_NONE,
      VNET_HDR_GSO_TCPV4,
      VNET_HDR_GSO_UDP,
      VNET_HDR_GSO_TCPV6,
      VNET_HDR_GSO_ECN,
    ]);
  });
});
