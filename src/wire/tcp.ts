/**
 * The TCP header (RFC 9293 §3.1) and whole TCP segments, as the offload engine's tests build
 * and read them (IPv4 protocol / IPv6 next header 6):
 *
 *   octets 0-1   source port
 *   octets 2-3   destination port
 *   octets 4-7   sequence number
 *   octets 8-11  acknowledgment number
 *   octet 12     data offset(4) = header length in 32-bit words, 5..15 | reserved(4)
 *   octet 13     flags: CWR ECE URG ACK PSH RST SYN FIN (TCP_FLAG_* in constants.ts)
 *   octets 14-15 window
 *   octets 16-17 checksum (RFC 1071 over the pseudo-header, the header and the data)
 *   octets 18-19 urgent pointer
 *   octets 20-   options, (data offset - 5) * 4 octets, kept raw
 *
 * The data offset is not a field of the value: it is always 5 + options.length / 4, and decode
 * refuses one below 5 (`tcp.data_offset`), since no layout is left to read. The four bits after
 * it are kept as received (newer ECN schemes use the lowest), as are the checksum and options;
 * `tcpProblems()` judges them, `parseTcpOptions()` splits the options.
 *
 * TCP has no length of its own (the IP header says where a segment ends), so `tcpSegment`
 * decodes to the end of the buffer: pass exactly the segment.
 */
import { WireError } from '../errors.js';
import { type Codec, checkBytes, checkUint, copyBytes, need } from './codec.js';
import {
  IPPROTO_TCP,
  TCP_OPT_EOL,
  TCP_OPT_NOP,
  TCP_OPT_TIMESTAMPS,
  TCP_OPT_TIMESTAMPS_LEN,
} from './constants.js';
import { internetChecksum, ipv4PseudoHeader, ipv6PseudoHeader, onesComplementSum } from './inet-checksum.js';
import { IPV6_ADDR_LEN, parseIpv4 } from './ip-text.js';

/** Header without options, and the largest the data offset allows (15 words). */
export const TCP_MIN_HEADER_LEN = 20;
export const TCP_MAX_HEADER_LEN = 60;
export const TCP_MAX_OPTIONS_LEN = TCP_MAX_HEADER_LEN - TCP_MIN_HEADER_LEN;
/** Where the checksum sits in the header. */
export const TCP_CHECKSUM_AT = 16;

export interface TcpHeader {
  srcPort: number;
  dstPort: number;
  /** 32 bits. */
  seq: number;
  /** 32 bits. */
  ack: number;
  /** The 4 bits after the data offset, as received. */
  reserved: number;
  /** Octet 13: TCP_FLAG_* bits. */
  flags: number;
  window: number;
  /** As received (or as the caller wants it sent); `tcpChecksum()` gives the right one. */
  checksum: number;
  urgentPointer: number;
  /** Raw option octets, a multiple of 4 up to 40; empty for the 20-octet header. */
  options: Buffer;
}

export interface TcpSegment {
  header: TcpHeader;
  payload: Buffer;
}

/**
 * The addresses of the pseudo-header: dotted quads for IPv4, 16-octet Buffers for IPv6 (the
 * forms ipv4.ts and ipv6.ts decode to).
 */
export type TcpAddresses = { src: string; dst: string } | { src: Buffer; dst: Buffer };

function octetsIn(b: Buffer): number {
  return Buffer.isBuffer(b) ? b.length : 0;
}

/** Octets the header takes: 20 plus the options. */
export function tcpHeaderLength(h: Pick<TcpHeader, 'options'>): number {
  return TCP_MIN_HEADER_LEN + octetsIn(h.options);
}

function checkOptions(options: Buffer, offset: number): void {
  if (!Buffer.isBuffer(options) || options.length % 4 !== 0 || options.length > TCP_MAX_OPTIONS_LEN) {
    const got = Buffer.isBuffer(options) ? `${options.length} octets` : typeof options;
    throw new WireError('tcp.options', offset, `want a multiple of 4 octets up to 40, got ${got}`, options);
  }
}

