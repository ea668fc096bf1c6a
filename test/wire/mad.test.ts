import { expect } from 'chai';
import { encodeToBuffer } from '../../src/wire/codec.js';
import {
  MAD_LEN,
  MAD_METHOD_GET_RESP,
  MAD_METHOD_SET,
  MGMT_CLASS_CM,
  MGMT_CLASS_SUBN_ADM,
  SA_ATTR_MCMEMBER_RECORD,
} from '../../src/wire/constants.js';
import {
  checkBoolean,
  checkUint64,
  joinMadStatus,
  MAD_DATA_LEN,
  MAD_STATUS_BAD_VERSION,
  MAD_STATUS_BUSY,
  MAD_STATUS_INVALID_FIELD,
  MAD_STATUS_METHOD_ATTRIBUTE_UNSUPPORTED,
  MAD_STATUS_METHOD_UNSUPPORTED,
  MAD_STATUS_REDIRECT,
  type Mad,
  type MadHeader,
  mad,
  madHeader,
  madHeaderProblems,
  madIsResponse,
  parseMad,
  RMPP_FLAG_ACTIVE,
  RMPP_FLAG_FIRST,
  RMPP_INACTIVE,
  RMPP_TYPE_DATA,
  type RmppHeader,
  rmppHeader,
  reservedProblems,
  SA_ERR_NAMES,
  SA_ERR_NO_RECORDS,
  SA_ERR_NO_RESOURCES,
  SA_ERR_REQ_INSUFFICIENT_COMPONENTS,
  SA_ERR_REQ_INVALID,
  SA_ERR_REQ_INVALID_GID,
  SA_ERR_TOO_MANY_RECORDS,
  saErrorCode,
  saErrorStatus,
  splitMadStatus,
} from '../../src/wire/mad.js';
import { expectWireError, hex, roundtrip } from '../helpers/roundtrip.js';

// Golden 1, an SA Set(MCMemberRecord) header (a join), derived octet by octet:
//   01                BaseVersion 1
//   03                MgmtClass 0x03 (SubnAdm)
//   02                ClassVersion 2
//   02                R = 0, Method 0x02 (Set)
//   0000              Status
//   0000              ClassSpecific
//   0102030405060708  TransactionID
//   0038              AttributeID (MCMemberRecord)
//   0000              reserved
//   00000000          AttributeModifier
const JOIN: MadHeader = {
  baseVersion: 1,
  mgmtClass: MGMT_CLASS_SUBN_ADM,
  classVersion: 2,
  method: MAD_METHOD_SET,
  status: 0,
  classSpecific: 0,
  transactionId: 0x0102030405060708n,
  attributeId: SA_ATTR_MCMEMBER_RECORD,
  reserved: 0,
  attributeModifier: 0,
};
const JOIN_HEX = '01 03 02 02 0000 0000 0102030405060708 0038 0000 00000000';

// Golden 2, every field non-zero and top bits set where a signed read would go wrong:
//   01 07 02          BaseVersion 1, MgmtClass 0x07 (CM), ClassVersion 2
//   81                R = 1, Method 0x01 -> 0x81 (GetResp)
//   001c              Status: invalid-field code 7 in bits 2..4 (7 << 2 = 0x1c)
//   abcd              ClassSpecific
//   fedcba9876543210  TransactionID (bit 63 set)
//   0010              AttributeID
//   1234              reserved, kept as found
//   deadbeef          AttributeModifier (bit 31 set)
const BUSY_RESPONSE: MadHeader = {
  baseVersion: 1,
  mgmtClass: MGMT_CLASS_CM,
  classVersion: 2,
  method: MAD_METHOD_GET_RESP,
  status: 0x001c,
  classSpecific: 0xabcd,
  transactionId: 0xfedcba9876543210n,
  attributeId: 0x0010,
  reserved: 0x1234,
  attributeModifier: 0xdeadbeef,
};
const BUSY_RESPONSE_HEX = '01 07 02 81 001c abcd fedcba9876543210 0010 1234 deadbeef';

