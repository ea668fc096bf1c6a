import { expect } from 'chai';
import { encodeToBuffer } from '../../src/wire/codec.js';
import {
  IPOIB_DEFAULT_QKEY,
  JOIN_STATE_FULL,
  JOIN_STATE_NON,
  JOIN_STATE_SEND_ONLY_FULL,
  JOIN_STATE_SEND_ONLY_NON,
  QKEY_CONTROLLED_BIT,
} from '../../src/wire/constants.js';
import {
  joinStateNames,
  MCMEMBER_COMPONENT_BITS,
  MCMEMBER_RECORD_LEN,
  type McMemberComponent,
  type McMemberRecord,
  mcMemberComponentMask,
  mcMemberComponents,
  mcMemberRecord,
  mcMemberRecordProblems,
} from '../../src/wire/mcmember-record.js';
import { SA_SELECTOR_EXACTLY, SA_SELECTOR_LARGEST_AVAILABLE } from '../../src/wire/sa.js';
import { expectWireError, hex, roundtrip } from '../helpers/roundtrip.js';

// Golden 1: the IPv4 broadcast group of the default partition, as an SA would return it.
//   0-15  ff12401bffff0000 00000000ffffffff  MGID ff12:401b:ffff::ffff:ffff (link scope, P_Key ffff)
//  16-31  fe80000000000000 0002c90300012345  PortGID fe80::2:c903:1:2345
//  32-35  00000b1b                           Q_Key 0x0b1b
//  36-37  c001                               MLID 0xc001
//  38     84                                 MTUSelector 2 (exactly) << 6 = 0x80 | MTU 4 (2048)
//  39     00                                 TClass 0
//  40-41  ffff                               P_Key 0xffff
//  42     83                                 RateSelector 2 << 6 | Rate 3 (10 Gb/s)
//  43     92                                 PacketLifeTimeSelector 2 << 6 | PacketLifeTime 0x12
//  44-47  51234540                           SL 5 << 28 = 0x50000000 | FlowLabel 0x12345 << 8 = 0x01234500 | HopLimit 0x40
//  48     21                                 Scope 2 << 4 | JoinState 1 (full member)
//  49-51  800000                             ProxyJoin 1, reserved 0
const BROADCAST: McMemberRecord = {
  mgid: hex('ff12401bffff0000 00000000ffffffff'),
  portGid: hex('fe80000000000000 0002c90300012345'),
  qkey: IPOIB_DEFAULT_QKEY,
  mlid: 0xc001,
  mtuSelector: SA_SELECTOR_EXACTLY,
  mtu: 4,
  trafficClass: 0,
  pkey: 0xffff,
  rateSelector: SA_SELECTOR_EXACTLY,
  rate: 3,
  packetLifeTimeSelector: SA_SELECTOR_EXACTLY,
  packetLifeTime: 0x12,
  sl: 5,
  flowLabel: 0x12345,
  hopLimit: 0x40,
  scope: 2,
  joinState: JOIN_STATE_FULL,
  proxyJoin: true,
  reserved: 0,
};
const BROADCAST_HEX =
  'ff12401bffff0000 00000000ffffffff fe80000000000000 0002c90300012345 00000b1b c001 84 00 ffff 83 92 51234540 21 800000';

// Golden 2: every packed field at its maximum, so each mask and shift is exercised.
//   MGID/PortGID ff…ff | Q_Key 80010000 (controlled bit set) | MLID ffff
//   38 ff: MTUSelector 3 | MTU 0x3f   39 ff: TClass   40-41 ffff: P_Key
//   42 ff: RateSelector 3 | Rate 0x3f  43 ff: selector 3 | lifetime 0x3f
//   44-47 ffffffff: SL 15, FlowLabel 0xfffff, HopLimit 0xff
//   48 ef: Scope 0xe, JoinState 0xf    49-51 7fffff: ProxyJoin 0, reserved 0x7fffff (kept)
const MAXED: McMemberRecord = {
  mgid: Buffer.alloc(16, 0xff),
  portGid: Buffer.alloc(16, 0xff),
  qkey: 0x80010000,
  mlid: 0xffff,
  mtuSelector: 3,
  mtu: 0x3f,
  trafficClass: 0xff,
  pkey: 0xffff,
  rateSelector: 3,
  rate: 0x3f,
  packetLifeTimeSelector: 3,
  packetLifeTime: 0x3f,
  sl: 15,
  flowLabel: 0xfffff,
  hopLimit: 0xff,
  scope: 0xe,
  joinState: 0xf,
  proxyJoin: false,
  reserved: 0x7fffff,
};
const MAXED_HEX = 'ff'.repeat(32) + '80010000 ffff ff ff ffff ff ff ffffffff ef 7fffff';

