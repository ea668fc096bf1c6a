/**
 * IPv4/IPv6 TCP packets for the offload engine's tests, built and read with the project's codecs
 * (src/wire), plus the checks every segment the engine cuts must pass.
 */
import { expect } from 'chai';
import { type VnetHeader, vnetHeader } from '../../src/ipoib/native/offload.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import {
  IPPROTO_TCP,
  TCP_FLAG_CWR,
  TCP_FLAG_FIN,
  TCP_FLAG_PSH,
  VNET_HDR_F_NEEDS_CSUM,
  VNET_HDR_GSO_ECN,
  VNET_HDR_GSO_TCPV4,
  VNET_HDR_GSO_TCPV6,
} from '../../src/wire/constants.js';
import { onesComplementSum } from '../../src/wire/inet-checksum.js';
import { parseIpv6 } from '../../src/wire/ip-text.js';
import { type Ipv4Header, ipv4HeaderLength, ipv4Packet, ipv4Problems, makeIpv4Packet } from '../../src/wire/ipv4.js';
import { IPV6_HEADER_LEN, type Ipv6Header, ipv6Packet, makeIpv6Packet } from '../../src/wire/ipv6.js';
import {
  TCP_CHECKSUM_AT,
  type TcpAddresses,
  type TcpSegment,
  makeTcpSegment,
  tcpChecksumOk,
  tcpHeaderLength,
  tcpPseudoHeader,
  tcpSegment,
} from '../../src/wire/tcp.js';

export interface Flow {
  family: 4 | 6;
  addrs: TcpAddresses;
  srcPort: number;
  dstPort: number;
}

export const FLOW_V4: Flow = { family: 4, addrs: { src: '10.0.0.1', dst: '10.0.0.2' }, srcPort: 40000, dstPort: 5201 };
export const FLOW_V4_OTHER: Flow = { ...FLOW_V4, srcPort: 40001 };
export const FLOW_V6: Flow = {
  family: 6,
  addrs: { src: parseIpv6('2001:db8::1'), dst: parseIpv6('2001:db8::2') },
  srcPort: 50000,
  dstPort: 5201,
};

export interface TcpPacketInit {
  seq: number;
  flags: number;
  payload: Buffer;
  ack?: number;
  window?: number;
  /** TCP options (a multiple of 4 octets). */
  options?: Buffer;
  /** IPv4 identification (default 0x1000). */
  id?: number;
  /** IPv4 DF (default true). */
  df?: boolean;
  /** IPv4 DSCP / IPv6 traffic class's upper 6 bits (default 0). */
  dscp?: number;
  ecn?: number;
  ttl?: number;
  ipOptions?: Buffer;
  flowLabel?: number;
  /** An IPv6 hop-by-hop header (its octets, next header taken care of) before TCP. */
  hopByHop?: Buffer;
}

/** A whole IP packet carrying one TCP segment with correct checksums. */
export function tcpPacket(flow: Flow, o: TcpPacketInit): Buffer {
  const seg = makeTcpSegment(
    {
      srcPort: flow.srcPort,
      dstPort: flow.dstPort,
      seq: o.seq >>> 0,
      ack: o.ack ?? 0x11223344,
      flags: o.flags,
      window: o.window ?? 1024,
      ...(o.options ? { options: o.options } : {}),
      payload: o.payload,
    },
    flow.addrs,
  );
  const tcpBytes = encodeToBuffer(tcpSegment, seg);
  if (flow.family === 4) {
    const a = flow.addrs as { src: string; dst: string };
    return encodeToBuffer(
      ipv4Packet,
      makeIpv4Packet({
        src: a.src,
        dst: a.dst,
        protocol: IPPROTO_TCP,
        payload: tcpBytes,
        identification: o.id ?? 0x1000,
        dontFragment: o.df ?? true,
        dscp: o.dscp ?? 0,
        ecn: o.ecn ?? 0,
        ttl: o.ttl ?? 64,
        ...(o.ipOptions ? { options: o.ipOptions } : {}),
      }),
    );
  }
  const a = flow.addrs as { src: Buffer; dst: Buffer };
  let payload = tcpBytes;
  let nextHeader = IPPROTO_TCP;
  if (o.hopByHop) {
    payload = Buffer.concat([o.hopByHop, tcpBytes]);
    payload[0] = IPPROTO_TCP;
    nextHeader = 0;
  }
  return encodeToBuffer(
    ipv6Packet,
    makeIpv6Packet({
      src: a.src,
      dst: a.dst,
      nextHeader,
      payload,
      trafficClass: ((o.dscp ?? 0) << 2) | (o.ecn ?? 0),
      flowLabel: o.flowLabel ?? 0x12345,
      hopLimit: o.ttl ?? 64,
    }),
  );
}