describe('MAD common header @mad', () => {
  it('round-trips a Set header against hand-derived octets @mad', () => {
    roundtrip(madHeader, JOIN, JOIN_HEX);
  });

  it('round-trips a response header with every field set, reserved octets kept @mad', () => {
    roundtrip(madHeader, BUSY_RESPONSE, BUSY_RESPONSE_HEX);
    const decoded = madHeader.decode(hex(BUSY_RESPONSE_HEX), 0).value;
    expect(decoded.reserved).to.equal(0x1234);
    expect(decoded.transactionId).to.equal(0xfedcba9876543210n);
    expect(decoded.attributeModifier).to.equal(0xdeadbeef);
  });

  it('rejects a base version other than 1 on decode (OPA 0x80, 2, 0) @mad', () => {
    for (const v of ['80', '02', '00']) {
      const err = expectWireError(() => madHeader.decode(hex(v + JOIN_HEX.slice(2)), 0), 'mad.baseVersion');
      expect(err.value).to.equal(parseInt(v, 16));
    }
  });

  it('refuses to encode a base version other than 1 @mad', () => {
    for (const baseVersion of [0, 2, 0x80]) {
      expectWireError(() => encodeToBuffer(madHeader, { ...JOIN, baseVersion }), 'mad.baseVersion');
    }
  });

  it('validates every field range on encode and names the field @mad', () => {
    const bad: Array<[Partial<MadHeader>, string]> = [
      [{ mgmtClass: 256 }, 'mad.mgmtClass'],
      [{ classVersion: -1 }, 'mad.classVersion'],
      [{ method: 1.5 }, 'mad.method'],
      [{ status: 0x10000 }, 'mad.status'],
      [{ classSpecific: 0x10000 }, 'mad.classSpecific'],
      [{ transactionId: -1n }, 'mad.transactionId'],
      [{ transactionId: 1n << 64n }, 'mad.transactionId'],
      [{ attributeId: 0x10000 }, 'mad.attributeId'],
      [{ reserved: 0x10000 }, 'mad.reserved'],
      [{ attributeModifier: 2 ** 32 }, 'mad.attributeModifier'],
    ];
    for (const [patch, field] of bad) {
      const err = expectWireError(() => encodeToBuffer(madHeader, { ...JOIN, ...patch }), field);
      expect(err.value, field).to.equal(Object.values(patch)[0]);
    }
  });

  it('reports the offset of a bad field inside a larger buffer @mad', () => {
    const err = expectWireError(() => madHeader.encode({ ...JOIN, attributeId: -2 }, Buffer.alloc(64), 30), 'mad.attributeId');
    expect(err.offset).to.equal(46);
  });

  it('refuses to encode into a buffer too short for 24 octets @mad', () => {
    expectWireError(() => madHeader.encode(JOIN, Buffer.alloc(30), 7), 'mad.header');
  });

  it('rejects a negative decode offset @mad', () => {
    expectWireError(() => madHeader.decode(hex(JOIN_HEX), -1), 'mad.header');
  });

  it('tells responses from requests by the R bit @mad', () => {
    expect(madIsResponse(MAD_METHOD_GET_RESP)).to.equal(true);
    expect(madIsResponse(MAD_METHOD_SET)).to.equal(false);
  });

  it('flags reserved octets, reserved status bits and an unexpected class version @mad', () => {
    expect(madHeaderProblems(JOIN, { mgmtClass: MGMT_CLASS_SUBN_ADM, classVersion: 2 })).to.deep.equal([]);
    const problems = madHeaderProblems({ ...BUSY_RESPONSE, status: 0x00e0, classVersion: 1 }, { classVersion: 2 });
    expect(problems).to.have.length(3);
    expect(problems[0]).to.match(/^mad\.reserved is 0x1234/);
    expect(problems[1]).to.match(/classVersion is 1, want 2/);
    expect(problems[2]).to.match(/reserved bits 5\.\.7/);
  });
});

// The whole MAD: golden 1 header, then 232 data octets whose value is their index in the
// data area (octet 24 = 0x00, octet 25 = 0x01, …, octet 255 = 0xe7).
const DATA = Buffer.from(Array.from({ length: MAD_DATA_LEN }, (_, i) => i));
const WHOLE: Mad = { header: JOIN, data: DATA };
const WHOLE_HEX = JOIN_HEX + DATA.toString('hex');

