/**
 * Subnet Administration MADs (IBA vol. 1 ch. 15, management class 0x03).
 *
 * An SA MAD is: common MAD header (24) | RMPP header (12) | SA header (20) | record data (200).
 * The SA header therefore starts at octet 36, not right after the MAD header: SA is an
 * RMPP class and every SA MAD carries the RMPP header, all zero when RMPP is not in use.
 * (Checked against Linux ib_mad.h `struct ib_sa_mad` = mad_hdr + rmpp_hdr + sa_hdr + data[200],
 * IB_MGMT_SA_HDR = 56, IB_MGMT_SA_DATA = 200.)
 *
 * SA header, by octet: 0-7 SM_Key | 8-9 AttributeOffset (in 8-octet units) | 10-11 reserved |
 * 12-19 ComponentMask.
 *
 * `saMad` refuses a MgmtClass other than 0x03 (`mad.mgmtClass`): this layout only holds for SA.
 * ClassVersion, the RMPP header and the reserved octets are kept as found; `saMadProblems()`
 * judges them.
 */
import { WireError } from '../errors.js';
import { type Codec, checkBytes, checkUint, copyBytes, need } from './codec.js';
import {
  MAD_HEADER_LEN,
  MAD_LEN,
  MGMT_CLASS_SUBN_ADM,
  RMPP_HEADER_LEN,
  SA_CLASS_VERSION,
  SA_HEADER_LEN,
} from './constants.js';
import {
  checkMadLength,
  checkUint64,
  type MadHeader,
  madHeader,
  madHeaderProblems,
  type RmppHeader,
  rmppHeader,
  reservedProblems,
} from './mad.js';

/** Where the SA header starts in the MAD: 24 + 12. */
export const SA_HEADER_OFFSET = MAD_HEADER_LEN + RMPP_HEADER_LEN;
/** Where record data starts in the MAD: 24 + 12 + 20 = 56. */
export const SA_DATA_OFFSET = SA_HEADER_OFFSET + SA_HEADER_LEN;
/** Record data octets in one SA MAD: 256 - 56 = 200. */
export const SA_DATA_LEN = MAD_LEN - SA_DATA_OFFSET;
/** AttributeOffset counts 8-octet words. */
export const SA_ATTRIBUTE_OFFSET_UNIT = 8;

/**
 * Selector values of MTUSelector, RateSelector and PacketLifeTimeSelector,
 * checked against Linux ib_sa.h `enum ib_sa_selector` (GT 0, LT 1, EQ 2, BEST 3). "Largest
 * available" means the best the SA can offer: the largest MTU or rate, but the smallest packet
 * lifetime.
 */
export const SA_SELECTOR_GREATER_THAN = 0;
export const SA_SELECTOR_LESS_THAN = 1;
export const SA_SELECTOR_EXACTLY = 2;
export const SA_SELECTOR_LARGEST_AVAILABLE = 3;

export interface SaHeader {
  smKey: bigint;
  /** Record stride in 8-octet units (GetTable responses); 0 in requests. */
  attributeOffset: number;
  /** Octets 10-11. */
  reserved: number;
  componentMask: bigint;
}

export const saHeader: Codec<SaHeader> = {
  encodingLength: () => SA_HEADER_LEN,
  encode(h, buf, offset) {
    checkUint64('sa.smKey', offset, h.smKey);
    checkUint('sa.attributeOffset', offset + 8, h.attributeOffset, 16);
    checkUint('sa.reserved', offset + 10, h.reserved, 16);
    checkUint64('sa.componentMask', offset + 12, h.componentMask);
    need(buf, offset, SA_HEADER_LEN, 'sa.header');
    buf.writeBigUInt64BE(h.smKey, offset);
    buf.writeUInt16BE(h.attributeOffset, offset + 8);
    buf.writeUInt16BE(h.reserved, offset + 10);
    buf.writeBigUInt64BE(h.componentMask, offset + 12);
    return SA_HEADER_LEN;
  },
  decode(buf, offset) {
    need(buf, offset, SA_HEADER_LEN, 'sa.header');
    return {
      value: {
        smKey: buf.readBigUInt64BE(offset),
        attributeOffset: buf.readUInt16BE(offset + 8),
        reserved: buf.readUInt16BE(offset + 10),
        componentMask: buf.readBigUInt64BE(offset + 12),
      },
      bytes: SA_HEADER_LEN,
    };
  },
};

