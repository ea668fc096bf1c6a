/**
 * Management datagrams (IBA vol. 1 ch. 13): the 24-octet common MAD header, the whole
 * 256-octet MAD, the 12-octet RMPP header that SA MADs carry, and the Status field.
 *
 * Common header, by octet:
 *   0 BaseVersion | 1 MgmtClass | 2 ClassVersion | 3 R(1 bit) + Method(7 bits)
 *   4-5 Status | 6-7 ClassSpecific | 8-15 TransactionID | 16-17 AttributeID
 *   18-19 reserved | 20-23 AttributeModifier
 * (checked against Linux include/rdma/ib_mad.h `struct ib_mad_hdr` and Wireshark
 * packet-infiniband.c `parse_MAD_Common`).
 *
 * BaseVersion says which MAD format follows (1 = the 256-octet IBA MAD; OPA uses 0x80 with
 * 2 KiB MADs), so encode and decode refuse anything but 1 (`mad.baseVersion`). Everything else,
 * the reserved octets included, is kept as found; `madHeaderProblems()` judges it.
 */
import { WireError } from '../errors.js';
import { type Codec, checkBytes, checkUint, copyBytes, need } from './codec.js';
import { MAD_BASE_VERSION, MAD_HEADER_LEN, MAD_LEN, MAD_METHOD_RESPONSE_BIT, RMPP_HEADER_LEN } from './constants.js';

export { MAD_BASE_VERSION, MAD_METHOD_RESPONSE_BIT, RMPP_HEADER_LEN } from './constants.js';
/** Octets after the common header: 256 - 24. */
export const MAD_DATA_LEN = MAD_LEN - MAD_HEADER_LEN;

// ---- helpers shared by the MAD-family codecs (mad, sa, mcmember-record, path-record, cm)

const U64_MAX = (1n << 64n) - 1n;

/** Throws a WireError unless `v` is a bigint in [0, 2^64). */
export function checkUint64(field: string, offset: number, v: bigint): void {
  if (typeof v !== 'bigint' || v < 0n || v > U64_MAX) {
    throw new WireError(field, offset, `${String(v)} is not an unsigned 64-bit bigint`, v);
  }
}

/** Throws a WireError unless `v` is a boolean (one-bit flags are booleans in these codecs). */
export function checkBoolean(field: string, offset: number, v: boolean): void {
  if (typeof v !== 'boolean') throw new WireError(field, offset, `${String(v)} is not a boolean`, v);
}

/**
 * Lists every field named `reserved…` (at any depth) that is not zero. Decoders keep reserved
 * bits as received; this is how a test says which ones a peer set.
 */
export function reservedProblems(name: string, value: object): string[] {
  const out: string[] = [];
  for (const [key, v] of Object.entries(value)) {
    const path = `${name}.${key}`;
    if (/^reserved\d*$/.test(key)) {
      const set =
        (typeof v === 'number' && v !== 0) ||
        (typeof v === 'bigint' && v !== 0n) ||
        (Buffer.isBuffer(v) && v.some((b) => b !== 0));
      if (set) {
        const shown = Buffer.isBuffer(v) ? v.toString('hex') : `0x${v.toString(16)}`;
        out.push(`${path} is ${shown}, reserved bits must be sent as zero`);
      }
    } else if (v !== null && typeof v === 'object' && !Buffer.isBuffer(v)) {
      out.push(...reservedProblems(path, v as object));
    }
  }
  return out;
}

// ---- common MAD header

export interface MadHeader {
  /** Always 1 (encode and decode refuse anything else). */
  baseVersion: number;
  mgmtClass: number;
  classVersion: number;
  /** The whole octet: R bit (0x80) plus the 7-bit method, as the MAD_METHOD_* constants are. */
  method: number;
  status: number;
  classSpecific: number;
  transactionId: bigint;
  attributeId: number;
  /** Octets 18-19. */
  reserved: number;
  attributeModifier: number;
}