/** A packet read back with the codecs: its IP header, the octets before TCP, and the TCP segment. */
export interface DecodedTcpPacket {
  family: 4 | 6;
  ip: Ipv4Header | Ipv6Header;
  /** Octets before the TCP header (IPv4 header with options; IPv6 header and hop-by-hop). */
  tcpOffset: number;
  tcp: TcpSegment;
  addrs: TcpAddresses;
}

/** Decodes with the project's codecs; the packet must be exactly one IP packet with TCP. */
export function decodeTcpPacket(b: Buffer): DecodedTcpPacket {
  if (b[0]! >> 4 === 4) {
    const { value, bytes } = ipv4Packet.decode(b, 0);
    expect(bytes, 'IPv4 total length = packet length').to.equal(b.length);
    expect(value.header.protocol, 'protocol').to.equal(IPPROTO_TCP);
    const tcp = tcpSegment.decode(value.payload, 0).value;
    return { family: 4, ip: value.header, tcpOffset: ipv4HeaderLength(value.header), tcp, addrs: { src: value.header.src, dst: value.header.dst } };
  }
  const { value, bytes } = ipv6Packet.decode(b, 0);
  expect(bytes, 'IPv6 payload length + 40 = packet length').to.equal(b.length);
  let at = 0;
  if (value.header.nextHeader === 0) at = (value.payload[1]! + 1) * 8;
  expect(at === 0 ? value.header.nextHeader : value.payload[0], 'next header').to.equal(IPPROTO_TCP);
  const tcp = tcpSegment.decode(value.payload.subarray(at), 0).value;
  return { family: 6, ip: value.header, tcpOffset: IPV6_HEADER_LEN + at, tcp, addrs: { src: value.header.src, dst: value.header.dst } };
}

/** What the host's TCP puts in the checksum field of a CHECKSUM_PARTIAL packet: the pseudo-header sum. */
export function withPartialChecksum(packet: Buffer): Buffer {
  const d = decodeTcpPacket(packet);
  const out = Buffer.from(packet);
  const tcpLen = packet.length - d.tcpOffset;
  out.writeUInt16BE(onesComplementSum(tcpPseudoHeader(d.addrs, tcpLen)), d.tcpOffset + TCP_CHECKSUM_AT);
  return out;
}

/** The vnet header the host puts on a TCP GSO packet: NEEDS_CSUM at the TCP checksum, gso_size = mss. */
export function gsoVnet(packet: Buffer, mss: number, ecn = false): VnetHeader {
  const d = decodeTcpPacket(packet);
  return vnetHeader({
    flags: VNET_HDR_F_NEEDS_CSUM,
    gsoType: (d.family === 4 ? VNET_HDR_GSO_TCPV4 : VNET_HDR_GSO_TCPV6) | (ecn ? VNET_HDR_GSO_ECN : 0),
    hdrLen: d.tcpOffset + tcpHeaderLength(d.tcp.header),
    gsoSize: mss,
    csumStart: d.tcpOffset,
    csumOffset: TCP_CHECKSUM_AT,
  });
}

