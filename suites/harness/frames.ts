/**
 * The IPoIB payloads a case builds for the probe to send, and the readers that pick the DUT's
 * answers out of what the probe or the fabric tap received: the 4-octet encapsulation header,
 * ARP, ICMP echo over IPv4 and IPv6, and Neighbor Discovery.
 *
 * Builders use the src/wire codecs for well-formed packets and write malformed ones (which the
 * codecs refuse) octet by octet. Readers take a UD payload, IPoIB header first (a probe frame's
 * `payload`, a captured frame's `ib.payload`), and return null for anything that is not what
 * they look for. They decode strictly, except `rawArp` and `isArpReply(…, { tolerant })`,
 * which read an ARP body field by field where an IPoIB sender puts them whatever its lengths
 * say, so a case can still report what a defective sender wrote. Nothing here judges.
 */
import { WireError } from '../../src/errors.js';
import { arp, ARP_IPOIB_LEN, arpOverIpoib, type ArpPacket } from '../../src/wire/arp.js';
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
  ICMPV6_RS,
  IPOIB_HEADER_LEN,
  IPPROTO_ICMP,
  IPPROTO_ICMPV6,
} from '../../src/wire/constants.js';
import { icmpv4Message, icmpv6Message, withIcmpChecksum } from '../../src/wire/icmp.js';
import { ipoibHeader } from '../../src/wire/ipoib-header.js';
import { type IpoibHwAddr, ipoibHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../../src/wire/ip-text.js';
import { type Ipv4Packet, ipv4Packet, makeIpv4Packet } from '../../src/wire/ipv4.js';
import { ipv6Packet, makeIpv6Packet } from '../../src/wire/ipv6.js';
import { type NdMessage, ndMessage, type NdOption, withIcmpv6Checksum } from '../../src/wire/nd.js';

/** RFC 4861: ND travels with hop limit 255 and is dropped otherwise. */
const ND_HOP_LIMIT = 255;

/** Runs a strict read; a payload the codecs refuse reads as null, any other error is a bug and is thrown. */
function orNull<T>(read: () => T | null): T | null {
  try {
    return read();
  } catch (e) {
    if (e instanceof WireError) return null;
    throw e;
  }
}

const ipv6Of = (a: string | Buffer): Buffer => (Buffer.isBuffer(a) ? a : parseIpv6(a));

// ---- the encapsulation header ----------------------------------------------------------------

/** The 4-octet IPoIB header (`type`, `reserved`) and `body` behind it. */
export function ipoibFrame(type: number, body: Buffer, reserved = 0): Buffer {
  return Buffer.concat([encodeToBuffer(ipoibHeader, { type, reserved }), body]);
}

/** The header's Reserved field (octets 2-3), or null when the payload is shorter than the header. */
export function reservedOf(payload: Buffer): number | null {
  return payload.length < IPOIB_HEADER_LEN ? null : payload.readUInt16BE(2);
}

// ---- ARP ---------------------------------------------------------------------------------------

/** A zero link-layer address (an ARP request's unknown target). */
const NO_HWADDR: IpoibHwAddr = { flags: 0, qpn: 0, gid: Buffer.alloc(16) };

export interface ArpInit {
  /** Default: a request. */
  op?: number;
  sha: IpoibHwAddr;
  spa: string;
  /** Default: NO_HWADDR. */
  tha?: IpoibHwAddr;
  tpa: string;
}

/** A well-formed ARP packet for IPv4 over IPoIB (htype 32, hlen 20, plen 4). */
export function arpBody(p: ArpInit): Buffer {
  return encodeToBuffer(arp, arpOverIpoib({ op: p.op ?? ARP_OP_REQUEST, sha: p.sha, spa: p.spa, tha: p.tha ?? NO_HWADDR, tpa: p.tpa }));
}

/** The same behind its IPoIB header, ready to send. */
export function arpFrame(p: ArpInit & { reserved?: number }): Buffer {
  return ipoibFrame(ETH_P_ARP, arpBody(p), p.reserved ?? 0);
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

/** The ARP packet in a payload, decoded strictly; null when it carries none that decodes. */
export function arpOf(payload: Buffer): ArpPacket | null {
  if (payload.length < IPOIB_HEADER_LEN || payload.readUInt16BE(0) !== ETH_P_ARP) return null;
  return orNull(() => arp.decode(payload, IPOIB_HEADER_LEN).value);
}

/**
 * An ARP body read field by field, whatever its hlen says: the DUT under test may announce a
 * wrong length while still carrying 20-octet addresses, and the case must report both. Unlike
 * a decoded ArpPacket, hlen and plen are whatever the sender wrote; the addresses are read
 * where a sender of 20-octet addresses and IPv4 puts them (sha from octet 8, spa from 28,
 * tha from 32, tpa from 52).
 */
export interface RawArp extends ArpPacket {
  /** Octets in the body (56 for an IPoIB/IPv4 ARP). */
  length: number;
}

/** An ARP body (what follows the IPoIB header) read tolerantly; null when shorter than 56 octets. */
export function rawArp(body: Buffer): RawArp | null {
  if (body.length < ARP_IPOIB_LEN) return null;
  return {
    htype: body.readUInt16BE(0),
    ptype: body.readUInt16BE(2),
    hlen: body.readUInt8(4),
    plen: body.readUInt8(5),
    op: body.readUInt16BE(6),
    sha: ipoibHwAddr.decode(body, 8).value,
    spa: formatIpv4(body.subarray(28, 32)),
    tha: ipoibHwAddr.decode(body, 32).value,
    tpa: formatIpv4(body.subarray(52, 56)),
    length: body.length,
  };
}

/** Who an ARP packet is from and for (either may be left out); `tolerant` reads it with rawArp. */
export interface ArpMatch {
  from?: string;
  to?: string;
  tolerant?: boolean;
}

function isArp(payload: Buffer, op: number, m: ArpMatch): boolean {
  const a = m.tolerant
    ? payload.length >= IPOIB_HEADER_LEN && payload.readUInt16BE(0) === ETH_P_ARP
      ? rawArp(payload.subarray(IPOIB_HEADER_LEN))
      : null
    : arpOf(payload);
  return a !== null && a.op === op && (m.from === undefined || a.spa === m.from) && (m.to === undefined || a.tpa === m.to);
}

/** Whether a payload is an ARP reply (from the address `from`, to the address `to`). */
export function isArpReply(payload: Buffer, m: ArpMatch): boolean {
  return isArp(payload, ARP_OP_REPLY, m);
}

/** Whether a payload is an ARP request (from the address `from`, for the address `to`). */
export function isArpRequest(payload: Buffer, m: ArpMatch): boolean {
  return isArp(payload, ARP_OP_REQUEST, m);
}

// ---- ICMP echo ---------------------------------------------------------------------------------

export interface EchoInit {
  src: string;
  dst: string;
  identifier: number;
  sequence: number;
  /** Default: a short text. */
  data?: Buffer;
  /** An echo reply instead of a request (a probe that answers the DUT's pings). */
  reply?: boolean;
}

const ECHO_DATA = Buffer.from('ipoib-lab echo');

/** An IPv4 packet holding an ICMP echo request or reply (its IP identification is the sequence number). */
export function echo4Packet(e: EchoInit): Buffer {
  const icmp = encodeToBuffer(icmpv4Message, withIcmpChecksum({ type: e.reply ? ICMP_ECHO_REPLY : ICMP_ECHO_REQUEST, code: 0, checksum: 0, identifier: e.identifier, sequence: e.sequence, data: e.data ?? ECHO_DATA }));
  return encodeToBuffer(ipv4Packet, makeIpv4Packet({ src: e.src, dst: e.dst, protocol: IPPROTO_ICMP, identification: e.sequence, payload: icmp }));
}

/** An IPv6 packet holding an ICMPv6 echo request or reply. */
export function echo6Packet(e: EchoInit): Buffer {
  const src = parseIpv6(e.src);
  const dst = parseIpv6(e.dst);
  const icmp = encodeToBuffer(
    icmpv6Message,
    withIcmpChecksum({ type: e.reply ? ICMPV6_ECHO_REPLY : ICMPV6_ECHO_REQUEST, code: 0, checksum: 0, identifier: e.identifier, sequence: e.sequence, data: e.data ?? ECHO_DATA }, { src, dst }),
  );
  return encodeToBuffer(ipv6Packet, makeIpv6Packet({ src, dst, nextHeader: IPPROTO_ICMPV6, payload: icmp }));
}

/** An echo request of either family behind the IPoIB header of its EtherType, ready to send. */
export function echoFrame(family: 4 | 6, e: EchoInit, reserved = 0): Buffer {
  return family === 4 ? ipoibFrame(ETH_P_IP, echo4Packet(e), reserved) : ipoibFrame(ETH_P_IPV6, echo6Packet(e), reserved);
}

export interface EchoReply {
  family: 4 | 6;
  src: string;
  dst: string;
  identifier: number;
  sequence: number;
  data: Buffer;
}

/** The echo reply (either family, unfragmented) in a payload; null for anything else. */
export function echoReplyOf(payload: Buffer): EchoReply | null {
  return echoOf(payload, ICMP_ECHO_REPLY, ICMPV6_ECHO_REPLY);
}

/** The echo request (either family, unfragmented) in a payload; null for anything else. */
export function echoRequestOf(payload: Buffer): EchoReply | null {
  return echoOf(payload, ICMP_ECHO_REQUEST, ICMPV6_ECHO_REQUEST);
}

function echoOf(payload: Buffer, v4Type: number, v6Type: number): EchoReply | null {
  if (payload.length < IPOIB_HEADER_LEN) return null;
  const type = payload.readUInt16BE(0);
  return orNull((): EchoReply | null => {
    if (type === ETH_P_IP) {
      const p = ipv4Packet.decode(payload, IPOIB_HEADER_LEN).value;
      if (p.header.protocol !== IPPROTO_ICMP || p.header.fragmentOffset !== 0) return null;
      const m = icmpv4Message.decode(p.payload, 0).value;
      return m.type === v4Type && 'identifier' in m ? { family: 4, src: p.header.src, dst: p.header.dst, identifier: m.identifier, sequence: m.sequence, data: m.data } : null;
    }
    if (type === ETH_P_IPV6) {
      const p = ipv6Packet.decode(payload, IPOIB_HEADER_LEN).value;
      if (p.header.nextHeader !== IPPROTO_ICMPV6) return null;
      const m = icmpv6Message.decode(p.payload, 0).value;
      return m.type === v6Type && 'identifier' in m ? { family: 6, src: formatIpv6(p.header.src), dst: formatIpv6(p.header.dst), identifier: m.identifier, sequence: m.sequence, data: m.data } : null;
    }
    return null;
  });
}

/** Whether a payload is an echo reply matching every field given. */
export function isEchoReply(payload: Buffer, m: { family?: 4 | 6; identifier?: number; sequence?: number; dst?: string }): boolean {
  const r = echoReplyOf(payload);
  return r !== null && (m.family === undefined || r.family === m.family) && (m.identifier === undefined || r.identifier === m.identifier) && (m.sequence === undefined || r.sequence === m.sequence) && (m.dst === undefined || r.dst === m.dst);
}

// ---- IPv4 --------------------------------------------------------------------------------------

/** The IPv4 packet in a payload, decoded strictly; null when it carries none that decodes. */
export function ipv4Of(payload: Buffer): Ipv4Packet | null {
  if (payload.length < IPOIB_HEADER_LEN || payload.readUInt16BE(0) !== ETH_P_IP) return null;
  return orNull(() => ipv4Packet.decode(payload, IPOIB_HEADER_LEN).value);
}

// ---- Neighbor Discovery --------------------------------------------------------------------------

/** An IPv6 packet holding a neighbor solicitation for `target` with the given options (hop limit 255, checksum filled in). */
export function nsPacket(o: { src: string | Buffer; dst: string | Buffer; target: string | Buffer; options: NdOption[] }): Buffer {
  const src = ipv6Of(o.src);
  const dst = ipv6Of(o.dst);
  const m: NdMessage = { type: ICMPV6_NS, code: 0, checksum: 0, reserved: 0, target: ipv6Of(o.target), options: o.options };
  const body = encodeToBuffer(ndMessage, withIcmpv6Checksum(m, src, dst));
  return encodeToBuffer(ipv6Packet, makeIpv6Packet({ src, dst, nextHeader: IPPROTO_ICMPV6, hopLimit: ND_HOP_LIMIT, payload: body }));
}

/** The solicited-node multicast address of an IPv6 address (ff02::1:ffXX:XXXX). */
export function solicitedNode(addr: Buffer): Buffer {
  const g = parseIpv6('ff02::1:ff00:0');
  addr.copy(g, 13, 13, 16);
  return g;
}

export interface NdIn {
  src: Buffer;
  dst: Buffer;
  hopLimit: number;
  message: NdMessage;
}

/** The ND message in a payload (with its IPv6 addresses and hop limit); null when not ND or undecodable. */
export function ndOf(payload: Buffer): NdIn | null {
  if (payload.length < IPOIB_HEADER_LEN || payload.readUInt16BE(0) !== ETH_P_IPV6) return null;
  return orNull(() => {
    const ip = ipv6Packet.decode(payload, IPOIB_HEADER_LEN).value;
    if (ip.header.nextHeader !== IPPROTO_ICMPV6) return null;
    const type = ip.payload[0] ?? 0;
    if (type < ICMPV6_RS || type > ICMPV6_NA) return null;
    return { src: ip.header.src, dst: ip.header.dst, hopLimit: ip.header.hopLimit, message: ndMessage.decode(ip.payload, 0).value };
  });
}

/** The neighbor advertisement in a payload, or null. */
export function naOf(payload: Buffer): Extract<NdMessage, { type: typeof ICMPV6_NA }> | null {
  const nd = ndOf(payload);
  return nd !== null && nd.message.type === ICMPV6_NA ? nd.message : null;
}
