import { expect } from 'chai';
import { encodeToBuffer } from '../../src/wire/codec.js';
import {
  PATH_RECORD_COMPONENT_BITS,
  PATH_RECORD_LEN,
  type PathRecord,
  type PathRecordComponent,
  pathRecord,
  pathRecordComponentMask,
  pathRecordComponents,
  pathRecordProblems,
} from '../../src/wire/path-record.js';
import { SA_SELECTOR_EXACTLY } from '../../src/wire/sa.js';
import { expectWireError, hex, roundtrip } from '../helpers/roundtrip.js';

// Golden 1: a path between two ports of one subnet, octet by octet:
//   0-7    0000000000000000                  ServiceID 0
//   8-23   fe80000000000000 0002c90300012346 DGID
//  24-39   fe80000000000000 0002c90300012345 SGID
//  40-41   0004                              DLID 4
//  42-43   0003                              SLID 3
//  44-47   01234540                          RawTraffic 0, reserved 0, FlowLabel 0x12345 << 8 = 0x01234500, HopLimit 0x40
//  48      10                                TClass 0x10
//  49      81                                Reversible 1 << 7 | NumbPath 1
//  50-51   ffff                              P_Key
//  52-53   abc5                              QoSClass 0xabc << 4 | SL 5
//  54      84                                MTUSelector 2 << 6 | MTU 4 (2048)
//  55      86                                RateSelector 2 << 6 | Rate 6
//  56      93                                PacketLifeTimeSelector 2 << 6 | PacketLifeTime 0x13
//  57      00                                Preference 0
//  58-63   000000000000                      reserved
const UNICAST: PathRecord = {
  serviceId: 0n,
  dgid: hex('fe80000000000000 0002c90300012346'),
  sgid: hex('fe80000000000000 0002c90300012345'),
  dlid: 4,
  slid: 3,
  rawTraffic: false,
  reserved44: 0,
  flowLabel: 0x12345,
  hopLimit: 0x40,
  trafficClass: 0x10,
  reversible: true,
  numbPath: 1,
  pkey: 0xffff,
  qosClass: 0xabc,
  sl: 5,
  mtuSelector: SA_SELECTOR_EXACTLY,
  mtu: 4,
  rateSelector: SA_SELECTOR_EXACTLY,
  rate: 6,
  packetLifeTimeSelector: SA_SELECTOR_EXACTLY,
  packetLifeTime: 0x13,
  preference: 0,
  reserved58: 0,
};
const UNICAST_HEX =
  '0000000000000000 fe80000000000000 0002c90300012346 fe80000000000000 0002c90300012345 0004 0003' +
  '01234540 10 81 ffff abc5 84 86 93 00 000000000000';

// Golden 2: every packed field at its maximum, reserved bits kept.
//   0-7    1000000000000048  ServiceID (Linux IPoIB-CM style, QPN 0x48)
//   8-39   two GIDs of ff    40-43 ffff ffff  DLID, SLID
//  44-47   ffffffff          RawTraffic 1, reserved 7, FlowLabel 0xfffff, HopLimit 0xff
//  48      ff                49 7f: Reversible 0, NumbPath 0x7f     50-51 ffff
//  52-53   ffff              QoSClass 0xfff, SL 15
//  54-57   ff ff ff ff       selectors 3 with values 0x3f, Preference 0xff
//  58-63   123456789abc      reserved
const MAXED: PathRecord = {
  serviceId: 0x1000000000000048n,
  dgid: Buffer.alloc(16, 0xff),
  sgid: Buffer.alloc(16, 0xff),
  dlid: 0xffff,
  slid: 0xffff,
  rawTraffic: true,
  reserved44: 7,
  flowLabel: 0xfffff,
  hopLimit: 0xff,
  trafficClass: 0xff,
  reversible: false,
  numbPath: 0x7f,
  pkey: 0xffff,
  qosClass: 0xfff,
  sl: 15,
  mtuSelector: 3,
  mtu: 0x3f,
  rateSelector: 3,
  rate: 0x3f,
  packetLifeTimeSelector: 3,
  packetLifeTime: 0x3f,
  preference: 0xff,
  reserved58: 0x123456789abc,
};
const MAXED_HEX = '1000000000000048' + 'ff'.repeat(32) + 'ffff ffff ffffffff ff 7f ffff ffff ff ff ff ff 123456789abc';

