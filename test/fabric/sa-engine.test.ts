import { expect } from 'chai';
import {
  JOIN_STATE_FULL,
  JOIN_STATE_NON,
  JOIN_STATE_SEND_ONLY_FULL,
  JOIN_STATE_SEND_ONLY_NON,
  MAD_METHOD_DELETE_RESP,
  MAD_METHOD_GET_RESP,
  MAD_METHOD_GET_TABLE_RESP,
  SA_ATTR_MCMEMBER_RECORD,
  SA_ATTR_PATH_RECORD,
} from '../../src/wire/constants.js';
import {
  MAD_STATUS_BAD_VERSION,
  MAD_STATUS_METHOD_ATTRIBUTE_UNSUPPORTED,
  MAD_STATUS_METHOD_UNSUPPORTED,
  RMPP_FLAG_ACTIVE,
  RMPP_FLAG_FIRST,
  RMPP_FLAG_LAST,
  RMPP_TYPE_DATA,
  SA_ERR_NO_RECORDS,
  SA_ERR_REQ_INSUFFICIENT_COMPONENTS,
  SA_ERR_REQ_INVALID,
  SA_ERR_REQ_INVALID_GID,
  SA_ERR_TOO_MANY_RECORDS,
} from '../../src/wire/mad.js';
import type { McMemberComponent, McMemberRecord } from '../../src/wire/mcmember-record.js';
import { formatGid, parseGid } from '../../src/wire/mgid.js';
import { pathRecordComponentMask } from '../../src/wire/path-record.js';
import {
  SA_SELECTOR_EXACTLY,
  SA_SELECTOR_GREATER_THAN,
  SA_SELECTOR_LARGEST_AVAILABLE,
  SA_SELECTOR_LESS_THAN,
} from '../../src/wire/sa.js';
import { hex } from '../helpers/roundtrip.js';
import {
  ask,
  BROADCAST_JOIN_COMPONENTS,
  CREATE_COMPONENTS,
  EMPTY_MCM,
  getMcm,
  join,
  leave,
  MAD_METHOD_DELETE,
  MAD_METHOD_GET,
  MAD_METHOD_GET_TABLE,
  MAD_METHOD_SET,
  mcmOf,
  mcmRequest,
  mcmTable,
  pathOf,
  pathRequest,
  pathTable,
  saError,
  saRequest,
} from './sa-client.js';
import {
  DEFAULT_BCAST,
  G1,
  G2,
  G3,
  G4,
  GID1,
  GID2,
  GID3,
  GID4,
  LAB_BCAST,
  makeLab,
  SITE_BCAST,
  testMgid,
} from './sim-fixture.js';

const P1 = { portGuid: G1 };
const P2 = { portGuid: G2 };
const P3 = { portGuid: G3 };
const P4 = { portGuid: G4 };
const TRUSTED = { smKey: 1n };

/** Full components of a new group: Q_Key 0x1234, P_Key 0xffff, TClass/FlowLabel/SL 0. */
function createFields(mgid: Buffer, portGid: Buffer, extra: Partial<McMemberRecord> = {}): Partial<McMemberRecord> {
  return { mgid, portGid, qkey: 0x1234, pkey: 0xffff, joinState: JOIN_STATE_FULL, ...extra };
}

describe('SA engine: a whole response MAD @sa @mad @multicast', () => {
  it('answers a broadcast join with exactly these 256 octets @sa @mad @multicast @mgid @pkey @qkey', () => {
    const { sa } = makeLab();
    const request = mcmRequest(
      MAD_METHOD_SET,
      { mgid: DEFAULT_BCAST, portGid: GID1, pkey: 0xffff, joinState: JOIN_STATE_FULL },
      BROADCAST_JOIN_COMPONENTS,
      { transactionId: 0x1122334455667788n },
    );
    const [response, ...more] = sa.handle(request, P1);
    expect(more, 'one response MAD').to.deep.equal([]);
    // Octet by octet:
    //   0-23  MAD header
    //     0   01                BaseVersion 1
    //     1   03                MgmtClass SubnAdm
    //     2   02                ClassVersion 2
    //     3   81                Method GetResp (a SubnAdmSet is answered by GetResp)
    //     4   0000              Status: success
    //     6   0000              ClassSpecific
    //     8   1122334455667788  TransactionID, echoed
    //    16   0038              AttributeID MCMemberRecord
    //    18   0000              reserved
    //    20   00000000          AttributeModifier
    //  24-35  twelve 00         RMPP header, inactive
    //  36-55  SA header
    //    36   0000000000000000  SM_Key: always 0 in a response
    //    44   0000              AttributeOffset (0 outside GetTableResp)
    //    46   0000              reserved
    //    48   0000000000010083  ComponentMask echoed: MGID, PortGID, P_Key, JoinState
    //  56-107 MCMemberRecord
    //    56   ff12401bffff0000 00000000ffffffff   MGID ff12:401b:ffff::ffff:ffff
    //    72   fe80000000000000 0002c90300000101   PortGID fe80::2:c903:0:101 (node1)
    //    88   00000b1b          Q_Key 0x0B1B (partition default)
    //    92   c000              MLID 0xC000 (first pre-created group)
    //    94   84                MTUSelector 2 (exactly) << 6 | MTU 4 (2048)
    //    95   00                TClass
    //    96   ffff              P_Key
    //    98   83                RateSelector 2 << 6 | Rate 3 (10 Gb/s)
    //    99   92                PacketLifeTimeSelector 2 << 6 | PacketLifeTime 0x12
    //   100   00000000          SL 0 | FlowLabel 0 | HopLimit 0
    //   104   21                Scope 2 (link-local) << 4 | JoinState 1 (FullMember)
    //   105   000000            ProxyJoin 0, reserved
    // 108-255 148 octets of 00  rest of the 200-octet SA data
    const golden = hex(
      '01 03 02 81 0000 0000 1122334455667788 0038 0000 00000000' +
        '00'.repeat(12) +
        '0000000000000000 0000 0000 0000000000010083' +
        'ff12401bffff0000 00000000ffffffff fe80000000000000 0002c90300000101' +
        '00000b1b c000 84 00 ffff 83 92 00000000 21 000000' +
        '00'.repeat(148),
    );
    expect(golden.length).to.equal(256);
    expect(response?.toString('hex')).to.equal(golden.toString('hex'));
  });
});

