/**
 * The IPv4 header (RFC 791) and whole IPv4 packets, as IPoIB carries them (EtherType 0x0800):
 *
 *   octet 0      version(4) = 4 | IHL(4) = header length in 32-bit words, 5..15
 *   octet 1      DSCP(6) | ECN(2)
 *   octets 2-3   total length: header + payload octets
 *   octets 4-5   identification
 *   octets 6-7   flags(3): reserved, DF, MF | fragment offset(13), in units of 8 octets
 *   octet 8      TTL
 *   octet 9      protocol
 *   octets 10-11 header checksum (RFC 1071, over the header alone)
 *   octets 12-19 source, destination
 *   octets 20-   options, (IHL - 5) * 4 octets, kept raw
 *
 * Version and IHL are not fields of the value: decode refuses a version other than 4 and an
 * IHL below 5 (`ipv4.version`, `ipv4.ihl`), since neither leaves a layout to read, and the
 * IHL is always 5 + options.length / 4. Everything else is kept as received, the checksum and
 * the reserved flag included; `ipv4Problems()` judges them.
 *
 * `ipv4Header` reads the header alone and does not compare the total length with the buffer,
 * because a header quoted inside an ICMP error describes a datagram that is not all there.
 * `ipv4Packet` reads header and payload and does compare them (`ipv4.total_length`).
 */
import { WireError } from '../errors.js';
import { type Codec, checkUint, copyBytes, need } from './codec.js';
import { internetChecksum, onesComplementSum } from './inet-checksum.js';
import { formatIpv4, IPV4_ADDR_LEN, parseIpv4 } from './ip-text.js';

export { IPV4_MIN_MTU } from './constants.js';

const IP_VERSION_4 = 4;
/** Header without options, and the largest IHL allows (15 words). */
export const IPV4_MIN_HEADER_LEN = 20;
export const IPV4_MAX_HEADER_LEN = 60;
export const IPV4_MAX_OPTIONS_LEN = IPV4_MAX_HEADER_LEN - IPV4_MIN_HEADER_LEN;

const FLAG_RESERVED = 0x8000;
const FLAG_DF = 0x4000;
const FLAG_MF = 0x2000;
const FRAGMENT_OFFSET_MASK = 0x1fff;

export interface Ipv4Header {
  /** Differentiated services code point, 6 bits. */
  dscp: number;
  /** Explicit congestion notification, 2 bits. */
  ecn: number;
  /** Header plus payload octets, as received. */
  totalLength: number;
  identification: number;
  /** The first flag bit, which must be zero; kept as received. */
  reservedFlag: boolean;
  dontFragment: boolean;
  moreFragments: boolean;
  /** 13 bits, in units of 8 octets. */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  /** As received (or as the caller wants it sent); `ipv4HeaderChecksum()` gives the right one. */
  checksum: number;
  /** Dotted quad. */
  src: string;
  dst: string;
  /** Raw option octets, a multiple of 4 up to 40; empty for the usual 20-octet header. */
  options: Buffer;
}

export interface Ipv4Packet {
  header: Ipv4Header;
  /** The `totalLength - header length` octets after the header. */
  payload: Buffer;
}

/** Octets the header takes: 20 plus the options. */
export function ipv4HeaderLength(h: Pick<Ipv4Header, 'options'>): number {
  return IPV4_MIN_HEADER_LEN + octetsIn(h.options);
}

/**
 * A Buffer's length, 0 for anything else: lengths are asked for before encode validates, and
 * a bad field must reach encode to be reported as a WireError.
 */
function octetsIn(b: Buffer): number {
  return Buffer.isBuffer(b) ? b.length : 0;
}

function checkOptions(options: Buffer, offset: number): void {
  if (!Buffer.isBuffer(options) || options.length % 4 !== 0 || options.length > IPV4_MAX_OPTIONS_LEN) {
    const got = Buffer.isBuffer(options) ? `${options.length} octets` : typeof options;
    throw new WireError('ipv4.options', offset, `want a multiple of 4 octets up to 40, got ${got}`, options);
  }
}

