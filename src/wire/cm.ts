/**
 * Communication Management messages (IBA vol. 1 ch. 12, MAD class 0x07): the REQ, REP, RTU,
 * REJ, DREQ and DREP bodies that fill the 232-octet MAD data area, plus the IPoIB-CM private
 * data and Service-ID of RFC 4755.
 *
 * Octet and bit positions below are relative to the start of the MAD data area (octet 24 of
 * the MAD). They were checked against Linux include/rdma/ibta_vol1_c12.h (CM_REQ_* …
 * CM_DREP_*, whose IBA_FIELD_BLOC bit offsets count from the most significant bit), the
 * vendor-ID additions of IBA comment #9434 in the same header, and Wireshark
 * packet-infiniband.c `parse_COM_MGT` (REQ, REP, RTU, REJ).
 *
 * Every body is a fixed 232 octets and nothing in it decides the layout, so decode refuses
 * nothing but a short buffer; reserved bits are kept (fields named `reserved<octet>`) and
 * `cmMessageProblems()` judges them.
 */
import { WireError } from '../errors.js';
import { type Codec, checkBytes, checkUint, copyBytes, need } from './codec.js';
import {
  CM_ATTR_DREP,
  CM_ATTR_DREQ,
  CM_ATTR_REJ,
  CM_ATTR_REP,
  CM_ATTR_REQ,
  CM_ATTR_RTU,
  CM_DREP_PRIVATE_DATA_LEN,
  CM_DREQ_PRIVATE_DATA_LEN,
  CM_REJ_ARI_LEN,
  CM_REJ_PRIVATE_DATA_LEN,
  CM_REP_PRIVATE_DATA_LEN,
  CM_REQ_PRIVATE_DATA_LEN,
  CM_RTU_PRIVATE_DATA_LEN,
  IPOIB_CM_PRIVATE_DATA_LEN,
  IPOIB_CM_SERVICE_ID_PREFIX_LINUX,
  IPOIB_CM_SERVICE_ID_PREFIX_RFC,
  MGMT_CLASS_CM,
} from './constants.js';
import { checkBoolean, checkUint64, type Mad, MAD_DATA_LEN, reservedProblems } from './mad.js';

/** Every CM body fills the MAD data area. */
export const CM_MESSAGE_LEN = MAD_DATA_LEN;
// Private-data sizes (what is left of the 232 octets after each message's fields) and the
// REJ's ARI length live in constants.ts; re-exported for existing importers.
export {
  CM_DREP_PRIVATE_DATA_LEN,
  CM_DREQ_PRIVATE_DATA_LEN,
  CM_REJ_ARI_LEN,
  CM_REJ_PRIVATE_DATA_LEN,
  CM_REP_PRIVATE_DATA_LEN,
  CM_REQ_PRIVATE_DATA_LEN,
  CM_RTU_PRIVATE_DATA_LEN,
} from './constants.js';
/** One path block (primary or alternate) of a REQ. */
export const CM_PATH_LEN = 44;

/** Transport Service Type of a REQ (Linux cm.c cm_req_set_qp_type: RC 0, UC 1, 3 = see ExtendedTransportType). */
export const CM_TRANSPORT_RC = 0;
export const CM_TRANSPORT_UC = 1;
/** RD, per the IBA table; Linux does not use it. */
export const CM_TRANSPORT_RD = 2;
export const CM_TRANSPORT_EXTENDED = 3;

/** REJ MessageRejected values. */
export const CM_REJ_MSG_REQ = 0;
export const CM_REJ_MSG_REP = 1;
export const CM_REJ_MSG_OTHER = 2;

/** REJ reason codes (checked against Linux include/rdma/ib_cm.h enum ib_cm_rej_reason). */
export const CM_REJ_REASONS = {
  noQp: 1,
  noEec: 2,
  noResources: 3,
  timeout: 4,
  unsupported: 5,
  invalidCommId: 6,
  invalidCommInstance: 7,
  invalidServiceId: 8,
  invalidTransportType: 9,
  staleConnection: 10,
  rdcNotExist: 11,
  invalidGid: 12,
  invalidLid: 13,
  invalidSl: 14,
  invalidTrafficClass: 15,
  invalidHopLimit: 16,
  invalidPacketRate: 17,
  invalidAltGid: 18,
  invalidAltLid: 19,
  invalidAltSl: 20,
  invalidAltTrafficClass: 21,
  invalidAltHopLimit: 22,
  invalidAltPacketRate: 23,
  portCmRedirect: 24,
  portRedirect: 25,
  invalidMtu: 26,
  insufficientResponderResources: 27,
  consumerDefined: 28,
  invalidRnrRetry: 29,
  duplicateLocalCommId: 30,
  invalidClassVersion: 31,
  invalidFlowLabel: 32,
  invalidAltFlowLabel: 33,
  vendorOptionNotSupported: 35,
} as const;

