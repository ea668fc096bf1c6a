import { expect } from 'chai';
import {
  INFORM_ALL_16,
  INFORM_ALL_LIDS,
  INFORM_ALL_PRODUCERS,
  NOTICE_TYPE_SUBNET_MANAGEMENT,
  PRODUCER_TYPE_CLASS_MANAGER,
  TRAP_MCAST_GROUP_CREATED,
} from '../../src/wire/constants.js';
import { INFORM_INFO_LEN, type InformInfo, informInfo, informInfoProblems } from '../../src/wire/inform-info.js';
import { expectWireError, hex, roundtrip } from '../helpers/roundtrip.js';

// Golden 1: subscribe to trap 66 (group created) for the MGID of 224.0.0.1 in the default partition.
//   0-15  ff12401bffff0000 00000000e0000001  GID = MGID ff12:401b:ffff::e000:1
//  16-17  ffff                               LIDRangeBegin: every LID
//  18-19  0000                               LIDRangeEnd
//  20-21  0000                               reserved
//  22     01                                 IsGeneric
//  23     01                                 Subscribe
//  24-25  0003                               Type: subnet management
//  26-27  0042                               TrapNumber 66
//  28-30  000001                             QPN 1
//  31     10                                 reserved 0 << 5 | RespTimeValue 16
//  32     00                                 reserved
//  33-35  000004                             ProducerType: class manager
const SUBSCRIBE_66: InformInfo = {
  gid: hex('ff12401bffff0000 00000000e0000001'),
  lidRangeBegin: INFORM_ALL_LIDS,
  lidRangeEnd: 0,
  reserved: 0,
  isGeneric: 1,
  subscribe: 1,
  type: NOTICE_TYPE_SUBNET_MANAGEMENT,
  trapNumber: TRAP_MCAST_GROUP_CREATED,
  qpn: 1,
  reserved2: 0,
  respTimeValue: 16,
  reserved3: 0,
  producerType: PRODUCER_TYPE_CLASS_MANAGER,
};
const SUBSCRIBE_66_HEX = 'ff12401bffff0000 00000000e0000001 ffff 0000 0000 01 01 0003 0042 000001 10 00 000004';

// Golden 2: every field set, the packed octet 31 with distinct halves.
//   0-15 ff…ff | 16-19 ffff ffff | 20-21 ffff (reserved, kept) | 22 ff | 23 ff (undefined values, kept)
//   24-25 ffff (every type) | 26-27 ffff (every trap) | 28-30 abcdef QPN
//   31 a5 = reserved 0b101 << 5 | RespTimeValue 0b00101 | 32 ff | 33-35 ffffff (every producer)
const MAXED: InformInfo = {
  gid: Buffer.alloc(16, 0xff),
  lidRangeBegin: 0xffff,
  lidRangeEnd: 0xffff,
  reserved: 0xffff,
  isGeneric: 0xff,
  subscribe: 0xff,
  type: INFORM_ALL_16,
  trapNumber: INFORM_ALL_16,
  qpn: 0xabcdef,
  reserved2: 5,
  respTimeValue: 5,
  reserved3: 0xff,
  producerType: INFORM_ALL_PRODUCERS,
};
const MAXED_HEX = 'ffffffffffffffff ffffffffffffffff ffff ffff ffff ff ff ffff ffff abcdef a5 ff ffffff';

describe('wire: InformInfo @sa @mad @multicast', () => {
  it('encodes a trap 66 subscription to exactly these 36 octets, and back @sa @mad @multicast @mgid', () => {
    expect(INFORM_INFO_LEN).to.equal(36);
    roundtrip(informInfo, SUBSCRIBE_66, SUBSCRIBE_66_HEX);
    expect(informInfoProblems(SUBSCRIBE_66)).to.deep.equal([]);
  });

  it('keeps every packed and reserved bit as found @sa @mad', () => {
    roundtrip(informInfo, MAXED, MAXED_HEX);
    expect(informInfoProblems(MAXED)).to.deep.equal([
      'informInfo.reserved is 0xffff, reserved bits must be sent as zero',
      'informInfo.reserved2 is 0x5, reserved bits must be sent as zero',
      'informInfo.reserved3 is 0xff, reserved bits must be sent as zero',
      'informInfo.isGeneric is 255, only 0 and 1 are defined',
      'informInfo.subscribe is 255, only 0 and 1 are defined',
    ]);
  });

  it('refuses values that do not fit their fields, naming the field @sa @mad', () => {
    const cases: Array<[keyof InformInfo, unknown, string]> = [
      ['gid', Buffer.alloc(15), 'informInfo.gid'],
      ['qpn', 0x1000000, 'informInfo.qpn'],
      ['respTimeValue', 32, 'informInfo.respTimeValue'],
      ['reserved2', 8, 'informInfo.reserved2'],
      ['producerType', 0x1000000, 'informInfo.producerType'],
      ['subscribe', 256, 'informInfo.subscribe'],
      ['trapNumber', -1, 'informInfo.trapNumber'],
    ];
    for (const [key, bad, fieldName] of cases) {
      expectWireError(() => informInfo.encode({ ...SUBSCRIBE_66, [key]: bad } as InformInfo, Buffer.alloc(36), 0), fieldName, `${key} = ${String(bad)}`);
    }
    expectWireError(() => informInfo.encode(SUBSCRIBE_66, Buffer.alloc(35), 0), 'informInfo', 'a 35-octet buffer');
  });
});