export const tcpHeader: Codec<TcpHeader> = {
  encodingLength: (h) => tcpHeaderLength(h),
  encode(h, buf, offset) {
    checkUint('tcp.src_port', offset, h.srcPort, 16);
    checkUint('tcp.dst_port', offset + 2, h.dstPort, 16);
    checkUint('tcp.seq', offset + 4, h.seq, 32);
    checkUint('tcp.ack', offset + 8, h.ack, 32);
    checkUint('tcp.reserved', offset + 12, h.reserved, 4);
    checkUint('tcp.flags', offset + 13, h.flags, 8);
    checkUint('tcp.window', offset + 14, h.window, 16);
    checkUint('tcp.checksum', offset + 16, h.checksum, 16);
    checkUint('tcp.urgent_pointer', offset + 18, h.urgentPointer, 16);
    checkOptions(h.options, offset + TCP_MIN_HEADER_LEN);
    const len = tcpHeaderLength(h);
    need(buf, offset, len, 'tcp');
    buf.writeUInt16BE(h.srcPort, offset);
    buf.writeUInt16BE(h.dstPort, offset + 2);
    buf.writeUInt32BE(h.seq, offset + 4);
    buf.writeUInt32BE(h.ack, offset + 8);
    buf.writeUInt8(((len / 4) << 4) | h.reserved, offset + 12);
    buf.writeUInt8(h.flags, offset + 13);
    buf.writeUInt16BE(h.window, offset + 14);
    buf.writeUInt16BE(h.checksum, offset + 16);
    buf.writeUInt16BE(h.urgentPointer, offset + 18);
    h.options.copy(buf, offset + TCP_MIN_HEADER_LEN);
    return len;
  },
  decode(buf, offset) {
    need(buf, offset, TCP_MIN_HEADER_LEN, 'tcp');
    const octet12 = buf.readUInt8(offset + 12);
    const len = (octet12 >> 4) * 4;
    if (len < TCP_MIN_HEADER_LEN) {
      throw new WireError('tcp.data_offset', offset + 12, `data offset ${octet12 >> 4} is below the minimum 5 (20 octets)`, octet12 >> 4);
    }
    need(buf, offset, len, 'tcp.options');
    return {
      value: {
        srcPort: buf.readUInt16BE(offset),
        dstPort: buf.readUInt16BE(offset + 2),
        seq: buf.readUInt32BE(offset + 4),
        ack: buf.readUInt32BE(offset + 8),
        reserved: octet12 & 0x0f,
        flags: buf.readUInt8(offset + 13),
        window: buf.readUInt16BE(offset + 14),
        checksum: buf.readUInt16BE(offset + 16),
        urgentPointer: buf.readUInt16BE(offset + 18),
        options: copyBytes(buf, offset + TCP_MIN_HEADER_LEN, offset + len),
      },
      bytes: len,
    };
  },
};

/** Header and payload; decode takes everything after the header as the payload. */
export const tcpSegment: Codec<TcpSegment> = {
  encodingLength: (s) => tcpHeaderLength(s.header) + octetsIn(s.payload),
  encode(s, buf, offset) {
    checkOptions(s.header.options, offset + TCP_MIN_HEADER_LEN);
    const hl = tcpHeaderLength(s.header);
    if (!Buffer.isBuffer(s.payload)) {
      throw new WireError('tcp.payload', offset + hl, `want a Buffer, got ${typeof s.payload}`, s.payload);
    }
    need(buf, offset, hl + s.payload.length, 'tcp');
    tcpHeader.encode(s.header, buf, offset);
    s.payload.copy(buf, offset + hl);
    return hl + s.payload.length;
  },
  decode(buf, offset) {
    const { value: header, bytes: hl } = tcpHeader.decode(buf, offset);
    return { value: { header, payload: copyBytes(buf, offset + hl, buf.length) }, bytes: buf.length - offset };
  },
};

/** The pseudo-header TCP's checksum covers, for a segment of `length` octets. */
export function tcpPseudoHeader(addrs: TcpAddresses, length: number): Buffer {
  if (typeof addrs.src === 'string' && typeof addrs.dst === 'string') {
    return ipv4PseudoHeader(parseIpv4(addrs.src, 'tcp.pseudo.src'), parseIpv4(addrs.dst, 'tcp.pseudo.dst'), IPPROTO_TCP, length, 'tcp.pseudo');
  }
  if (Buffer.isBuffer(addrs.src) && Buffer.isBuffer(addrs.dst)) {
    checkBytes('tcp.pseudo.src', -1, addrs.src, IPV6_ADDR_LEN);
    return ipv6PseudoHeader(addrs.src, addrs.dst, IPPROTO_TCP, length, 'tcp.pseudo');
  }
  throw new WireError('tcp.pseudo', -1, 'want two dotted quads (IPv4) or two 16-octet Buffers (IPv6)', addrs);
}

function segmentBytes(s: TcpSegment, checksum: number): Buffer {
  const bytes = Buffer.alloc(tcpSegment.encodingLength(s));
  tcpSegment.encode({ ...s, header: { ...s.header, checksum } }, bytes, 0);
  return bytes;
}

/** The checksum that belongs in `s` sent between `addrs`. */
export function tcpChecksum(s: TcpSegment, addrs: TcpAddresses): number {
  const bytes = segmentBytes(s, 0);
  return internetChecksum(tcpPseudoHeader(addrs, bytes.length), bytes);
}

/** `s` with its checksum filled in. */
export function withTcpChecksum(s: TcpSegment, addrs: TcpAddresses): TcpSegment {
  return { ...s, header: { ...s.header, checksum: tcpChecksum(s, addrs) } };
}

/**
 * Whether the checksum `s` carries verifies: pseudo-header, header and data sum to 0xffff, so
 * either encoding of zero that RFC 1071 allows is accepted.
 */