describe('SA engine: MCMemberRecord joins @sa @multicast', () => {
  it('joins a pre-created group and returns its record with the requester JoinState @sa @multicast @qkey', () => {
    const { sa } = makeLab();
    const m = join(sa, P4, { mgid: LAB_BCAST, portGid: GID4, pkey: 0x8001, joinState: JOIN_STATE_FULL });
    expect(m.header.method).to.equal(MAD_METHOD_GET_RESP);
    expect(m.header.status).to.equal(0);
    const r = mcmOf(m);
    expect(r).to.deep.include({ mlid: 0xc001, qkey: 0x80001234, mtu: 5, rate: 7, sl: 3, scope: 2, joinState: 1, pkey: 0x8001 });
    expect(r.portGid.equals(GID4)).to.equal(true);
    expect([r.mtuSelector, r.rateSelector, r.packetLifeTimeSelector]).to.deep.equal([2, 2, 2]);
  });

  it('answers with the OR of every JoinState the port holds @sa @multicast', () => {
    const { sm, sa } = makeLab();
    const base = { mgid: DEFAULT_BCAST, portGid: GID2, pkey: 0xffff };
    expect(mcmOf(join(sa, P2, { ...base, joinState: JOIN_STATE_NON })).joinState).to.equal(0x2);
    expect(mcmOf(join(sa, P2, { ...base, joinState: JOIN_STATE_SEND_ONLY_NON })).joinState).to.equal(0x6);
    expect(mcmOf(join(sa, P2, { ...base, joinState: JOIN_STATE_FULL })).joinState).to.equal(0x7);
    expect(sm.members(DEFAULT_BCAST).map((x) => x.joinState)).to.deep.equal([0x7]);
  });

  it('creates a group on a FullMember join with every creation component @sa @multicast', () => {
    const { sm, sa } = makeLab();
    const fields = createFields(testMgid(1), GID1, { trafficClass: 0x20, flowLabel: 0x12345, sl: 6, hopLimit: 9 });
    const r = mcmOf(join(sa, P1, fields, [...CREATE_COMPONENTS, 'hopLimit']));
    expect(r).to.deep.include({ mlid: 0xc003, qkey: 0x1234, pkey: 0xffff, trafficClass: 0x20, flowLabel: 0x12345, sl: 6, hopLimit: 9 });
    expect(r.mtu, 'MTU left to the SA: the creator link').to.equal(5);
    expect(r.rate, 'rate left to the SA: the creator link').to.equal(7);
    expect(r.scope, 'scope from the MGID').to.equal(2);
    const g = sm.groups().find((x) => x.mgid === 'ff12:1234::1');
    expect(g).to.deep.include({ preCreated: false, memberCount: 1, mlid: 0xc003 });
  });

  it('creates a group on a SendOnlyFullMember join @sa @multicast', () => {
    const { sm, sa } = makeLab();
    const r = mcmOf(join(sa, P1, createFields(testMgid(2), GID1, { joinState: JOIN_STATE_SEND_ONLY_FULL }), CREATE_COMPONENTS));
    expect(r.joinState).to.equal(JOIN_STATE_SEND_ONLY_FULL);
    expect(sm.members(testMgid(2)).map((x) => x.joinStateNames)).to.deep.equal([['send-only-full']]);
  });

  it('refuses to create a group with NonMember or SendOnlyNonMember JoinState @sa @multicast', () => {
    const { sm, sa } = makeLab();
    for (const joinState of [JOIN_STATE_NON, JOIN_STATE_SEND_ONLY_NON, JOIN_STATE_NON | JOIN_STATE_SEND_ONLY_NON]) {
      const m = join(sa, P1, createFields(testMgid(3), GID1, { joinState }), CREATE_COMPONENTS);
      expect(saError(m), `JoinState ${joinState}`).to.equal(SA_ERR_REQ_INVALID);
      expect(m.header.method).to.equal(MAD_METHOD_GET_RESP);
    }
    expect(sm.group(testMgid(3))).to.equal(undefined);
  });

  it('answers a creation lacking any one required component with ERR_REQ_INSUFFICIENT_COMPONENTS @sa @multicast', () => {
    const { sm, sa } = makeLab();
    for (const missing of ['qkey', 'pkey', 'trafficClass', 'flowLabel', 'sl'] as const) {
      const components = CREATE_COMPONENTS.filter((c) => c !== missing);
      const m = join(sa, P1, createFields(testMgid(4), GID1), components);
      expect(saError(m), `without ${missing}`).to.equal(SA_ERR_REQ_INSUFFICIENT_COMPONENTS);
    }
    expect(sm.group(testMgid(4))).to.equal(undefined);
  });

  it('answers a join or leave without MGID, PortGID or JoinState with ERR_REQ_INSUFFICIENT_COMPONENTS @sa @multicast @mgid', () => {
    const { sa } = makeLab();
    for (const missing of ['mgid', 'portGid', 'joinState'] as const) {
      const components = BROADCAST_JOIN_COMPONENTS.filter((c) => c !== missing);
      const fields = { mgid: DEFAULT_BCAST, portGid: GID1, pkey: 0xffff, joinState: 1 };
      expect(saError(join(sa, P1, fields, components)), `join without ${missing}`).to.equal(SA_ERR_REQ_INSUFFICIENT_COMPONENTS);
      expect(saError(leave(sa, P1, fields, components)), `leave without ${missing}`).to.equal(SA_ERR_REQ_INSUFFICIENT_COMPONENTS);
    }
  });

  it('refuses a PortGID that is not the requester own GID with ERR_REQ_INVALID @sa @multicast', () => {
    const { sm, sa } = makeLab();
    expect(saError(join(sa, P1, { mgid: DEFAULT_BCAST, portGid: GID2, pkey: 0xffff, joinState: 1 }))).to.equal(SA_ERR_REQ_INVALID);
    const otherPrefix = Buffer.from(GID1);
    otherPrefix.writeUInt16BE(0xfec0, 0);
    expect(saError(join(sa, P1, { mgid: DEFAULT_BCAST, portGid: otherPrefix, pkey: 0xffff, joinState: 1 }))).to.equal(SA_ERR_REQ_INVALID);
    expect(sm.members(DEFAULT_BCAST)).to.deep.equal([]);
  });

  it('refuses JoinState 0 with ERR_REQ_INVALID, for an existing group and a new one @sa @multicast', () => {
    const { sm, sa } = makeLab();
    expect(saError(join(sa, P1, { mgid: DEFAULT_BCAST, portGid: GID1, pkey: 0xffff, joinState: 0 }))).to.equal(SA_ERR_REQ_INVALID);
    expect(saError(join(sa, P1, createFields(testMgid(8), GID1, { joinState: 0 }), CREATE_COMPONENTS))).to.equal(SA_ERR_REQ_INVALID);
    expect(sm.members(DEFAULT_BCAST)).to.deep.equal([]);
  });

  it('refuses a port whose table lacks the group P_Key @sa @multicast @pkey', () => {
    const { sm, sa } = makeLab();
    const m = join(sa, P3, { mgid: LAB_BCAST, portGid: GID3, pkey: 0x8001, joinState: 1 });
    expect(saError(m)).to.equal(SA_ERR_REQ_INVALID);
    // Without the P_Key component too: the check is the table against the group.
    expect(saError(join(sa, P3, { mgid: LAB_BCAST, portGid: GID3, joinState: 1 }, ['mgid', 'portGid', 'joinState']))).to.equal(SA_ERR_REQ_INVALID);
    expect(sm.members(LAB_BCAST)).to.deep.equal([]);
  });

  it('lets a limited member join a full-key group but not a group keyed by the limited P_Key @sa @multicast @pkey', () => {
    const { sm, sa } = makeLab();
    // node2 holds only 0x0001: 0x0001 and 0x8001 match (one full), so the lab broadcast group is open to it.
    expect(mcmOf(join(sa, P2, { mgid: LAB_BCAST, portGid: GID2, pkey: 0x8001, joinState: 1 })).joinState).to.equal(1);
    // node1 (0x8001) may create a group keyed 0x0001; two limited keys never match, so node2 may not join it.
    join(sa, P1, createFields(testMgid(5), GID1, { pkey: 0x0001 }), CREATE_COMPONENTS);
    expect(sm.group(testMgid(5))?.pkey).to.equal(0x0001);
    expect(saError(join(sa, P2, { mgid: testMgid(5), portGid: GID2, joinState: 1 }, ['mgid', 'portGid', 'joinState']))).to.equal(SA_ERR_REQ_INVALID);
    // Nor may node2 create one with that key.
    expect(saError(join(sa, P2, createFields(testMgid(6), GID2, { pkey: 0x0001 }), CREATE_COMPONENTS))).to.equal(SA_ERR_REQ_INVALID);
    expect(sm.group(testMgid(6))).to.equal(undefined);
  });

  it('refuses an invalid P_Key (base 0) with ERR_REQ_INVALID @sa @multicast @pkey', () => {
    const { sa } = makeLab();
    for (const pkey of [0x0000, 0x8000]) {
      expect(saError(join(sa, P1, createFields(testMgid(7), GID1, { pkey }), CREATE_COMPONENTS)), `P_Key ${pkey}`).to.equal(SA_ERR_REQ_INVALID);
    }
  });

  it('refuses a join whose Q_Key differs from the group Q_Key @sa @multicast @qkey', () => {
    const { sa } = makeLab();
    const components: McMemberComponent[] = [...BROADCAST_JOIN_COMPONENTS, 'qkey'];
    const bad = join(sa, P1, { mgid: LAB_BCAST, portGid: GID1, pkey: 0x8001, qkey: 0x0b1b, joinState: 1 }, components);
    expect(saError(bad)).to.equal(SA_ERR_REQ_INVALID);
    const good = join(sa, P1, { mgid: LAB_BCAST, portGid: GID1, pkey: 0x8001, qkey: 0x80001234, joinState: 1 }, components);
    expect(good.header.status).to.equal(0);
  });

  it('refuses a join whose P_Key, SL, TClass or MLID component differs from the group @sa @multicast @pkey', () => {
    const { sa } = makeLab();
    const base = { mgid: LAB_BCAST, portGid: GID1, pkey: 0x8001, joinState: 1 };
    const cases: Array<[McMemberComponent, Partial<McMemberRecord>]> = [
      ['pkey', { pkey: 0xffff }],
      ['sl', { sl: 0 }],
      ['trafficClass', { trafficClass: 1 }],
      ['mlid', { mlid: 0xc000 }],
      ['flowLabel', { flowLabel: 1 }],
      ['hopLimit', { hopLimit: 1 }],
      ['scope', { scope: 5 }],
    ];
    for (const [component, change] of cases) {
      const m = join(sa, P1, { ...base, ...change }, ['mgid', 'portGid', 'joinState', component]);
      expect(saError(m), component).to.equal(SA_ERR_REQ_INVALID);
    }
    expect(join(sa, P1, { ...base, sl: 3, mlid: 0xc001 }, ['mgid', 'portGid', 'joinState', 'sl', 'mlid']).header.status).to.equal(0);
  });

  it('applies the MTU selector to the group MTU @sa @multicast @mtu', () => {
    const { sa } = makeLab();
    // The default broadcast group has MTU 4 (2048).
    const cases: Array<[number, number, boolean]> = [
      [SA_SELECTOR_GREATER_THAN, 3, true],
      [SA_SELECTOR_GREATER_THAN, 4, false],
      [SA_SELECTOR_LESS_THAN, 5, true],
      [SA_SELECTOR_LESS_THAN, 4, false],
      [SA_SELECTOR_EXACTLY, 4, true],
      [SA_SELECTOR_EXACTLY, 5, false],
      [SA_SELECTOR_LARGEST_AVAILABLE, 1, true],
    ];
    for (const [mtuSelector, mtu, ok] of cases) {
      const m = join(sa, P1, { mgid: DEFAULT_BCAST, portGid: GID1, pkey: 0xffff, joinState: 1, mtuSelector, mtu }, [
        ...BROADCAST_JOIN_COMPONENTS, 'mtuSelector', 'mtu',
      ]);
      expect(saError(m), `selector ${mtuSelector} MTU ${mtu}`).to.equal(ok ? 0 : SA_ERR_REQ_INVALID);
    }
  });

  it('applies the rate selector by speed, not by code number @sa @multicast', () => {
    const { sa } = makeLab();
    // Group rate code 3 = 10 Gb/s; code 5 = 5 Gb/s (a bigger code, a lower rate); code 4 = 30 Gb/s.
    const cases: Array<[number, number, boolean]> = [
      [SA_SELECTOR_GREATER_THAN, 5, true],
      [SA_SELECTOR_LESS_THAN, 5, false],
      [SA_SELECTOR_LESS_THAN, 4, true],
      [SA_SELECTOR_EXACTLY, 3, true],
      [SA_SELECTOR_EXACTLY, 7, false],
    ];
    for (const [rateSelector, rate, ok] of cases) {
      const m = join(sa, P1, { mgid: DEFAULT_BCAST, portGid: GID1, pkey: 0xffff, joinState: 1, rateSelector, rate }, [
        ...BROADCAST_JOIN_COMPONENTS, 'rateSelector', 'rate',
      ]);
      expect(saError(m), `selector ${rateSelector} rate ${rate}`).to.equal(ok ? 0 : SA_ERR_REQ_INVALID);
    }
  });

  it('applies the packet lifetime selector and treats a bare MTU as exactly @sa @multicast @mtu', () => {
    const { sa } = makeLab();
    const fields = { mgid: DEFAULT_BCAST, portGid: GID1, pkey: 0xffff, joinState: 1 };
    const life = (packetLifeTimeSelector: number, packetLifeTime: number) =>
      saError(join(sa, P1, { ...fields, packetLifeTimeSelector, packetLifeTime }, [
        ...BROADCAST_JOIN_COMPONENTS, 'packetLifeTimeSelector', 'packetLifeTime',
      ]));
    expect(life(SA_SELECTOR_GREATER_THAN, 0x12)).to.equal(SA_ERR_REQ_INVALID);
    expect(life(SA_SELECTOR_LESS_THAN, 0x13)).to.equal(0);
    expect(saError(join(sa, P1, { ...fields, mtu: 5 }, [...BROADCAST_JOIN_COMPONENTS, 'mtu']))).to.equal(SA_ERR_REQ_INVALID);
    expect(saError(join(sa, P1, { ...fields, mtu: 4 }, [...BROADCAST_JOIN_COMPONENTS, 'mtu']))).to.equal(0);
  });

  it('refuses a port whose link MTU is below the group MTU @sa @multicast @mtu', () => {
    const { sm, sa } = makeLab({ linkMtu: { 4: 4 } });
    // The lab broadcast group has MTU 5 (4096); node4's link carries 2048.
    expect(saError(join(sa, P4, { mgid: LAB_BCAST, portGid: GID4, pkey: 0x8001, joinState: 1 }))).to.equal(SA_ERR_REQ_INVALID);
    expect(saError(join(sa, P4, { mgid: DEFAULT_BCAST, portGid: GID4, pkey: 0xffff, joinState: 1 }))).to.equal(0);
    expect(sm.members(LAB_BCAST)).to.deep.equal([]);
  });

  it('refuses a port whose link is slower than the group rate @sa @multicast', () => {
    const { sa } = makeLab({ portRateCodes: new Map([[G4, 5]]) });
    // node4 runs at 5 Gb/s; the lab group wants 40 Gb/s, the default group 10 Gb/s.
    expect(saError(join(sa, P4, { mgid: LAB_BCAST, portGid: GID4, pkey: 0x8001, joinState: 1 }))).to.equal(SA_ERR_REQ_INVALID);
    expect(saError(join(sa, P4, { mgid: DEFAULT_BCAST, portGid: GID4, pkey: 0xffff, joinState: 1 }))).to.equal(SA_ERR_REQ_INVALID);
  });

  it('picks a new group MTU from the selector and the creator link, or refuses @sa @multicast @mtu', () => {
    const { sa } = makeLab({ linkMtu: { 1: 4 } });
    const create = (n: number, mtuSelector: number, mtu: number) =>
      join(sa, P1, createFields(testMgid(n), GID1, { mtuSelector, mtu }), [...CREATE_COMPONENTS, 'mtuSelector', 'mtu']);
    expect(mcmOf(create(10, SA_SELECTOR_LESS_THAN, 4)).mtu, 'less than 2048').to.equal(3);
    expect(mcmOf(create(11, SA_SELECTOR_GREATER_THAN, 2)).mtu, 'greater than 512: the best the link has').to.equal(4);
    expect(mcmOf(create(12, SA_SELECTOR_LARGEST_AVAILABLE, 1)).mtu).to.equal(4);
    expect(mcmOf(create(13, SA_SELECTOR_EXACTLY, 2)).mtu).to.equal(2);
    expect(saError(create(14, SA_SELECTOR_GREATER_THAN, 4)), 'more than the link').to.equal(SA_ERR_REQ_INVALID);
    expect(saError(create(15, SA_SELECTOR_EXACTLY, 5))).to.equal(SA_ERR_REQ_INVALID);
    expect(saError(create(16, SA_SELECTOR_LESS_THAN, 1))).to.equal(SA_ERR_REQ_INVALID);
  });

  it('refuses an MTU or rate code that names nothing @sa @multicast @mtu', () => {
    const { sa } = makeLab();
    const fields = { mgid: DEFAULT_BCAST, portGid: GID1, pkey: 0xffff, joinState: 1 };
    expect(saError(join(sa, P1, { ...fields, mtu: 6 }, [...BROADCAST_JOIN_COMPONENTS, 'mtu']))).to.equal(SA_ERR_REQ_INVALID);
    expect(saError(join(sa, P1, { ...fields, rate: 1 }, [...BROADCAST_JOIN_COMPONENTS, 'rate']))).to.equal(SA_ERR_REQ_INVALID);
  });

  it('assigns an MGID when a creation names the all-zero MGID @sa @multicast @mgid', () => {
    const { sm, sa } = makeLab();
    const r1 = mcmOf(join(sa, P1, createFields(Buffer.alloc(16), GID1), CREATE_COMPONENTS));
    const r2 = mcmOf(join(sa, P1, createFields(Buffer.alloc(16), GID1, { scope: 5 }), [...CREATE_COMPONENTS, 'scope']));
    expect(formatGid(r1.mgid)).to.equal('ff12:a01b:fe80::');
    expect(formatGid(r2.mgid)).to.equal('ff15:a01b:fe80::1');
    expect(r2.scope).to.equal(5);
    expect(sm.members(r1.mgid).map((m) => m.lid)).to.deep.equal([1]);
    expect(r1.mlid).to.not.equal(r2.mlid);
  });

  it('refuses to create a group whose MGID is not multicast @sa @multicast @mgid', () => {
    const { sa } = makeLab();
    expect(saError(join(sa, P1, createFields(parseGid('fe80::1'), GID1), CREATE_COMPONENTS))).to.equal(SA_ERR_REQ_INVALID);
  });
});