// ---- path block (REQ octets 52..95 primary, 96..139 alternate)
//  0-1 local LID | 2-3 remote LID | 4-19 local GID | 20-35 remote GID
//  36-39 FlowLabel(20) reserved(6) PacketRate(6) | 40 TrafficClass | 41 HopLimit
//  42 SL(4) SubnetLocal(1) reserved(3) | 43 LocalACKTimeout(5) reserved(3)
// In the alternate block the top reserved bit of octet 43 is SAPSupported (REQ octet 139 bit 5).

export interface CmPath {
  localLid: number;
  remoteLid: number;
  localGid: Buffer;
  remoteGid: Buffer;
  flowLabel: number;
  /** The 6 bits between FlowLabel and PacketRate (path octets 38-39). */
  reserved38: number;
  packetRate: number;
  trafficClass: number;
  hopLimit: number;
  sl: number;
  subnetLocal: boolean;
  /** 3 bits after SubnetLocal. */
  reserved42: number;
  localAckTimeout: number;
  /** Bits after LocalACKTimeout: 3 in the primary path, 2 in the alternate (SAPSupported takes one). */
  reserved43: number;
}

function checkPath(p: CmPath, o: number, field: string, tailBits: number): void {
  checkUint(`${field}.localLid`, o, p.localLid, 16);
  checkUint(`${field}.remoteLid`, o + 2, p.remoteLid, 16);
  checkBytes(`${field}.localGid`, o + 4, p.localGid, 16);
  checkBytes(`${field}.remoteGid`, o + 20, p.remoteGid, 16);
  checkUint(`${field}.flowLabel`, o + 36, p.flowLabel, 20);
  checkUint(`${field}.reserved38`, o + 38, p.reserved38, 6);
  checkUint(`${field}.packetRate`, o + 39, p.packetRate, 6);
  checkUint(`${field}.trafficClass`, o + 40, p.trafficClass, 8);
  checkUint(`${field}.hopLimit`, o + 41, p.hopLimit, 8);
  checkUint(`${field}.sl`, o + 42, p.sl, 4);
  checkBoolean(`${field}.subnetLocal`, o + 42, p.subnetLocal);
  checkUint(`${field}.reserved42`, o + 42, p.reserved42, 3);
  checkUint(`${field}.localAckTimeout`, o + 43, p.localAckTimeout, 5);
  checkUint(`${field}.reserved43`, o + 43, p.reserved43, tailBits);
}

/** Writes a path block already checked by checkPath. */
function writePath(p: CmPath, buf: Buffer, o: number): void {
  buf.writeUInt16BE(p.localLid, o);
  buf.writeUInt16BE(p.remoteLid, o + 2);
  p.localGid.copy(buf, o + 4);
  p.remoteGid.copy(buf, o + 20);
  // 20 + 6 + 6 bits; multiply rather than `<< 12` so the top bit never turns the word negative.
  buf.writeUInt32BE(p.flowLabel * 0x1000 + (p.reserved38 << 6) + p.packetRate, o + 36);
  buf.writeUInt8(p.trafficClass, o + 40);
  buf.writeUInt8(p.hopLimit, o + 41);
  buf.writeUInt8((p.sl << 4) | (p.subnetLocal ? 0x08 : 0) | p.reserved42, o + 42);
  buf.writeUInt8((p.localAckTimeout << 3) | p.reserved43, o + 43);
}

function decodePath(buf: Buffer, o: number, tailMask: number): CmPath {
  const flowRate = buf.readUInt32BE(o + 36);
  const slByte = buf.readUInt8(o + 42);
  const ackByte = buf.readUInt8(o + 43);
  return {
    localLid: buf.readUInt16BE(o),
    remoteLid: buf.readUInt16BE(o + 2),
    localGid: copyBytes(buf, o + 4, o + 20),
    remoteGid: copyBytes(buf, o + 20, o + 36),
    flowLabel: flowRate >>> 12,
    reserved38: (flowRate >>> 6) & 0x3f,
    packetRate: flowRate & 0x3f,
    trafficClass: buf.readUInt8(o + 40),
    hopLimit: buf.readUInt8(o + 41),
    sl: slByte >> 4,
    subnetLocal: (slByte & 0x08) !== 0,
    reserved42: slByte & 0x07,
    localAckTimeout: ackByte >> 3,
    reserved43: ackByte & tailMask,
  };
}

// ---- REQ (attribute 0x0010)

