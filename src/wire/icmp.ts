/**
 * The ICMP messages the suite sends and expects around IPoIB: echo for reachability, and the
 * two "too big" errors path-MTU discovery lives on.
 *
 * ICMPv4 (RFC 792), after IPv4 protocol 1; checksum over the message alone:
 *   echo request 8 / reply 0:      type | code | checksum(2) | identifier(2) | sequence(2) | data
 *   destination unreachable 3:     type | code | checksum(2) | unused(1) | length(1) |
 *                                  next-hop MTU(2) | original datagram
 *     The next-hop MTU (RFC 1191) means something only with code 4, "fragmentation needed and
 *     DF set"; other codes send zero there. The length octet (RFC 4884) gives the original
 *     datagram's size in 32-bit words when ICMP extensions follow it, and is 0 otherwise.
 *
 * ICMPv6 (RFC 4443), after next header 58; checksum also over the IPv6 pseudo-header:
 *   echo request 128 / reply 129:  type | code | checksum(2) | identifier(2) | sequence(2) | data
 *   packet too big 2:              type | code | checksum(2) | MTU(4) | invoking packet
 *
 * ICMP has no length of its own (the IP header says where it ends), so decode reads to the
 * end of the buffer: pass exactly the message. Other types are a WireError (`icmp.type`,
 * `icmpv6.type`); ND messages (133-136) have their own codec in nd.ts. Everything else is
 * kept as received, checksum and code included; `icmpProblems()` judges them.
 */
import { WireError } from '../errors.js';
import { type Codec, checkUint, copyBytes, encodeToBuffer, need } from './codec.js';
import {
  ICMP_CODE_FRAG_NEEDED,
  ICMP_DEST_UNREACH,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  ICMPV6_PACKET_TOO_BIG,
  IPPROTO_ICMPV6,
  IPV4_MIN_MTU,
  IPV6_MIN_MTU,
} from './constants.js';
import { internetChecksum, ipv6PseudoHeader, onesComplementSum, withZeroChecksumField } from './inet-checksum.js';
import { ipv4Header } from './ipv4.js';
import { IPV6_HEADER_LEN, ipv6Header } from './ipv6.js';

// The ICMP types and codes live in constants.ts; re-exported for existing importers.
export {
  ICMP_CODE_FRAG_NEEDED,
  ICMP_DEST_UNREACH,
  ICMP_ECHO_REPLY,
  ICMP_ECHO_REQUEST,
  ICMPV6_ECHO_REPLY,
  ICMPV6_ECHO_REQUEST,
  ICMPV6_PACKET_TOO_BIG,
  IPPROTO_ICMP,
} from './constants.js';

/** Type, code, checksum and the 4 type-specific octets every message here starts with. */
export const ICMP_HEADER_LEN = 8;
const CHECKSUM_AT = 2;

interface IcmpCommon {
  code: number;
  /** As received (or as the caller wants it sent); `withIcmpChecksum()` fills in the right one. */
  checksum: number;
}

export interface Icmpv4Echo extends IcmpCommon {
  type: typeof ICMP_ECHO_REQUEST | typeof ICMP_ECHO_REPLY;
  identifier: number;
  sequence: number;
  data: Buffer;
}

export interface Icmpv4DestUnreachable extends IcmpCommon {
  type: typeof ICMP_DEST_UNREACH;
  /** Octet 4, sent as zero. */
  unused: number;
  /** Octet 5: RFC 4884 length of `original` in 32-bit words, or 0 (no extensions). */
  length: number;
  /** Octets 6-7: RFC 1191 next-hop MTU for code 4, zero for other codes. */
  nextHopMtu: number;
  /** The original datagram's IP header and leading data (and any RFC 4884 extensions). */
  original: Buffer;
}

export type Icmpv4Message = Icmpv4Echo | Icmpv4DestUnreachable;

export interface Icmpv6Echo extends IcmpCommon {
  type: typeof ICMPV6_ECHO_REQUEST | typeof ICMPV6_ECHO_REPLY;
  identifier: number;
  sequence: number;
  data: Buffer;
}

export interface Icmpv6PacketTooBig extends IcmpCommon {
  type: typeof ICMPV6_PACKET_TOO_BIG;
  /** The MTU of the next-hop link, 32 bits. */
  mtu: number;
  /** As much of the invoking packet as fits in the minimum IPv6 MTU. */
  original: Buffer;
}

export type Icmpv6Message = Icmpv6Echo | Icmpv6PacketTooBig;

/** Source and destination of the IPv6 packet an ICMPv6 message travels in. */
export interface Ipv6Endpoints {
  src: Buffer;
  dst: Buffer;
}