export const ipv4Header: Codec<Ipv4Header> = {
  encodingLength: (h) => ipv4HeaderLength(h),
  encode(h, buf, offset) {
    checkUint('ipv4.dscp', offset + 1, h.dscp, 6);
    checkUint('ipv4.ecn', offset + 1, h.ecn, 2);
    checkUint('ipv4.total_length', offset + 2, h.totalLength, 16);
    checkUint('ipv4.identification', offset + 4, h.identification, 16);
    checkUint('ipv4.fragment_offset', offset + 6, h.fragmentOffset, 13);
    checkUint('ipv4.ttl', offset + 8, h.ttl, 8);
    checkUint('ipv4.protocol', offset + 9, h.protocol, 8);
    checkUint('ipv4.checksum', offset + 10, h.checksum, 16);
    const src = parseIpv4(h.src, 'ipv4.src');
    const dst = parseIpv4(h.dst, 'ipv4.dst');
    checkOptions(h.options, offset + IPV4_MIN_HEADER_LEN);
    const len = ipv4HeaderLength(h);
    need(buf, offset, len, 'ipv4');
    buf.writeUInt8((IP_VERSION_4 << 4) | (len / 4), offset);
    buf.writeUInt8((h.dscp << 2) | h.ecn, offset + 1);
    buf.writeUInt16BE(h.totalLength, offset + 2);
    buf.writeUInt16BE(h.identification, offset + 4);
    const flags =
      (h.reservedFlag ? FLAG_RESERVED : 0) | (h.dontFragment ? FLAG_DF : 0) | (h.moreFragments ? FLAG_MF : 0);
    buf.writeUInt16BE(flags | h.fragmentOffset, offset + 6);
    buf.writeUInt8(h.ttl, offset + 8);
    buf.writeUInt8(h.protocol, offset + 9);
    buf.writeUInt16BE(h.checksum, offset + 10);
    src.copy(buf, offset + 12);
    dst.copy(buf, offset + 16);
    h.options.copy(buf, offset + IPV4_MIN_HEADER_LEN);
    return len;
  },
  decode(buf, offset) {
    need(buf, offset, IPV4_MIN_HEADER_LEN, 'ipv4');
    const first = buf.readUInt8(offset);
    const version = first >> 4;
    if (version !== IP_VERSION_4) {
      throw new WireError('ipv4.version', offset, `version ${version}, want ${IP_VERSION_4}`, version);
    }
    const ihl = first & 0x0f;
    if (ihl * 4 < IPV4_MIN_HEADER_LEN) {
      throw new WireError('ipv4.ihl', offset, `IHL ${ihl} is below the minimum 5 (20 octets)`, ihl);
    }
    const len = ihl * 4;
    need(buf, offset, len, 'ipv4.options');
    const tos = buf.readUInt8(offset + 1);
    const flagsFrag = buf.readUInt16BE(offset + 6);
    return {
      value: {
        dscp: tos >> 2,
        ecn: tos & 0x03,
        totalLength: buf.readUInt16BE(offset + 2),
        identification: buf.readUInt16BE(offset + 4),
        reservedFlag: (flagsFrag & FLAG_RESERVED) !== 0,
        dontFragment: (flagsFrag & FLAG_DF) !== 0,
        moreFragments: (flagsFrag & FLAG_MF) !== 0,
        fragmentOffset: flagsFrag & FRAGMENT_OFFSET_MASK,
        ttl: buf.readUInt8(offset + 8),
        protocol: buf.readUInt8(offset + 9),
        checksum: buf.readUInt16BE(offset + 10),
        src: formatIpv4(buf.subarray(offset + 12, offset + 12 + IPV4_ADDR_LEN)),
        dst: formatIpv4(buf.subarray(offset + 16, offset + 16 + IPV4_ADDR_LEN)),
        options: copyBytes(buf, offset + IPV4_MIN_HEADER_LEN, offset + len),
      },
      bytes: len,
    };
  },
};

/**
 * Header and payload. Encode requires `totalLength` to match them; to send a packet whose
 * total length lies, encode the header with `ipv4Header` and append what you like. Decode
 * reads exactly `totalLength` octets and leaves anything after them (link padding) unread.
 */
