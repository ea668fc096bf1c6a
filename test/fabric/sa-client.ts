/**
 * A tiny SA client for the simulator's unit tests: builds request MADs with the wire codecs
 * and reads responses back (RMPP segments included). Not a test file itself.
 */
import { expect } from 'chai';
import { type Codec, encodeToBuffer } from '../../src/wire/codec.js';
import {
  MAD_METHOD_DELETE,
  MAD_METHOD_GET,
  MAD_METHOD_GET_TABLE,
  MAD_METHOD_SET,
  MGMT_CLASS_SUBN_ADM,
  SA_ATTR_MCMEMBER_RECORD,
  SA_ATTR_PATH_RECORD,
  SA_CLASS_VERSION,
  SA_HEADER_LEN,
} from '../../src/wire/constants.js';
import { type MadHeader, RMPP_FLAG_ACTIVE, RMPP_FLAG_FIRST, RMPP_FLAG_LAST, RMPP_INACTIVE, type RmppHeader } from '../../src/wire/mad.js';
import {
  type McMemberComponent,
  mcMemberComponentMask,
  MCMEMBER_RECORD_LEN,
  type McMemberRecord,
  mcMemberRecord,
} from '../../src/wire/mcmember-record.js';
import { PATH_RECORD_LEN, type PathRecord, type PathRecordComponent, pathRecord, pathRecordComponentMask } from '../../src/wire/path-record.js';
import { parseSaMad, SA_DATA_LEN, type SaMad, saMad, sliceSaRecords } from '../../src/wire/sa.js';
import type { SaEngine, SaRequester } from '../../src/fabric/sim/sa-engine.js';

export const EMPTY_MCM: Readonly<McMemberRecord> = Object.freeze({
  mgid: Buffer.alloc(16),
  portGid: Buffer.alloc(16),
  qkey: 0,
  mlid: 0,
  mtuSelector: 0,
  mtu: 0,
  trafficClass: 0,
  pkey: 0,
  rateSelector: 0,
  rate: 0,
  packetLifeTimeSelector: 0,
  packetLifeTime: 0,
  sl: 0,
  flowLabel: 0,
  hopLimit: 0,
  scope: 0,
  joinState: 0,
  proxyJoin: false,
  reserved: 0,
});

export const EMPTY_PATH: Readonly<PathRecord> = Object.freeze({
  serviceId: 0n,
  dgid: Buffer.alloc(16),
  sgid: Buffer.alloc(16),
  dlid: 0,
  slid: 0,
  rawTraffic: false,
  reserved44: 0,
  flowLabel: 0,
  hopLimit: 0,
  trafficClass: 0,
  reversible: false,
  numbPath: 0,
  pkey: 0,
  qosClass: 0,
  sl: 0,
  mtuSelector: 0,
  mtu: 0,
  rateSelector: 0,
  rate: 0,
  packetLifeTimeSelector: 0,
  packetLifeTime: 0,
  preference: 0,
  reserved58: 0,
});

export interface RequestOptions {
  transactionId?: bigint;
  smKey?: bigint;
  classVersion?: number;
  rmpp?: RmppHeader;
}

let nextTid = 0x100n;

/** Any SA request MAD: header, RMPP header (inactive unless given), SA header, record data. */
export function saRequest(method: number, attributeId: number, componentMask: bigint, record: Buffer, o: RequestOptions = {}): Buffer {
  const header: MadHeader = {
    baseVersion: 1,
    mgmtClass: MGMT_CLASS_SUBN_ADM,
    classVersion: o.classVersion ?? SA_CLASS_VERSION,
    method,
    status: 0,
    classSpecific: 0,
    transactionId: o.transactionId ?? nextTid++,
    attributeId,
    reserved: 0,
    attributeModifier: 0,
  };
  const data = Buffer.alloc(SA_DATA_LEN);
  record.copy(data);
  return encodeToBuffer(saMad, {
    header,
    rmpp: o.rmpp ?? { ...RMPP_INACTIVE },
    sa: { smKey: o.smKey ?? 0n, attributeOffset: 0, reserved: 0, componentMask },
    data,
  });
}

export function mcmRequest(
  method: number,
  fields: Partial<McMemberRecord>,
  components: readonly McMemberComponent[],
  o: RequestOptions = {},
): Buffer {
  const record = encodeToBuffer(mcMemberRecord, { ...EMPTY_MCM, ...fields });
  return saRequest(method, SA_ATTR_MCMEMBER_RECORD, mcMemberComponentMask(components), record, o);
}

export function pathRequest(
  method: number,
  fields: Partial<PathRecord>,
  components: readonly PathRecordComponent[],
  o: RequestOptions = {},
): Buffer {
  const record = encodeToBuffer(pathRecord, { ...EMPTY_PATH, ...fields });
  return saRequest(method, SA_ATTR_PATH_RECORD, pathRecordComponentMask(components), record, o);
}