describe('SA engine: MCMemberRecord leaves @sa @multicast', () => {
  it('clears the given JoinState bits and answers with DeleteResp and the bits left @sa @multicast', () => {
    const { sm, sa } = makeLab();
    const base = { mgid: DEFAULT_BCAST, portGid: GID1, pkey: 0xffff };
    join(sa, P1, { ...base, joinState: JOIN_STATE_FULL | JOIN_STATE_NON });
    const partial = leave(sa, P1, { ...base, joinState: JOIN_STATE_NON });
    expect(partial.header.method).to.equal(MAD_METHOD_DELETE_RESP);
    expect(partial.header.status).to.equal(0);
    expect(mcmOf(partial)).to.deep.include({ joinState: JOIN_STATE_FULL, mlid: 0xc000 });
    expect(sm.members(DEFAULT_BCAST).map((m) => m.joinState)).to.deep.equal([JOIN_STATE_FULL]);
    expect(mcmOf(leave(sa, P1, { ...base, joinState: JOIN_STATE_FULL })).joinState).to.equal(0);
    expect(sm.members(DEFAULT_BCAST)).to.deep.equal([]);
  });

  it('deletes a created group, non-members with it, when its last full member leaves @sa @multicast', () => {
    const { sm, sa } = makeLab();
    join(sa, P1, createFields(testMgid(20), GID1), CREATE_COMPONENTS);
    join(sa, P4, { mgid: testMgid(20), portGid: GID4, joinState: JOIN_STATE_FULL }, ['mgid', 'portGid', 'joinState']);
    join(sa, P3, { mgid: testMgid(20), portGid: GID3, joinState: JOIN_STATE_SEND_ONLY_NON }, ['mgid', 'portGid', 'joinState']);
    leave(sa, P1, { mgid: testMgid(20), portGid: GID1, joinState: JOIN_STATE_FULL }, ['mgid', 'portGid', 'joinState']);
    expect(sm.members(testMgid(20)).map((m) => m.lid), 'one full member left').to.deep.equal([4, 3]);
    leave(sa, P4, { mgid: testMgid(20), portGid: GID4, joinState: JOIN_STATE_FULL }, ['mgid', 'portGid', 'joinState']);
    expect(sm.group(testMgid(20))).to.equal(undefined);
    // The MLID is free again: the next creation reuses it.
    expect(mcmOf(join(sa, P1, createFields(testMgid(21), GID1), CREATE_COMPONENTS)).mlid).to.equal(0xc003);
  });

  it('keeps a created group alive while a SendOnlyFullMember remains @sa @multicast', () => {
    const { sm, sa } = makeLab();
    join(sa, P1, createFields(testMgid(22), GID1), CREATE_COMPONENTS);
    join(sa, P2, { mgid: testMgid(22), portGid: GID2, joinState: JOIN_STATE_SEND_ONLY_FULL }, ['mgid', 'portGid', 'joinState']);
    leave(sa, P1, { mgid: testMgid(22), portGid: GID1, joinState: JOIN_STATE_FULL }, ['mgid', 'portGid', 'joinState']);
    expect(sm.members(testMgid(22)).map((m) => m.joinState)).to.deep.equal([JOIN_STATE_SEND_ONLY_FULL]);
  });

  it('refuses to delete a non-member, an absent group, or bits the member does not hold @sa @multicast', () => {
    const { sm, sa } = makeLab();
    const comps: McMemberComponent[] = ['mgid', 'portGid', 'joinState'];
    join(sa, P1, { mgid: DEFAULT_BCAST, portGid: GID1, pkey: 0xffff, joinState: JOIN_STATE_NON });
    const cases: Array<[string, ReturnType<typeof leave>]> = [
      ['non-member', leave(sa, P2, { mgid: DEFAULT_BCAST, portGid: GID2, joinState: 1 }, comps)],
      ['absent group', leave(sa, P1, { mgid: testMgid(30), portGid: GID1, joinState: 1 }, comps)],
      ['no bit in common', leave(sa, P1, { mgid: DEFAULT_BCAST, portGid: GID1, joinState: JOIN_STATE_FULL }, comps)],
      ['bits beyond the held ones', leave(sa, P1, { mgid: DEFAULT_BCAST, portGid: GID1, joinState: JOIN_STATE_NON | JOIN_STATE_FULL }, comps)],
      ['another port GID', leave(sa, P2, { mgid: DEFAULT_BCAST, portGid: GID1, joinState: JOIN_STATE_NON }, comps)],
    ];
    for (const [what, m] of cases) {
      expect(saError(m), what).to.equal(SA_ERR_REQ_INVALID);
      expect(m.header.method, what).to.equal(MAD_METHOD_DELETE_RESP);
    }
    expect(sm.members(DEFAULT_BCAST).map((m) => m.joinState), 'membership untouched').to.deep.equal([JOIN_STATE_NON]);
  });
});

