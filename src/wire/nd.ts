/**
 * IPv6 Neighbor Discovery over IPoIB: the four messages RFC 4861 defines for hosts (RS, RA,
 * NS, NA) and their options, with the IPoIB link-layer address option of RFC 4391 §9.3:
 * type (1 source / 2 target) | length 3 (x 8 octets) | 2 pad octets | 20-octet address.
 *
 * The codecs work on the ICMPv6 message alone. Its checksum covers an IPv6 pseudo-header the
 * message does not contain, so it is kept exactly as decoded; `icmpv6Checksum()` (from
 * icmp.ts, re-exported here) computes it and `withIcmpv6Checksum()` fills it in.
 *
 * A type 1/2 option whose length is not 3 decodes as a *raw* option rather than an error:
 * probes (and misbehaving peers) send Ethernet-sized or otherwise odd lladdr options, and the
 * suite must be able to decode the rest of such a message to judge it. RFC 4861 makes only a
 * zero length fatal, so only that (and an option running past the end) is a WireError here.
 * `ndProblems()` reports the wrong length, non-zero padding and other sender mistakes.
 */
import { WireError } from '../errors.js';
import { type Codec, checkBytes, checkUint, copyBytes, need } from './codec.js';
import {
  GID_LEN,
  ICMPV6_NA,
  ICMPV6_NS,
  ICMPV6_RA,
  ICMPV6_RS,
  IPOIB_FLAGS_RESERVED_MASK,
  ND_OPT_IPOIB_LEN_UNITS,
  ND_OPT_SOURCE_LLADDR,
  ND_OPT_TARGET_LLADDR,
} from './constants.js';
import { icmpv6Checksum } from './icmp.js';
import { type IpoibHwAddr, ipoibHwAddrCodec } from './ipoib-hwaddr.js';

// ---- options ------------------------------------------------------------------------------

const OPT_UNIT = 8;
const OPT_HEADER_LEN = 2;

/** An IPoIB source/target link-layer address option of the right size (length 3). */
export interface NdLladdrOption {
  kind: 'lladdr';
  /** 1 = source, 2 = target. */
  type: number;
  /** The two octets before the address; sent as zero, kept as found. */
  pad: number;
  address: IpoibHwAddr;
}

/**
 * Any other option, kept whole. A raw option of type 1 or 2 is an lladdr option of the wrong
 * size (e.g. an Ethernet one, length 1).
 */
export interface NdRawOption {
  kind: 'raw';
  type: number;
  /** In units of 8 octets, 1..255. */
  length: number;
  /** The `length * 8 - 2` octets after type and length. */
  data: Buffer;
}

export type NdOption = NdLladdrOption | NdRawOption;

const LLADDR_OPT_LEN = ND_OPT_IPOIB_LEN_UNITS * OPT_UNIT;
const optAddress = ipoibHwAddrCodec('nd.option.address');

const isLladdrType = (t: number): boolean => t === ND_OPT_SOURCE_LLADDR || t === ND_OPT_TARGET_LLADDR;

