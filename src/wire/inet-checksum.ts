/**
 * The Internet checksum (RFC 1071): the one's-complement of the one's-complement sum of the
 * data taken as big-endian 16-bit words, an odd last octet padded with a zero octet. IPv4
 * headers, ICMP, ICMPv6, UDP and TCP all use it; the last three also cover a pseudo-header
 * built from the IP header, which the functions below lay out.
 *
 * The data may come in several parts (pseudo-header, header, payload). They are summed as if
 * concatenated, so a part of odd length shifts the next part by one octet; that is what lets
 * a caller checksum a message without first copying it into one buffer.
 */
import { WireError } from '../errors.js';
import { checkBytes, checkUint } from './codec.js';

const IPV4_ADDR_LEN = 4;
const IPV6_ADDR_LEN = 16;
export const IPV4_PSEUDO_HEADER_LEN = 12;
export const IPV6_PSEUDO_HEADER_LEN = 40;

/** Folds carries back into the low 16 bits until none are left. */
function fold(sum: number): number {
  let s = sum;
  while (s > 0xffff) s = (s & 0xffff) + Math.floor(s / 0x10000);
  return s;
}

/**
 * The folded 16-bit one's-complement sum of the parts taken as one octet stream (not yet
 * complemented). 0 for no data. Useful for combining partial sums and for checking: a message
 * whose checksum field is right sums to 0xffff.
 */
export function onesComplementSum(...parts: Buffer[]): number {
  let sum = 0;
  let odd = false; // the stream so far has an odd number of octets, so the next one is a low half
  for (const [i, part] of parts.entries()) {
    if (!Buffer.isBuffer(part)) throw new WireError('checksum.part', -1, `part ${i} is not a Buffer`, part);
    for (const octet of part) {
      sum += odd ? octet : octet << 8;
      odd = !odd;
    }
    // Plain numbers stay exact up to 2^53; folding per part keeps far away from that.
    sum = fold(sum);
  }
  return sum;
}

/**
 * The RFC 1071 checksum of the parts taken as one octet stream: what belongs in a checksum
 * field that was zero while summing. Over data that already holds a correct checksum it is 0.
 */
export function internetChecksum(...parts: Buffer[]): number {
  return ~onesComplementSum(...parts) & 0xffff;
}

/**
 * The IPv4 pseudo-header UDP and TCP cover (RFC 768, RFC 793): source(4) | destination(4) |
 * zero(1) | protocol(1) | length(2), the length being that of the upper-layer message.
 * ICMPv4 has no pseudo-header.
 */
export function ipv4PseudoHeader(src: Buffer, dst: Buffer, protocol: number, length: number, field = 'pseudo'): Buffer {
  checkBytes(`${field}.src`, -1, src, IPV4_ADDR_LEN);
  checkBytes(`${field}.dst`, -1, dst, IPV4_ADDR_LEN);
  checkUint(`${field}.protocol`, -1, protocol, 8);
  checkUint(`${field}.length`, -1, length, 16);
  const p = Buffer.alloc(IPV4_PSEUDO_HEADER_LEN);
  src.copy(p, 0);
  dst.copy(p, 4);
  p.writeUInt8(protocol, 9);
  p.writeUInt16BE(length, 10);
  return p;
}

/**
 * The IPv6 pseudo-header of RFC 8200 §8.1, which ICMPv6, UDP and TCP over IPv6 cover:
 * source(16) | destination(16) | upper-layer length(4) | zero(3) | next header(1). The length
 * is 32 bits here (jumbograms), unlike the 16-bit IPv6 payload length.
 */
export function ipv6PseudoHeader(
  src: Buffer,
  dst: Buffer,
  nextHeader: number,
  length: number,
  field = 'pseudo',
): Buffer {
  checkBytes(`${field}.src`, -1, src, IPV6_ADDR_LEN);
  checkBytes(`${field}.dst`, -1, dst, IPV6_ADDR_LEN);
  checkUint(`${field}.next_header`, -1, nextHeader, 8);
  checkUint(`${field}.length`, -1, length, 32);
  const p = Buffer.alloc(IPV6_PSEUDO_HEADER_LEN);
  src.copy(p, 0);
  dst.copy(p, IPV6_ADDR_LEN);
  p.writeUInt32BE(length, 2 * IPV6_ADDR_LEN);
  p.writeUInt8(nextHeader, 2 * IPV6_ADDR_LEN + 7);
  return p;
}

/**
 * A copy of `message` with the 2-octet checksum field at `at` set to zero, ready to be summed
 * for the value that belongs there. The caller's buffer is left alone.
 */
export function withZeroChecksumField(message: Buffer, at: number, field = 'checksum'): Buffer {
  if (!Number.isInteger(at) || at < 0 || at + 2 > message.length) {
    throw new WireError(field, at, `no 2-octet checksum field at ${at} of a ${message.length}-octet message`, at);
  }
  const copy = Buffer.from(message);
  copy.writeUInt16BE(0, at);
  return copy;
}