describe('SA engine: MCMemberRecord queries @sa @multicast', () => {
  function joinedLab() {
    const lab = makeLab();
    for (const [from, gid] of [[P1, GID1], [P2, GID2], [P3, GID3], [P4, GID4]] as const) {
      join(lab.sa, from, { mgid: DEFAULT_BCAST, portGid: gid, pkey: 0xffff, joinState: JOIN_STATE_FULL });
    }
    join(lab.sa, P1, { mgid: LAB_BCAST, portGid: GID1, pkey: 0x8001, joinState: JOIN_STATE_FULL });
    return lab;
  }

  it('gets one member record by MGID and PortGID for a trusted requester @sa @multicast @mgid', () => {
    const { sa } = joinedLab();
    const m = getMcm(sa, P2, { mgid: DEFAULT_BCAST, portGid: GID3 }, ['mgid', 'portGid'], TRUSTED);
    expect(m.header.method).to.equal(MAD_METHOD_GET_RESP);
    expect(m.sa.smKey, 'SM_Key is 0 in every response').to.equal(0n);
    const r = mcmOf(m);
    expect(r.portGid.equals(GID3)).to.equal(true);
    expect(r).to.deep.include({ joinState: 1, mlid: 0xc000 });
  });

  it('hides PortGID and JoinState from an untrusted requester @sa @multicast', () => {
    const { sa } = joinedLab();
    const r = mcmOf(getMcm(sa, P2, { mgid: DEFAULT_BCAST }, ['mgid']));
    expect(r.mlid).to.equal(0xc000);
    expect(r.portGid.equals(Buffer.alloc(16))).to.equal(true);
    expect(r.joinState).to.equal(0);
  });

  it('answers a Get matching nothing with ERR_NO_RECORDS and several with ERR_TOO_MANY_RECORDS @sa @multicast', () => {
    const { sa } = joinedLab();
    const none = getMcm(sa, P1, { mgid: testMgid(40) }, ['mgid']);
    expect(saError(none)).to.equal(SA_ERR_NO_RECORDS);
    expect(none.header.method).to.equal(MAD_METHOD_GET_RESP);
    expect(saError(getMcm(sa, P1, { mgid: DEFAULT_BCAST }, ['mgid'], TRUSTED)), 'four members').to.equal(SA_ERR_TOO_MANY_RECORDS);
    expect(saError(getMcm(sa, P1, {}, []))).to.equal(SA_ERR_TOO_MANY_RECORDS);
  });

  it('hides groups whose P_Key the requester lacks @sa @multicast @pkey', () => {
    const { sa } = joinedLab();
    expect(saError(getMcm(sa, P3, { mgid: LAB_BCAST }, ['mgid']))).to.equal(SA_ERR_NO_RECORDS);
    expect(mcmOf(getMcm(sa, P4, { mgid: LAB_BCAST }, ['mgid'])).mlid).to.equal(0xc001);
  });

  it('returns a GetTable of members across RMPP segments @sa @multicast @mad', () => {
    const { sa } = joinedLab();
    const responses = sa.handle(mcmRequest(MAD_METHOD_GET_TABLE, { mgid: DEFAULT_BCAST }, ['mgid'], { ...TRUSTED, transactionId: 77n }), P1);
    // Four 52-octet records at a 56-octet stride: 224 octets, more than the 200 of one MAD.
    expect(responses).to.have.length(2);
    const table = mcmTable(responses);
    const [first, second] = table.segments;
    expect(first?.rmpp.data2, 'first PayloadLength: 2 x 20 + 224').to.equal(264);
    expect(second?.rmpp.data2, 'last PayloadLength: 20 + 24').to.equal(44);
    for (const s of table.segments) {
      expect(s.header.method).to.equal(MAD_METHOD_GET_TABLE_RESP);
      expect(s.header.transactionId).to.equal(77n);
      expect(s.sa.attributeOffset).to.equal(7);
      expect(s.rmpp.type).to.equal(RMPP_TYPE_DATA);
    }
    expect(table.records.map((r) => formatGid(r.portGid))).to.deep.equal([
      'fe80::2:c903:0:101', 'fe80::2:c903:0:201', 'fe80::2:c903:0:301', 'fe80::2:c903:0:401',
    ]);
    expect(table.records.every((r) => r.mlid === 0xc000 && r.joinState === 1)).to.equal(true);
  });

  it('filters a GetTable by P_Key and JoinState components @sa @multicast @pkey', () => {
    const { sa } = joinedLab();
    join(sa, P2, { mgid: SITE_BCAST, portGid: GID2, pkey: 0x8002, joinState: JOIN_STATE_NON });
    const byPkey = mcmTable(sa.handle(mcmRequest(MAD_METHOD_GET_TABLE, { pkey: 0x8001 }, ['pkey'], TRUSTED), P1));
    expect(byPkey.records.map((r) => [r.mlid, formatGid(r.portGid)])).to.deep.equal([[0xc001, 'fe80::2:c903:0:101']]);
    const byState = mcmTable(sa.handle(mcmRequest(MAD_METHOD_GET_TABLE, { joinState: JOIN_STATE_NON }, ['joinState'], TRUSTED), P1));
    expect(byState.records.map((r) => [r.mlid, r.joinState])).to.deep.equal([[0xc002, JOIN_STATE_NON]]);
  });

  it('lists every visible group once in an untrusted GetTable @sa @multicast @pkey', () => {
    const { sa } = joinedLab();
    const table = mcmTable(sa.handle(mcmRequest(MAD_METHOD_GET_TABLE, {}, []), P3));
    // node3 is outside lab: it sees the default and site groups only, in MGID order.
    expect(table.records.map((r) => formatGid(r.mgid))).to.deep.equal(['ff12:401b:ffff::ffff:ffff', 'ff15:401b:8002::ffff:ffff']);
    expect(table.records.every((r) => r.joinState === 0 && r.portGid.equals(Buffer.alloc(16)))).to.equal(true);
    expect(table.segments).to.have.length(1);
    expect(table.segments[0]?.rmpp.flags).to.equal(RMPP_FLAG_ACTIVE | RMPP_FLAG_FIRST | RMPP_FLAG_LAST);
  });

  it('answers a GetTable matching nothing with one empty RMPP segment @sa @multicast @mad', () => {
    const { sa } = joinedLab();
    const responses = sa.handle(mcmRequest(MAD_METHOD_GET_TABLE, { mgid: testMgid(50) }, ['mgid']), P1);
    const table = mcmTable(responses);
    expect(table.records).to.deep.equal([]);
    expect(table.segments[0]?.header.status).to.equal(0);
    expect(table.segments[0]?.rmpp.data2, 'PayloadLength: the SA header only').to.equal(20);
    expect(table.segments[0]?.sa.attributeOffset).to.equal(0);
  });

  it('drops a request whose SM_Key is neither 0 nor the SA key @sa @multicast', () => {
    const { sa } = joinedLab();
    expect(sa.handle(mcmRequest(MAD_METHOD_GET, { mgid: DEFAULT_BCAST }, ['mgid'], { smKey: 2n }), P1)).to.deep.equal([]);
  });
});