export const ndOption: Codec<NdOption> = {
  encodingLength: (opt) => (opt.kind === 'lladdr' ? LLADDR_OPT_LEN : opt.length * OPT_UNIT),
  encode(opt, buf, offset) {
    if (opt.kind === 'lladdr') {
      if (!isLladdrType(opt.type)) {
        throw new WireError('nd.option.type', offset, `lladdr option type ${String(opt.type)}, want 1 or 2`, opt.type);
      }
      checkUint('nd.option.pad', offset + 2, opt.pad, 16);
      need(buf, offset, LLADDR_OPT_LEN, 'nd.option');
      optAddress.encode(opt.address, buf, offset + 4);
      buf.writeUInt8(opt.type, offset);
      buf.writeUInt8(ND_OPT_IPOIB_LEN_UNITS, offset + 1);
      buf.writeUInt16BE(opt.pad, offset + 2);
      return LLADDR_OPT_LEN;
    }
    checkUint('nd.option.type', offset, opt.type, 8);
    checkUint('nd.option.length', offset + 1, opt.length, 8);
    if (opt.length === 0) throw new WireError('nd.option.length', offset + 1, 'length 0 is never valid', 0);
    const len = opt.length * OPT_UNIT;
    checkBytes('nd.option.data', offset + OPT_HEADER_LEN, opt.data, len - OPT_HEADER_LEN);
    need(buf, offset, len, 'nd.option');
    buf.writeUInt8(opt.type, offset);
    buf.writeUInt8(opt.length, offset + 1);
    opt.data.copy(buf, offset + OPT_HEADER_LEN);
    return len;
  },
  decode(buf, offset) {
    need(buf, offset, OPT_HEADER_LEN, 'nd.option');
    const type = buf.readUInt8(offset);
    const length = buf.readUInt8(offset + 1);
    if (length === 0) throw new WireError('nd.option.length', offset + 1, 'length 0 is never valid', 0);
    const len = length * OPT_UNIT;
    need(buf, offset, len, 'nd.option.length');
    if (isLladdrType(type) && length === ND_OPT_IPOIB_LEN_UNITS) {
      const address = optAddress.decode(buf, offset + 4).value;
      return { value: { kind: 'lladdr', type, pad: buf.readUInt16BE(offset + 2), address }, bytes: len };
    }
    return {
      value: { kind: 'raw', type, length, data: copyBytes(buf, offset + OPT_HEADER_LEN, offset + len) },
      bytes: len,
    };
  },
};

// ---- messages -----------------------------------------------------------------------------

interface NdCommon {
  code: number;
  /** As found on the wire (or 0 before `withIcmpv6Checksum`). */
  checksum: number;
  options: NdOption[];
}

export interface NdRouterSolicitation extends NdCommon {
  type: typeof ICMPV6_RS;
  reserved: number;
}

export interface NdRouterAdvertisement extends NdCommon {
  type: typeof ICMPV6_RA;
  curHopLimit: number;
  /** M flag (0x80). */
  managed: boolean;
  /** O flag (0x40). */
  other: boolean;
  /** The low six bits of the flags octet, kept as found (later RFCs gave some of them meaning). */
  flagsReserved: number;
  /** Seconds. */
  routerLifetime: number;
  /** Milliseconds. */
  reachableTime: number;
  /** Milliseconds. */
  retransTimer: number;
}

export interface NdNeighborSolicitation extends NdCommon {
  type: typeof ICMPV6_NS;
  reserved: number;
  /** 16-octet IPv6 address. */
  target: Buffer;
}

export interface NdNeighborAdvertisement extends NdCommon {
  type: typeof ICMPV6_NA;
  /** R flag (0x80 of the first octet after the checksum). */
  router: boolean;
  /** S flag (0x40). */
  solicited: boolean;
  /** O flag (0x20). */
  override: boolean;
  /** The 29 bits after the flags. */
  reserved: number;
  target: Buffer;
}

export type NdMessage = NdRouterSolicitation | NdRouterAdvertisement | NdNeighborSolicitation | NdNeighborAdvertisement;

const ICMP_HEADER_LEN = 4;
/** Octets before the options, per message type. */
const FIXED_LEN: Readonly<Record<number, number>> = {
  [ICMPV6_RS]: 8,
  [ICMPV6_RA]: 16,
  [ICMPV6_NS]: 24,
  [ICMPV6_NA]: 24,
};

export const ND_MESSAGE_NAMES: Readonly<Record<number, string>> = {
  [ICMPV6_RS]: 'router solicitation',
  [ICMPV6_RA]: 'router advertisement',
  [ICMPV6_NS]: 'neighbor solicitation',
  [ICMPV6_NA]: 'neighbor advertisement',
};

const NA_R = 0x80000000;
const NA_S = 0x40000000;
const NA_O = 0x20000000;
const NA_RESERVED_MASK = 0x1fffffff;
const RA_M = 0x80;
const RA_O = 0x40;
const RA_RESERVED_MASK = 0x3f;

function fixedLenOf(type: number, offset: number): number {
  const len = FIXED_LEN[type];
  if (len === undefined) {
    throw new WireError('nd.type', offset, `ICMPv6 type ${String(type)} is not RS, RA, NS or NA (133..136)`, type);
  }
  return len;
}

