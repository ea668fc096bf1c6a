import { expect } from 'chai';
import { encodeToBuffer } from '../../src/wire/codec.js';
import { MAD_METHOD_GET_TABLE_RESP, MAD_METHOD_SET, MGMT_CLASS_SUBN_ADM, SA_ATTR_MCMEMBER_RECORD } from '../../src/wire/constants.js';
import { type MadHeader, RMPP_INACTIVE } from '../../src/wire/mad.js';
import {
  parseSaMad,
  SA_DATA_LEN,
  SA_DATA_OFFSET,
  SA_HEADER_OFFSET,
  SA_SELECTOR_EXACTLY,
  SA_SELECTOR_GREATER_THAN,
  SA_SELECTOR_LARGEST_AVAILABLE,
  SA_SELECTOR_LESS_THAN,
  type SaHeader,
  type SaMad,
  saHeader,
  saMad,
  saMadProblems,
  saRecordStride,
  sliceSaRecords,
} from '../../src/wire/sa.js';
import { expectWireError, hex, roundtrip } from '../helpers/roundtrip.js';

// SA header golden 1 (a join request), octet by octet:
//   0000000000000000  SM_Key 0 (untrusted requester)
//   0007              AttributeOffset 7 words = 56 octets (52-octet MCMemberRecord padded to 8)
//   0000              reserved
//   0000000000010083  ComponentMask: bits 0 (MGID), 1 (PortGID), 7 (P_Key), 16 (JoinState)
//                     = 0x1 + 0x2 + 0x80 + 0x10000
const JOIN_SA: SaHeader = { smKey: 0n, attributeOffset: 7, reserved: 0, componentMask: 0x10083n };
const JOIN_SA_HEX = '0000000000000000 0007 0000 0000000000010083';

// SA header golden 2, top bits set and the reserved octets kept:
//   8000000000000001  SM_Key (bit 63 set)
//   ffff              AttributeOffset 65535
//   beef              reserved
//   ffffffffffffffff  ComponentMask, every bit
const FULL_SA: SaHeader = { smKey: 0x8000000000000001n, attributeOffset: 0xffff, reserved: 0xbeef, componentMask: (1n << 64n) - 1n };
const FULL_SA_HEX = '8000000000000001 ffff beef ffffffffffffffff';

const JOIN_MAD_HEADER: MadHeader = {
  baseVersion: 1,
  mgmtClass: MGMT_CLASS_SUBN_ADM,
  classVersion: 2,
  method: MAD_METHOD_SET,
  status: 0,
  classSpecific: 0,
  transactionId: 0x1234n,
  attributeId: SA_ATTR_MCMEMBER_RECORD,
  reserved: 0,
  attributeModifier: 0,
};

// A whole SA MAD, by octet range:
//    0-23   MAD header: 01 03 02 02 | 0000 | 0000 | 0000000000001234 | 0038 | 0000 | 00000000
//   24-35   RMPP header, inactive: twelve 00
//   36-55   SA header golden 1
//   56-255  record data: deadbeef then 196 zero octets
const DATA = Buffer.concat([hex('deadbeef'), Buffer.alloc(196)]);
const JOIN_MAD: SaMad = { header: JOIN_MAD_HEADER, rmpp: { ...RMPP_INACTIVE }, sa: JOIN_SA, data: DATA };
const JOIN_MAD_HEX =
  '01 03 02 02 0000 0000 0000000000001234 0038 0000 00000000' + '00'.repeat(12) + JOIN_SA_HEX + 'deadbeef' + '00'.repeat(196);

describe('SA header @sa', () => {
  it('round-trips a join request header against hand-derived octets @sa', () => {
    roundtrip(saHeader, JOIN_SA, JOIN_SA_HEX);
  });

  it('round-trips a header with 64-bit top bits and reserved octets kept @sa', () => {
    roundtrip(saHeader, FULL_SA, FULL_SA_HEX);
    expect(saHeader.decode(hex(FULL_SA_HEX), 0).value.reserved).to.equal(0xbeef);
  });

  it('validates every field range on encode @sa', () => {
    const bad: Array<[Partial<SaHeader>, string]> = [
      [{ smKey: -1n }, 'sa.smKey'],
      [{ smKey: 1n << 64n }, 'sa.smKey'],
      [{ attributeOffset: 0x10000 }, 'sa.attributeOffset'],
      [{ reserved: -1 }, 'sa.reserved'],
      [{ componentMask: 1n << 64n }, 'sa.componentMask'],
    ];
    for (const [patch, field] of bad) expectWireError(() => encodeToBuffer(saHeader, { ...JOIN_SA, ...patch }), field);
  });
});