describe('MCMemberRecord codec @multicast @sa', () => {
  it('is 52 octets @multicast @sa', () => {
    expect(MCMEMBER_RECORD_LEN).to.equal(52);
    expect(hex(BROADCAST_HEX)).to.have.length(52);
  });

  it('round-trips the IPv4 broadcast group record against hand-derived octets @multicast @sa @mgid @pkey @qkey', () => {
    roundtrip(mcMemberRecord, BROADCAST, BROADCAST_HEX);
  });

  it('round-trips every packed field at its maximum and keeps the 23 reserved bits @multicast @sa', () => {
    roundtrip(mcMemberRecord, MAXED, MAXED_HEX);
    const decoded = mcMemberRecord.decode(hex(MAXED_HEX), 0).value;
    expect(decoded.reserved).to.equal(0x7fffff);
    expect(decoded.proxyJoin).to.equal(false);
  });

  it('keeps a controlled Q_Key as an unsigned value @multicast @sa @qkey', () => {
    const decoded = mcMemberRecord.decode(hex(MAXED_HEX), 0).value;
    expect(decoded.qkey).to.equal(0x80010000);
    expect((decoded.qkey & QKEY_CONTROLLED_BIT) >>> 0).to.equal(QKEY_CONTROLLED_BIT);
  });

  it('puts the largest-available selector in the top two bits of the MTU octet @multicast @sa @mtu', () => {
    const out = encodeToBuffer(mcMemberRecord, { ...BROADCAST, mtuSelector: SA_SELECTOR_LARGEST_AVAILABLE, mtu: 5 });
    expect(out[38]).to.equal(0xc5);
  });

  it('judges the reserved bits after ProxyJoin @multicast @sa', () => {
    expect(mcMemberRecordProblems(BROADCAST)).to.deep.equal([]);
    const problems = mcMemberRecordProblems(mcMemberRecord.decode(hex(MAXED_HEX), 0).value);
    expect(problems).to.have.length(1);
    expect(problems[0]).to.match(/^mcmember\.reserved is 0x7fffff/);
  });

  it('refuses an MGID or PortGID that is not 16 octets @multicast @sa @mgid', () => {
    expectWireError(() => encodeToBuffer(mcMemberRecord, { ...BROADCAST, mgid: Buffer.alloc(15) }), 'mcmember.mgid');
    const err = expectWireError(() => encodeToBuffer(mcMemberRecord, { ...BROADCAST, portGid: Buffer.alloc(17) }), 'mcmember.portGid');
    expect(err.offset).to.equal(16);
  });

  it('validates every field range on encode, P_Key and Q_Key included @multicast @sa @pkey @qkey', () => {
    const bad: Array<[Partial<McMemberRecord>, string]> = [
      [{ qkey: 2 ** 32 }, 'mcmember.qkey'],
      [{ mlid: 0x10000 }, 'mcmember.mlid'],
      [{ mtuSelector: 4 }, 'mcmember.mtuSelector'],
      [{ mtu: 64 }, 'mcmember.mtu'],
      [{ trafficClass: 256 }, 'mcmember.trafficClass'],
      [{ pkey: 0x10000 }, 'mcmember.pkey'],
      [{ rateSelector: -1 }, 'mcmember.rateSelector'],
      [{ rate: 64 }, 'mcmember.rate'],
      [{ packetLifeTimeSelector: 4 }, 'mcmember.packetLifeTimeSelector'],
      [{ packetLifeTime: 64 }, 'mcmember.packetLifeTime'],
      [{ sl: 16 }, 'mcmember.sl'],
      [{ flowLabel: 0x100000 }, 'mcmember.flowLabel'],
      [{ hopLimit: 256 }, 'mcmember.hopLimit'],
      [{ scope: 16 }, 'mcmember.scope'],
      [{ joinState: 16 }, 'mcmember.joinState'],
      [{ proxyJoin: 1 as unknown as boolean }, 'mcmember.proxyJoin'],
      [{ reserved: 0x800000 }, 'mcmember.reserved'],
    ];
    for (const [patch, field] of bad) expectWireError(() => encodeToBuffer(mcMemberRecord, { ...BROADCAST, ...patch }), field);
  });

  it('returns GIDs that do not alias the input frame @multicast @sa', () => {
    const frame = hex(BROADCAST_HEX);
    const decoded = mcMemberRecord.decode(frame, 0).value;
    frame.fill(0);
    expect(decoded.mgid.toString('hex')).to.equal('ff12401bffff000000000000ffffffff');
    expect(decoded.portGid.toString('hex')).to.equal('fe800000000000000002c90300012345');
  });
});