const isV4Echo = (t: number): t is Icmpv4Echo['type'] => t === ICMP_ECHO_REQUEST || t === ICMP_ECHO_REPLY;
const isV6Echo = (t: number): t is Icmpv6Echo['type'] => t === ICMPV6_ECHO_REQUEST || t === ICMPV6_ECHO_REPLY;
const isV6Type = (t: number): boolean => isV6Echo(t) || t === ICMPV6_PACKET_TOO_BIG;
/** The type numbers of the two versions do not overlap, so the type alone tells them apart. */
const isV6Message = (m: Icmpv4Message | Icmpv6Message): m is Icmpv6Message => isV6Type(m.type);

/** Throws unless `b` is a Buffer (of any length). */
function checkTail(field: string, offset: number, b: Buffer): void {
  if (!Buffer.isBuffer(b)) throw new WireError(field, offset, `want a Buffer, got ${typeof b}`, b);
}

/** The octets after the 8-octet header: echo data or the quoted original. */
const tailOf = (m: Icmpv4Message | Icmpv6Message): Buffer => ('data' in m ? m.data : m.original);
/** Its length, 0 when it is not a Buffer, so that encode gets to report it as a WireError. */
const tailLength = (m: Icmpv4Message | Icmpv6Message): number => {
  const tail = tailOf(m);
  return Buffer.isBuffer(tail) ? tail.length : 0;
};

/**
 * The shared shape of both codecs: validate, write or read the common 4 octets, and let
 * `body` handle octets 4..7 and the tail. `prefix` names errors (`icmp.code`, `icmpv6.mtu`).
 */
function icmpCodec<M extends Icmpv4Message | Icmpv6Message>(
  prefix: string,
  known: (t: number) => boolean,
  unknownHint: string,
  body: {
    check(m: M, o: number): void;
    write(m: M, buf: Buffer, o: number): void;
    read(type: number, common: IcmpCommon, buf: Buffer, o: number, tail: Buffer): M;
  },
): Codec<M> {
  const checkType = (t: number, offset: number): void => {
    if (!known(t)) throw new WireError(`${prefix}.type`, offset, `type ${String(t)} is not ${unknownHint}`, t);
  };
  return {
    encodingLength: (m) => ICMP_HEADER_LEN + tailLength(m),
    encode(m, buf, offset) {
      checkType(m.type, offset);
      checkUint(`${prefix}.code`, offset + 1, m.code, 8);
      checkUint(`${prefix}.checksum`, offset + 2, m.checksum, 16);
      body.check(m, offset + 4);
      const len = ICMP_HEADER_LEN + tailOf(m).length;
      need(buf, offset, len, prefix);
      buf.writeUInt8(m.type, offset);
      buf.writeUInt8(m.code, offset + 1);
      buf.writeUInt16BE(m.checksum, offset + 2);
      body.write(m, buf, offset + 4);
      tailOf(m).copy(buf, offset + ICMP_HEADER_LEN);
      return len;
    },
    decode(buf, offset) {
      need(buf, offset, ICMP_HEADER_LEN, prefix);
      const type = buf.readUInt8(offset);
      checkType(type, offset);
      const common = { code: buf.readUInt8(offset + 1), checksum: buf.readUInt16BE(offset + 2) };
      const tail = copyBytes(buf, offset + ICMP_HEADER_LEN, buf.length);
      return { value: body.read(type, common, buf, offset + 4, tail), bytes: buf.length - offset };
    },
  };
}

/** Echo's octets 4..7, the same in both versions. */
const echoBody = (prefix: string) => ({
  check(m: { identifier: number; sequence: number; data: Buffer }, o: number): void {
    checkUint(`${prefix}.identifier`, o, m.identifier, 16);
    checkUint(`${prefix}.sequence`, o + 2, m.sequence, 16);
    checkTail(`${prefix}.data`, o + 4, m.data);
  },
  write(m: { identifier: number; sequence: number }, buf: Buffer, o: number): void {
    buf.writeUInt16BE(m.identifier, o);
    buf.writeUInt16BE(m.sequence, o + 2);
  },
});

const v4Echo = echoBody('icmp');
const v6Echo = echoBody('icmpv6');