describe('whole 256-octet MAD @mad', () => {
  it('round-trips header plus 232 data octets @mad', () => {
    expect(hex(WHOLE_HEX)).to.have.length(MAD_LEN);
    roundtrip(mad, WHOLE, WHOLE_HEX);
  });

  it('rejects a MAD of 255 or 257 octets as mad.length, accepts exactly 256 @mad', () => {
    const full = hex(WHOLE_HEX);
    const short = expectWireError(() => parseMad(full.subarray(0, 255)), 'mad.length');
    expect(short.value).to.equal(255);
    const long = expectWireError(() => parseMad(Buffer.concat([full, Buffer.alloc(1)])), 'mad.length');
    expect(long.value).to.equal(257);
    expect(parseMad(full)).to.deep.equal(WHOLE);
  });

  it('names a truncated MAD mad.length @mad', () => {
    expectWireError(() => mad.decode(hex(WHOLE_HEX).subarray(0, 100), 0), 'mad.length');
  });

  it('consumes exactly 256 octets when more follow @mad', () => {
    const { bytes } = mad.decode(Buffer.concat([hex(WHOLE_HEX), Buffer.alloc(44, 0xff)]), 0);
    expect(bytes).to.equal(256);
  });

  it('refuses data areas that are not 232 octets @mad', () => {
    for (const n of [0, 231, 233]) {
      expectWireError(() => encodeToBuffer(mad, { header: JOIN, data: Buffer.alloc(n) }), 'mad.data');
    }
  });

  it('returns a data copy that does not alias the input frame @mad', () => {
    const frame = hex(WHOLE_HEX);
    const decoded = mad.decode(frame, 0).value;
    frame.fill(0x55);
    expect(decoded.data).to.deep.equal(DATA);
  });
});

describe('MAD Status field @mad', () => {
  it('places busy, redirect and the invalid-field codes where the spec puts them @mad', () => {
    expect([MAD_STATUS_BUSY, MAD_STATUS_REDIRECT]).to.deep.equal([0x0001, 0x0002]);
    expect([
      MAD_STATUS_BAD_VERSION,
      MAD_STATUS_METHOD_UNSUPPORTED,
      MAD_STATUS_METHOD_ATTRIBUTE_UNSUPPORTED,
      MAD_STATUS_INVALID_FIELD,
    ]).to.deep.equal([0x0004, 0x0008, 0x000c, 0x001c]);
  });

  it('splits and joins a status value @mad', () => {
    expect(splitMadStatus(0x0303)).to.deep.equal({ busy: true, redirect: true, invalidField: 0, reserved: 0, classCode: 3 });
    expect(splitMadStatus(0x00fc)).to.deep.equal({ busy: false, redirect: false, invalidField: 7, reserved: 7, classCode: 0 });
    expect(joinMadStatus({ busy: true, invalidField: 2, classCode: 0x85 })).to.equal(0x8509);
    expect(joinMadStatus({})).to.equal(0);
  });

  it('rejects out-of-range status parts @mad', () => {
    expectWireError(() => joinMadStatus({ invalidField: 8 }), 'mad.status.invalidField');
    expectWireError(() => joinMadStatus({ classCode: 256 }), 'mad.status.classCode');
    expectWireError(() => splitMadStatus(0x10000), 'mad.status');
  });

  it('maps SA error codes 1..6 to Status bits 8..14 @mad @sa', () => {
    const codes = [
      SA_ERR_NO_RESOURCES,
      SA_ERR_REQ_INVALID,
      SA_ERR_NO_RECORDS,
      SA_ERR_TOO_MANY_RECORDS,
      SA_ERR_REQ_INVALID_GID,
      SA_ERR_REQ_INSUFFICIENT_COMPONENTS,
    ];
    expect(codes).to.deep.equal([1, 2, 3, 4, 5, 6]);
    expect(codes.map(saErrorStatus)).to.deep.equal([0x0100, 0x0200, 0x0300, 0x0400, 0x0500, 0x0600]);
    expect(SA_ERR_NAMES[SA_ERR_NO_RECORDS]).to.equal('ERR_NO_RECORDS');
  });

  it('reads the SA error code from bits 8..14 only @mad @sa', () => {
    expect(saErrorCode(0x0300)).to.equal(3);
    expect(saErrorCode(0x8601)).to.equal(6);
    expect(saErrorCode(0x00ff)).to.equal(0);
    expectWireError(() => saErrorStatus(128), 'mad.status.saError');
  });
});