/** Writes the part between the ICMPv6 header and the options. */
function encodeBody(m: NdMessage, buf: Buffer, o: number): void {
  switch (m.type) {
    case ICMPV6_RS:
      buf.writeUInt32BE(m.reserved, o);
      return;
    case ICMPV6_RA:
      buf.writeUInt8(m.curHopLimit, o);
      buf.writeUInt8((m.managed ? RA_M : 0) | (m.other ? RA_O : 0) | m.flagsReserved, o + 1);
      buf.writeUInt16BE(m.routerLifetime, o + 2);
      buf.writeUInt32BE(m.reachableTime, o + 4);
      buf.writeUInt32BE(m.retransTimer, o + 8);
      return;
    case ICMPV6_NS:
      buf.writeUInt32BE(m.reserved, o);
      m.target.copy(buf, o + 4);
      return;
    case ICMPV6_NA:
      buf.writeUInt32BE(
        ((m.router ? NA_R : 0) | (m.solicited ? NA_S : 0) | (m.override ? NA_O : 0) | m.reserved) >>> 0,
        o,
      );
      m.target.copy(buf, o + 4);
      return;
  }
}

/** Validates every field of the part between the ICMPv6 header and the options. */
function checkBody(m: NdMessage, o: number): void {
  switch (m.type) {
    case ICMPV6_RS:
      checkUint('nd.reserved', o, m.reserved, 32);
      return;
    case ICMPV6_RA:
      checkUint('nd.curHopLimit', o, m.curHopLimit, 8);
      checkUint('nd.flagsReserved', o + 1, m.flagsReserved, 6);
      checkUint('nd.routerLifetime', o + 2, m.routerLifetime, 16);
      checkUint('nd.reachableTime', o + 4, m.reachableTime, 32);
      checkUint('nd.retransTimer', o + 8, m.retransTimer, 32);
      return;
    case ICMPV6_NS:
      checkUint('nd.reserved', o, m.reserved, 32);
      checkBytes('nd.target', o + 4, m.target, GID_LEN);
      return;
    case ICMPV6_NA:
      checkUint('nd.reserved', o, m.reserved, 29);
      checkBytes('nd.target', o + 4, m.target, GID_LEN);
      return;
  }
}

function decodeBody(buf: Buffer, o: number, type: number, common: NdCommon): NdMessage {
  switch (type) {
    case ICMPV6_RS:
      return { type: ICMPV6_RS, ...common, reserved: buf.readUInt32BE(o) };
    case ICMPV6_RA: {
      const flags = buf.readUInt8(o + 1);
      return {
        type: ICMPV6_RA,
        ...common,
        curHopLimit: buf.readUInt8(o),
        managed: (flags & RA_M) !== 0,
        other: (flags & RA_O) !== 0,
        flagsReserved: flags & RA_RESERVED_MASK,
        routerLifetime: buf.readUInt16BE(o + 2),
        reachableTime: buf.readUInt32BE(o + 4),
        retransTimer: buf.readUInt32BE(o + 8),
      };
    }
    case ICMPV6_NS:
      return { type: ICMPV6_NS, ...common, reserved: buf.readUInt32BE(o), target: copyBytes(buf, o + 4, o + 20) };
    default: {
      const word = buf.readUInt32BE(o);
      return {
        type: ICMPV6_NA,
        ...common,
        router: (word & NA_R) !== 0,
        solicited: (word & NA_S) !== 0,
        override: (word & NA_O) !== 0,
        reserved: word & NA_RESERVED_MASK,
        target: copyBytes(buf, o + 4, o + 20),
      };
    }
  }
}

/**
 * RS, RA, NS or NA, chosen by `type`. ICMPv6 has no length field of its own (the IPv6 payload
 * length says where it ends), so decode reads options up to the end of `buf`: pass exactly the
 * ICMPv6 message. Any other ICMPv6 type is a WireError (`nd.type`).
 */