export interface CmReq {
  localCommId: number;
  /** Octet 4. */
  reserved4: number;
  /** Octets 5-7 (reserved before IBA comment #9434). */
  vendorId: number;
  serviceId: bigint;
  localCaGuid: bigint;
  /** Octets 24-27. */
  reserved24: number;
  localQkey: number;
  localQpn: number;
  responderResources: number;
  localEecn: number;
  initiatorDepth: number;
  remoteEecn: number;
  /** 5 bits, 4.096 µs × 2^n. */
  remoteCmResponseTimeout: number;
  /** 2 bits, CM_TRANSPORT_*. */
  transportServiceType: number;
  endToEndFlowControl: boolean;
  startingPsn: number;
  localCmResponseTimeout: number;
  /** 3 bits. */
  retryCount: number;
  pkey: number;
  /** 4-bit IB MTU code. */
  pathMtu: number;
  rdcExists: boolean;
  rnrRetryCount: number;
  /** 4 bits. */
  maxCmRetries: number;
  srq: boolean;
  /** 3 bits. */
  extendedTransportType: number;
  primaryPath: CmPath;
  alternatePath: CmPath;
  /** Octet 139 bit 5 (inside the alternate path's last octet). */
  sapSupported: boolean;
  privateData: Buffer;
}

export const cmReq: Codec<CmReq> = {
  encodingLength: () => CM_MESSAGE_LEN,
  encode(m, buf, o) {
    need(buf, o, CM_MESSAGE_LEN, 'cm.req');
    checkUint('cm.req.localCommId', o, m.localCommId, 32);
    checkUint('cm.req.reserved4', o + 4, m.reserved4, 8);
    checkUint('cm.req.vendorId', o + 5, m.vendorId, 24);
    checkUint64('cm.req.serviceId', o + 8, m.serviceId);
    checkUint64('cm.req.localCaGuid', o + 16, m.localCaGuid);
    checkUint('cm.req.reserved24', o + 24, m.reserved24, 32);
    checkUint('cm.req.localQkey', o + 28, m.localQkey, 32);
    checkUint('cm.req.localQpn', o + 32, m.localQpn, 24);
    checkUint('cm.req.responderResources', o + 35, m.responderResources, 8);
    checkUint('cm.req.localEecn', o + 36, m.localEecn, 24);
    checkUint('cm.req.initiatorDepth', o + 39, m.initiatorDepth, 8);
    checkUint('cm.req.remoteEecn', o + 40, m.remoteEecn, 24);
    checkUint('cm.req.remoteCmResponseTimeout', o + 43, m.remoteCmResponseTimeout, 5);
    checkUint('cm.req.transportServiceType', o + 43, m.transportServiceType, 2);
    checkBoolean('cm.req.endToEndFlowControl', o + 43, m.endToEndFlowControl);
    checkUint('cm.req.startingPsn', o + 44, m.startingPsn, 24);
    checkUint('cm.req.localCmResponseTimeout', o + 47, m.localCmResponseTimeout, 5);
    checkUint('cm.req.retryCount', o + 47, m.retryCount, 3);
    checkUint('cm.req.pkey', o + 48, m.pkey, 16);
    checkUint('cm.req.pathMtu', o + 50, m.pathMtu, 4);
    checkBoolean('cm.req.rdcExists', o + 50, m.rdcExists);
    checkUint('cm.req.rnrRetryCount', o + 50, m.rnrRetryCount, 3);
    checkUint('cm.req.maxCmRetries', o + 51, m.maxCmRetries, 4);
    checkBoolean('cm.req.srq', o + 51, m.srq);
    checkUint('cm.req.extendedTransportType', o + 51, m.extendedTransportType, 3);
    checkPath(m.primaryPath, o + 52, 'cm.req.primaryPath', 3);
    checkPath(m.alternatePath, o + 96, 'cm.req.alternatePath', 2);
    checkBoolean('cm.req.sapSupported', o + 139, m.sapSupported);
    checkBytes('cm.req.privateData', o + 140, m.privateData, CM_REQ_PRIVATE_DATA_LEN);
    buf.writeUInt32BE(m.localCommId, o);
    buf.writeUInt8(m.reserved4, o + 4);
    buf.writeUIntBE(m.vendorId, o + 5, 3);
    buf.writeBigUInt64BE(m.serviceId, o + 8);
    buf.writeBigUInt64BE(m.localCaGuid, o + 16);
    buf.writeUInt32BE(m.reserved24, o + 24);
    buf.writeUInt32BE(m.localQkey, o + 28);
    buf.writeUIntBE(m.localQpn, o + 32, 3);
    buf.writeUInt8(m.responderResources, o + 35);
    buf.writeUIntBE(m.localEecn, o + 36, 3);
    buf.writeUInt8(m.initiatorDepth, o + 39);
    buf.writeUIntBE(m.remoteEecn, o + 40, 3);
    const flowControl = m.endToEndFlowControl ? 1 : 0;
    buf.writeUInt8((m.remoteCmResponseTimeout << 3) | (m.transportServiceType << 1) | flowControl, o + 43);
    buf.writeUIntBE(m.startingPsn, o + 44, 3);
    buf.writeUInt8((m.localCmResponseTimeout << 3) | m.retryCount, o + 47);
    buf.writeUInt16BE(m.pkey, o + 48);
    buf.writeUInt8((m.pathMtu << 4) | (m.rdcExists ? 0x08 : 0) | m.rnrRetryCount, o + 50);
    buf.writeUInt8((m.maxCmRetries << 4) | (m.srq ? 0x08 : 0) | m.extendedTransportType, o + 51);
    writePath(m.primaryPath, buf, o + 52);
    writePath(m.alternatePath, buf, o + 96);
    if (m.sapSupported) buf.writeUInt8(buf.readUInt8(o + 139) | 0x04, o + 139);
    m.privateData.copy(buf, o + 140);
    return CM_MESSAGE_LEN;
  },
  decode(buf, o) {
    need(buf, o, CM_MESSAGE_LEN, 'cm.req');
    const b43 = buf.readUInt8(o + 43);
    const b47 = buf.readUInt8(o + 47);
    const b50 = buf.readUInt8(o + 50);
    const b51 = buf.readUInt8(o + 51);
    return {
      value: {
        localCommId: buf.readUInt32BE(o),
        reserved4: buf.readUInt8(o + 4),
        vendorId: buf.readUIntBE(o + 5, 3),
        serviceId: buf.readBigUInt64BE(o + 8),
        localCaGuid: buf.readBigUInt64BE(o + 16),
        reserved24: buf.readUInt32BE(o + 24),
        localQkey: buf.readUInt32BE(o + 28),
        localQpn: buf.readUIntBE(o + 32, 3),
        responderResources: buf.readUInt8(o + 35),
        localEecn: buf.readUIntBE(o + 36, 3),
        initiatorDepth: buf.readUInt8(o + 39),
        remoteEecn: buf.readUIntBE(o + 40, 3),
        remoteCmResponseTimeout: b43 >> 3,
        transportServiceType: (b43 >> 1) & 0x3,
        endToEndFlowControl: (b43 & 0x1) !== 0,
        startingPsn: buf.readUIntBE(o + 44, 3),
        localCmResponseTimeout: b47 >> 3,
        retryCount: b47 & 0x7,
        pkey: buf.readUInt16BE(o + 48),
        pathMtu: b50 >> 4,
        rdcExists: (b50 & 0x08) !== 0,
        rnrRetryCount: b50 & 0x7,
        maxCmRetries: b51 >> 4,
        srq: (b51 & 0x08) !== 0,
        extendedTransportType: b51 & 0x7,
        primaryPath: decodePath(buf, o + 52, 0x07),
        alternatePath: decodePath(buf, o + 96, 0x03),
        sapSupported: (buf.readUInt8(o + 139) & 0x04) !== 0,
        privateData: copyBytes(buf, o + 140, o + CM_MESSAGE_LEN),
      },
      bytes: CM_MESSAGE_LEN,
    };
  },
};