export interface SaMad {
  /** mgmtClass must be MGMT_CLASS_SUBN_ADM (0x03). */
  header: MadHeader;
  rmpp: RmppHeader;
  sa: SaHeader;
  /** The 200 octets of record data (a record, or a slice of an RMPP payload). */
  data: Buffer;
}

function checkSaClass(mgmtClass: number, offset: number): void {
  if (mgmtClass !== MGMT_CLASS_SUBN_ADM) {
    throw new WireError('mad.mgmtClass', offset + 1, `class 0x${mgmtClass.toString(16)} is not SA (0x03)`, mgmtClass);
  }
}

/** Reads 256 octets at `offset` (see `parseSaMad` for a buffer that must be exactly one MAD). */
export const saMad: Codec<SaMad> = {
  encodingLength: () => MAD_LEN,
  encode(m, buf, offset) {
    checkSaClass(m.header.mgmtClass, offset);
    checkBytes('sa.data', offset + SA_DATA_OFFSET, m.data, SA_DATA_LEN);
    need(buf, offset, MAD_LEN, 'mad.length');
    madHeader.encode(m.header, buf, offset);
    rmppHeader.encode(m.rmpp, buf, offset + MAD_HEADER_LEN);
    saHeader.encode(m.sa, buf, offset + SA_HEADER_OFFSET);
    m.data.copy(buf, offset + SA_DATA_OFFSET);
    return MAD_LEN;
  },
  decode(buf, offset) {
    need(buf, offset, MAD_LEN, 'mad.length');
    const header = madHeader.decode(buf, offset).value;
    checkSaClass(header.mgmtClass, offset);
    return {
      value: {
        header,
        rmpp: rmppHeader.decode(buf, offset + MAD_HEADER_LEN).value,
        sa: saHeader.decode(buf, offset + SA_HEADER_OFFSET).value,
        data: copyBytes(buf, offset + SA_DATA_OFFSET, offset + MAD_LEN),
      },
      bytes: MAD_LEN,
    };
  },
};

/** Decodes a buffer that must be exactly one 256-octet SA MAD (`mad.length` otherwise). */
export function parseSaMad(buf: Buffer): SaMad {
  checkMadLength(buf);
  return saMad.decode(buf, 0).value;
}

/** Class version other than 2, reserved octets or Status bits set. */
export function saMadProblems(m: SaMad): string[] {
  return [
    ...madHeaderProblems(m.header, { mgmtClass: MGMT_CLASS_SUBN_ADM, classVersion: SA_CLASS_VERSION }),
    ...reservedProblems('sa', m.sa),
  ];
}

/** Octets between consecutive records of a GetTable response. */
export function saRecordStride(attributeOffset: number): number {
  checkUint('sa.attributeOffset', -1, attributeOffset, 16);
  return attributeOffset * SA_ATTRIBUTE_OFFSET_UNIT;
}

/**
 * Decodes `count` records laid out every `attributeOffset` × 8 octets in `data` (a single
 * MAD's record data or a reassembled RMPP payload). The count comes from the caller (for
 * RMPP, from PayloadLength) because the padding after the last record looks like more records.
 */
export function sliceSaRecords<T>(data: Buffer, attributeOffset: number, count: number, record: Codec<T>): T[] {
  const stride = saRecordStride(attributeOffset);
  if (count > 0 && stride === 0) {
    throw new WireError('sa.attributeOffset', -1, 'AttributeOffset 0 cannot separate several records', 0);
  }
  checkUint('sa.recordCount', -1, count, 32);
  const out: T[] = [];
  for (let i = 0; i < count; i++) {
    const at = i * stride;
    need(data, at, stride, `sa.record[${i}]`);
    const { value, bytes } = record.decode(data, at);
    if (bytes > stride) {
      throw new WireError(`sa.record[${i}]`, at, `record of ${bytes} octets overruns the ${stride}-octet stride`, bytes);
    }
    out.push(value);
  }
  return out;
}
