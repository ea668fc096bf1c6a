/**
 * The IPv6 fixed header (RFC 8200 §3) and whole IPv6 packets, as IPoIB carries them
 * (EtherType 0x86dd):
 *
 *   octets 0-3   version(4) = 6 | traffic class(8) | flow label(20)
 *   octets 4-5   payload length: octets after this 40-octet header (extension headers included)
 *   octet 6      next header
 *   octet 7      hop limit
 *   octets 8-23  source, 24-39 destination
 *
 * Version is not a field of the value: decode refuses anything but 6 (`ipv6.version`). The
 * extension headers, if any, are part of the payload; `nextHeader` says what comes first.
 *
 * `ipv6Header` reads the 40 octets alone, without comparing the payload length with the
 * buffer, because a header quoted in an ICMPv6 error describes a packet that is not all
 * there. `ipv6Packet` reads header and payload and does compare them (`ipv6.payload_length`).
 * Jumbograms (payload length 0 with a Jumbo Payload option, RFC 2675) are not supported: no
 * IPoIB MTU needs them, so a payload length of 0 means an empty payload.
 */
import { WireError } from '../errors.js';
import { type Codec, checkBytes, checkUint, copyBytes, need } from './codec.js';
import { IPV6_ADDR_LEN } from './ip-text.js';

export { IPV6_MIN_MTU } from './constants.js';

const IP_VERSION_6 = 6;
export const IPV6_HEADER_LEN = 40;
const MAX_PAYLOAD_LEN = 0xffff;

export interface Ipv6Header {
  /** 8 bits: DSCP(6) | ECN(2). */
  trafficClass: number;
  /** 20 bits. */
  flowLabel: number;
  /** Octets after the fixed header, as received. */
  payloadLength: number;
  nextHeader: number;
  hopLimit: number;
  /** 16-octet addresses. */
  src: Buffer;
  dst: Buffer;
}

export interface Ipv6Packet {
  header: Ipv6Header;
  /** The `payloadLength` octets after the header. */
  payload: Buffer;
}

export const ipv6Header: Codec<Ipv6Header> = {
  encodingLength: () => IPV6_HEADER_LEN,
  encode(h, buf, offset) {
    checkUint('ipv6.traffic_class', offset, h.trafficClass, 8);
    checkUint('ipv6.flow_label', offset + 1, h.flowLabel, 20);
    checkUint('ipv6.payload_length', offset + 4, h.payloadLength, 16);
    checkUint('ipv6.next_header', offset + 6, h.nextHeader, 8);
    checkUint('ipv6.hop_limit', offset + 7, h.hopLimit, 8);
    checkBytes('ipv6.src', offset + 8, h.src, IPV6_ADDR_LEN);
    checkBytes('ipv6.dst', offset + 24, h.dst, IPV6_ADDR_LEN);
    need(buf, offset, IPV6_HEADER_LEN, 'ipv6');
    // >>> 0: version 6 in the top nibble sets bit 31, which would make the number negative.
    buf.writeUInt32BE(((IP_VERSION_6 << 28) | (h.trafficClass << 20) | h.flowLabel) >>> 0, offset);
    buf.writeUInt16BE(h.payloadLength, offset + 4);
    buf.writeUInt8(h.nextHeader, offset + 6);
    buf.writeUInt8(h.hopLimit, offset + 7);
    h.src.copy(buf, offset + 8);
    h.dst.copy(buf, offset + 24);
    return IPV6_HEADER_LEN;
  },
  decode(buf, offset) {
    need(buf, offset, IPV6_HEADER_LEN, 'ipv6');
    const word = buf.readUInt32BE(offset);
    const version = word >>> 28;
    if (version !== IP_VERSION_6) {
      throw new WireError('ipv6.version', offset, `version ${version}, want ${IP_VERSION_6}`, version);
    }
    return {
      value: {
        trafficClass: (word >>> 20) & 0xff,
        flowLabel: word & 0xfffff,
        payloadLength: buf.readUInt16BE(offset + 4),
        nextHeader: buf.readUInt8(offset + 6),
        hopLimit: buf.readUInt8(offset + 7),
        src: copyBytes(buf, offset + 8, offset + 24),
        dst: copyBytes(buf, offset + 24, offset + 40),
      },
      bytes: IPV6_HEADER_LEN,
    };
  },
};