export const madHeader: Codec<MadHeader> = {
  encodingLength: () => MAD_HEADER_LEN,
  encode(h, buf, offset) {
    if (h.baseVersion !== MAD_BASE_VERSION) {
      throw new WireError('mad.baseVersion', offset, `base version ${String(h.baseVersion)}, want 1`, h.baseVersion);
    }
    checkUint('mad.mgmtClass', offset + 1, h.mgmtClass, 8);
    checkUint('mad.classVersion', offset + 2, h.classVersion, 8);
    checkUint('mad.method', offset + 3, h.method, 8);
    checkUint('mad.status', offset + 4, h.status, 16);
    checkUint('mad.classSpecific', offset + 6, h.classSpecific, 16);
    checkUint64('mad.transactionId', offset + 8, h.transactionId);
    checkUint('mad.attributeId', offset + 16, h.attributeId, 16);
    checkUint('mad.reserved', offset + 18, h.reserved, 16);
    checkUint('mad.attributeModifier', offset + 20, h.attributeModifier, 32);
    need(buf, offset, MAD_HEADER_LEN, 'mad.header');
    buf.writeUInt8(h.baseVersion, offset);
    buf.writeUInt8(h.mgmtClass, offset + 1);
    buf.writeUInt8(h.classVersion, offset + 2);
    buf.writeUInt8(h.method, offset + 3);
    buf.writeUInt16BE(h.status, offset + 4);
    buf.writeUInt16BE(h.classSpecific, offset + 6);
    buf.writeBigUInt64BE(h.transactionId, offset + 8);
    buf.writeUInt16BE(h.attributeId, offset + 16);
    buf.writeUInt16BE(h.reserved, offset + 18);
    buf.writeUInt32BE(h.attributeModifier, offset + 20);
    return MAD_HEADER_LEN;
  },
  decode(buf, offset) {
    need(buf, offset, MAD_HEADER_LEN, 'mad.header');
    const baseVersion = buf.readUInt8(offset);
    if (baseVersion !== MAD_BASE_VERSION) {
      throw new WireError('mad.baseVersion', offset, `base version ${baseVersion}, want 1`, baseVersion);
    }
    return {
      value: {
        baseVersion,
        mgmtClass: buf.readUInt8(offset + 1),
        classVersion: buf.readUInt8(offset + 2),
        method: buf.readUInt8(offset + 3),
        status: buf.readUInt16BE(offset + 4),
        classSpecific: buf.readUInt16BE(offset + 6),
        transactionId: buf.readBigUInt64BE(offset + 8),
        attributeId: buf.readUInt16BE(offset + 16),
        reserved: buf.readUInt16BE(offset + 18),
        attributeModifier: buf.readUInt32BE(offset + 20),
      },
      bytes: MAD_HEADER_LEN,
    };
  },
};

/** True for a response method (R bit set). */
export function madIsResponse(method: number): boolean {
  return (method & MAD_METHOD_RESPONSE_BIT) !== 0;
}

/**
 * What a test should flag in a received header: a base version other than 1 cannot get here
 * (decode refuses it), so this covers the reserved octets and reserved Status bits, plus an
 * optional expected class and class version.
 */
export function madHeaderProblems(h: MadHeader, expect: { mgmtClass?: number; classVersion?: number } = {}): string[] {
  const out = reservedProblems('mad', h);
  if (expect.mgmtClass !== undefined && h.mgmtClass !== expect.mgmtClass) {
    out.push(`mad.mgmtClass is 0x${h.mgmtClass.toString(16)}, want 0x${expect.mgmtClass.toString(16)}`);
  }
  if (expect.classVersion !== undefined && h.classVersion !== expect.classVersion) {
    out.push(`mad.classVersion is ${h.classVersion}, want ${expect.classVersion}`);
  }
  const { reserved } = splitMadStatus(h.status);
  if (reserved !== 0) out.push(`mad.status has reserved bits 5..7 set (0x${h.status.toString(16)})`);
  return out;
}

// ---- the whole 256-octet MAD

export interface Mad {
  header: MadHeader;
  /** The 232 octets after the common header, class-specific. */
  data: Buffer;
}

/** Reads 256 octets at `offset` (trailing bytes are the caller's business; see `parseMad`). */
export const mad: Codec<Mad> = {
  encodingLength: () => MAD_LEN,
  encode(m, buf, offset) {
    checkBytes('mad.data', offset + MAD_HEADER_LEN, m.data, MAD_DATA_LEN);
    need(buf, offset, MAD_LEN, 'mad.length');
    madHeader.encode(m.header, buf, offset);
    m.data.copy(buf, offset + MAD_HEADER_LEN);
    return MAD_LEN;
  },
  decode(buf, offset) {
    need(buf, offset, MAD_LEN, 'mad.length');
    const header = madHeader.decode(buf, offset).value;
    return { value: { header, data: copyBytes(buf, offset + MAD_HEADER_LEN, offset + MAD_LEN) }, bytes: MAD_LEN };
  },
};

/** Throws `mad.length` unless `buf` is exactly one MAD: a MAD is 256 octets, never more or less. */
export function checkMadLength(buf: Buffer): void {
  if (buf.length !== MAD_LEN) {
    throw new WireError('mad.length', 0, `a MAD is ${MAD_LEN} octets, got ${buf.length}`, buf.length);
  }
}