describe('MCMemberRecord ComponentMask @multicast @sa', () => {
  it('numbers the components 0..17 in record order @multicast @sa', () => {
    expect(Object.entries(MCMEMBER_COMPONENT_BITS)).to.deep.equal([
      ['mgid', 0],
      ['portGid', 1],
      ['qkey', 2],
      ['mlid', 3],
      ['mtuSelector', 4],
      ['mtu', 5],
      ['trafficClass', 6],
      ['pkey', 7],
      ['rateSelector', 8],
      ['rate', 9],
      ['packetLifeTimeSelector', 10],
      ['packetLifeTime', 11],
      ['sl', 12],
      ['flowLabel', 13],
      ['hopLimit', 14],
      ['scope', 15],
      ['joinState', 16],
      ['proxyJoin', 17],
    ]);
  });

  it('names every record field except reserved as a component @multicast @sa', () => {
    const fields = Object.keys(BROADCAST).filter((k) => k !== 'reserved');
    expect(Object.keys(MCMEMBER_COMPONENT_BITS)).to.deep.equal(fields);
  });

  it('builds the join mask from its components (MGID, PortGID, P_Key, JoinState = 0x10083) @multicast @sa @mgid @pkey', () => {
    expect(mcMemberComponentMask(['mgid', 'portGid', 'pkey', 'joinState'])).to.equal(0x10083n);
    expect(mcMemberComponentMask([])).to.equal(0n);
    const all = Object.keys(MCMEMBER_COMPONENT_BITS) as McMemberComponent[];
    expect(mcMemberComponentMask(all)).to.equal(0x3ffffn);
  });

  it('lists the components a mask selects and ignores bits above 17 @multicast @sa', () => {
    expect(mcMemberComponents(0x10083n)).to.deep.equal(['mgid', 'portGid', 'pkey', 'joinState']);
    expect(mcMemberComponents((1n << 18n) | (1n << 63n))).to.deep.equal([]);
    expectWireError(() => mcMemberComponents(-1n), 'sa.componentMask');
  });

  it('rejects an unknown component name @multicast @sa', () => {
    expectWireError(() => mcMemberComponentMask(['mgid', 'rawTraffic' as McMemberComponent]), 'sa.componentMask');
  });
});

describe('MCMemberRecord JoinState @multicast', () => {
  it('uses one bit per membership kind @multicast', () => {
    expect([JOIN_STATE_FULL, JOIN_STATE_NON, JOIN_STATE_SEND_ONLY_NON, JOIN_STATE_SEND_ONLY_FULL]).to.deep.equal([1, 2, 4, 8]);
  });

  it('names the bits that are set @multicast', () => {
    expect(joinStateNames(0x9)).to.deep.equal(['full', 'send-only-full']);
    expect(joinStateNames(0x6)).to.deep.equal(['non', 'send-only-non']);
    expect(joinStateNames(0)).to.deep.equal([]);
    expectWireError(() => joinStateNames(16), 'mcmember.joinState');
  });
});