export const icmpv4Message: Codec<Icmpv4Message> = icmpCodec<Icmpv4Message>(
  'icmp',
  (t) => isV4Echo(t) || t === ICMP_DEST_UNREACH,
  'echo reply (0), destination unreachable (3) or echo request (8)',
  {
    check(m, o) {
      if (m.type !== ICMP_DEST_UNREACH) return v4Echo.check(m, o);
      checkUint('icmp.unused', o, m.unused, 8);
      checkUint('icmp.length', o + 1, m.length, 8);
      checkUint('icmp.next_hop_mtu', o + 2, m.nextHopMtu, 16);
      checkTail('icmp.original', o + 4, m.original);
    },
    write(m, buf, o) {
      if (m.type !== ICMP_DEST_UNREACH) return v4Echo.write(m, buf, o);
      buf.writeUInt8(m.unused, o);
      buf.writeUInt8(m.length, o + 1);
      buf.writeUInt16BE(m.nextHopMtu, o + 2);
    },
    read(type, common, buf, o, tail) {
      if (isV4Echo(type)) {
        return { type, ...common, identifier: buf.readUInt16BE(o), sequence: buf.readUInt16BE(o + 2), data: tail };
      }
      return {
        type: ICMP_DEST_UNREACH,
        ...common,
        unused: buf.readUInt8(o),
        length: buf.readUInt8(o + 1),
        nextHopMtu: buf.readUInt16BE(o + 2),
        original: tail,
      };
    },
  },
);

export const icmpv6Message: Codec<Icmpv6Message> = icmpCodec<Icmpv6Message>(
  'icmpv6',
  isV6Type,
  'packet too big (2), echo request (128) or echo reply (129); ND (133-136) is in nd.ts',
  {
    check(m, o) {
      if (m.type !== ICMPV6_PACKET_TOO_BIG) return v6Echo.check(m, o);
      checkUint('icmpv6.mtu', o, m.mtu, 32);
      checkTail('icmpv6.original', o + 4, m.original);
    },
    write(m, buf, o) {
      if (m.type !== ICMPV6_PACKET_TOO_BIG) return v6Echo.write(m, buf, o);
      buf.writeUInt32BE(m.mtu, o);
    },
    read(type, common, buf, o, tail) {
      if (isV6Echo(type)) {
        return { type, ...common, identifier: buf.readUInt16BE(o), sequence: buf.readUInt16BE(o + 2), data: tail };
      }
      return { type: ICMPV6_PACKET_TOO_BIG, ...common, mtu: buf.readUInt32BE(o), original: tail };
    },
  },
);

// ---- checksums ------------------------------------------------------------------------------

/**
 * The ICMPv4 checksum for `message` (a whole ICMPv4 message): RFC 1071 over the message with
 * its checksum octets counted as zero. It is what belongs in the field, whatever is there now.
 */
export function icmpv4Checksum(message: Buffer): number {
  checkTail('icmp', -1, message);
  need(message, 0, CHECKSUM_AT + 2, 'icmp');
  return internetChecksum(withZeroChecksumField(message, CHECKSUM_AT, 'icmp'));
}

/**
 * The ICMPv6 checksum for `message` sent from `src` to `dst`: RFC 1071 over the IPv6
 * pseudo-header (next header 58, the message's length) and the message, its checksum octets
 * counted as zero. It is what belongs in the field, whatever is there now.
 */
export function icmpv6Checksum(src: Buffer, dst: Buffer, message: Buffer): number {
  checkTail('icmpv6', -1, message);
  const pseudo = ipv6PseudoHeader(src, dst, IPPROTO_ICMPV6, message.length, 'icmpv6');
  need(message, 0, CHECKSUM_AT + 2, 'icmpv6');
  return internetChecksum(pseudo, withZeroChecksumField(message, CHECKSUM_AT, 'icmpv6'));
}

/** A copy of `m` with the checksum that is right for it (ICMPv6: for a packet from `src` to `dst`). */
export function withIcmpChecksum<M extends Icmpv4Message>(m: M): M;
export function withIcmpChecksum<M extends Icmpv6Message>(m: M, endpoints: Ipv6Endpoints): M;
export function withIcmpChecksum(m: Icmpv4Message | Icmpv6Message, endpoints?: Ipv6Endpoints): typeof m {
  return { ...m, checksum: rightChecksum(m, endpoints) };
}

/** The checksum `m` should carry; encodes it, so every field is validated on the way. */
function rightChecksum(m: Icmpv4Message | Icmpv6Message, endpoints: Ipv6Endpoints | undefined): number {
  if (!isV6Message(m)) return icmpv4Checksum(encodeToBuffer(icmpv4Message, m));
  const bytes = encodeToBuffer(icmpv6Message, m);
  if (endpoints === undefined) {
    throw new WireError('icmpv6.src', -1, 'an ICMPv6 checksum needs the IPv6 source and destination', endpoints);
  }
  return icmpv6Checksum(endpoints.src, endpoints.dst, bytes);
}

// ---- judging --------------------------------------------------------------------------------

const hex4 = (v: number): string => `0x${v.toString(16).padStart(4, '0')}`;