// ---- REP (attribute 0x0013)

export interface CmRep {
  localCommId: number;
  remoteCommId: number;
  localQkey: number;
  localQpn: number;
  /** 24 bits carried in octets 15 (high), 19 (middle), 23 (low); reserved before IBA comment #9434. */
  vendorId: number;
  localEecn: number;
  startingPsn: number;
  responderResources: number;
  initiatorDepth: number;
  /** 5 bits. */
  targetAckDelay: number;
  /** 2 bits. */
  failoverAccepted: number;
  endToEndFlowControl: boolean;
  rnrRetryCount: number;
  srq: boolean;
  /** Low 4 bits of octet 27. */
  reserved27: number;
  localCaGuid: bigint;
  privateData: Buffer;
}

export const cmRep: Codec<CmRep> = {
  encodingLength: () => CM_MESSAGE_LEN,
  encode(m, buf, o) {
    need(buf, o, CM_MESSAGE_LEN, 'cm.rep');
    checkUint('cm.rep.localCommId', o, m.localCommId, 32);
    checkUint('cm.rep.remoteCommId', o + 4, m.remoteCommId, 32);
    checkUint('cm.rep.localQkey', o + 8, m.localQkey, 32);
    checkUint('cm.rep.localQpn', o + 12, m.localQpn, 24);
    checkUint('cm.rep.vendorId', o + 15, m.vendorId, 24);
    checkUint('cm.rep.localEecn', o + 16, m.localEecn, 24);
    checkUint('cm.rep.startingPsn', o + 20, m.startingPsn, 24);
    checkUint('cm.rep.responderResources', o + 24, m.responderResources, 8);
    checkUint('cm.rep.initiatorDepth', o + 25, m.initiatorDepth, 8);
    checkUint('cm.rep.targetAckDelay', o + 26, m.targetAckDelay, 5);
    checkUint('cm.rep.failoverAccepted', o + 26, m.failoverAccepted, 2);
    checkBoolean('cm.rep.endToEndFlowControl', o + 26, m.endToEndFlowControl);
    checkUint('cm.rep.rnrRetryCount', o + 27, m.rnrRetryCount, 3);
    checkBoolean('cm.rep.srq', o + 27, m.srq);
    checkUint('cm.rep.reserved27', o + 27, m.reserved27, 4);
    checkUint64('cm.rep.localCaGuid', o + 28, m.localCaGuid);
    checkBytes('cm.rep.privateData', o + 36, m.privateData, CM_REP_PRIVATE_DATA_LEN);
    buf.writeUInt32BE(m.localCommId, o);
    buf.writeUInt32BE(m.remoteCommId, o + 4);
    buf.writeUInt32BE(m.localQkey, o + 8);
    buf.writeUIntBE(m.localQpn, o + 12, 3);
    buf.writeUInt8(m.vendorId >> 16, o + 15);
    buf.writeUIntBE(m.localEecn, o + 16, 3);
    buf.writeUInt8((m.vendorId >> 8) & 0xff, o + 19);
    buf.writeUIntBE(m.startingPsn, o + 20, 3);
    buf.writeUInt8(m.vendorId & 0xff, o + 23);
    buf.writeUInt8(m.responderResources, o + 24);
    buf.writeUInt8(m.initiatorDepth, o + 25);
    buf.writeUInt8((m.targetAckDelay << 3) | (m.failoverAccepted << 1) | (m.endToEndFlowControl ? 1 : 0), o + 26);
    buf.writeUInt8((m.rnrRetryCount << 5) | (m.srq ? 0x10 : 0) | m.reserved27, o + 27);
    buf.writeBigUInt64BE(m.localCaGuid, o + 28);
    m.privateData.copy(buf, o + 36);
    return CM_MESSAGE_LEN;
  },
  decode(buf, o) {
    need(buf, o, CM_MESSAGE_LEN, 'cm.rep');
    const b26 = buf.readUInt8(o + 26);
    const b27 = buf.readUInt8(o + 27);
    return {
      value: {
        localCommId: buf.readUInt32BE(o),
        remoteCommId: buf.readUInt32BE(o + 4),
        localQkey: buf.readUInt32BE(o + 8),
        localQpn: buf.readUIntBE(o + 12, 3),
        vendorId: (buf.readUInt8(o + 15) << 16) | (buf.readUInt8(o + 19) << 8) | buf.readUInt8(o + 23),
        localEecn: buf.readUIntBE(o + 16, 3),
        startingPsn: buf.readUIntBE(o + 20, 3),
        responderResources: buf.readUInt8(o + 24),
        initiatorDepth: buf.readUInt8(o + 25),
        targetAckDelay: b26 >> 3,
        failoverAccepted: (b26 >> 1) & 0x3,
        endToEndFlowControl: (b26 & 0x1) !== 0,
        rnrRetryCount: b27 >> 5,
        srq: (b27 & 0x10) !== 0,
        reserved27: b27 & 0x0f,
        localCaGuid: buf.readBigUInt64BE(o + 28),
        privateData: copyBytes(buf, o + 36, o + CM_MESSAGE_LEN),
      },
      bytes: CM_MESSAGE_LEN,
    };
  },
};