export const ndMessage: Codec<NdMessage> = {
  encodingLength: (m) => fixedLenOf(m.type, -1) + m.options.reduce((n, opt) => n + ndOption.encodingLength(opt), 0),
  encode(m, buf, offset) {
    const fixed = fixedLenOf(m.type, offset);
    checkUint('nd.code', offset + 1, m.code, 8);
    checkUint('nd.checksum', offset + 2, m.checksum, 16);
    checkBody(m, offset + ICMP_HEADER_LEN);
    need(buf, offset, fixed, 'nd');
    buf.writeUInt8(m.type, offset);
    buf.writeUInt8(m.code, offset + 1);
    buf.writeUInt16BE(m.checksum, offset + 2);
    encodeBody(m, buf, offset + ICMP_HEADER_LEN);
    let o = offset + fixed;
    for (const opt of m.options) o += ndOption.encode(opt, buf, o);
    return o - offset;
  },
  decode(buf, offset) {
    need(buf, offset, ICMP_HEADER_LEN, 'nd');
    const type = buf.readUInt8(offset);
    const fixed = fixedLenOf(type, offset);
    need(buf, offset, fixed, 'nd');
    const options: NdOption[] = [];
    let o = offset + fixed;
    while (o < buf.length) {
      const { value, bytes } = ndOption.decode(buf, o);
      options.push(value);
      o += bytes;
    }
    const common: NdCommon = { code: buf.readUInt8(offset + 1), checksum: buf.readUInt16BE(offset + 2), options };
    return { value: decodeBody(buf, offset + ICMP_HEADER_LEN, type, common), bytes: o - offset };
  },
};

// ---- checksum -----------------------------------------------------------------------------

/**
 * The ICMPv6 checksum (pseudo-header included), which lives in icmp.ts with the other ICMPv6
 * messages; re-exported because ND callers reach for it here.
 */
export { icmpv6Checksum };

/** A copy of `m` whose checksum is right for a message from `src` to `dst`. */
export function withIcmpv6Checksum<M extends NdMessage>(m: M, src: Buffer, dst: Buffer): M {
  const zeroed = { ...m, checksum: 0 };
  const bytes = Buffer.alloc(ndMessage.encodingLength(zeroed));
  ndMessage.encode(zeroed, bytes, 0);
  return { ...m, checksum: icmpv6Checksum(src, dst, bytes) };
}

// ---- judging ------------------------------------------------------------------------------

const hex = (v: number, digits: number): string => `0x${v.toString(16).padStart(digits, '0')}`;

/** The lladdr option type a message of this type should carry (RFC 4861 §4.1-4.4). */
const EXPECTED_LLADDR: Readonly<Record<number, number>> = {
  [ICMPV6_RS]: ND_OPT_SOURCE_LLADDR,
  [ICMPV6_RA]: ND_OPT_SOURCE_LLADDR,
  [ICMPV6_NS]: ND_OPT_SOURCE_LLADDR,
  [ICMPV6_NA]: ND_OPT_TARGET_LLADDR,
};

/**
 * What a sender got wrong in an ND message over IPoIB, one readable line each (empty when
 * nothing): a non-zero code or reserved field, IPoIB lladdr options of the wrong length, with
 * non-zero padding or reserved address flags, and lladdr options of the wrong kind for the
 * message. The checksum needs the IPv6 addresses; check it with `icmpv6Checksum`.
 */
export function ndProblems(m: NdMessage): string[] {
  const problems: string[] = [];
  if (m.code !== 0) problems.push(`code ${m.code}, want 0`);
  if (m.type !== ICMPV6_RA && m.reserved !== 0) problems.push(`reserved ${hex(m.reserved, 8)}, want 0`);
  const name = ND_MESSAGE_NAMES[m.type] ?? `type ${m.type}`;
  m.options.forEach((opt, i) => {
    const where = `option ${i} (type ${opt.type})`;
    if (opt.kind === 'raw') {
      if (isLladdrType(opt.type)) {
        problems.push(`${where}: IPoIB lladdr option length ${opt.length}, want ${ND_OPT_IPOIB_LEN_UNITS}`);
      }
      return;
    }
    if (opt.pad !== 0) problems.push(`${where}: IPoIB lladdr option padding ${hex(opt.pad, 4)}, want 0`);
    const reserved = opt.address.flags & IPOIB_FLAGS_RESERVED_MASK;
    if (reserved !== 0) problems.push(`${where}: address reserved flag bits ${hex(reserved, 2)} set, want 0`);
    if (opt.type !== EXPECTED_LLADDR[m.type]) {
      const kind = opt.type === ND_OPT_SOURCE_LLADDR ? 'source' : 'target';
      problems.push(`${where}: ${kind} lladdr option in a ${name}`);
    }
  });
  return problems;
}