describe('PathRecord codec @sa', () => {
  it('is 64 octets @sa', () => {
    expect(PATH_RECORD_LEN).to.equal(64);
    expect(hex(UNICAST_HEX)).to.have.length(64);
    expect(hex(MAXED_HEX)).to.have.length(64);
  });

  it('round-trips a unicast path against hand-derived octets, P_Key included @sa @pkey', () => {
    roundtrip(pathRecord, UNICAST, UNICAST_HEX);
  });

  it('round-trips every packed field at its maximum and keeps reserved bits @sa', () => {
    roundtrip(pathRecord, MAXED, MAXED_HEX);
    const decoded = pathRecord.decode(hex(MAXED_HEX), 0).value;
    expect([decoded.reserved44, decoded.reserved58]).to.deep.equal([7, 0x123456789abc]);
    expect(decoded.rawTraffic).to.equal(true);
  });

  it('sets RawTraffic in the top bit of octet 44 only @sa', () => {
    const out = encodeToBuffer(pathRecord, { ...UNICAST, rawTraffic: true });
    expect(out.subarray(44, 48).toString('hex')).to.equal('81234540');
  });

  it('refuses a DGID or SGID that is not 16 octets @sa', () => {
    expectWireError(() => encodeToBuffer(pathRecord, { ...UNICAST, dgid: Buffer.alloc(4) }), 'path.dgid');
    expectWireError(() => encodeToBuffer(pathRecord, { ...UNICAST, sgid: Buffer.alloc(20) }), 'path.sgid');
  });

  it('validates every field range on encode, P_Key included @sa @pkey', () => {
    const bad: Array<[Partial<PathRecord>, string]> = [
      [{ serviceId: -1n }, 'path.serviceId'],
      [{ dlid: 0x10000 }, 'path.dlid'],
      [{ slid: -1 }, 'path.slid'],
      [{ rawTraffic: 0 as unknown as boolean }, 'path.rawTraffic'],
      [{ reserved44: 8 }, 'path.reserved44'],
      [{ flowLabel: 0x100000 }, 'path.flowLabel'],
      [{ hopLimit: 256 }, 'path.hopLimit'],
      [{ trafficClass: 256 }, 'path.trafficClass'],
      [{ reversible: 'yes' as unknown as boolean }, 'path.reversible'],
      [{ numbPath: 128 }, 'path.numbPath'],
      [{ pkey: 0x10000 }, 'path.pkey'],
      [{ qosClass: 0x1000 }, 'path.qosClass'],
      [{ sl: 16 }, 'path.sl'],
      [{ mtuSelector: 4 }, 'path.mtuSelector'],
      [{ mtu: 64 }, 'path.mtu'],
      [{ rateSelector: 4 }, 'path.rateSelector'],
      [{ rate: 64 }, 'path.rate'],
      [{ packetLifeTimeSelector: 4 }, 'path.packetLifeTimeSelector'],
      [{ packetLifeTime: 64 }, 'path.packetLifeTime'],
      [{ preference: 256 }, 'path.preference'],
      [{ reserved58: 2 ** 48 }, 'path.reserved58'],
    ];
    for (const [patch, field] of bad) expectWireError(() => encodeToBuffer(pathRecord, { ...UNICAST, ...patch }), field);
  });

  it('returns GIDs that do not alias the input frame @sa', () => {
    const frame = hex(UNICAST_HEX);
    const decoded = pathRecord.decode(frame, 0).value;
    frame.fill(0xaa);
    expect(decoded.dgid.toString('hex')).to.equal('fe800000000000000002c90300012346');
    expect(decoded.sgid.toString('hex')).to.equal('fe800000000000000002c90300012345');
  });
});

describe('PathRecord ComponentMask @sa', () => {
  it('numbers the components as the record orders them, ServiceID on bits 0 and 1, bit 7 unused @sa', () => {
    const flat = Object.entries(PATH_RECORD_COMPONENT_BITS).map(([n, bits]) => `${n}:${bits.join('+')}`);
    expect(flat).to.deep.equal([
      'serviceId:0+1',
      'dgid:2',
      'sgid:3',
      'dlid:4',
      'slid:5',
      'rawTraffic:6',
      'flowLabel:8',
      'hopLimit:9',
      'trafficClass:10',
      'reversible:11',
      'numbPath:12',
      'pkey:13',
      'qosClass:14',
      'sl:15',
      'mtuSelector:16',
      'mtu:17',
      'rateSelector:18',
      'rate:19',
      'packetLifeTimeSelector:20',
      'packetLifeTime:21',
      'preference:22',
    ]);
  });

  it('names every record field except reserved ones as a component @sa', () => {
    const fields = Object.keys(UNICAST).filter((k) => !k.startsWith('reserved'));
    expect(Object.keys(PATH_RECORD_COMPONENT_BITS)).to.deep.equal(fields);
  });

  it('builds the mask of a Linux neighbour path query (0x340c) and of ServiceID (0x3) @sa', () => {
    expect(pathRecordComponentMask(['dgid', 'sgid', 'numbPath', 'trafficClass', 'pkey'])).to.equal(0x340cn);
    expect(pathRecordComponentMask(['serviceId'])).to.equal(0x3n);
    const all = Object.keys(PATH_RECORD_COMPONENT_BITS) as PathRecordComponent[];
    expect(pathRecordComponentMask(all)).to.equal(0x7fff7fn);
  });

  it('lists fully selected components in bit order, ServiceID only with both bits @sa', () => {
    expect(pathRecordComponents(0x340cn)).to.deep.equal(['dgid', 'sgid', 'trafficClass', 'numbPath', 'pkey']);
    expect(pathRecordComponents(0x1n)).to.deep.equal([]);
    expect(pathRecordComponents(0x3n)).to.deep.equal(['serviceId']);
    expect(pathRecordComponents(1n << 7n)).to.deep.equal([]);
  });

  it('rejects an unknown component name and a mask outside 64 bits @sa', () => {
    expectWireError(() => pathRecordComponentMask(['joinState' as PathRecordComponent]), 'sa.componentMask');
    expectWireError(() => pathRecordComponents(1n << 64n), 'sa.componentMask');
  });

  it('judges half a ServiceID, reserved mask bit 7 and reserved record bits @sa', () => {
    expect(pathRecordProblems(UNICAST, 0x340cn)).to.deep.equal([]);
    const problems = pathRecordProblems({ ...UNICAST, reserved58: 1 }, 0x2n | (1n << 7n));
    expect(problems).to.have.length(3);
    expect(problems[0]).to.match(/^path\.reserved58 is 0x1/);
    expect(problems[1]).to.match(/only one of the two ServiceID bits/);
    expect(problems[2]).to.match(/reserved bit 7/);
  });
});