// ---- RTU (0x0014), DREP (0x0016): two comm IDs and private data

export interface CmRtu {
  localCommId: number;
  remoteCommId: number;
  privateData: Buffer;
}
export type CmDrep = CmRtu;

function commIdsAndPrivateData(name: 'rtu' | 'drep', privateLen: number): Codec<CmRtu> {
  const f = `cm.${name}`;
  return {
    encodingLength: () => CM_MESSAGE_LEN,
    encode(m, buf, o) {
      need(buf, o, CM_MESSAGE_LEN, f);
      checkUint(`${f}.localCommId`, o, m.localCommId, 32);
      checkUint(`${f}.remoteCommId`, o + 4, m.remoteCommId, 32);
      checkBytes(`${f}.privateData`, o + 8, m.privateData, privateLen);
      buf.writeUInt32BE(m.localCommId, o);
      buf.writeUInt32BE(m.remoteCommId, o + 4);
      m.privateData.copy(buf, o + 8);
      return CM_MESSAGE_LEN;
    },
    decode(buf, o) {
      need(buf, o, CM_MESSAGE_LEN, f);
      return {
        value: {
          localCommId: buf.readUInt32BE(o),
          remoteCommId: buf.readUInt32BE(o + 4),
          privateData: copyBytes(buf, o + 8, o + CM_MESSAGE_LEN),
        },
        bytes: CM_MESSAGE_LEN,
      };
    },
  };
}

