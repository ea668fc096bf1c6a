import { expect } from 'chai';
import {
  NOTICE_TYPE_SUBNET_MANAGEMENT,
  PRODUCER_TYPE_CLASS_MANAGER,
  TRAP_MCAST_GROUP_CREATED,
  TRAP_MCAST_GROUP_DELETED,
} from '../../src/wire/constants.js';
import { gidDataDetails, isGidTrap, NOTICE_LEN, type Notice, notice, TRAP_NAMES, trapGid } from '../../src/wire/notice.js';
import { expectWireError, hex, roundtrip } from '../helpers/roundtrip.js';

const MGID = hex('ff12401bffff0000 00000000e0000001');
const SM_GID = hex('fe80000000000000 0002c9030000ff01');

// Golden 1: what the SA reports when the group ff12:401b:ffff::e000:1 is created.
//   0      83                       IsGeneric 1 << 7 | Type 3 (subnet management)
//   1-3    000004                   ProducerType: class manager
//   4-5    0042                     TrapNumber 66
//   6-7    0001                     IssuerLID 1 (the SM)
//   8-9    0000                     NoticeToggle 0, NoticeCount 0
//   10-15  000000000000             DataDetails: 6 reserved octets
//   16-31  ff12401bffff0000 00000000e0000001   DataDetails: the MGID
//   32-63  32 zero octets           DataDetails: the rest
//   64-79  fe80000000000000 0002c9030000ff01   IssuerGID (the SM's port)
const CREATED: Notice = {
  isGeneric: true,
  type: NOTICE_TYPE_SUBNET_MANAGEMENT,
  producerType: PRODUCER_TYPE_CLASS_MANAGER,
  trapNumber: TRAP_MCAST_GROUP_CREATED,
  issuerLid: 1,
  noticeToggle: false,
  noticeCount: 0,
  dataDetails: gidDataDetails(MGID),
  issuerGid: SM_GID,
};
const CREATED_HEX = `83 000004 0042 0001 0000 000000000000 ff12401bffff0000 00000000e0000001 ${'00'.repeat(32)} fe80000000000000 0002c9030000ff01`;

// Golden 2: a vendor notice with every packed bit exercised.
//   0 7f: IsGeneric 0, Type 0x7f | 1-3 0002c9 VendorID | 4-5 abcd DeviceID | 6-7 beef IssuerLID
//   8-9 9234: NoticeToggle 1, NoticeCount 0x1234 | 10-63 0x5a × 54 | 64-79 ff × 16
const VENDOR: Notice = {
  isGeneric: false,
  type: 0x7f,
  producerType: 0x0002c9,
  trapNumber: 0xabcd,
  issuerLid: 0xbeef,
  noticeToggle: true,
  noticeCount: 0x1234,
  dataDetails: Buffer.alloc(54, 0x5a),
  issuerGid: Buffer.alloc(16, 0xff),
};
const VENDOR_HEX = `7f 0002c9 abcd beef 9234 ${'5a'.repeat(54)} ${'ff'.repeat(16)}`;

describe('wire: Notice @sa @mad @multicast', () => {
  it('encodes a trap 66 report of a group to exactly these 80 octets, and back @sa @mad @multicast @mgid', () => {
    expect(NOTICE_LEN).to.equal(80);
    roundtrip(notice, CREATED, CREATED_HEX);
    expect(isGidTrap(CREATED)).to.equal(true);
    expect(trapGid(CREATED).toString('hex'), 'the MGID sits 6 octets into DataDetails').to.equal(MGID.toString('hex'));
    expect(TRAP_NAMES[TRAP_MCAST_GROUP_CREATED]).to.equal('multicast group created');
    expect(TRAP_NAMES[TRAP_MCAST_GROUP_DELETED]).to.equal('multicast group deleted');
  });

  it('keeps the toggle, the count and vendor fields as found @sa @mad', () => {
    roundtrip(notice, VENDOR, VENDOR_HEX);
    expect(isGidTrap(VENDOR), 'a vendor notice is no GID trap even with a generic trap number').to.equal(false);
    expectWireError(() => trapGid(VENDOR), 'notice.trapNumber');
    expectWireError(() => trapGid({ ...CREATED, trapNumber: 128 }), 'notice.trapNumber', 'generic trap 128');
  });

  it('refuses values that do not fit their fields, naming the field @sa @mad', () => {
    const cases: Array<[keyof Notice, unknown, string]> = [
      ['type', 0x80, 'notice.type'],
      ['producerType', 0x1000000, 'notice.producerType'],
      ['noticeCount', 0x8000, 'notice.noticeCount'],
      ['isGeneric', 1, 'notice.isGeneric'],
      ['dataDetails', Buffer.alloc(53), 'notice.dataDetails'],
      ['issuerGid', Buffer.alloc(17), 'notice.issuerGid'],
    ];
    for (const [key, bad, fieldName] of cases) {
      expectWireError(() => notice.encode({ ...CREATED, [key]: bad } as Notice, Buffer.alloc(80), 0), fieldName, `${key} = ${String(bad)}`);
    }
    expectWireError(() => gidDataDetails(Buffer.alloc(8)), 'notice.dataDetails.gid');
  });
});
