/**
 * PathRecord, SA attribute 0x0035 (IBA vol. 1 ch. 15): 64 octets.
 *
 *   0-7   ServiceID (once reserved; Linux packs service_id here and masks it with bits 0 and 1)
 *   8-23  DGID                 24-39 SGID              40-41 DLID     42-43 SLID
 *   44-47 RawTraffic(1) reserved(3) FlowLabel(20) HopLimit(8)
 *   48    TClass               49    Reversible(1) NumbPath(7)       50-51 P_Key
 *   52-53 QoSClass(12) SL(4)   54    MTUSelector(2) MTU(6)
 *   55    RateSelector(2) Rate(6)    56 PacketLifeTimeSelector(2) PacketLifeTime(6)
 *   57    Preference           58-63 reserved
 *
 * Layout and ComponentMask bits checked against Linux drivers/infiniband/core/sa_query.c
 * `path_rec_table` and include/rdma/ib_sa.h IB_SA_PATH_REC_* (ServiceID = bits 0|1, bit 7
 * reserved, DGID 2 … Preference 22). Every field is kept as received.
 */
import { WireError } from '../errors.js';
import { type Codec, checkBytes, checkUint, copyBytes, need } from './codec.js';
import { GID_LEN, PATH_RECORD_LEN } from './constants.js';
import { checkBoolean, checkUint64, reservedProblems } from './mad.js';

export { PATH_RECORD_LEN } from './constants.js';

export interface PathRecord {
  serviceId: bigint;
  dgid: Buffer;
  sgid: Buffer;
  dlid: number;
  slid: number;
  rawTraffic: boolean;
  /** The 3 bits after RawTraffic (octet 44). */
  reserved44: number;
  flowLabel: number;
  hopLimit: number;
  trafficClass: number;
  reversible: boolean;
  /** 7 bits. */
  numbPath: number;
  pkey: number;
  /** 12 bits. */
  qosClass: number;
  sl: number;
  mtuSelector: number;
  mtu: number;
  rateSelector: number;
  rate: number;
  packetLifeTimeSelector: number;
  packetLifeTime: number;
  preference: number;
  /** Octets 58-63 (48 bits). */
  reserved58: number;
}

export const pathRecord: Codec<PathRecord> = {
  encodingLength: () => PATH_RECORD_LEN,
  encode(r, buf, offset) {
    checkUint64('path.serviceId', offset, r.serviceId);
    checkBytes('path.dgid', offset + 8, r.dgid, GID_LEN);
    checkBytes('path.sgid', offset + 24, r.sgid, GID_LEN);
    checkUint('path.dlid', offset + 40, r.dlid, 16);
    checkUint('path.slid', offset + 42, r.slid, 16);
    checkBoolean('path.rawTraffic', offset + 44, r.rawTraffic);
    checkUint('path.reserved44', offset + 44, r.reserved44, 3);
    checkUint('path.flowLabel', offset + 44, r.flowLabel, 20);
    checkUint('path.hopLimit', offset + 47, r.hopLimit, 8);
    checkUint('path.trafficClass', offset + 48, r.trafficClass, 8);
    checkBoolean('path.reversible', offset + 49, r.reversible);
    checkUint('path.numbPath', offset + 49, r.numbPath, 7);
    checkUint('path.pkey', offset + 50, r.pkey, 16);
    checkUint('path.qosClass', offset + 52, r.qosClass, 12);
    checkUint('path.sl', offset + 53, r.sl, 4);
    checkUint('path.mtuSelector', offset + 54, r.mtuSelector, 2);
    checkUint('path.mtu', offset + 54, r.mtu, 6);
    checkUint('path.rateSelector', offset + 55, r.rateSelector, 2);
    checkUint('path.rate', offset + 55, r.rate, 6);
    checkUint('path.packetLifeTimeSelector', offset + 56, r.packetLifeTimeSelector, 2);
    checkUint('path.packetLifeTime', offset + 56, r.packetLifeTime, 6);
    checkUint('path.preference', offset + 57, r.preference, 8);
    checkUint('path.reserved58', offset + 58, r.reserved58, 48);
    need(buf, offset, PATH_RECORD_LEN, 'path');
    buf.writeBigUInt64BE(r.serviceId, offset);
    r.dgid.copy(buf, offset + 8);
    r.sgid.copy(buf, offset + 24);
    buf.writeUInt16BE(r.dlid, offset + 40);
    buf.writeUInt16BE(r.slid, offset + 42);
    // Top nibble is RawTraffic + reserved: build the word arithmetically, not with `<< 28`.
    const top = (r.rawTraffic ? 0x8 : 0) | r.reserved44;
    buf.writeUInt32BE(top * 0x10000000 + r.flowLabel * 0x100 + r.hopLimit, offset + 44);
    buf.writeUInt8(r.trafficClass, offset + 48);
    buf.writeUInt8((r.reversible ? 0x80 : 0) | r.numbPath, offset + 49);
    buf.writeUInt16BE(r.pkey, offset + 50);
    buf.writeUInt16BE((r.qosClass << 4) | r.sl, offset + 52);
    buf.writeUInt8((r.mtuSelector << 6) | r.mtu, offset + 54);
    buf.writeUInt8((r.rateSelector << 6) | r.rate, offset + 55);
    buf.writeUInt8((r.packetLifeTimeSelector << 6) | r.packetLifeTime, offset + 56);
    buf.writeUInt8(r.preference, offset + 57);
    buf.writeUIntBE(r.reserved58, offset + 58, 6);
    return PATH_RECORD_LEN;
  },
  decode(buf, offset) {
    need(buf, offset, PATH_RECORD_LEN, 'path');
    const word44 = buf.readUInt32BE(offset + 44);
    const revNumb = buf.readUInt8(offset + 49);
    const qosSl = buf.readUInt16BE(offset + 52);
    const mtu = buf.readUInt8(offset + 54);
    const rate = buf.readUInt8(offset + 55);
    const life = buf.readUInt8(offset + 56);
    return {
      value: {
        serviceId: buf.readBigUInt64BE(offset),
        dgid: copyBytes(buf, offset + 8, offset + 24),
        sgid: copyBytes(buf, offset + 24, offset + 40),
        dlid: buf.readUInt16BE(offset + 40),
        slid: buf.readUInt16BE(offset + 42),
        rawTraffic: (word44 & 0x80000000) !== 0,
        reserved44: (word44 >>> 28) & 0x7,
        flowLabel: (word44 >>> 8) & 0xfffff,
        hopLimit: word44 & 0xff,
        trafficClass: buf.readUInt8(offset + 48),
        reversible: (revNumb & 0x80) !== 0,
        numbPath: revNumb & 0x7f,
        pkey: buf.readUInt16BE(offset + 50),
        qosClass: qosSl >> 4,
        sl: qosSl & 0xf,
        mtuSelector: mtu >> 6,
        mtu: mtu & 0x3f,
        rateSelector: rate >> 6,
        rate: rate & 0x3f,
        packetLifeTimeSelector: life >> 6,
        packetLifeTime: life & 0x3f,
        preference: buf.readUInt8(offset + 57),
        reserved58: buf.readUIntBE(offset + 58, 6),
      },
      bytes: PATH_RECORD_LEN,
    };
  },
};

