/**
 * Notice, attribute 0x0002 (IBA vol. 1 ch. 13/14): 80 octets. What a Trap carries to the SM and
 * what the SA forwards to its subscribers in a SubnAdmReport.
 *
 *   0     IsGeneric(1) Type(7)
 *   1-3   ProducerType (generic) / VendorID (vendor)
 *   4-5   TrapNumber (generic) / DeviceID (vendor)
 *   6-7   IssuerLID
 *   8-9   NoticeToggle(1) NoticeCount(15)
 *   10-63 DataDetails (54 octets, laid out per trap)
 *   64-79 IssuerGID
 *
 * Traps 64-67 (GID in/out of service, multicast group created/deleted) put one GID in
 * DataDetails after 6 reserved octets: the port's GID, or the group's MGID.
 */
import { WireError } from '../errors.js';
import { type Codec, checkBytes, checkUint, copyBytes, need } from './codec.js';
import {
  GID_LEN,
  NOTICE_DATA_DETAILS_LEN,
  NOTICE_LEN,
  TRAP_GID_DATA_OFFSET,
  TRAP_GID_IN_SERVICE,
  TRAP_GID_OUT_OF_SERVICE,
  TRAP_MCAST_GROUP_CREATED,
  TRAP_MCAST_GROUP_DELETED,
} from './constants.js';
import { checkBoolean } from './mad.js';

export { NOTICE_LEN } from './constants.js';

/** Offset of DataDetails in the Notice. */
export const NOTICE_DATA_DETAILS_AT = 10;

export interface Notice {
  isGeneric: boolean;
  /** NOTICE_TYPE_* (7 bits). */
  type: number;
  /** ProducerType, or VendorID when not generic (24 bits). */
  producerType: number;
  /** TrapNumber, or DeviceID when not generic. */
  trapNumber: number;
  issuerLid: number;
  noticeToggle: boolean;
  /** 15 bits. */
  noticeCount: number;
  /** 54 octets, as received. */
  dataDetails: Buffer;
  issuerGid: Buffer;
}

export const notice: Codec<Notice> = {
  encodingLength: () => NOTICE_LEN,
  encode(v, buf, offset) {
    checkBoolean('notice.isGeneric', offset, v.isGeneric);
    checkUint('notice.type', offset, v.type, 7);
    checkUint('notice.producerType', offset + 1, v.producerType, 24);
    checkUint('notice.trapNumber', offset + 4, v.trapNumber, 16);
    checkUint('notice.issuerLid', offset + 6, v.issuerLid, 16);
    checkBoolean('notice.noticeToggle', offset + 8, v.noticeToggle);
    checkUint('notice.noticeCount', offset + 8, v.noticeCount, 15);
    checkBytes('notice.dataDetails', offset + NOTICE_DATA_DETAILS_AT, v.dataDetails, NOTICE_DATA_DETAILS_LEN);
    checkBytes('notice.issuerGid', offset + 64, v.issuerGid, GID_LEN);
    need(buf, offset, NOTICE_LEN, 'notice');
    buf.writeUInt8((v.isGeneric ? 0x80 : 0) | v.type, offset);
    buf.writeUIntBE(v.producerType, offset + 1, 3);
    buf.writeUInt16BE(v.trapNumber, offset + 4);
    buf.writeUInt16BE(v.issuerLid, offset + 6);
    buf.writeUInt16BE((v.noticeToggle ? 0x8000 : 0) | v.noticeCount, offset + 8);
    v.dataDetails.copy(buf, offset + NOTICE_DATA_DETAILS_AT);
    v.issuerGid.copy(buf, offset + 64);
    return NOTICE_LEN;
  },
  decode(buf, offset) {
    need(buf, offset, NOTICE_LEN, 'notice');
    const first = buf.readUInt8(offset);
    const toggleCount = buf.readUInt16BE(offset + 8);
    return {
      value: {
        isGeneric: (first & 0x80) !== 0,
        type: first & 0x7f,
        producerType: buf.readUIntBE(offset + 1, 3),
        trapNumber: buf.readUInt16BE(offset + 4),
        issuerLid: buf.readUInt16BE(offset + 6),
        noticeToggle: (toggleCount & 0x8000) !== 0,
        noticeCount: toggleCount & 0x7fff,
        dataDetails: copyBytes(buf, offset + NOTICE_DATA_DETAILS_AT, offset + 64),
        issuerGid: copyBytes(buf, offset + 64, offset + NOTICE_LEN),
      },
      bytes: NOTICE_LEN,
    };
  },
};

const GID_TRAPS: ReadonlySet<number> = new Set([
  TRAP_GID_IN_SERVICE,
  TRAP_GID_OUT_OF_SERVICE,
  TRAP_MCAST_GROUP_CREATED,
  TRAP_MCAST_GROUP_DELETED,
]);

/** Names of the generic traps this project meets. */
export const TRAP_NAMES: Readonly<Record<number, string>> = {
  [TRAP_GID_IN_SERVICE]: 'GID in service',
  [TRAP_GID_OUT_OF_SERVICE]: 'GID out of service',
  [TRAP_MCAST_GROUP_CREATED]: 'multicast group created',
  [TRAP_MCAST_GROUP_DELETED]: 'multicast group deleted',
};

/** True for a generic trap whose DataDetails carry one GID (64-67). */
export function isGidTrap(n: Notice): boolean {
  return n.isGeneric && GID_TRAPS.has(n.trapNumber);
}

/** The DataDetails of traps 64-67: 6 reserved octets, the GID, zeros. */
export function gidDataDetails(gid: Buffer): Buffer {
  checkBytes('notice.dataDetails.gid', TRAP_GID_DATA_OFFSET, gid, GID_LEN);
  const d = Buffer.alloc(NOTICE_DATA_DETAILS_LEN);
  gid.copy(d, TRAP_GID_DATA_OFFSET);
  return d;
}

/** The GID a trap 64-67 is about (the MGID for 66 and 67); throws WireError for other notices. */
export function trapGid(n: Notice): Buffer {
  if (!isGidTrap(n)) {
    throw new WireError('notice.trapNumber', 4, `${n.isGeneric ? 'generic' : 'vendor'} trap ${n.trapNumber} carries no GID`, n.trapNumber);
  }
  return copyBytes(n.dataDetails, TRAP_GID_DATA_OFFSET, TRAP_GID_DATA_OFFSET + GID_LEN);
}