export const ipv4Packet: Codec<Ipv4Packet> = {
  encodingLength: (p) => ipv4HeaderLength(p.header) + octetsIn(p.payload),
  encode(p, buf, offset) {
    checkOptions(p.header.options, offset + IPV4_MIN_HEADER_LEN);
    const hl = ipv4HeaderLength(p.header);
    if (!Buffer.isBuffer(p.payload)) {
      throw new WireError('ipv4.payload', offset + hl, `want a Buffer, got ${typeof p.payload}`, p.payload);
    }
    const want = hl + p.payload.length;
    if (p.header.totalLength !== want) {
      throw new WireError(
        'ipv4.total_length',
        offset + 2,
        `total length ${String(p.header.totalLength)}, but header and payload take ${want} octets`,
        p.header.totalLength,
      );
    }
    need(buf, offset, want, 'ipv4');
    ipv4Header.encode(p.header, buf, offset);
    p.payload.copy(buf, offset + hl);
    return want;
  },
  decode(buf, offset) {
    const { value: header, bytes: hl } = ipv4Header.decode(buf, offset);
    const total = header.totalLength;
    if (total < hl) {
      const why = `total length ${total} is less than the ${hl}-octet header`;
      throw new WireError('ipv4.total_length', offset + 2, why, total);
    }
    if (offset + total > buf.length) {
      const have = buf.length - offset;
      const why = `total length ${total}, but only ${have} octets are there`;
      throw new WireError('ipv4.total_length', offset + 2, why, total);
    }
    return { value: { header, payload: copyBytes(buf, offset + hl, offset + total) }, bytes: total };
  },
};

/** The checksum that belongs in `h`: RFC 1071 over the header with the checksum field as zero. */
export function ipv4HeaderChecksum(h: Ipv4Header): number {
  const bytes = Buffer.alloc(ipv4HeaderLength(h));
  ipv4Header.encode({ ...h, checksum: 0 }, bytes, 0);
  return internetChecksum(bytes);
}

/** What `makeIpv4Packet` needs; every field it can default is optional. */
export interface Ipv4PacketInit {
  src: string;
  dst: string;
  protocol: number;
  payload: Buffer;
  /** Default 0. */
  dscp?: number;
  /** Default 0. */
  ecn?: number;
  /** Default 0. */
  identification?: number;
  /** Default false. */
  reservedFlag?: boolean;
  /** Default false. */
  dontFragment?: boolean;
  /** Default false. */
  moreFragments?: boolean;
  /** Default 0. */
  fragmentOffset?: number;
  /** Default 64. */
  ttl?: number;
  /** Default none. */
  options?: Buffer;
}

/** A packet with the total length and header checksum filled in from the other fields. */
export function makeIpv4Packet(init: Ipv4PacketInit): Ipv4Packet {
  const options = init.options ?? Buffer.alloc(0);
  checkOptions(options, IPV4_MIN_HEADER_LEN);
  if (!Buffer.isBuffer(init.payload)) {
    throw new WireError('ipv4.payload', -1, `want a Buffer, got ${typeof init.payload}`, init.payload);
  }
  const header: Ipv4Header = {
    dscp: init.dscp ?? 0,
    ecn: init.ecn ?? 0,
    totalLength: IPV4_MIN_HEADER_LEN + options.length + init.payload.length,
    identification: init.identification ?? 0,
    reservedFlag: init.reservedFlag ?? false,
    dontFragment: init.dontFragment ?? false,
    moreFragments: init.moreFragments ?? false,
    fragmentOffset: init.fragmentOffset ?? 0,
    ttl: init.ttl ?? 64,
    protocol: init.protocol,
    checksum: 0,
    src: init.src,
    dst: init.dst,
    options,
  };
  // ipv4HeaderChecksum encodes the header, so every field (the total length too) is checked here.
  return { header: { ...header, checksum: ipv4HeaderChecksum(header) }, payload: init.payload };
}

const hex4 = (v: number): string => `0x${v.toString(16).padStart(4, '0')}`;

/**
 * What is wrong with a received IPv4 header, one readable line each (empty when nothing): a
 * header checksum that does not verify, the reserved flag set, a total length shorter than
 * the header. The checksum verifies when the header sums to 0xffff, so of the two encodings of
 * zero RFC 1071 allows, either is accepted.
 */
export function ipv4Problems(h: Ipv4Header): string[] {
  const problems: string[] = [];
  const bytes = Buffer.alloc(ipv4HeaderLength(h));
  ipv4Header.encode(h, bytes, 0);
  if (onesComplementSum(bytes) !== 0xffff) {
    problems.push(`header checksum ${hex4(h.checksum)}, want ${hex4(ipv4HeaderChecksum(h))}`);
  }
  if (h.reservedFlag) problems.push('reserved flag bit set, want 0');
  if (h.totalLength < bytes.length) {
    problems.push(`total length ${h.totalLength} is less than the ${bytes.length}-octet header`);
  }
  return problems;
}
