/**
 * The message bodies this CM sends, filled from its owners' options and its own state. The
 * choices a real CM makes for fields nobody passes in are here:
 * - the REQ: Q_Key and EECNs 0 (RC/UC need none), no end-to-end flow control, no RDC, no
 *   alternate path (an all-zero block), SubnetLocal set with hop limit 0 (one subnet, no GRH
 *   needed), LocalACKTimeout = PacketLifeTime + 1 (Linux cm_ack_timeout with a zero CA ACK
 *   delay), vendor ID 0;
 * - the REP: defaults cross the REQ's initiator depth and responder resources, and copy its
 *   RNR retry count, as Linux IPoIB-CM does;
 * - a REJ carries RejectedInfoLength = the ARI given; a REJ "timeout" carries the sender's CA
 *   GUID in its first 8 ARI octets (Linux cm.c does the same, and looks the GUID up on receipt).
 * Fields that do not fit throw WireError naming them (paddedField here, checkUint in the codecs).
 */
import { WireError } from '../../errors.js';
import {
  CM_DREP_PRIVATE_DATA_LEN,
  CM_DREQ_PRIVATE_DATA_LEN,
  CM_REJ_ARI_LEN,
  CM_REJ_PRIVATE_DATA_LEN,
  CM_REP_PRIVATE_DATA_LEN,
  CM_REQ_PRIVATE_DATA_LEN,
  CM_RTU_PRIVATE_DATA_LEN,
  CM_TRANSPORT_RC,
  type CmDrep,
  type CmDreq,
  type CmPath,
  type CmRej,
  type CmRep,
  type CmReq,
  type CmRtu,
} from '../../wire/cm.js';
import type { CmAcceptOptions, CmConnectOptions, CmRejectOptions } from './cm-api.js';
import { paddedField } from './cm-messages.js';

/** IB static-rate code put in REQ paths unless told otherwise: 7 = 40 Gb/s, the sim's default port rate. */
export const CM_DEFAULT_PACKET_RATE = 7;
/** Octets of the ARI a REJ "timeout" fills: the sender's CA GUID. */
export const CM_TIMEOUT_ARI_LEN = 8; // TODO(constants)

/** The all-zero path block (no alternate path). */
export function emptyCmPath(): CmPath {
  return {
    localLid: 0,
    remoteLid: 0,
    localGid: Buffer.alloc(16),
    remoteGid: Buffer.alloc(16),
    flowLabel: 0,
    reserved38: 0,
    packetRate: 0,
    trafficClass: 0,
    hopLimit: 0,
    sl: 0,
    subnetLocal: false,
    reserved42: 0,
    localAckTimeout: 0,
    reserved43: 0,
  };
}

/** What the REQ takes from the CM rather than from connect() options. */
export interface ReqContext {
  localCommId: number;
  caGuid: bigint;
  lid: number;
  gid: Buffer;
  packetLifeTime: number;
  /** Exponents and retry count already resolved from the options and their defaults. */
  responseTimeout: number;
  localResponseTimeout: number;
  maxCmRetries: number;
}

