import { expect } from 'chai';
import {
  CM_DREP_PRIVATE_DATA_LEN,
  CM_DREQ_PRIVATE_DATA_LEN,
  CM_MESSAGE_LEN,
  CM_REJ_ARI_LEN,
  CM_REJ_MSG_REP,
  CM_REJ_MSG_REQ,
  CM_REJ_PRIVATE_DATA_LEN,
  CM_REJ_REASONS,
  CM_REP_PRIVATE_DATA_LEN,
  CM_REQ_PRIVATE_DATA_LEN,
  CM_RTU_PRIVATE_DATA_LEN,
  CM_TRANSPORT_RC,
  CM_TRANSPORT_UC,
  type CmDreq,
  type CmPath,
  type CmRej,
  type CmRep,
  type CmReq,
  type CmRtu,
  cmDrep,
  cmDreq,
  cmMessageProblems,
  cmRej,
  cmRep,
  cmReq,
  cmRtu,
  decodeCmMessage,
  encodeCmMessage,
  type IpoibCmPrivateData,
  ipoibCmPrivateData,
  ipoibCmPrivateDataField,
  ipoibCmServiceId,
  ipoibCmServiceIdProblems,
  parseIpoibCmServiceId,
} from '../../src/wire/cm.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import {
  CM_ATTR_MRA,
  CM_ATTR_REJ,
  CM_ATTR_REQ,
  IPOIB_CM_PRIVATE_DATA_LEN,
  MAD_METHOD_SEND,
  MGMT_CLASS_CM,
  MGMT_CLASS_SUBN_ADM,
} from '../../src/wire/constants.js';
import type { Mad, MadHeader } from '../../src/wire/mad.js';
import { expectWireError, hex, roundtrip } from '../helpers/roundtrip.js';

/** `n` zero octets as hex. */
const zeros = (n: number): string => '00'.repeat(n);

// IPoIB-CM private data golden (RFC 4755 §6), octet by octet:
//   00        reserved
//   000048    UD QPN 0x48
//   0000fff4  Receive MTU 65524 (= 65520 IP MTU + 4-octet header, what Linux sends)
const IPOIB_PD: IpoibCmPrivateData = { reserved: 0, qpn: 0x48, receiveMtu: 65524 };
const IPOIB_PD_HEX = '00 000048 0000fff4';
const PEER_PD: IpoibCmPrivateData = { reserved: 0, qpn: 0x49, receiveMtu: 65524 };
const PEER_PD_HEX = '00 000049 0000fff4';