export const cmRtu: Codec<CmRtu> = commIdsAndPrivateData('rtu', CM_RTU_PRIVATE_DATA_LEN);
export const cmDrep: Codec<CmDrep> = commIdsAndPrivateData('drep', CM_DREP_PRIVATE_DATA_LEN);

// ---- REJ (attribute 0x0012)

export interface CmRej {
  localCommId: number;
  remoteCommId: number;
  /** 2 bits, CM_REJ_MSG_*. */
  messageRejected: number;
  /** Low 6 bits of octet 8. */
  reserved8: number;
  /** 7 bits: how many ARI octets mean something (at most 72; `cmMessageProblems` flags more). */
  rejectedInfoLength: number;
  /** Low bit of octet 9. */
  reserved9: number;
  /** CM_REJ_REASONS value. */
  reason: number;
  /** Additional Rejection Information, always 72 octets on the wire. */
  ari: Buffer;
  privateData: Buffer;
}

export const cmRej: Codec<CmRej> = {
  encodingLength: () => CM_MESSAGE_LEN,
  encode(m, buf, o) {
    need(buf, o, CM_MESSAGE_LEN, 'cm.rej');
    checkUint('cm.rej.localCommId', o, m.localCommId, 32);
    checkUint('cm.rej.remoteCommId', o + 4, m.remoteCommId, 32);
    checkUint('cm.rej.messageRejected', o + 8, m.messageRejected, 2);
    checkUint('cm.rej.reserved8', o + 8, m.reserved8, 6);
    checkUint('cm.rej.rejectedInfoLength', o + 9, m.rejectedInfoLength, 7);
    checkUint('cm.rej.reserved9', o + 9, m.reserved9, 1);
    checkUint('cm.rej.reason', o + 10, m.reason, 16);
    checkBytes('cm.rej.ari', o + 12, m.ari, CM_REJ_ARI_LEN);
    checkBytes('cm.rej.privateData', o + 84, m.privateData, CM_REJ_PRIVATE_DATA_LEN);
    buf.writeUInt32BE(m.localCommId, o);
    buf.writeUInt32BE(m.remoteCommId, o + 4);
    buf.writeUInt8((m.messageRejected << 6) | m.reserved8, o + 8);
    buf.writeUInt8((m.rejectedInfoLength << 1) | m.reserved9, o + 9);
    buf.writeUInt16BE(m.reason, o + 10);
    m.ari.copy(buf, o + 12);
    m.privateData.copy(buf, o + 84);
    return CM_MESSAGE_LEN;
  },
  decode(buf, o) {
    need(buf, o, CM_MESSAGE_LEN, 'cm.rej');
    const b8 = buf.readUInt8(o + 8);
    const b9 = buf.readUInt8(o + 9);
    return {
      value: {
        localCommId: buf.readUInt32BE(o),
        remoteCommId: buf.readUInt32BE(o + 4),
        messageRejected: b8 >> 6,
        reserved8: b8 & 0x3f,
        rejectedInfoLength: b9 >> 1,
        reserved9: b9 & 0x1,
        reason: buf.readUInt16BE(o + 10),
        ari: copyBytes(buf, o + 12, o + 84),
        privateData: copyBytes(buf, o + 84, o + CM_MESSAGE_LEN),
      },
      bytes: CM_MESSAGE_LEN,
    };
  },
};

// ---- DREQ (attribute 0x0015)

export interface CmDreq {
  localCommId: number;
  remoteCommId: number;
  /** The remote QPN (or EECN for RD), 24 bits. */
  remoteQpn: number;
  /** Octet 11. */
  reserved11: number;
  privateData: Buffer;
}

export const cmDreq: Codec<CmDreq> = {
  encodingLength: () => CM_MESSAGE_LEN,
  encode(m, buf, o) {
    need(buf, o, CM_MESSAGE_LEN, 'cm.dreq');
    checkUint('cm.dreq.localCommId', o, m.localCommId, 32);
    checkUint('cm.dreq.remoteCommId', o + 4, m.remoteCommId, 32);
    checkUint('cm.dreq.remoteQpn', o + 8, m.remoteQpn, 24);
    checkUint('cm.dreq.reserved11', o + 11, m.reserved11, 8);
    checkBytes('cm.dreq.privateData', o + 12, m.privateData, CM_DREQ_PRIVATE_DATA_LEN);
    buf.writeUInt32BE(m.localCommId, o);
    buf.writeUInt32BE(m.remoteCommId, o + 4);
    buf.writeUIntBE(m.remoteQpn, o + 8, 3);
    buf.writeUInt8(m.reserved11, o + 11);
    m.privateData.copy(buf, o + 12);
    return CM_MESSAGE_LEN;
  },
  decode(buf, o) {
    need(buf, o, CM_MESSAGE_LEN, 'cm.dreq');
    return {
      value: {
        localCommId: buf.readUInt32BE(o),
        remoteCommId: buf.readUInt32BE(o + 4),
        remoteQpn: buf.readUIntBE(o + 8, 3),
        reserved11: buf.readUInt8(o + 11),
        privateData: copyBytes(buf, o + 12, o + CM_MESSAGE_LEN),
      },
      bytes: CM_MESSAGE_LEN,
    };
  },
};