describe('SA MAD layout @sa @mad', () => {
  it('puts the SA header after the RMPP header, at octet 36, and 200 data octets at 56 @sa @mad', () => {
    expect([SA_HEADER_OFFSET, SA_DATA_OFFSET, SA_DATA_LEN]).to.deep.equal([36, 56, 200]);
  });

  it('round-trips a whole SA MAD against hand-derived octets @sa @mad', () => {
    roundtrip(saMad, JOIN_MAD, JOIN_MAD_HEX);
  });

  it('reads the RMPP header of a GetTable response from octets 24..35 @sa @mad', () => {
    const bytes = hex(JOIN_MAD_HEX);
    bytes[3] = MAD_METHOD_GET_TABLE_RESP;
    hex('01 01 77 00 00000001 000000f8').copy(bytes, 24); // DATA, RRespTime 0x0e, flags 7, seg 1, length 248
    const m = parseSaMad(bytes);
    expect(m.rmpp).to.deep.equal({ version: 1, type: 1, responseTime: 0x0e, flags: 7, status: 0, data1: 1, data2: 248 });
    expect(m.sa).to.deep.equal(JOIN_SA);
    expect(m.data.subarray(0, 4).toString('hex')).to.equal('deadbeef');
  });

  it('rejects a management class other than SA on decode and encode @sa @mad', () => {
    const bytes = hex(JOIN_MAD_HEX);
    bytes[1] = 0x07;
    const err = expectWireError(() => saMad.decode(bytes, 0), 'mad.mgmtClass');
    expect(err.value).to.equal(7);
    expectWireError(() => encodeToBuffer(saMad, { ...JOIN_MAD, header: { ...JOIN_MAD_HEADER, mgmtClass: 0x01 } }), 'mad.mgmtClass');
  });

  it('rejects a base version other than 1 @sa @mad', () => {
    const bytes = hex(JOIN_MAD_HEX);
    bytes[0] = 2;
    expectWireError(() => parseSaMad(bytes), 'mad.baseVersion');
  });

  it('rejects SA MADs shorter or longer than 256 octets as mad.length @sa @mad', () => {
    const full = hex(JOIN_MAD_HEX);
    expectWireError(() => parseSaMad(full.subarray(0, 255)), 'mad.length');
    expectWireError(() => parseSaMad(Buffer.concat([full, hex('00')])), 'mad.length');
    expectWireError(() => saMad.decode(full.subarray(0, 56), 0), 'mad.length');
  });

  it('refuses record data that is not 200 octets @sa @mad', () => {
    for (const n of [199, 201, 232]) expectWireError(() => encodeToBuffer(saMad, { ...JOIN_MAD, data: Buffer.alloc(n) }), 'sa.data');
  });

  it('rejects an RMPP field out of range on encode @sa @mad', () => {
    expectWireError(() => encodeToBuffer(saMad, { ...JOIN_MAD, rmpp: { ...RMPP_INACTIVE, flags: 9 } }), 'rmpp.flags');
  });

  it('copies the record data out of the frame @sa @mad', () => {
    const frame = hex(JOIN_MAD_HEX);
    const m = saMad.decode(frame, 0).value;
    frame.fill(0);
    expect(m.data.subarray(0, 4).toString('hex')).to.equal('deadbeef');
  });

  it('judges class version, reserved octets and reserved Status bits @sa @mad', () => {
    expect(saMadProblems(JOIN_MAD)).to.deep.equal([]);
    const problems = saMadProblems({ ...JOIN_MAD, header: { ...JOIN_MAD_HEADER, classVersion: 1 }, sa: { ...JOIN_SA, reserved: 1 } });
    expect(problems).to.have.length(2);
    expect(problems[0]).to.match(/classVersion is 1, want 2/);
    expect(problems[1]).to.match(/^sa\.reserved is 0x1/);
  });
});

describe('SA records in a data area @sa', () => {
  // Three 20-octet SA headers used as stand-in records, laid out every 3 words (24 octets).
  const records: SaHeader[] = [0, 1, 2].map((i) => ({
    smKey: BigInt(i + 1),
    attributeOffset: i,
    reserved: 0,
    componentMask: BigInt(i * 10),
  }));
  const data = Buffer.alloc(SA_DATA_LEN);
  records.forEach((r, i) => saHeader.encode(r, data, i * 24));

  it('turns AttributeOffset words into an octet stride @sa', () => {
    expect(saRecordStride(7)).to.equal(56);
    expect(saRecordStride(0)).to.equal(0);
    expectWireError(() => saRecordStride(0x10000), 'sa.attributeOffset');
  });

  it('slices the requested number of records at the stride @sa', () => {
    expect(sliceSaRecords(data, 3, 3, saHeader)).to.deep.equal(records);
    expect(sliceSaRecords(data, 3, 0, saHeader)).to.deep.equal([]);
  });

  it('rejects a count that runs past the data, a zero stride and records longer than the stride @sa', () => {
    expectWireError(() => sliceSaRecords(data, 3, 9, saHeader), 'sa.record[8]');
    expectWireError(() => sliceSaRecords(data, 0, 1, saHeader), 'sa.attributeOffset');
    expectWireError(() => sliceSaRecords(data, 2, 1, saHeader), 'sa.record[0]');
  });

  it('gives the selector values 0..3 @sa', () => {
    const selectors = [SA_SELECTOR_GREATER_THAN, SA_SELECTOR_LESS_THAN, SA_SELECTOR_EXACTLY, SA_SELECTOR_LARGEST_AVAILABLE];
    expect(selectors).to.deep.equal([0, 1, 2, 3]);
  });
});