/**
 * Header and payload. Encode requires `payloadLength` to match the payload; to send a packet
 * whose length lies, encode the header with `ipv6Header` and append what you like. Decode
 * reads exactly 40 + `payloadLength` octets and leaves anything after them unread.
 */
export const ipv6Packet: Codec<Ipv6Packet> = {
  // A payload that is not a Buffer counts 0 here, so that encode can report it as a WireError.
  encodingLength: (p) => IPV6_HEADER_LEN + (Buffer.isBuffer(p.payload) ? p.payload.length : 0),
  encode(p, buf, offset) {
    if (!Buffer.isBuffer(p.payload)) {
      const why = `want a Buffer, got ${typeof p.payload}`;
      throw new WireError('ipv6.payload', offset + IPV6_HEADER_LEN, why, p.payload);
    }
    if (p.header.payloadLength !== p.payload.length) {
      throw new WireError(
        'ipv6.payload_length',
        offset + 4,
        `payload length ${String(p.header.payloadLength)}, but the payload has ${p.payload.length} octets`,
        p.header.payloadLength,
      );
    }
    const len = IPV6_HEADER_LEN + p.payload.length;
    need(buf, offset, len, 'ipv6');
    ipv6Header.encode(p.header, buf, offset);
    p.payload.copy(buf, offset + IPV6_HEADER_LEN);
    return len;
  },
  decode(buf, offset) {
    const { value: header } = ipv6Header.decode(buf, offset);
    const end = offset + IPV6_HEADER_LEN + header.payloadLength;
    if (end > buf.length) {
      const have = buf.length - offset - IPV6_HEADER_LEN;
      throw new WireError(
        'ipv6.payload_length',
        offset + 4,
        `payload length ${header.payloadLength}, but only ${have} octets follow the header`,
        header.payloadLength,
      );
    }
    return { value: { header, payload: copyBytes(buf, offset + IPV6_HEADER_LEN, end) }, bytes: end - offset };
  },
};

/** What `makeIpv6Packet` needs; every field it can default is optional. */
export interface Ipv6PacketInit {
  src: Buffer;
  dst: Buffer;
  nextHeader: number;
  payload: Buffer;
  /** Default 0. */
  trafficClass?: number;
  /** Default 0. */
  flowLabel?: number;
  /** Default 64. */
  hopLimit?: number;
}

/** A packet with the payload length filled in; every field is checked as encode would. */
export function makeIpv6Packet(init: Ipv6PacketInit): Ipv6Packet {
  if (!Buffer.isBuffer(init.payload)) {
    throw new WireError('ipv6.payload', -1, `want a Buffer, got ${typeof init.payload}`, init.payload);
  }
  if (init.payload.length > MAX_PAYLOAD_LEN) {
    throw new WireError(
      'ipv6.payload_length',
      -1,
      `a ${init.payload.length}-octet payload needs a jumbogram, which this codec does not build`,
      init.payload.length,
    );
  }
  const header: Ipv6Header = {
    trafficClass: init.trafficClass ?? 0,
    flowLabel: init.flowLabel ?? 0,
    payloadLength: init.payload.length,
    nextHeader: init.nextHeader,
    hopLimit: init.hopLimit ?? 64,
    src: init.src,
    dst: init.dst,
  };
  ipv6Header.encode(header, Buffer.alloc(IPV6_HEADER_LEN), 0); // validates every field now, not at send time
  return { header, payload: init.payload };
}