// RMPP header golden, octet by octet:
//   01        RMPPVersion 1
//   01        RMPPType DATA
//   73        RRespTime 0x0e (0x0e << 3 = 0x70) | flags ACTIVE|FIRST (0x3)
//   00        RMPPStatus
//   00000001  SegmentNumber 1
//   00000094  PayloadLength 148
const RMPP_FIRST: RmppHeader = {
  version: 1,
  type: RMPP_TYPE_DATA,
  responseTime: 0x0e,
  flags: RMPP_FLAG_ACTIVE | RMPP_FLAG_FIRST,
  status: 0,
  data1: 1,
  data2: 0x94,
};
const RMPP_FIRST_HEX = '01 01 73 00 00000001 00000094';

describe('RMPP header @mad', () => {
  it('round-trips a first DATA segment header @mad', () => {
    roundtrip(rmppHeader, RMPP_FIRST, RMPP_FIRST_HEX);
  });

  it('splits octet 2 into a 5-bit response time and 3 flag bits @mad', () => {
    const r = rmppHeader.decode(hex('01 02 ff 7f ffffffff 80000000'), 0).value;
    expect(r).to.deep.equal({
      version: 1,
      type: 2,
      responseTime: 0x1f,
      flags: 7,
      status: 0x7f,
      data1: 0xffffffff,
      data2: 0x80000000,
    });
  });

  it('encodes the inactive header as 12 zero octets @mad', () => {
    expect(encodeToBuffer(rmppHeader, RMPP_INACTIVE).toString('hex')).to.equal('00'.repeat(12));
  });

  it('validates every field range on encode @mad', () => {
    const bad: Array<[Partial<RmppHeader>, string]> = [
      [{ version: 256 }, 'rmpp.version'],
      [{ type: -1 }, 'rmpp.type'],
      [{ responseTime: 32 }, 'rmpp.responseTime'],
      [{ flags: 8 }, 'rmpp.flags'],
      [{ status: 256 }, 'rmpp.status'],
      [{ data1: 2 ** 32 }, 'rmpp.data1'],
      [{ data2: -1 }, 'rmpp.data2'],
    ];
    for (const [patch, field] of bad) expectWireError(() => encodeToBuffer(rmppHeader, { ...RMPP_FIRST, ...patch }), field);
  });
});

describe('MAD helper checks @mad', () => {
  it('accepts only unsigned 64-bit bigints @mad', () => {
    expect(() => checkUint64('x', 0, (1n << 64n) - 1n)).not.to.throw();
    expectWireError(() => checkUint64('x', 0, 1n << 64n), 'x');
    expectWireError(() => checkUint64('x', 0, 5 as unknown as bigint), 'x');
  });

  it('accepts only booleans for one-bit flags @mad', () => {
    expect(() => checkBoolean('f', 0, false)).not.to.throw();
    expectWireError(() => checkBoolean('f', 0, 1 as unknown as boolean), 'f');
  });

  it('lists non-zero reserved fields at any depth, and nothing else @mad', () => {
    const problems = reservedProblems('m', {
      reserved: 0,
      reserved7: 2,
      inner: { reserved12: 0n, reserved13: 1n, value: 9 },
      reserved20: Buffer.from([0, 1]),
      reserved30: Buffer.alloc(4),
      data: Buffer.from([1]),
    });
    expect(problems).to.have.length(3);
    expect(problems[0]).to.match(/^m\.reserved7 is 0x2/);
    expect(problems[1]).to.match(/^m\.inner\.reserved13 is 0x1/);
    expect(problems[2]).to.match(/^m\.reserved20 is 0001/);
  });
});
