/**
 * The frames the robustness probes send, built with the src/wire codecs (well-formed ones) or
 * octet by octet (the malformed ones the codecs refuse to write), and the readers that pick the
 * DUT's answers out of what reaches the probe QP. Nothing here judges: readers return null for
 * anything that is not the answer they look for.
 */
import { arp, arpOverIpoib, type ArpPacket } from '../../src/wire/arp.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import {
  ARP_OP_REPLY,
  ARP_OP_REQUEST,
  ETH_P_ARP,
  ETH_P_IP,
  ETH_P_IPV6,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  ICMPV6_NA,
  ICMPV6_NS,
  IPOIB_HEADER_LEN,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
} from '../../src/wire/constants.js';
import { icmpv4Message, icmpv6Message, withIcmpChecksum } from '../../src/wire/icmp.js';
import { ipoibHeader } from '../../src/wire/ipoib-header.js';
import { type IpoibHwAddr, ipoibHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { parseIpv4, parseIpv6 } from '../../src/wire/ip-text.js';
import { ipv4Packet, makeIpv4Packet } from '../../src/wire/ipv4.js';
import { ipv6Packet, makeIpv6Packet } from '../../src/wire/ipv6.js';
import { type NdMessage, ndMessage, type NdOption, withIcmpv6Checksum } from '../../src/wire/nd.js';
import type { ProbeFrame } from '../../src/lab/probe.js';
import { WireError } from '../../src/errors.js';

/** RFC 4861: ND travels with hop limit 255 and is dropped otherwise. */
const ND_HOP_LIMIT = 255;

/** The 4-octet IPoIB header and `body` behind it. */
export function ipoibFrame(type: number, body: Buffer, reserved = 0): Buffer {
  const head = encodeToBuffer(ipoibHeader, { type, reserved });
  return Buffer.concat([head, body]);
}

// ---- ARP ---------------------------------------------------------------------------------------

export interface ArpInit {
  op?: number;
  sha: IpoibHwAddr;
  spa: string;
  tha?: IpoibHwAddr;
  tpa: string;
}

const NO_HWADDR: IpoibHwAddr = { flags: 0, qpn: 0, gid: Buffer.alloc(16) };

/** A well-formed ARP packet for IPv4 over IPoIB (htype 32, hlen 20); a request unless `op` says otherwise. */
export function arpBody(p: ArpInit): Buffer {
  return encodeToBuffer(arp, arpOverIpoib({ op: p.op ?? ARP_OP_REQUEST, sha: p.sha, spa: p.spa, tha: p.tha ?? NO_HWADDR, tpa: p.tpa }));
}

/**
 * An ARP packet with any fixed fields: the addresses are laid out as hlen and plen say (sha and
 * tha are the first hlen octets of the 20-octet addresses, zero-filled beyond), so a receiver
 * that trusts the lengths finds consistent fields, and one that assumes 20/4 finds garbage.
 */
export function rawArpBody(o: { htype: number; ptype: number; hlen: number; plen: number; op: number; sha: IpoibHwAddr; spa: string; tpa: string }): Buffer {
  const hw = (a: IpoibHwAddr): Buffer => {
    const full = encodeToBuffer(ipoibHwAddr, a);
    const out = Buffer.alloc(o.hlen);
    full.copy(out, 0, 0, Math.min(o.hlen, full.length));
    return out;
  };
  const proto = (ip: string): Buffer => {
    const full = parseIpv4(ip);
    const out = Buffer.alloc(o.plen);
    full.copy(out, 0, 0, Math.min(o.plen, full.length));
    return out;
  };
  const fixed = Buffer.alloc(8);
  fixed.writeUInt16BE(o.htype, 0);
  fixed.writeUInt16BE(o.ptype, 2);
  fixed.writeUInt8(o.hlen, 4);
  fixed.writeUInt8(o.plen, 5);
  fixed.writeUInt16BE(o.op, 6);
  return Buffer.concat([fixed, hw(o.sha), proto(o.spa), hw(NO_HWADDR), proto(o.tpa)]);
}

/** The ARP packet in a frame, or null when the frame carries none that decodes. */
export function arpOf(f: ProbeFrame): ArpPacket | null {
  if (f.payload.length < IPOIB_HEADER_LEN || f.payload.readUInt16BE(0) !== ETH_P_ARP) return null;
  try {
    return arp.decode(f.payload, IPOIB_HEADER_LEN).value;
  } catch (e) {
    if (e instanceof WireError) return null;
    throw e;
  }
}

export function isArpReplyFrom(f: ProbeFrame, spa: string): boolean {
  const a = arpOf(f);
  return a !== null && a.op === ARP_OP_REPLY && a.spa === spa;
}

export function isArpRequestFor(f: ProbeFrame, tpa: string): boolean {
  const a = arpOf(f);
  return a !== null && a.op === ARP_OP_REQUEST && a.tpa === tpa;
}

// ---- ICMP echo ---------------------------------------------------------------------------------

export interface EchoInit {
  src: string;
  dst: string;
  identifier: number;
  sequence: number;
  data: Buffer;
}

/** An IPv4 packet holding an ICMP echo request. */
export function echo4Packet(e: EchoInit): Buffer {
  const icmp = encodeToBuffer(icmpv4Message, withIcmpChecksum({ type: ICMP_ECHO_REQUEST, code: 0, checksum: 0, identifier: e.identifier, sequence: e.sequence, data: e.data }));
  return encodeToBuffer(ipv4Packet, makeIpv4Packet({ src: e.src, dst: e.dst, protocol: IPPROTO_ICMP, identification: e.sequence, payload: icmp }));
}

/** An IPv6 packet holding an ICMPv6 echo request. */
export function echo6Packet(e: EchoInit): Buffer {
  const src = parseIpv6(e.src);
  const dst = parseIpv6(e.dst);
  const icmp = encodeToBuffer(
    icmpv6Message,
    withIcmpChecksum({ type: ICMPV6_ECHO_REQUEST, code: 0, checksum: 0, identifier: e.identifier, sequence: e.sequence, data: e.data }, { src, dst }),
  );
  return encodeToBuffer(ipv6Packet, makeIpv6Packet({ src, dst, nextHeader: IPPROTO_ICMPV6, payload: icmp }));
}

/** An echo reply (either version) in a frame: its identifier, sequence and data; null for anything else. */
export function echoReplyOf(f: ProbeFrame): { family: 4 | 6; identifier: number; sequence: number; data: Buffer } | null {
  if (f.payload.length < IPOIB_HEADER_LEN) return null;
  const type = f.payload.readUInt16BE(0);
  try {
    if (type === ETH_P_IP) {
      const p = ipv4Packet.decode(f.payload, IPOIB_HEADER_LEN).value;
      if (p.header.protocol !== IPPROTO_ICMP || p.header.fragmentOffset !== 0) return null;
      const m = icmpv4Message.decode(p.payload, 0).value;
      return m.type === ICMP_ECHO_REPLY ? { family: 4, identifier: m.identifier, sequence: m.sequence, data: m.data } : null;
    }
    if (type === ETH_P_IPV6) {
      const p = ipv6Packet.decode(f.payload, IPOIB_HEADER_LEN).value;
      if (p.header.nextHeader !== IPPROTO_ICMPV6) return null;
      const m = icmpv6Message.decode(p.payload, 0).value;
      return m.type === ICMPV6_ECHO_REPLY ? { family: 6, identifier: m.identifier, sequence: m.sequence, data: m.data } : null;
    }
  } catch (e) {
    if (e instanceof WireError) return null;
    throw e;
  }
  return null;
}

export function isEchoReply(f: ProbeFrame, family: 4 | 6, identifier: number, sequence?: number): boolean {
  const r = echoReplyOf(f);
  return r !== null && r.family === family && r.identifier === identifier && (sequence === undefined || r.sequence === sequence);
}

// ---- ND ----------------------------------------------------------------------------------------

/** An IPv6 packet holding a neighbor solicitation for `target` with the given options. */
export function nsPacket(o: { src: string; dst: string; target: string; options: NdOption[] }): Buffer {
  const src = parseIpv6(o.src);
  const dst = parseIpv6(o.dst);
  const m: NdMessage = { type: ICMPV6_NS, code: 0, checksum: 0, reserved: 0, target: parseIpv6(o.target), options: o.options };
  const body = encodeToBuffer(ndMessage, withIcmpv6Checksum(m, src, dst));
  return encodeToBuffer(ipv6Packet, makeIpv6Packet({ src, dst, nextHeader: IPPROTO_ICMPV6, hopLimit: ND_HOP_LIMIT, payload: body }));
}

/** The neighbor advertisement in a frame, or null. */
export function naOf(f: ProbeFrame): Extract<NdMessage, { type: typeof ICMPV6_NA }> | null {
  if (f.payload.length < IPOIB_HEADER_LEN || f.payload.readUInt16BE(0) !== ETH_P_IPV6) return null;
  try {
    const p = ipv6Packet.decode(f.payload, IPOIB_HEADER_LEN).value;
    if (p.header.nextHeader !== IPPROTO_ICMPV6 || p.payload[0] !== ICMPV6_NA) return null;
    const m = ndMessage.decode(p.payload, 0).value;
    return m.type === ICMPV6_NA ? m : null;
  } catch (e) {
    if (e instanceof WireError) return null;
    throw e;
  }
}

/** The frame's reserved header field (octets 2-3), or null when shorter than the header. */
export function reservedOf(f: ProbeFrame): number | null {
  return f.payload.length < IPOIB_HEADER_LEN ? null : f.payload.readUInt16BE(2);
}