/** Deterministic payload octets (xorshift32). */
export function pattern(len: number, seed = 1): Buffer {
  let s = seed >>> 0 || 1;
  const b = Buffer.alloc(len);
  for (let i = 0; i < len; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    b[i] = s & 0xff;
  }
  return b;
}

/** xorshift32, for the seeded robustness tests. */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

/** Checks a packet's IPv4 header checksum (when IPv4) and TCP checksum. */
export function expectChecksumsValid(d: DecodedTcpPacket, what: string): void {
  if (d.family === 4) expect(ipv4Problems(d.ip as Ipv4Header), `${what}: IPv4 header`).to.deep.equal([]);
  expect(tcpChecksumOk(d.tcp, d.addrs), `${what}: TCP checksum`).to.equal(true);
}

/**
 * Every check a software-segmentation result must pass, against the super-packet it came from:
 * each packet at most `mtu` octets and decodable; IPv4 and TCP checksums valid; sequence numbers
 * contiguous from the original's; payloads concatenating to the original payload, each
 * `segmentPayload` octets but the last; IPv4 identifications counting up from the original's;
 * FIN and PSH only on the last, CWR only on the first, every other header field as in the original.
 */
export function expectValidSegmentation(original: Buffer, segments: Buffer[], mtu: number, segmentPayload: number): void {
  const o = decodeTcpPacket(original);
  const n = Math.max(1, Math.ceil(o.tcp.payload.length / segmentPayload));
  expect(segments.length, 'segment count').to.equal(n);
  let offset = 0;
  const payloads: Buffer[] = [];
  segments.forEach((s, i) => {
    const what = `segment ${i + 1}/${n}`;
    expect(s.length, `${what}: length <= MTU ${mtu}`).to.be.at.most(mtu);
    const d = decodeTcpPacket(s);
    expectChecksumsValid(d, what);
    const last = i === n - 1;
    const wantLen = last ? o.tcp.payload.length - offset : segmentPayload;
    expect(d.tcp.payload.length, `${what}: payload octets`).to.equal(wantLen);
    expect(d.tcp.header.seq, `${what}: sequence number`).to.equal((o.tcp.header.seq + offset) >>> 0);
    let flags = o.tcp.header.flags;
    if (!last) flags &= ~(TCP_FLAG_FIN | TCP_FLAG_PSH);
    if (i !== 0) flags &= ~TCP_FLAG_CWR;
    expect(d.tcp.header.flags, `${what}: flags`).to.equal(flags);
    expect({ ...d.tcp.header, seq: 0, flags: 0, checksum: 0 }, `${what}: other TCP fields`).to.deep.equal({
      ...o.tcp.header,
      seq: 0,
      flags: 0,
      checksum: 0,
    });
    expect(d.tcpOffset, `${what}: IP header length`).to.equal(o.tcpOffset);
    if (d.family === 4) {
      const ip = d.ip as Ipv4Header;
      const oip = o.ip as Ipv4Header;
      expect(ip.identification, `${what}: IPv4 identification`).to.equal((oip.identification + i) & 0xffff);
      expect({ ...ip, identification: 0, totalLength: 0, checksum: 0 }, `${what}: other IPv4 fields`).to.deep.equal({
        ...oip,
        identification: 0,
        totalLength: 0,
        checksum: 0,
      });
    } else {
      expect({ ...(d.ip as Ipv6Header), payloadLength: 0 }, `${what}: other IPv6 fields`).to.deep.equal({ ...(o.ip as Ipv6Header), payloadLength: 0 });
      expect(s.subarray(IPV6_HEADER_LEN, d.tcpOffset), `${what}: hop-by-hop header`).to.deep.equal(original.subarray(IPV6_HEADER_LEN, o.tcpOffset));
    }
    payloads.push(d.tcp.payload);
    offset += d.tcp.payload.length;
  });
  expect(Buffer.compare(Buffer.concat(payloads), o.tcp.payload), 'payloads concatenate to the original').to.equal(0);
}