export function reqBody(o: CmConnectOptions, c: ReqContext): CmReq {
  const remoteGid = o.remoteGid ?? o.dest.gid;
  if (remoteGid === undefined) {
    throw new WireError('cm.req.primaryPath.remoteGid', 72, 'no remote GID: give remoteGid or dest.gid', undefined);
  }
  // The codec takes any 4-bit code; a REQ must carry one of the five IB MTUs.
  if (!(Number.isInteger(o.pathMtu) && o.pathMtu >= 1 && o.pathMtu <= 5)) {
    throw new WireError('cm.req.pathMtu', 50, `IB MTU code ${String(o.pathMtu)} is not 1..5`, o.pathMtu);
  }
  return {
    localCommId: c.localCommId,
    reserved4: 0,
    vendorId: 0,
    serviceId: o.serviceId,
    localCaGuid: c.caGuid,
    reserved24: 0,
    localQkey: 0,
    localQpn: o.localQpn,
    responderResources: o.responderResources ?? 4,
    localEecn: 0,
    initiatorDepth: o.initiatorDepth ?? 0,
    remoteEecn: 0,
    remoteCmResponseTimeout: c.responseTimeout,
    transportServiceType: o.transport ?? CM_TRANSPORT_RC,
    endToEndFlowControl: false,
    startingPsn: o.startingPsn,
    localCmResponseTimeout: c.localResponseTimeout,
    retryCount: o.retryCount ?? 7,
    pkey: o.pkey,
    pathMtu: o.pathMtu,
    rdcExists: false,
    rnrRetryCount: o.rnrRetryCount ?? 7,
    maxCmRetries: c.maxCmRetries,
    srq: o.srq ?? false,
    extendedTransportType: 0,
    primaryPath: {
      ...emptyCmPath(),
      localLid: c.lid,
      remoteLid: o.dest.lid,
      localGid: Buffer.from(c.gid),
      remoteGid: Buffer.from(remoteGid),
      packetRate: o.packetRate ?? CM_DEFAULT_PACKET_RATE,
      sl: o.sl ?? 0,
      subnetLocal: true,
      localAckTimeout: Math.min(31, c.packetLifeTime + 1),
    },
    alternatePath: emptyCmPath(),
    sapSupported: false,
    privateData: paddedField('cm.req.privateData', 140, o.privateData, CM_REQ_PRIVATE_DATA_LEN),
  };
}

export function repBody(o: CmAcceptOptions, req: CmReq, localCommId: number, caGuid: bigint): CmRep {
  return {
    localCommId,
    remoteCommId: req.localCommId,
    localQkey: 0,
    localQpn: o.localQpn,
    vendorId: 0,
    localEecn: 0,
    startingPsn: o.startingPsn,
    responderResources: o.responderResources ?? req.initiatorDepth,
    initiatorDepth: o.initiatorDepth ?? req.responderResources,
    targetAckDelay: o.targetAckDelay ?? 0,
    failoverAccepted: o.failoverAccepted ?? 0,
    endToEndFlowControl: false,
    rnrRetryCount: o.rnrRetryCount ?? req.rnrRetryCount,
    srq: o.srq ?? false,
    reserved27: 0,
    localCaGuid: caGuid,
    privateData: paddedField('cm.rep.privateData', 36, o.privateData, CM_REP_PRIVATE_DATA_LEN),
  };
}

export function rejBody(
  localCommId: number,
  remoteCommId: number,
  messageRejected: number,
  reason: number,
  o: CmRejectOptions = {},
): CmRej {
  return {
    localCommId,
    remoteCommId,
    messageRejected,
    reserved8: 0,
    rejectedInfoLength: o.ari?.length ?? 0,
    reserved9: 0,
    reason,
    ari: paddedField('cm.rej.ari', 12, o.ari, CM_REJ_ARI_LEN),
    privateData: paddedField('cm.rej.privateData', 84, o.privateData, CM_REJ_PRIVATE_DATA_LEN),
  };
}

/** The ARI of a REJ "timeout": the sender's CA GUID. */
export function timeoutAri(caGuid: bigint): Buffer {
  const ari = Buffer.alloc(CM_TIMEOUT_ARI_LEN);
  ari.writeBigUInt64BE(caGuid);
  return ari;
}

export function rtuBody(localCommId: number, remoteCommId: number): CmRtu {
  return { localCommId, remoteCommId, privateData: Buffer.alloc(CM_RTU_PRIVATE_DATA_LEN) };
}

export function dreqBody(localCommId: number, remoteCommId: number, remoteQpn: number, privateData?: Buffer): CmDreq {
  return {
    localCommId,
    remoteCommId,
    remoteQpn,
    reserved11: 0,
    privateData: paddedField('cm.dreq.privateData', 12, privateData, CM_DREQ_PRIVATE_DATA_LEN),
  };
}

export function drepBody(localCommId: number, remoteCommId: number): CmDrep {
  return { localCommId, remoteCommId, privateData: Buffer.alloc(CM_DREP_PRIVATE_DATA_LEN) };
}