const ZERO_PATH: CmPath = {
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

// REQ golden (an IPoIB-CM connect to UD QPN 0x48, Linux Service-ID), by octet of the body:
//    0-3   11223344          Local Communication ID
//    4     00                reserved
//    5-7   000000            VendorID
//    8-15  1000000000000048  ServiceID: Linux prefix 0x10 | UD QPN 0x48
//   16-23  0002c90300012345  Local CA GUID
//   24-27  00000000          reserved
//   28-31  12345678          Local Q_Key
//   32-34  000049            Local QPN;  35  04  Responder Resources
//   36-38  0a0b0c            Local EECN; 39  05  Initiator Depth
//   40-42  0d0e0f            Remote EECN
//   43     a3                Remote CM Response Timeout 20 << 3 = 0xa0 | Transport 1 (UC) << 1 = 0x02 | E2E flow control 1
//   44-46  123456            Starting PSN
//   47     a7                Local CM Response Timeout 20 << 3 = 0xa0 | Retry Count 7
//   48-49  ffff              P_Key
//   50     4e                Path MTU 4 << 4 = 0x40 | RDC Exists 1 << 3 = 0x08 | RNR Retry Count 6
//   51     fd                Max CM Retries 15 << 4 = 0xf0 | SRQ 1 << 3 = 0x08 | Extended Transport Type 5
//   52-95  primary path:
//          52 0003 local LID | 54 0004 remote LID
//          56 fe80000000000000 0002c90300012345 local GID | 72 fe80000000000000 0002c90300012346 remote GID
//          88 12345006  Flow Label 0x12345 << 12 = 0x12345000 | reserved 0 | Packet Rate 6
//          92 20 Traffic Class | 93 01 Hop Limit
//          94 58  SL 5 << 4 = 0x50 | Subnet Local 1 << 3 = 0x08 | reserved 0
//          95 90  Local ACK Timeout 18 << 3 = 0x90 | reserved 0
//   96-139 alternate path: 44 zero octets (none), SAP not supported
//  140-231 private data: IPoIB-CM data (UD QPN 0x48) then 84 zero octets
const PRIMARY: CmPath = {
  localLid: 3,
  remoteLid: 4,
  localGid: hex('fe80000000000000 0002c90300012345'),
  remoteGid: hex('fe80000000000000 0002c90300012346'),
  flowLabel: 0x12345,
  reserved38: 0,
  packetRate: 6,
  trafficClass: 0x20,
  hopLimit: 1,
  sl: 5,
  subnetLocal: true,
  reserved42: 0,
  localAckTimeout: 18,
  reserved43: 0,
};
const REQ: CmReq = {
  localCommId: 0x11223344,
  reserved4: 0,
  vendorId: 0,
  serviceId: 0x1000000000000048n,
  localCaGuid: 0x0002c90300012345n,
  reserved24: 0,
  localQkey: 0x12345678,
  localQpn: 0x49,
  responderResources: 4,
  localEecn: 0x0a0b0c,
  initiatorDepth: 5,
  remoteEecn: 0x0d0e0f,
  remoteCmResponseTimeout: 20,
  transportServiceType: CM_TRANSPORT_UC,
  endToEndFlowControl: true,
  startingPsn: 0x123456,
  localCmResponseTimeout: 20,
  retryCount: 7,
  pkey: 0xffff,
  pathMtu: 4,
  rdcExists: true,
  rnrRetryCount: 6,
  maxCmRetries: 15,
  srq: true,
  extendedTransportType: 5,
  primaryPath: PRIMARY,
  alternatePath: ZERO_PATH,
  sapSupported: false,
  privateData: ipoibCmPrivateDataField(IPOIB_PD, CM_REQ_PRIVATE_DATA_LEN),
};
const REQ_HEX = [
  '11223344 00 000000 1000000000000048 0002c90300012345 00000000 12345678',
  '000049 04 0a0b0c 05 0d0e0f a3 123456 a7 ffff 4e fd',
  '0003 0004 fe80000000000000 0002c90300012345 fe80000000000000 0002c90300012346 12345006 20 01 58 90',
  zeros(44),
  IPOIB_PD_HEX + zeros(84),
].join('');

// REP golden (the passive side's answer), by octet:
//    0-3   55667788          Local Communication ID
//    4-7   11223344          Remote Communication ID
//    8-11  0000abcd          Local Q_Key
//   12-14  00004a            Local QPN;          15 12  VendorID[23:16]
//   16-18  000000            Local EE Context;   19 34  VendorID[15:8]
//   20-22  abcdef            Starting PSN;       23 56  VendorID[7:0]
//   24     04                Responder Resources
//   25     00                Initiator Depth
//   26     7b                Target ACK Delay 15 << 3 = 0x78 | Failover Accepted 1 << 1 = 0x02 | E2E 1
//   27     f0                RNR Retry Count 7 << 5 = 0xe0 | SRQ 1 << 4 = 0x10 | reserved 0
//   28-35  0002c90300012346  Local CA GUID
//   36-231 private data: IPoIB-CM data (UD QPN 0x49) then 188 zero octets
const REP: CmRep = {
  localCommId: 0x55667788,
  remoteCommId: 0x11223344,
  localQkey: 0xabcd,
  localQpn: 0x4a,
  vendorId: 0x123456,
  localEecn: 0,
  startingPsn: 0xabcdef,
  responderResources: 4,
  initiatorDepth: 0,
  targetAckDelay: 15,
  failoverAccepted: 1,
  endToEndFlowControl: true,
  rnrRetryCount: 7,
  srq: true,
  reserved27: 0,
  localCaGuid: 0x0002c90300012346n,
  privateData: ipoibCmPrivateDataField(PEER_PD, CM_REP_PRIVATE_DATA_LEN),
};
const REP_HEX = '55667788 11223344 0000abcd 00004a 12 000000 34 abcdef 56 04 00 7b f0 0002c90300012346' + PEER_PD_HEX + zeros(188);

// RTU golden: 11223344 local, 55667788 remote, 224 zero octets of private data.
const RTU: CmRtu = { localCommId: 0x11223344, remoteCommId: 0x55667788, privateData: Buffer.alloc(CM_RTU_PRIVATE_DATA_LEN) };
const RTU_HEX = '11223344 55667788' + zeros(224);

// REJ golden (consumer reject of a REQ, RFC 4755 crossing-REQ loser), by octet:
//    0-3  55667788  Local Communication ID;  4-7 11223344  Remote Communication ID
//    8    00        Message REJected 0 (REQ) << 6 | reserved 0
//    9    00        Rejected Info Length 0 << 1 | reserved 0
//   10-11 001c      Reason 28 (consumer defined)
//   12-83 72 zero octets of ARI
//   84-231 private data: IPoIB-CM data (UD QPN 0x49) then 140 zero octets
const REJ: CmRej = {
  localCommId: 0x55667788,
  remoteCommId: 0x11223344,
  messageRejected: CM_REJ_MSG_REQ,
  reserved8: 0,
  rejectedInfoLength: 0,
  reserved9: 0,
  reason: CM_REJ_REASONS.consumerDefined,
  ari: Buffer.alloc(CM_REJ_ARI_LEN),
  privateData: ipoibCmPrivateDataField(PEER_PD, CM_REJ_PRIVATE_DATA_LEN),
};
const REJ_HEX = '55667788 11223344 00 00 001c' + zeros(72) + PEER_PD_HEX + zeros(140);

// REJ golden 2: a REP rejected for an invalid Service-ID with 8 octets of ARI:
//    8 40  Message REJected 1 (REP) << 6     9 10  Rejected Info Length 8 << 1
//   10-11 0008 Reason 8                      12-19 0102030405060708 ARI, then 64 zero octets
const REJ_ARI: CmRej = {
  ...REJ,
  messageRejected: CM_REJ_MSG_REP,
  rejectedInfoLength: 8,
  reason: CM_REJ_REASONS.invalidServiceId,
  ari: Buffer.concat([hex('0102030405060708'), Buffer.alloc(64)]),
  privateData: Buffer.alloc(CM_REJ_PRIVATE_DATA_LEN),
};
const REJ_ARI_HEX = '55667788 11223344 40 10 0008 0102030405060708' + zeros(64) + zeros(148);

// DREQ golden: 11223344 local | 55667788 remote | 00004a Remote QPN | 00 reserved | 220 zero octets.
const DREQ: CmDreq = {
  localCommId: 0x11223344,
  remoteCommId: 0x55667788,
  remoteQpn: 0x4a,
  reserved11: 0,
  privateData: Buffer.alloc(CM_DREQ_PRIVATE_DATA_LEN),
};
const DREQ_HEX = '11223344 55667788 00004a 00' + zeros(220);

// DREP golden: 55667788 local | 11223344 remote | 224 zero octets.
const DREP: CmRtu = { localCommId: 0x55667788, remoteCommId: 0x11223344, privateData: Buffer.alloc(CM_DREP_PRIVATE_DATA_LEN) };
const DREP_HEX = '55667788 11223344' + zeros(224);

function cmMadWith(attributeId: number, data: Buffer, mgmtClass = MGMT_CLASS_CM): Mad {
  const header: MadHeader = {
    baseVersion: 1,
    mgmtClass,
    classVersion: 2,
    method: MAD_METHOD_SEND,
    status: 0,
    classSpecific: 0,
    transactionId: 0x42n,
    attributeId,
    reserved: 0,
    attributeModifier: 0,
  };
  return { header, data };
}

describe('CM message sizes @cm', () => {
  it('fills the 232-octet data area with the private data sizes REQ 92, REP 196, RTU 224, REJ 148, DREQ 220, DREP 224 @cm', () => {
    expect(CM_MESSAGE_LEN).to.equal(232);
    expect([
      CM_REQ_PRIVATE_DATA_LEN,
      CM_REP_PRIVATE_DATA_LEN,
      CM_RTU_PRIVATE_DATA_LEN,
      CM_REJ_PRIVATE_DATA_LEN,
      CM_DREQ_PRIVATE_DATA_LEN,
      CM_DREP_PRIVATE_DATA_LEN,
    ]).to.deep.equal([92, 196, 224, 148, 220, 224]);
    for (const h of [REQ_HEX, REP_HEX, RTU_HEX, REJ_HEX, REJ_ARI_HEX, DREQ_HEX, DREP_HEX]) expect(hex(h)).to.have.length(232);
  });
});

describe('CM REQ @cm', () => {
  it('round-trips an IPoIB-CM connect request against hand-derived octets, P_Key and Q_Key included @cm @pkey @qkey', () => {
    roundtrip(cmReq, REQ, REQ_HEX);
  });

  it('reads SAP Supported from octet 139 bit 5 and keeps the reserved bits beside it @cm', () => {
    const bytes = hex(REQ_HEX);
    bytes[139] = 0x04;
    let req = cmReq.decode(bytes, 0).value;
    expect(req.sapSupported).to.equal(true);
    expect([req.alternatePath.localAckTimeout, req.alternatePath.reserved43]).to.deep.equal([0, 0]);
    bytes[139] = 0xfb; // timeout 0x1f, SAP 0, reserved 0x3
    req = cmReq.decode(bytes, 0).value;
    expect([req.sapSupported, req.alternatePath.localAckTimeout, req.alternatePath.reserved43]).to.deep.equal([false, 0x1f, 3]);
    expect(encodeToBuffer(cmReq, req).toString('hex')).to.equal(bytes.toString('hex'));
  });

  it('keeps every reserved bit of the body and the path blocks @cm', () => {
    const bytes = hex(REQ_HEX);
    bytes[4] = 0xaa; // reserved
    bytes.writeUInt32BE(0xdeadbeef, 24); // reserved
    bytes.writeUInt32BE(0x12345fc6, 88); // primary flow label word: reserved 6 bits all set
    bytes[94] = 0x5f; // SL 5, subnet local 1, reserved 7
    bytes[95] = 0x97; // ACK timeout 18, reserved 7
    const req = cmReq.decode(bytes, 0).value;
    expect([req.reserved4, req.reserved24]).to.deep.equal([0xaa, 0xdeadbeef]);
    const p = req.primaryPath;
    expect([p.flowLabel, p.reserved38, p.packetRate, p.reserved42, p.reserved43]).to.deep.equal([0x12345, 0x3f, 6, 7, 7]);
    expect(encodeToBuffer(cmReq, req).toString('hex')).to.equal(bytes.toString('hex'));
    expect(cmMessageProblems({ kind: 'REQ', body: req })).to.have.length(5);
  });

  it('reads the vendor ID from octets 5-7 @cm', () => {
    const bytes = hex(REQ_HEX);
    hex('0002c9').copy(bytes, 5);
    expect(cmReq.decode(bytes, 0).value.vendorId).to.equal(0x0002c9);
  });

  it('validates every field range on encode @cm', () => {
    const bad: Array<[Partial<CmReq>, string]> = [
      [{ localCommId: 2 ** 32 }, 'cm.req.localCommId'],
      [{ reserved4: 256 }, 'cm.req.reserved4'],
      [{ vendorId: 2 ** 24 }, 'cm.req.vendorId'],
      [{ serviceId: 1n << 64n }, 'cm.req.serviceId'],
      [{ localCaGuid: -1n }, 'cm.req.localCaGuid'],
      [{ reserved24: -1 }, 'cm.req.reserved24'],
      [{ localQkey: 2 ** 32 }, 'cm.req.localQkey'],
      [{ localQpn: 2 ** 24 }, 'cm.req.localQpn'],
      [{ responderResources: 256 }, 'cm.req.responderResources'],
      [{ localEecn: 2 ** 24 }, 'cm.req.localEecn'],
      [{ initiatorDepth: 256 }, 'cm.req.initiatorDepth'],
      [{ remoteEecn: -1 }, 'cm.req.remoteEecn'],
      [{ remoteCmResponseTimeout: 32 }, 'cm.req.remoteCmResponseTimeout'],
      [{ transportServiceType: 4 }, 'cm.req.transportServiceType'],
      [{ endToEndFlowControl: 1 as unknown as boolean }, 'cm.req.endToEndFlowControl'],
      [{ startingPsn: 2 ** 24 }, 'cm.req.startingPsn'],
      [{ localCmResponseTimeout: 32 }, 'cm.req.localCmResponseTimeout'],
      [{ retryCount: 8 }, 'cm.req.retryCount'],
      [{ pkey: 0x10000 }, 'cm.req.pkey'],
      [{ pathMtu: 16 }, 'cm.req.pathMtu'],
      [{ rdcExists: null as unknown as boolean }, 'cm.req.rdcExists'],
      [{ rnrRetryCount: 8 }, 'cm.req.rnrRetryCount'],
      [{ maxCmRetries: 16 }, 'cm.req.maxCmRetries'],
      [{ srq: 'y' as unknown as boolean }, 'cm.req.srq'],
      [{ extendedTransportType: 8 }, 'cm.req.extendedTransportType'],
      [{ sapSupported: 0 as unknown as boolean }, 'cm.req.sapSupported'],
      [{ privateData: Buffer.alloc(91) }, 'cm.req.privateData'],
      [{ privateData: Buffer.alloc(93) }, 'cm.req.privateData'],
    ];
    for (const [patch, field] of bad) expectWireError(() => encodeToBuffer(cmReq, { ...REQ, ...patch }), field);
  });

  it('validates every path field, with a 2-bit reserved tail in the alternate path @cm', () => {
    const bad: Array<[Partial<CmPath>, string]> = [
      [{ localLid: 0x10000 }, 'localLid'],
      [{ remoteLid: -1 }, 'remoteLid'],
      [{ localGid: Buffer.alloc(15) }, 'localGid'],
      [{ remoteGid: Buffer.alloc(17) }, 'remoteGid'],
      [{ flowLabel: 0x100000 }, 'flowLabel'],
      [{ reserved38: 64 }, 'reserved38'],
      [{ packetRate: 64 }, 'packetRate'],
      [{ trafficClass: 256 }, 'trafficClass'],
      [{ hopLimit: 256 }, 'hopLimit'],
      [{ sl: 16 }, 'sl'],
      [{ subnetLocal: 1 as unknown as boolean }, 'subnetLocal'],
      [{ reserved42: 8 }, 'reserved42'],
      [{ localAckTimeout: 32 }, 'localAckTimeout'],
      [{ reserved43: 8 }, 'reserved43'],
    ];
    for (const [patch, field] of bad) {
      expectWireError(() => encodeToBuffer(cmReq, { ...REQ, primaryPath: { ...PRIMARY, ...patch } }), `cm.req.primaryPath.${field}`);
      const alternatePath = { ...ZERO_PATH, ...patch };
      expectWireError(() => encodeToBuffer(cmReq, { ...REQ, alternatePath }), `cm.req.alternatePath.${field}`);
    }
    expect(() => encodeToBuffer(cmReq, { ...REQ, primaryPath: { ...PRIMARY, reserved43: 4 } })).not.to.throw();
    const wideTail = { ...ZERO_PATH, reserved43: 4 };
    expectWireError(() => encodeToBuffer(cmReq, { ...REQ, alternatePath: wideTail }), 'cm.req.alternatePath.reserved43');
  });

  it('does not write a byte when a later field is invalid @cm', () => {
    const out = Buffer.alloc(232, 0xee);
    expectWireError(() => cmReq.encode({ ...REQ, alternatePath: { ...ZERO_PATH, sl: 99 } }, out, 0), 'cm.req.alternatePath.sl');
    expect(out.every((b) => b === 0xee)).to.equal(true);
  });

  it('returns GIDs and private data that do not alias the frame @cm', () => {
    const frame = hex(REQ_HEX);
    const req = cmReq.decode(frame, 0).value;
    frame.fill(0);
    expect(req.primaryPath.remoteGid.toString('hex')).to.equal('fe800000000000000002c90300012346');
    expect(req.privateData.subarray(0, 8).toString('hex')).to.equal('00000048' + '0000fff4');
  });
});

describe('CM REP @cm', () => {
  it('round-trips a reply against hand-derived octets, Q_Key included @cm @qkey', () => {
    roundtrip(cmRep, REP, REP_HEX);
  });

  it('splits the vendor ID over octets 15, 19 and 23 @cm', () => {
    const out = encodeToBuffer(cmRep, REP);
    expect([out[15], out[19], out[23]]).to.deep.equal([0x12, 0x34, 0x56]);
    expect(out.readUIntBE(12, 3)).to.equal(0x4a);
    expect(out.readUIntBE(20, 3)).to.equal(0xabcdef);
  });

  it('keeps the reserved low nibble of octet 27 @cm', () => {
    const bytes = hex(REP_HEX);
    bytes[27] = 0x2f; // RNR retry 1, SRQ 0, reserved 0xf
    const rep = cmRep.decode(bytes, 0).value;
    expect([rep.rnrRetryCount, rep.srq, rep.reserved27]).to.deep.equal([1, false, 0xf]);
    expect(cmMessageProblems({ kind: 'REP', body: rep })).to.deep.equal([
      'cm.rep.reserved27 is 0xf, reserved bits must be sent as zero',
    ]);
  });

  it('validates every field range on encode @cm', () => {
    const bad: Array<[Partial<CmRep>, string]> = [
      [{ localCommId: -1 }, 'cm.rep.localCommId'],
      [{ remoteCommId: 2 ** 32 }, 'cm.rep.remoteCommId'],
      [{ localQkey: 2 ** 32 }, 'cm.rep.localQkey'],
      [{ localQpn: 2 ** 24 }, 'cm.rep.localQpn'],
      [{ vendorId: 2 ** 24 }, 'cm.rep.vendorId'],
      [{ localEecn: 2 ** 24 }, 'cm.rep.localEecn'],
      [{ startingPsn: 2 ** 24 }, 'cm.rep.startingPsn'],
      [{ responderResources: 256 }, 'cm.rep.responderResources'],
      [{ initiatorDepth: 256 }, 'cm.rep.initiatorDepth'],
      [{ targetAckDelay: 32 }, 'cm.rep.targetAckDelay'],
      [{ failoverAccepted: 4 }, 'cm.rep.failoverAccepted'],
      [{ endToEndFlowControl: 0 as unknown as boolean }, 'cm.rep.endToEndFlowControl'],
      [{ rnrRetryCount: 8 }, 'cm.rep.rnrRetryCount'],
      [{ srq: 1 as unknown as boolean }, 'cm.rep.srq'],
      [{ reserved27: 16 }, 'cm.rep.reserved27'],
      [{ localCaGuid: 1n << 64n }, 'cm.rep.localCaGuid'],
      [{ privateData: Buffer.alloc(195) }, 'cm.rep.privateData'],
    ];
    for (const [patch, field] of bad) expectWireError(() => encodeToBuffer(cmRep, { ...REP, ...patch }), field);
  });
});

describe('CM RTU, DREQ and DREP @cm', () => {
  it('round-trips a ready-to-use against hand-derived octets @cm', () => {
    roundtrip(cmRtu, RTU, RTU_HEX);
  });

  it('round-trips a disconnect request against hand-derived octets @cm', () => {
    roundtrip(cmDreq, DREQ, DREQ_HEX);
  });

  it('round-trips a disconnect reply against hand-derived octets @cm', () => {
    roundtrip(cmDrep, DREP, DREP_HEX);
  });

  it('keeps the reserved octet after the DREQ remote QPN @cm', () => {
    const bytes = hex(DREQ_HEX);
    bytes[11] = 0x99;
    const dreq = cmDreq.decode(bytes, 0).value;
    expect([dreq.remoteQpn, dreq.reserved11]).to.deep.equal([0x4a, 0x99]);
  });

  it('validates ranges and private data sizes on encode @cm', () => {
    expectWireError(() => encodeToBuffer(cmRtu, { ...RTU, localCommId: 2 ** 32 }), 'cm.rtu.localCommId');
    expectWireError(() => encodeToBuffer(cmRtu, { ...RTU, privateData: Buffer.alloc(223) }), 'cm.rtu.privateData');
    expectWireError(() => encodeToBuffer(cmDrep, { ...DREP, remoteCommId: -1 }), 'cm.drep.remoteCommId');
    expectWireError(() => encodeToBuffer(cmDrep, { ...DREP, privateData: Buffer.alloc(225) }), 'cm.drep.privateData');
    expectWireError(() => encodeToBuffer(cmDreq, { ...DREQ, remoteQpn: 2 ** 24 }), 'cm.dreq.remoteQpn');
    expectWireError(() => encodeToBuffer(cmDreq, { ...DREQ, reserved11: 256 }), 'cm.dreq.reserved11');
    expectWireError(() => encodeToBuffer(cmDreq, { ...DREQ, privateData: Buffer.alloc(219) }), 'cm.dreq.privateData');
  });
});

describe('CM REJ @cm', () => {
  it('round-trips a consumer reject against hand-derived octets @cm', () => {
    roundtrip(cmRej, REJ, REJ_HEX);
  });

  it('round-trips a rejected REP with ARI against hand-derived octets @cm', () => {
    roundtrip(cmRej, REJ_ARI, REJ_ARI_HEX);
  });

  it('uses the Linux reason numbers: no QP 1, invalid Service-ID 8, consumer defined 28 @cm', () => {
    expect([CM_REJ_REASONS.noQp, CM_REJ_REASONS.invalidServiceId, CM_REJ_REASONS.consumerDefined]).to.deep.equal([1, 8, 28]);
  });

  it('keeps reserved bits and judges a reserved message kind and an oversize info length @cm', () => {
    const bytes = hex(REJ_HEX);
    bytes[8] = 0xff; // MessageRejected 3 (reserved value), reserved 0x3f
    bytes[9] = 0xc9; // Rejected Info Length 100, reserved 1
    const rej = cmRej.decode(bytes, 0).value;
    expect([rej.messageRejected, rej.reserved8, rej.rejectedInfoLength, rej.reserved9]).to.deep.equal([3, 0x3f, 100, 1]);
    const problems = cmMessageProblems({ kind: 'REJ', body: rej });
    expect(problems).to.have.length(4);
    expect(problems[2]).to.match(/messageRejected is 3/);
    expect(problems[3]).to.match(/rejectedInfoLength is 100/);
  });

  it('validates every field range on encode @cm', () => {
    const bad: Array<[Partial<CmRej>, string]> = [
      [{ localCommId: 2 ** 32 }, 'cm.rej.localCommId'],
      [{ remoteCommId: -1 }, 'cm.rej.remoteCommId'],
      [{ messageRejected: 4 }, 'cm.rej.messageRejected'],
      [{ reserved8: 64 }, 'cm.rej.reserved8'],
      [{ rejectedInfoLength: 128 }, 'cm.rej.rejectedInfoLength'],
      [{ reserved9: 2 }, 'cm.rej.reserved9'],
      [{ reason: 0x10000 }, 'cm.rej.reason'],
      [{ ari: Buffer.alloc(71) }, 'cm.rej.ari'],
      [{ privateData: Buffer.alloc(147) }, 'cm.rej.privateData'],
    ];
    for (const [patch, field] of bad) expectWireError(() => encodeToBuffer(cmRej, { ...REJ, ...patch }), field);
  });
});

describe('CM bodies inside a MAD @cm @mad', () => {
  it('decodes a MAD by its attribute ID @cm @mad', () => {
    const msg = decodeCmMessage(cmMadWith(CM_ATTR_REQ, hex(REQ_HEX)));
    expect(msg).to.deep.equal({ kind: 'REQ', body: REQ });
  });

  it('encodes a message to its attribute ID and data area @cm @mad', () => {
    const { attributeId, data } = encodeCmMessage({ kind: 'REJ', body: REJ });
    expect(attributeId).to.equal(CM_ATTR_REJ);
    expect(data.toString('hex')).to.equal(hex(REJ_HEX).toString('hex'));
    for (const [kind, body, h] of [
      ['REP', REP, REP_HEX],
      ['RTU', RTU, RTU_HEX],
      ['DREQ', DREQ, DREQ_HEX],
      ['DREP', DREP, DREP_HEX],
    ] as const) {
      const enc = encodeCmMessage({ kind, body } as Parameters<typeof encodeCmMessage>[0]);
      expect(enc.data.toString('hex'), kind).to.equal(hex(h).toString('hex'));
      expect(decodeCmMessage(cmMadWith(enc.attributeId, enc.data)), kind).to.deep.equal({ kind, body });
    }
  });

  it('rejects a MAD of another class and an attribute it does not decode (MRA) @cm @mad', () => {
    expectWireError(() => decodeCmMessage(cmMadWith(CM_ATTR_REQ, hex(REQ_HEX), MGMT_CLASS_SUBN_ADM)), 'mad.mgmtClass');
    const err = expectWireError(() => decodeCmMessage(cmMadWith(CM_ATTR_MRA, hex(REQ_HEX))), 'mad.attributeId');
    expect(err.value).to.equal(CM_ATTR_MRA);
  });

  it('rejects a truncated data area @cm @mad', () => {
    expectWireError(() => decodeCmMessage(cmMadWith(CM_ATTR_REQ, hex(REQ_HEX).subarray(0, 231))), 'cm.req');
  });

  it('finds nothing to judge in the golden messages @cm @mad', () => {
    expect(cmMessageProblems({ kind: 'REQ', body: REQ })).to.deep.equal([]);
    expect(cmMessageProblems({ kind: 'REJ', body: REJ_ARI })).to.deep.equal([]);
    expect(CM_TRANSPORT_RC).to.equal(0);
  });
});

describe('IPoIB-CM private data @cm', () => {
  it('round-trips the 8 octets against hand-derived bytes @cm', () => {
    expect(IPOIB_CM_PRIVATE_DATA_LEN).to.equal(8);
    roundtrip(ipoibCmPrivateData, IPOIB_PD, IPOIB_PD_HEX);
  });

  it('keeps a non-zero reserved octet apart from the QPN @cm', () => {
    const p = ipoibCmPrivateData.decode(hex('ff 000048 00000800'), 0).value;
    expect(p).to.deep.equal({ reserved: 0xff, qpn: 0x48, receiveMtu: 2048 });
  });

  it('reads the data at the start of a longer private-data field @cm', () => {
    const field = ipoibCmPrivateDataField(IPOIB_PD, CM_REP_PRIVATE_DATA_LEN);
    expect(field).to.have.length(196);
    expect(ipoibCmPrivateData.decode(field, 0)).to.deep.equal({ value: IPOIB_PD, bytes: 8 });
    expect(field.subarray(8).every((b) => b === 0)).to.equal(true);
  });

  it('validates every field range on encode @cm', () => {
    expectWireError(() => encodeToBuffer(ipoibCmPrivateData, { ...IPOIB_PD, reserved: 256 }), 'ipoibCm.reserved');
    expectWireError(() => encodeToBuffer(ipoibCmPrivateData, { ...IPOIB_PD, qpn: 0x1000000 }), 'ipoibCm.qpn');
    expectWireError(() => encodeToBuffer(ipoibCmPrivateData, { ...IPOIB_PD, receiveMtu: 2 ** 32 }), 'ipoibCm.receiveMtu');
  });
});

describe('IPoIB-CM Service-ID @cm', () => {
  it('builds the Linux (0x10…) and RFC (0x01…) Service-IDs for a UD QPN @cm', () => {
    expect(ipoibCmServiceId(0x48, 'linux')).to.equal(0x1000000000000048n);
    expect(ipoibCmServiceId(0xabcdef, 'rfc')).to.equal(0x0100000000abcdefn);
  });

  it('refuses a QPN wider than 24 bits and an unknown profile @cm', () => {
    expectWireError(() => ipoibCmServiceId(0x1000000, 'linux'), 'ipoibCm.serviceId.qpn');
    expectWireError(() => ipoibCmServiceId(1, 'ofed' as 'rfc'), 'ipoibCm.serviceId.profile');
  });

  it('parses a Service-ID into prefix, Type, reserved octets and QPN @cm', () => {
    expect(parseIpoibCmServiceId(0x1000000000000048n)).to.deep.equal({
      profile: 'linux',
      prefix: 0x10,
      type: 0,
      reserved: 0,
      qpn: 0x48,
    });
    // 01 | ff | 000001 | 12abcd
    expect(parseIpoibCmServiceId(0x01ff00000112abcdn)).to.deep.equal({
      profile: 'rfc',
      prefix: 0x01,
      type: 0xff,
      reserved: 1,
      qpn: 0x12abcd,
    });
    expect(parseIpoibCmServiceId(0x0200000000000001n).profile).to.equal(null);
    expectWireError(() => parseIpoibCmServiceId(-1n), 'ipoibCm.serviceId');
  });

  it('judges prefix, Type and reserved octets against the expected profile @cm', () => {
    expect(ipoibCmServiceIdProblems(0x1000000000000048n, 'linux')).to.deep.equal([]);
    expect(ipoibCmServiceIdProblems(0x1000000000000048n, 'rfc')).to.have.length(1);
    const problems = ipoibCmServiceIdProblems(0x01ff00000112abcdn, 'rfc');
    expect(problems).to.have.length(2);
    expect(problems[0]).to.match(/Type is 255/);
    expect(problems[1]).to.match(/reserved octets 2-4 are 0x1/);
  });
});