/** Decodes a buffer that must be exactly one 256-octet MAD (`mad.length` otherwise). */
export function parseMad(buf: Buffer): Mad {
  checkMadLength(buf);
  return mad.decode(buf, 0).value;
}

// ---- Status field (IBA ch. 13)
// Bit 0 busy, bit 1 redirect required, bits 2..4 an "invalid field" code, bits 5..7 reserved,
// bits 8..15 class specific. Values checked against Linux ib_mad.h IB_MGMT_MAD_STATUS_* and
// OpenSM ib_types.h IB_MAD_STATUS_*.

export const MAD_STATUS_BUSY = 0x0001;
export const MAD_STATUS_REDIRECT = 0x0002;
/** Codes of the 3-bit invalid-field subfield (bits 2..4). */
export const MAD_INVALID_FIELD_NONE = 0;
export const MAD_INVALID_FIELD_BAD_VERSION = 1;
export const MAD_INVALID_FIELD_METHOD_UNSUPPORTED = 2;
export const MAD_INVALID_FIELD_METHOD_ATTRIBUTE_UNSUPPORTED = 3;
export const MAD_INVALID_FIELD_INVALID_VALUE = 7;
/** The same codes already shifted into place: 0x0004, 0x0008, 0x000c, 0x001c. */
export const MAD_STATUS_BAD_VERSION = MAD_INVALID_FIELD_BAD_VERSION << 2;
export const MAD_STATUS_METHOD_UNSUPPORTED = MAD_INVALID_FIELD_METHOD_UNSUPPORTED << 2;
export const MAD_STATUS_METHOD_ATTRIBUTE_UNSUPPORTED = MAD_INVALID_FIELD_METHOD_ATTRIBUTE_UNSUPPORTED << 2;
export const MAD_STATUS_INVALID_FIELD = MAD_INVALID_FIELD_INVALID_VALUE << 2;

export interface MadStatusParts {
  busy: boolean;
  redirect: boolean;
  /** 0..7, one of MAD_INVALID_FIELD_*. */
  invalidField: number;
  /** Bits 5..7 (0..7). */
  reserved: number;
  /** Bits 8..15 (0..255); for SA, the low 7 bits are the SA error code. */
  classCode: number;
}

export function splitMadStatus(status: number): MadStatusParts {
  checkUint('mad.status', -1, status, 16);
  return {
    busy: (status & MAD_STATUS_BUSY) !== 0,
    redirect: (status & MAD_STATUS_REDIRECT) !== 0,
    invalidField: (status >> 2) & 0x7,
    reserved: (status >> 5) & 0x7,
    classCode: status >> 8,
  };
}

export function joinMadStatus(p: Partial<MadStatusParts>): number {
  const invalidField = p.invalidField ?? 0;
  const reserved = p.reserved ?? 0;
  const classCode = p.classCode ?? 0;
  checkUint('mad.status.invalidField', -1, invalidField, 3);
  checkUint('mad.status.reserved', -1, reserved, 3);
  checkUint('mad.status.classCode', -1, classCode, 8);
  const flags = (p.busy ? MAD_STATUS_BUSY : 0) | (p.redirect ? MAD_STATUS_REDIRECT : 0);
  return flags | (invalidField << 2) | (reserved << 5) | (classCode << 8);
}

// SA error codes in Status bits 8..14. Values checked against OpenSM's
// ib_types.h IB_SA_MAD_STATUS_* (NO_RESOURCES 0x0100 … INSUF_COMPS 0x0600, DENIED 0x0700,
// PRIO_SUGGESTED 0x0800) and OpenSM's SA code, which answers a join lacking components with
// INSUF_COMPS and a bad MGID or rate with REQ_INVALID.
export const SA_ERR_NO_RESOURCES = 1;
export const SA_ERR_REQ_INVALID = 2;
export const SA_ERR_NO_RECORDS = 3;
export const SA_ERR_TOO_MANY_RECORDS = 4;
export const SA_ERR_REQ_INVALID_GID = 5;
export const SA_ERR_REQ_INSUFFICIENT_COMPONENTS = 6;
/** OpenSM: IB_SA_MAD_STATUS_DENIED. */
export const SA_ERR_REQ_DENIED = 7;
/** OpenSM: IB_SA_MAD_STATUS_PRIO_SUGGESTED. */
export const SA_ERR_PRIORITY_SUGGESTED = 8;