/** Problems of the original datagram quoted by an ICMPv4 destination unreachable. */
function quotedIpv4Problems(m: Icmpv4DestUnreachable): string[] {
  const problems: string[] = [];
  let header;
  try {
    header = ipv4Header.decode(m.original, 0);
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    return [`original datagram does not start with an IPv4 header (${e.message})`];
  }
  // RFC 792: the header and the first 64 bits of the data, or all of it when it is shorter.
  const dataLen = Math.max(0, header.value.totalLength - header.bytes);
  const want = header.bytes + Math.min(8, dataLen);
  if (m.original.length < want) {
    const got = m.original.length;
    problems.push(`original datagram quotes ${got} octets, want at least ${want} (header + 8 data octets)`);
  }
  return problems;
}

function icmpv4Problems(m: Icmpv4Message): string[] {
  const problems: string[] = [];
  const bytes = encodeToBuffer(icmpv4Message, m);
  if (onesComplementSum(bytes) !== 0xffff) {
    problems.push(`checksum ${hex4(m.checksum)}, want ${hex4(icmpv4Checksum(bytes))}`);
  }
  if (m.type !== ICMP_DEST_UNREACH) {
    if (m.code !== 0) problems.push(`code ${m.code}, want 0`);
    return problems;
  }
  if (m.unused !== 0) problems.push(`unused octet ${m.unused}, want 0`);
  if (m.length * 4 > m.original.length) {
    problems.push(`length ${m.length} (${m.length * 4} octets) is longer than the ${m.original.length} quoted octets`);
  }
  if (m.code === ICMP_CODE_FRAG_NEEDED) {
    if (m.nextHopMtu === 0) {
      problems.push('next-hop MTU 0: the sender predates RFC 1191');
    } else if (m.nextHopMtu < IPV4_MIN_MTU) {
      problems.push(`next-hop MTU ${m.nextHopMtu} is below the IPv4 minimum ${IPV4_MIN_MTU}`);
    }
  } else if (m.nextHopMtu !== 0) {
    problems.push(`next-hop MTU field ${m.nextHopMtu} in a code ${m.code} message, want 0`);
  }
  problems.push(...quotedIpv4Problems(m));
  return problems;
}

function icmpv6Problems(m: Icmpv6Message, endpoints: Ipv6Endpoints): string[] {
  const problems: string[] = [];
  const bytes = encodeToBuffer(icmpv6Message, m);
  const pseudo = ipv6PseudoHeader(endpoints.src, endpoints.dst, IPPROTO_ICMPV6, bytes.length, 'icmpv6');
  if (onesComplementSum(pseudo, bytes) !== 0xffff) {
    problems.push(`checksum ${hex4(m.checksum)}, want ${hex4(icmpv6Checksum(endpoints.src, endpoints.dst, bytes))}`);
  }
  if (m.code !== 0) problems.push(`code ${m.code}, want 0`);
  if (m.type !== ICMPV6_PACKET_TOO_BIG) return problems;
  if (m.mtu < IPV6_MIN_MTU) problems.push(`MTU ${m.mtu} is below the IPv6 minimum ${IPV6_MIN_MTU}`);
  // RFC 4443 §3.2: as much of the invoking packet as fits without exceeding the minimum MTU.
  const room = IPV6_MIN_MTU - IPV6_HEADER_LEN - ICMP_HEADER_LEN;
  if (m.original.length > room) {
    problems.push(`quotes ${m.original.length} octets, so the packet exceeds the minimum IPv6 MTU (room for ${room})`);
  }
  try {
    const invoking = ipv6Header.decode(m.original, 0).value;
    const want = Math.min(room, IPV6_HEADER_LEN + invoking.payloadLength);
    if (m.original.length < want) {
      problems.push(`quotes ${m.original.length} octets of the invoking packet, want ${want}`);
    }
  } catch (e) {
    if (!(e instanceof WireError)) throw e;
    problems.push(`invoking packet does not start with an IPv6 header (${e.message})`);
  }
  return problems;
}

/**
 * What a sender got wrong in an ICMP message, one readable line each (empty when nothing): a
 * checksum that does not verify (either encoding of zero is accepted), a non-zero code where
 * the type has only code 0, non-zero unused bits, and for the errors an MTU below the
 * version's minimum and a quote of the offending packet that is too short or (ICMPv6) too long.
 * ICMPv6 needs the packet's IPv6 source and destination for its checksum.
 */
export function icmpProblems(m: Icmpv4Message): string[];
export function icmpProblems(m: Icmpv6Message, endpoints: Ipv6Endpoints): string[];
export function icmpProblems(m: Icmpv4Message | Icmpv6Message, endpoints?: Ipv6Endpoints): string[] {
  if (!isV6Message(m)) return icmpv4Problems(m);
  if (endpoints === undefined) {
    throw new WireError('icmpv6.src', -1, 'an ICMPv6 checksum needs the IPv6 source and destination', endpoints);
  }
  return icmpv6Problems(m, endpoints);
}