// ---- whole CM MADs: attribute ID -> body

export type CmMessage =
  | { kind: 'REQ'; body: CmReq }
  | { kind: 'REP'; body: CmRep }
  | { kind: 'RTU'; body: CmRtu }
  | { kind: 'REJ'; body: CmRej }
  | { kind: 'DREQ'; body: CmDreq }
  | { kind: 'DREP'; body: CmDrep };

export type CmKind = CmMessage['kind'];

export const CM_ATTRIBUTE_IDS: Readonly<Record<CmKind, number>> = {
  REQ: CM_ATTR_REQ,
  REP: CM_ATTR_REP,
  RTU: CM_ATTR_RTU,
  REJ: CM_ATTR_REJ,
  DREQ: CM_ATTR_DREQ,
  DREP: CM_ATTR_DREP,
};

/** Decodes the body of a CM MAD by its AttributeID (MRA, LAP, APR and SIDR are not covered). */
export function decodeCmMessage(m: Mad): CmMessage {
  const { mgmtClass, attributeId } = m.header;
  if (mgmtClass !== MGMT_CLASS_CM) {
    throw new WireError('mad.mgmtClass', 1, `class 0x${mgmtClass.toString(16)} is not CM (0x07)`, mgmtClass);
  }
  switch (attributeId) {
    case CM_ATTR_REQ:
      return { kind: 'REQ', body: cmReq.decode(m.data, 0).value };
    case CM_ATTR_REP:
      return { kind: 'REP', body: cmRep.decode(m.data, 0).value };
    case CM_ATTR_RTU:
      return { kind: 'RTU', body: cmRtu.decode(m.data, 0).value };
    case CM_ATTR_REJ:
      return { kind: 'REJ', body: cmRej.decode(m.data, 0).value };
    case CM_ATTR_DREQ:
      return { kind: 'DREQ', body: cmDreq.decode(m.data, 0).value };
    case CM_ATTR_DREP:
      return { kind: 'DREP', body: cmDrep.decode(m.data, 0).value };
    default:
      throw new WireError('mad.attributeId', 16, `CM attribute 0x${attributeId.toString(16)} not decoded here`, attributeId);
  }
}

/** The AttributeID and the 232-octet MAD data area for `msg`. */
export function encodeCmMessage(msg: CmMessage): { attributeId: number; data: Buffer } {
  const data = Buffer.alloc(CM_MESSAGE_LEN);
  switch (msg.kind) {
    case 'REQ':
      cmReq.encode(msg.body, data, 0);
      break;
    case 'REP':
      cmRep.encode(msg.body, data, 0);
      break;
    case 'RTU':
      cmRtu.encode(msg.body, data, 0);
      break;
    case 'REJ':
      cmRej.encode(msg.body, data, 0);
      break;
    case 'DREQ':
      cmDreq.encode(msg.body, data, 0);
      break;
    case 'DREP':
      cmDrep.encode(msg.body, data, 0);
      break;
  }
  return { attributeId: CM_ATTRIBUTE_IDS[msg.kind], data };
}

/** Reserved bits set anywhere in the body, and REJ fields out of their defined range. */
export function cmMessageProblems(msg: CmMessage): string[] {
  const name = `cm.${msg.kind.toLowerCase()}`;
  const out = reservedProblems(name, msg.body);
  if (msg.kind === 'REJ') {
    if (msg.body.messageRejected > CM_REJ_MSG_OTHER) out.push(`${name}.messageRejected is 3, a reserved value`);
    if (msg.body.rejectedInfoLength > CM_REJ_ARI_LEN) {
      out.push(`${name}.rejectedInfoLength is ${msg.body.rejectedInfoLength}, more than the ${CM_REJ_ARI_LEN}-octet ARI`);
    }
  }
  return out;
}

// ---- IPoIB-CM private data (RFC 4755 §6): reserved(1) | UD QPN(3) | Receive MTU(4)
// Linux ipoib_cm.c `struct ipoib_cm_data` is the same 8 octets ({be32 qpn, be32 mtu}, the
// QPN's high octet ignored on receipt). The codec reads the first 8 octets of a private-data
// field and keeps the reserved octet as found.

export interface IpoibCmPrivateData {
  /** Octet 0: sent as zero, ignored on receipt. */
  reserved: number;
  /** The sender's UD QPN. */
  qpn: number;
  /** Largest message the sender accepts on this connection, in octets (Linux sends 65524). */
  receiveMtu: number;
}