/**
 * ComponentMask bits of each PathRecord component; the names are the record's field names.
 * ServiceID is the only two-bit component (bits 0 and 1 together); bit 7 is reserved.
 */
export const PATH_RECORD_COMPONENT_BITS = {
  serviceId: [0, 1],
  dgid: [2],
  sgid: [3],
  dlid: [4],
  slid: [5],
  rawTraffic: [6],
  flowLabel: [8],
  hopLimit: [9],
  trafficClass: [10],
  reversible: [11],
  numbPath: [12],
  pkey: [13],
  qosClass: [14],
  sl: [15],
  mtuSelector: [16],
  mtu: [17],
  rateSelector: [18],
  rate: [19],
  packetLifeTimeSelector: [20],
  packetLifeTime: [21],
  preference: [22],
} as const satisfies Record<string, readonly number[]>;

export type PathRecordComponent = keyof typeof PATH_RECORD_COMPONENT_BITS;

const PATH_RECORD_COMPONENT_NAMES = Object.keys(PATH_RECORD_COMPONENT_BITS) as PathRecordComponent[];

function bitsMask(bits: readonly number[]): bigint {
  return bits.reduce((m, b) => m | (1n << BigInt(b)), 0n);
}

/** The ComponentMask selecting `names` (Linux IPoIB path query: dgid, sgid, numbPath, trafficClass, pkey). */
export function pathRecordComponentMask(names: readonly PathRecordComponent[]): bigint {
  let mask = 0n;
  for (const name of names) {
    const bits: readonly number[] | undefined = (PATH_RECORD_COMPONENT_BITS as Record<string, readonly number[]>)[name];
    if (bits === undefined) throw new WireError('sa.componentMask', -1, `no PathRecord component "${String(name)}"`, name);
    mask |= bitsMask(bits);
  }
  return mask;
}

/** The components a ComponentMask selects fully (ServiceID needs both its bits), in bit order. */
export function pathRecordComponents(mask: bigint): PathRecordComponent[] {
  checkUint64('sa.componentMask', -1, mask);
  return PATH_RECORD_COMPONENT_NAMES.filter((n) => {
    const m = bitsMask(PATH_RECORD_COMPONENT_BITS[n]);
    return (mask & m) === m;
  });
}

/**
 * Component-mask and reserved-bit problems: ServiceID selected by only one of its two bits
 * (OpenSM answers that with ERR_REQ_INSUFFICIENT_COMPONENTS), the reserved mask bit 7, and
 * reserved record bits set.
 */
export function pathRecordProblems(r: PathRecord, componentMask?: bigint): string[] {
  const out = reservedProblems('path', r);
  if (componentMask !== undefined) {
    checkUint64('sa.componentMask', -1, componentMask);
    const sid = componentMask & 0b11n;
    if (sid === 0b01n || sid === 0b10n) out.push('sa.componentMask selects only one of the two ServiceID bits');
    if ((componentMask & (1n << 7n)) !== 0n) out.push('sa.componentMask sets reserved bit 7');
  }
  return out;
}