export const SA_ERR_NAMES: Readonly<Record<number, string>> = {
  [SA_ERR_NO_RESOURCES]: 'ERR_NO_RESOURCES',
  [SA_ERR_REQ_INVALID]: 'ERR_REQ_INVALID',
  [SA_ERR_NO_RECORDS]: 'ERR_NO_RECORDS',
  [SA_ERR_TOO_MANY_RECORDS]: 'ERR_TOO_MANY_RECORDS',
  [SA_ERR_REQ_INVALID_GID]: 'ERR_REQ_INVALID_GID',
  [SA_ERR_REQ_INSUFFICIENT_COMPONENTS]: 'ERR_REQ_INSUFFICIENT_COMPONENTS',
  [SA_ERR_REQ_DENIED]: 'ERR_REQ_DENIED',
  [SA_ERR_PRIORITY_SUGGESTED]: 'ERR_PRIORITY_SUGGESTED',
};

/** The SA error code (bits 8..14) of a Status value. */
export function saErrorCode(status: number): number {
  checkUint('mad.status', -1, status, 16);
  return (status >> 8) & 0x7f;
}

/** A Status value carrying SA error `code` and nothing else (e.g. 3 -> 0x0300). */
export function saErrorStatus(code: number): number {
  checkUint('mad.status.saError', -1, code, 7);
  return code << 8;
}

// ---- RMPP header (IBA ch. 13), octets 24..35 of every MAD of an RMPP-capable class (SA)
// 24 RMPPVersion | 25 RMPPType | 26 RRespTime(5 bits) + RMPPFlags(3 bits) | 27 RMPPStatus
// 28-31 Data1 (SegmentNumber) | 32-35 Data2 (PayloadLength / NewWindowLast)
// Checked against Linux ib_mad.h `struct ib_rmpp_hdr` and ib_get_rmpp_resptime()/flags().

export const RMPP_VERSION = 1;
export const RMPP_TYPE_DATA = 1;
export const RMPP_TYPE_ACK = 2;
export const RMPP_TYPE_STOP = 3;
export const RMPP_TYPE_ABORT = 4;
export const RMPP_FLAG_ACTIVE = 0x1;
export const RMPP_FLAG_FIRST = 0x2;
export const RMPP_FLAG_LAST = 0x4;

export interface RmppHeader {
  version: number;
  type: number;
  /** RRespTime, 5 bits. */
  responseTime: number;
  /** RMPPFlags, 3 bits (RMPP_FLAG_*). */
  flags: number;
  status: number;
  /** SegmentNumber for DATA/ACK. */
  data1: number;
  /** PayloadLength (DATA) or NewWindowLast (ACK). */
  data2: number;
}

/** An all-zero RMPP header: what a MAD that does not use RMPP carries. */
export const RMPP_INACTIVE: Readonly<RmppHeader> = Object.freeze({
  version: 0,
  type: 0,
  responseTime: 0,
  flags: 0,
  status: 0,
  data1: 0,
  data2: 0,
});

export const rmppHeader: Codec<RmppHeader> = {
  encodingLength: () => RMPP_HEADER_LEN,
  encode(r, buf, offset) {
    checkUint('rmpp.version', offset, r.version, 8);
    checkUint('rmpp.type', offset + 1, r.type, 8);
    checkUint('rmpp.responseTime', offset + 2, r.responseTime, 5);
    checkUint('rmpp.flags', offset + 2, r.flags, 3);
    checkUint('rmpp.status', offset + 3, r.status, 8);
    checkUint('rmpp.data1', offset + 4, r.data1, 32);
    checkUint('rmpp.data2', offset + 8, r.data2, 32);
    need(buf, offset, RMPP_HEADER_LEN, 'rmpp');
    buf.writeUInt8(r.version, offset);
    buf.writeUInt8(r.type, offset + 1);
    buf.writeUInt8((r.responseTime << 3) | r.flags, offset + 2);
    buf.writeUInt8(r.status, offset + 3);
    buf.writeUInt32BE(r.data1, offset + 4);
    buf.writeUInt32BE(r.data2, offset + 8);
    return RMPP_HEADER_LEN;
  },
  decode(buf, offset) {
    need(buf, offset, RMPP_HEADER_LEN, 'rmpp');
    const timeFlags = buf.readUInt8(offset + 2);
    return {
      value: {
        version: buf.readUInt8(offset),
        type: buf.readUInt8(offset + 1),
        responseTime: timeFlags >> 3,
        flags: timeFlags & 0x7,
        status: buf.readUInt8(offset + 3),
        data1: buf.readUInt32BE(offset + 4),
        data2: buf.readUInt32BE(offset + 8),
      },
      bytes: RMPP_HEADER_LEN,
    };
  },
};
