/**
 * InformInfo, SA attribute 0x0031 (IBA vol. 1 ch. 13/15): 36 octets. A port sends it in a
 * SubnAdmSet to subscribe to (Subscribe = 1) or unsubscribe from (Subscribe = 0) the reports of
 * one trap; the SA answers with a GetResp carrying a copy of it.
 *
 *   0-15  GID (the subject: a port GID or an MGID; all zero = by LID range instead)
 *   16-17 LIDRangeBegin (0xFFFF = every LID)      18-19 LIDRangeEnd
 *   20-21 reserved                                22    IsGeneric (1 generic, 0 vendor)
 *   23    Subscribe (1 subscribe, 0 unsubscribe)  24-25 Type (0xFFFF = every type)
 *   26-27 TrapNumber (generic) / DeviceID (vendor)
 *   28-30 QPN the reports go to                   31    reserved(3) RespTimeValue(5)
 *   32    reserved                                33-35 ProducerType (generic) / VendorID (vendor)
 *
 * IsGeneric and Subscribe are whole octets with two defined values; they are kept as numbers,
 * as received, so an SA can refuse the undefined ones. Every reserved bit is kept too;
 * `informInfoProblems()` lists those that are set.
 */
import { type Codec, checkBytes, checkUint, copyBytes, need } from './codec.js';
import { GID_LEN, INFORM_INFO_LEN } from './constants.js';
import { reservedProblems } from './mad.js';

export { INFORM_INFO_LEN } from './constants.js';

export interface InformInfo {
  gid: Buffer;
  lidRangeBegin: number;
  lidRangeEnd: number;
  /** Octets 20-21. */
  reserved: number;
  /** 1 for a generic trap (TrapNumber, ProducerType), 0 for a vendor one (DeviceID, VendorID). */
  isGeneric: number;
  /** 1 subscribes, 0 unsubscribes. */
  subscribe: number;
  type: number;
  /** TrapNumber, or DeviceID when not generic. */
  trapNumber: number;
  qpn: number;
  /** The 3 bits before RespTimeValue. */
  reserved2: number;
  /** How long the subscriber takes to answer a Report: 4.096 µs × 2^RespTimeValue. */
  respTimeValue: number;
  /** Octet 32. */
  reserved3: number;
  /** ProducerType, or VendorID when not generic. */
  producerType: number;
}

export const informInfo: Codec<InformInfo> = {
  encodingLength: () => INFORM_INFO_LEN,
  encode(v, buf, offset) {
    checkBytes('informInfo.gid', offset, v.gid, GID_LEN);
    checkUint('informInfo.lidRangeBegin', offset + 16, v.lidRangeBegin, 16);
    checkUint('informInfo.lidRangeEnd', offset + 18, v.lidRangeEnd, 16);
    checkUint('informInfo.reserved', offset + 20, v.reserved, 16);
    checkUint('informInfo.isGeneric', offset + 22, v.isGeneric, 8);
    checkUint('informInfo.subscribe', offset + 23, v.subscribe, 8);
    checkUint('informInfo.type', offset + 24, v.type, 16);
    checkUint('informInfo.trapNumber', offset + 26, v.trapNumber, 16);
    checkUint('informInfo.qpn', offset + 28, v.qpn, 24);
    checkUint('informInfo.reserved2', offset + 31, v.reserved2, 3);
    checkUint('informInfo.respTimeValue', offset + 31, v.respTimeValue, 5);
    checkUint('informInfo.reserved3', offset + 32, v.reserved3, 8);
    checkUint('informInfo.producerType', offset + 33, v.producerType, 24);
    need(buf, offset, INFORM_INFO_LEN, 'informInfo');
    v.gid.copy(buf, offset);
    buf.writeUInt16BE(v.lidRangeBegin, offset + 16);
    buf.writeUInt16BE(v.lidRangeEnd, offset + 18);
    buf.writeUInt16BE(v.reserved, offset + 20);
    buf.writeUInt8(v.isGeneric, offset + 22);
    buf.writeUInt8(v.subscribe, offset + 23);
    buf.writeUInt16BE(v.type, offset + 24);
    buf.writeUInt16BE(v.trapNumber, offset + 26);
    buf.writeUIntBE(v.qpn, offset + 28, 3);
    buf.writeUInt8((v.reserved2 << 5) | v.respTimeValue, offset + 31);
    buf.writeUInt8(v.reserved3, offset + 32);
    buf.writeUIntBE(v.producerType, offset + 33, 3);
    return INFORM_INFO_LEN;
  },
  decode(buf, offset) {
    need(buf, offset, INFORM_INFO_LEN, 'informInfo');
    const timeOctet = buf.readUInt8(offset + 31);
    return {
      value: {
        gid: copyBytes(buf, offset, offset + 16),
        lidRangeBegin: buf.readUInt16BE(offset + 16),
        lidRangeEnd: buf.readUInt16BE(offset + 18),
        reserved: buf.readUInt16BE(offset + 20),
        isGeneric: buf.readUInt8(offset + 22),
        subscribe: buf.readUInt8(offset + 23),
        type: buf.readUInt16BE(offset + 24),
        trapNumber: buf.readUInt16BE(offset + 26),
        qpn: buf.readUIntBE(offset + 28, 3),
        reserved2: timeOctet >> 5,
        respTimeValue: timeOctet & 0x1f,
        reserved3: buf.readUInt8(offset + 32),
        producerType: buf.readUIntBE(offset + 33, 3),
      },
      bytes: INFORM_INFO_LEN,
    };
  },
};

/** Reserved bits set, and IsGeneric or Subscribe values other than 0 and 1. */
export function informInfoProblems(v: InformInfo): string[] {
  const out = reservedProblems('informInfo', v);
  if (v.isGeneric > 1) out.push(`informInfo.isGeneric is ${v.isGeneric}, only 0 and 1 are defined`);
  if (v.subscribe > 1) out.push(`informInfo.subscribe is ${v.subscribe}, only 0 and 1 are defined`);
  return out;
}