/** What Linux IPoIB sends for the broadcast group: MGID, PortGID, P_Key, JoinState. */
export const BROADCAST_JOIN_COMPONENTS: readonly McMemberComponent[] = ['mgid', 'portGid', 'pkey', 'joinState'];
/** What OpenSM needs to create a group. */
export const CREATE_COMPONENTS: readonly McMemberComponent[] = [
  'mgid', 'portGid', 'joinState', 'qkey', 'pkey', 'trafficClass', 'flowLabel', 'sl',
];

/** Sends one request and expects exactly one response MAD, decoded. */
export function ask(engine: SaEngine, request: Buffer, from: SaRequester): SaMad {
  const out = engine.handle(request, from);
  expect(out, 'number of response MADs').to.have.length(1);
  const [only] = out;
  if (!only) throw new Error('unreachable: length checked');
  expect(only.length, 'response length').to.equal(256);
  return parseSaMad(only);
}

export function join(engine: SaEngine, from: SaRequester, fields: Partial<McMemberRecord>, components = BROADCAST_JOIN_COMPONENTS): SaMad {
  return ask(engine, mcmRequest(MAD_METHOD_SET, fields, components), from);
}

export function leave(engine: SaEngine, from: SaRequester, fields: Partial<McMemberRecord>, components = BROADCAST_JOIN_COMPONENTS): SaMad {
  return ask(engine, mcmRequest(MAD_METHOD_DELETE, fields, components), from);
}

export function getMcm(engine: SaEngine, from: SaRequester, fields: Partial<McMemberRecord>, components: readonly McMemberComponent[], o: RequestOptions = {}): SaMad {
  return ask(engine, mcmRequest(MAD_METHOD_GET, fields, components, o), from);
}

export function mcmOf(m: SaMad): McMemberRecord {
  return mcMemberRecord.decode(m.data, 0).value;
}

export function pathOf(m: SaMad): PathRecord {
  return pathRecord.decode(m.data, 0).value;
}

/** The SA error code (Status bits 8..14) of a response. */
export function saError(m: SaMad): number {
  return (m.header.status >> 8) & 0x7f;
}

export interface Table<T> {
  segments: SaMad[];
  records: T[];
}

/**
 * Reassembles a GetTableResp from its RMPP segments, checking the segment numbering, the
 * FIRST/LAST flags and both PayloadLengths on the way, then slices the records.
 */
export function readTable<T>(responses: readonly Buffer[], record: Codec<T>, recordLen: number): Table<T> {
  const segments = responses.map((b) => parseSaMad(b));
  const n = segments.length;
  expect(n, 'at least one segment').to.be.greaterThan(0);
  segments.forEach((s, i) => {
    expect(s.rmpp.version, `segment ${i + 1} RMPPVersion`).to.equal(1);
    expect(s.rmpp.type, `segment ${i + 1} RMPPType`).to.equal(1);
    expect(s.rmpp.data1, `segment ${i + 1} SegmentNumber`).to.equal(i + 1);
    const flags = RMPP_FLAG_ACTIVE | (i === 0 ? RMPP_FLAG_FIRST : 0) | (i === n - 1 ? RMPP_FLAG_LAST : 0);
    expect(s.rmpp.flags, `segment ${i + 1} RMPPFlags`).to.equal(flags);
    if (i > 0 && i < n - 1) expect(s.rmpp.data2, `middle segment ${i + 1} PayloadLength`).to.equal(0);
  });
  const [first] = segments;
  const last = segments[n - 1];
  if (!first || !last) throw new Error('unreachable: length checked');
  const streamLen = first.rmpp.data2 - n * SA_HEADER_LEN;
  expect(streamLen, 'record stream length from the first PayloadLength').to.be.within(0, n * SA_DATA_LEN);
  if (n > 1) {
    expect(last.rmpp.data2, 'last PayloadLength').to.equal(SA_HEADER_LEN + streamLen - (n - 1) * SA_DATA_LEN);
  }
  const stream = Buffer.concat(segments.map((s) => s.data)).subarray(0, streamLen);
  const offset = first.sa.attributeOffset;
  const count = offset === 0 ? 0 : streamLen / (offset * 8);
  expect(Number.isInteger(count), `stream of ${streamLen} octets holds whole records of ${offset * 8}`).to.equal(true);
  expect(offset * 8, 'AttributeOffset covers the record').to.be.at.least(count > 0 ? recordLen : 0);
  return { segments, records: sliceSaRecords(stream, offset, count, record) };
}

export function mcmTable(responses: readonly Buffer[]): Table<McMemberRecord> {
  return readTable(responses, mcMemberRecord, MCMEMBER_RECORD_LEN);
}

export function pathTable(responses: readonly Buffer[]): Table<PathRecord> {
  return readTable(responses, pathRecord, PATH_RECORD_LEN);
}

export { MAD_METHOD_DELETE, MAD_METHOD_GET, MAD_METHOD_GET_TABLE, MAD_METHOD_SET };