export const ipoibCmPrivateData: Codec<IpoibCmPrivateData> = {
  encodingLength: () => IPOIB_CM_PRIVATE_DATA_LEN,
  encode(p, buf, o) {
    checkUint('ipoibCm.reserved', o, p.reserved, 8);
    checkUint('ipoibCm.qpn', o + 1, p.qpn, 24);
    checkUint('ipoibCm.receiveMtu', o + 4, p.receiveMtu, 32);
    need(buf, o, IPOIB_CM_PRIVATE_DATA_LEN, 'ipoibCm');
    buf.writeUInt8(p.reserved, o);
    buf.writeUIntBE(p.qpn, o + 1, 3);
    buf.writeUInt32BE(p.receiveMtu, o + 4);
    return IPOIB_CM_PRIVATE_DATA_LEN;
  },
  decode(buf, o) {
    need(buf, o, IPOIB_CM_PRIVATE_DATA_LEN, 'ipoibCm');
    return {
      value: { reserved: buf.readUInt8(o), qpn: buf.readUIntBE(o + 1, 3), receiveMtu: buf.readUInt32BE(o + 4) },
      bytes: IPOIB_CM_PRIVATE_DATA_LEN,
    };
  },
};

/** A zero-filled private-data field of `len` octets that starts with the IPoIB-CM data. */
export function ipoibCmPrivateDataField(p: IpoibCmPrivateData, len: number): Buffer {
  const out = Buffer.alloc(len);
  ipoibCmPrivateData.encode(p, out, 0);
  return out;
}

// ---- IPoIB-CM Service-ID (RFC 4755 §3.5): octet 0 prefix | 1 Type | 2-4 reserved | 5-7 UD QPN
// The RFC draws octet 0 as 0x01; Linux uses 0x10 (finding D1). Both prefixes are in constants.ts.

export type IpoibCmProfile = 'linux' | 'rfc';

const SERVICE_ID_PREFIX: Readonly<Record<IpoibCmProfile, bigint>> = {
  linux: IPOIB_CM_SERVICE_ID_PREFIX_LINUX,
  rfc: IPOIB_CM_SERVICE_ID_PREFIX_RFC,
};

/** Octet 0 of a profile's prefix (0x10 Linux, 0x01 RFC). */
function prefixOctet(profile: IpoibCmProfile): number {
  return Number(SERVICE_ID_PREFIX[profile] >> 56n);
}

/** The Service-ID a peer listens on for UD QPN `qpn`. */
export function ipoibCmServiceId(qpn: number, profile: IpoibCmProfile): bigint {
  checkUint('ipoibCm.serviceId.qpn', 5, qpn, 24);
  const prefix = SERVICE_ID_PREFIX[profile];
  if (prefix === undefined) {
    throw new WireError('ipoibCm.serviceId.profile', -1, `unknown profile ${String(profile)}`, profile);
  }
  return prefix | BigInt(qpn);
}

export interface IpoibCmServiceIdParts {
  /** Which prefix octet 0 matches, or null for neither. */
  profile: IpoibCmProfile | null;
  /** Octet 0. */
  prefix: number;
  /** Octet 1 (RFC 4755: must be 0). */
  type: number;
  /** Octets 2-4 (must be 0). */
  reserved: number;
  qpn: number;
}

export function parseIpoibCmServiceId(serviceId: bigint): IpoibCmServiceIdParts {
  checkUint64('ipoibCm.serviceId', 0, serviceId);
  const prefix = Number(serviceId >> 56n);
  const profile = (Object.keys(SERVICE_ID_PREFIX) as IpoibCmProfile[]).find((k) => prefixOctet(k) === prefix) ?? null;
  return {
    profile,
    prefix,
    type: Number((serviceId >> 48n) & 0xffn),
    reserved: Number((serviceId >> 24n) & 0xffffffn),
    qpn: Number(serviceId & 0xffffffn),
  };
}

/** What is wrong with a Service-ID the suite expected under `profile` (prefix, Type, reserved octets). */
export function ipoibCmServiceIdProblems(serviceId: bigint, profile: IpoibCmProfile): string[] {
  const p = parseIpoibCmServiceId(serviceId);
  const out: string[] = [];
  const want = prefixOctet(profile);
  if (p.prefix !== want) {
    out.push(`ipoibCm.serviceId octet 0 is 0x${p.prefix.toString(16)}, want 0x${want.toString(16)} (${profile})`);
  }
  if (p.type !== 0) out.push(`ipoibCm.serviceId Type is ${p.type}, must be 0`);
  if (p.reserved !== 0) out.push(`ipoibCm.serviceId reserved octets 2-4 are 0x${p.reserved.toString(16)}, must be 0`);
  return out;
}