describe('SA engine: PathRecord @sa', () => {
  const PATH_Q = ['dgid', 'sgid', 'numbPath', 'trafficClass', 'pkey'] as const;

  it('returns the path between two ports of a shared partition @sa @pkey', () => {
    const { sa } = makeLab({ linkMtu: { 4: 3 } });
    const m = ask(sa, pathRequest(MAD_METHOD_GET, { sgid: GID1, dgid: GID4, pkey: 0x8001, numbPath: 1 }, PATH_Q), P1);
    expect(m.header.method).to.equal(MAD_METHOD_GET_RESP);
    expect(m.header.status).to.equal(0);
    const p = pathOf(m);
    expect(p).to.deep.include({ slid: 1, dlid: 4, pkey: 0x8001, sl: 3, mtu: 3, rate: 7, packetLifeTime: 0x12, reversible: true, numbPath: 1 });
    expect(p.mtu, 'the smaller of the two link MTUs').to.equal(3);
    expect([p.mtuSelector, p.rateSelector, p.packetLifeTimeSelector]).to.deep.equal([2, 2, 2]);
    expect(p.sgid.equals(GID1) && p.dgid.equals(GID4)).to.equal(true);
  });

  it('answers ERR_NO_RECORDS when the two ports share no such partition @sa @pkey', () => {
    const { sa } = makeLab();
    // node3 is not in lab.
    expect(saError(ask(sa, pathRequest(MAD_METHOD_GET, { sgid: GID1, dgid: GID3, pkey: 0x8001 }, PATH_Q), P1))).to.equal(SA_ERR_NO_RECORDS);
    // node2 is a limited member: limited-to-full is a path, limited-to-limited is not.
    expect(pathOf(ask(sa, pathRequest(MAD_METHOD_GET, { sgid: GID2, dgid: GID1, pkey: 0x8001 }, PATH_Q), P2)).pkey).to.equal(0x8001);
    expect(saError(ask(sa, pathRequest(MAD_METHOD_GET, { sgid: GID2, dgid: GID2, pkey: 0x0001 }, PATH_Q), P2))).to.equal(SA_ERR_NO_RECORDS);
  });

  it('picks a shared partition when no P_Key is given, and the rate of the slower link @sa @pkey', () => {
    const { sa } = makeLab({ portRateCodes: new Map([[G3, 3]]) });
    const p = pathOf(ask(sa, pathRequest(MAD_METHOD_GET, { sgid: GID3, dgid: GID1 }, ['sgid', 'dgid']), P3));
    expect(p.pkey).to.equal(0xffff);
    expect(p.rate).to.equal(3);
  });

  it('finds the end points by LID too, and gives a loopback path lifetime 0 @sa', () => {
    const { sa } = makeLab();
    const p = pathOf(ask(sa, pathRequest(MAD_METHOD_GET, { slid: 2, dlid: 2 }, ['slid', 'dlid']), P2));
    expect(p).to.deep.include({ slid: 2, dlid: 2, packetLifeTime: 0 });
    expect(p.dgid.equals(GID2)).to.equal(true);
  });

  it('answers an unknown GID with ERR_REQ_INVALID_GID and an unknown LID with ERR_NO_RECORDS @sa', () => {
    const { sm, sa } = makeLab();
    expect(saError(ask(sa, pathRequest(MAD_METHOD_GET, { sgid: GID1, dgid: parseGid('fe80::99') }, ['sgid', 'dgid']), P1))).to.equal(SA_ERR_REQ_INVALID_GID);
    expect(saError(ask(sa, pathRequest(MAD_METHOD_GET, { sgid: parseGid('fec0::2:c903:0:101'), dgid: GID2 }, ['sgid', 'dgid']), P1))).to.equal(SA_ERR_REQ_INVALID_GID);
    expect(saError(ask(sa, pathRequest(MAD_METHOD_GET, { slid: 1, dlid: 9 }, ['slid', 'dlid']), P1))).to.equal(SA_ERR_NO_RECORDS);
    sm.setPortState(G4, 'down');
    expect(saError(ask(sa, pathRequest(MAD_METHOD_GET, { sgid: GID1, dgid: GID4 }, ['sgid', 'dgid']), P1)), 'a down port').to.equal(SA_ERR_REQ_INVALID_GID);
  });

  it('answers a Get without destination on several ports with ERR_TOO_MANY_RECORDS and a GetTable with them all @sa', () => {
    const { sa } = makeLab();
    expect(saError(ask(sa, pathRequest(MAD_METHOD_GET, { sgid: GID1 }, ['sgid']), P1))).to.equal(SA_ERR_TOO_MANY_RECORDS);
    const table = pathTable(sa.handle(pathRequest(MAD_METHOD_GET_TABLE, { sgid: GID1 }, ['sgid']), P1));
    expect(table.records.map((p) => p.dlid)).to.deep.equal([1, 2, 3, 4]);
    // Four 64-octet records: 256 octets, two segments.
    expect(table.segments).to.have.length(2);
    expect(table.segments[0]?.sa.attributeOffset).to.equal(8);
  });

  it('applies an MTU selector to the path @sa @mtu', () => {
    const { sa } = makeLab();
    const q = (mtuSelector: number, mtu: number) =>
      ask(sa, pathRequest(MAD_METHOD_GET, { sgid: GID1, dgid: GID2, mtuSelector, mtu }, ['sgid', 'dgid', 'mtuSelector', 'mtu']), P1);
    expect(pathOf(q(SA_SELECTOR_LESS_THAN, 3)).mtu).to.equal(2);
    expect(pathOf(q(SA_SELECTOR_LARGEST_AVAILABLE, 0)).mtu).to.equal(5);
    expect(saError(q(SA_SELECTOR_GREATER_THAN, 5))).to.equal(SA_ERR_NO_RECORDS);
  });

  it('answers a ServiceID given by one of its two mask bits with ERR_REQ_INSUFFICIENT_COMPONENTS @sa', () => {
    const { sa } = makeLab();
    const record = pathRequest(MAD_METHOD_GET, { sgid: GID1, dgid: GID2 }, ['sgid', 'dgid']).subarray(56, 56 + 64);
    const mask = pathRecordComponentMask(['sgid', 'dgid']) | 1n;
    expect(saError(ask(sa, saRequest(MAD_METHOD_GET, SA_ATTR_PATH_RECORD, mask, record), P1))).to.equal(SA_ERR_REQ_INSUFFICIENT_COMPONENTS);
  });
});