export function tcpChecksumOk(s: TcpSegment, addrs: TcpAddresses): boolean {
  const bytes = segmentBytes(s, s.header.checksum);
  return onesComplementSum(tcpPseudoHeader(addrs, bytes.length), bytes) === 0xffff;
}

/** What `makeTcpSegment` needs; every field it can default is optional. */
export interface TcpSegmentInit {
  srcPort: number;
  dstPort: number;
  seq: number;
  /** Default 0. */
  ack?: number;
  flags: number;
  /** Default 65535. */
  window?: number;
  /** Default 0. */
  urgentPointer?: number;
  /** Default none. */
  options?: Buffer;
  /** Default empty. */
  payload?: Buffer;
}

/** A segment with its checksum filled in for `addrs`; every field is checked as encode would. */
export function makeTcpSegment(init: TcpSegmentInit, addrs: TcpAddresses): TcpSegment {
  const header: TcpHeader = {
    srcPort: init.srcPort,
    dstPort: init.dstPort,
    seq: init.seq,
    ack: init.ack ?? 0,
    reserved: 0,
    flags: init.flags,
    window: init.window ?? 0xffff,
    checksum: 0,
    urgentPointer: init.urgentPointer ?? 0,
    options: init.options ?? Buffer.alloc(0),
  };
  return withTcpChecksum({ header, payload: init.payload ?? Buffer.alloc(0) }, addrs);
}

/** One option: its kind and the octets after kind and length (none for EOL and NOP). */
export interface TcpOption {
  kind: number;
  data: Buffer;
}

/**
 * Splits the option octets (RFC 9293 §3.2): EOL ends the list (what follows is padding and is
 * not returned), NOP is one octet, every other kind has a length octet counting kind and
 * length. A length below 2 or past the end is a WireError (`tcp.options`).
 */
export function parseTcpOptions(options: Buffer): TcpOption[] {
  const out: TcpOption[] = [];
  let i = 0;
  while (i < options.length) {
    const kind = options[i]!;
    if (kind === TCP_OPT_EOL) break;
    if (kind === TCP_OPT_NOP) {
      out.push({ kind, data: Buffer.alloc(0) });
      i += 1;
      continue;
    }
    need(options, i, 2, 'tcp.options');
    const len = options[i + 1]!;
    if (len < 2) throw new WireError('tcp.options', i + 1, `option ${kind} has length ${len}, below 2`, len);
    need(options, i, len, 'tcp.options');
    out.push({ kind, data: copyBytes(options, i + 2, i + len) });
    i += len;
  }
  return out;
}

/** The timestamps option's values (RFC 7323 §3), or undefined when there is none. */
export function tcpTimestamps(options: Buffer): { tsVal: number; tsEcr: number } | undefined {
  const ts = parseTcpOptions(options).find((o) => o.kind === TCP_OPT_TIMESTAMPS);
  if (!ts) return undefined;
  if (ts.data.length !== TCP_OPT_TIMESTAMPS_LEN - 2) {
    throw new WireError('tcp.options', -1, `timestamps option of ${ts.data.length + 2} octets, want ${TCP_OPT_TIMESTAMPS_LEN}`, ts.data);
  }
  return { tsVal: ts.data.readUInt32BE(0), tsEcr: ts.data.readUInt32BE(4) };
}

/** NOP, NOP, timestamps: the 12-octet layout TCP stacks send timestamps in. */
export function timestampOptions(tsVal: number, tsEcr: number): Buffer {
  checkUint('tcp.options.ts_val', -1, tsVal, 32);
  checkUint('tcp.options.ts_ecr', -1, tsEcr, 32);
  const b = Buffer.alloc(2 + TCP_OPT_TIMESTAMPS_LEN);
  b.writeUInt8(TCP_OPT_NOP, 0);
  b.writeUInt8(TCP_OPT_NOP, 1);
  b.writeUInt8(TCP_OPT_TIMESTAMPS, 2);
  b.writeUInt8(TCP_OPT_TIMESTAMPS_LEN, 3);
  b.writeUInt32BE(tsVal, 4);
  b.writeUInt32BE(tsEcr, 8);
  return b;
}

const hex4 = (v: number): string => `0x${v.toString(16).padStart(4, '0')}`;

/**
 * What is wrong with a received segment, one readable line each (empty when nothing): a
 * checksum that does not verify, reserved bits set, options that do not parse.
 */
export function tcpProblems(s: TcpSegment, addrs: TcpAddresses): string[] {
  const problems: string[] = [];
  if (!tcpChecksumOk(s, addrs)) problems.push(`checksum ${hex4(s.header.checksum)}, want ${hex4(tcpChecksum(s, addrs))}`);
  if (s.header.reserved !== 0) problems.push(`reserved bits ${s.header.reserved}, want 0`);
  try {
    parseTcpOptions(s.header.options);
  } catch (e) {
    problems.push(`options: ${(e as Error).message}`);
  }
  return problems;
}