describe('SA engine: protocol errors @sa @mad', () => {
  it('answers ClassVersion 1 with Status bad version, echoing the request @sa @mad', () => {
    const { sa } = makeLab();
    const req = mcmRequest(MAD_METHOD_GET, { mgid: DEFAULT_BCAST }, ['mgid'], { classVersion: 1, transactionId: 9n });
    const m = ask(sa, req, P1);
    expect(m.header).to.deep.include({ status: MAD_STATUS_BAD_VERSION, method: MAD_METHOD_GET_RESP, transactionId: 9n, classVersion: 1 });
    expect(mcmOf(m).mgid.equals(DEFAULT_BCAST), 'record echoed').to.equal(true);
    expect(m.sa.componentMask).to.equal(1n);
  });

  it('answers a method the SA lacks with Status method unsupported @sa @mad', () => {
    const { sa } = makeLab();
    for (const [method, responseMethod] of [[0x03, 0x83], [0x14, 0x94], [0x06, 0x86]] as const) {
      const m = ask(sa, saRequest(method, SA_ATTR_MCMEMBER_RECORD, 0n, Buffer.alloc(0)), P1);
      expect(m.header.status, `method 0x${method.toString(16)}`).to.equal(MAD_STATUS_METHOD_UNSUPPORTED);
      expect(m.header.method).to.equal(responseMethod);
    }
  });

  it('answers a method the attribute lacks with Status method/attribute unsupported @sa @mad', () => {
    const { sa } = makeLab();
    const cases: Array<[number, number, number]> = [
      [MAD_METHOD_SET, SA_ATTR_PATH_RECORD, MAD_METHOD_GET_RESP],
      [MAD_METHOD_DELETE, SA_ATTR_PATH_RECORD, MAD_METHOD_DELETE_RESP],
      [MAD_METHOD_GET, 0x0011, MAD_METHOD_GET_RESP],
      [MAD_METHOD_GET_TABLE, 0x0020, MAD_METHOD_GET_TABLE_RESP],
    ];
    for (const [method, attr, responseMethod] of cases) {
      const m = ask(sa, saRequest(method, attr, 0n, Buffer.alloc(0)), P1);
      expect(m.header.status, `method 0x${method.toString(16)} attribute 0x${attr.toString(16)}`).to.equal(MAD_STATUS_METHOD_ATTRIBUTE_UNSUPPORTED);
      expect(m.header.method).to.equal(responseMethod);
      expect(m.rmpp.flags, 'error responses are not RMPP').to.equal(0);
    }
  });

  it('answers a request with RMPP active with ERR_REQ_INVALID @sa @mad', () => {
    const { sa } = makeLab();
    const rmpp = { version: 1, type: RMPP_TYPE_DATA, responseTime: 0, flags: RMPP_FLAG_ACTIVE | RMPP_FLAG_FIRST | RMPP_FLAG_LAST, status: 0, data1: 1, data2: 72 };
    const m = ask(sa, mcmRequest(MAD_METHOD_GET_TABLE, {}, [], { rmpp }), P1);
    expect(saError(m)).to.equal(SA_ERR_REQ_INVALID);
    expect(m.header.status).to.equal(0x0200);
  });

  it('drops what is not one SA request MAD @sa @mad', () => {
    const { sa } = makeLab();
    const good = mcmRequest(MAD_METHOD_GET, { mgid: DEFAULT_BCAST }, ['mgid']);
    const variants: Array<[string, Buffer]> = [
      ['255 octets', good.subarray(0, 255)],
      ['257 octets', Buffer.concat([good, Buffer.alloc(1)])],
      ['empty', Buffer.alloc(0)],
      ['BaseVersion 2', Buffer.concat([Buffer.from([2]), good.subarray(1)])],
      ['class 0x07', Buffer.concat([good.subarray(0, 1), Buffer.from([0x07]), good.subarray(2)])],
      ['a GetResp', Buffer.concat([good.subarray(0, 3), Buffer.from([0x81]), good.subarray(4)])],
      ['an RMPP ACK (GetTableResp method)', Buffer.concat([good.subarray(0, 3), Buffer.from([0x92]), good.subarray(4)])],
    ];
    for (const [what, buf] of variants) expect(sa.handle(buf, P1), what).to.deep.equal([]);
    expect(sa.handle(good, P1), 'the unmodified request is answered').to.have.length(1);
  });

  it('ignores requests from an unknown or down port @sa @mad', () => {
    const { sm, sa } = makeLab();
    const req = mcmRequest(MAD_METHOD_GET, { mgid: DEFAULT_BCAST }, ['mgid']);
    expect(sa.handle(req, { portGuid: 0x99n })).to.deep.equal([]);
    expect(sa.handle(req, { lid: 40 })).to.deep.equal([]);
    sm.setPortState(G3, 'down');
    expect(sa.handle(req, P3)).to.deep.equal([]);
    expect(sa.handle(req, { lid: 3 })).to.deep.equal([]);
  });

  it('never throws on arbitrary SA-class MADs @sa @mad', () => {
    const { sa } = makeLab();
    let seed = 12345;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed & 0xff;
    };
    const methods = [0x01, 0x02, 0x12, 0x15];
    for (let i = 0; i < 500; i++) {
      const buf = Buffer.from(Array.from({ length: 256 }, rand));
      buf[0] = 1;
      buf[1] = 0x03;
      buf[2] = 2;
      buf[3] = methods[i % 4] ?? 1;
      buf.writeUInt16BE(i % 2 === 0 ? SA_ATTR_MCMEMBER_RECORD : SA_ATTR_PATH_RECORD, 16);
      buf.writeBigUInt64BE(0n, 36); // SM_Key 0, so the request is not dropped
      if (i % 3 === 0) buf[26] = 0; // RMPP inactive for a third of them
      const out = sa.handle(buf, P1);
      for (const r of out) expect(r.length).to.equal(256);
    }
  });

  it('leaves the record stream of an error response as the request sent it @sa @mad', () => {
    const { sa } = makeLab();
    const fields = { ...EMPTY_MCM, mgid: DEFAULT_BCAST, portGid: GID2, pkey: 0xffff, joinState: 1 };
    const m = join(sa, P1, fields);
    expect(saError(m)).to.equal(SA_ERR_REQ_INVALID);
    expect(mcmOf(m).portGid.equals(GID2)).to.equal(true);
    expect(m.sa.smKey).to.equal(0n);
  });
});
