import { expect } from 'chai';
import { WireError } from '../../src/errors.js';
import type { SubnetEventMap } from '../../src/fabric/sim/subnet.js';
import { MAD_METHOD_GET_RESP } from '../../src/wire/constants.js';
import {
  SA_ERR_NO_RESOURCES,
  SA_ERR_REQ_DENIED,
  SA_ERR_REQ_INVALID,
} from '../../src/wire/mad.js';
import { formatGid } from '../../src/wire/mgid.js';
import {
  CREATE_COMPONENTS,
  join,
  leave,
  MAD_METHOD_SET,
  mcmOf,
  mcmRequest,
  saError,
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
  GUIDS,
  LAB_BCAST,
  makeLab,
  SITE_BCAST,
  testMgid,
} from './sim-fixture.js';

/** A dynamic group created by `from`: Q_Key 0x1234, P_Key 0xffff, FullMember. */
function createGroup(sa: ReturnType<typeof makeLab>['sa'], guid: bigint, gid: Buffer, n: number) {
  return join(sa, { portGuid: guid }, { mgid: testMgid(n), portGid: gid, qkey: 0x1234, pkey: 0xffff, joinState: 1 }, CREATE_COMPONENTS);
}

describe('simulated subnet manager: ports @sa', () => {
  it('assigns LIDs 1, 2, 3, 4 in port order and GIDs from the prefix and port GUID @sa', () => {
    const { sm } = makeLab();
    const ports = sm.subnet.ports();
    expect(ports.map((p) => p.lid)).to.deep.equal([1, 2, 3, 4]);
    expect(ports.map((p) => p.guid)).to.deep.equal(GUIDS);
    expect(formatGid(ports[0]!.gid)).to.equal('fe80::2:c903:0:101');
    expect(sm.subnet.portByLid(3)?.guid).to.equal(G3);
  });

  it('builds each P_Key table with the default partition at index 0 @sa @pkey', () => {
    const { sm } = makeLab();
    expect(sm.port(G1)?.pkeyTable).to.deep.equal([0xffff, 0x8001, 0x8002]);
    expect(sm.port(G2)?.pkeyTable, 'limited member of lab').to.deep.equal([0xffff, 0x0001, 0x8002]);
    expect(sm.port(G3)?.pkeyTable, 'not in lab').to.deep.equal([0xffff, 0x8002]);
  });

  it('raises port-down and port-active with the LID, and nothing when the state does not change @sa', () => {
    const { sm } = makeLab();
    const seen: string[] = [];
    sm.on('port-down', (e) => seen.push(`down ${e.lid} ${e.portGuid.toString(16)}`));
    const off = sm.on('port-active', (e) => seen.push(`active ${e.lid}`));
    sm.setPortState(G2, 'down');
    sm.setPortState(G2, 'down');
    sm.setPortState(G2, 'active');
    off();
    sm.setPortState(G2, 'down');
    expect(seen).to.deep.equal(['down 2 2c90300000201', 'active 2', 'down 2 2c90300000201']);
    expect(sm.port(G2)?.state).to.equal('down');
  });

  it('raises pkey-change with the new table when a P_Key table is set @sa @pkey', () => {
    const { sm } = makeLab();
    const seen: Array<SubnetEventMap['pkey-change']> = [];
    sm.on('pkey-change', (e) => seen.push(e));
    sm.setPkeyTable(G3, [0x7fff, 0x8005]);
    expect(seen).to.have.length(1);
    expect(seen[0]).to.deep.include({ portGuid: G3, lid: 3 });
    expect(seen[0]?.pkeyTable).to.deep.equal([0x7fff, 0x8005]);
    expect(sm.port(G3)?.pkeyTable).to.deep.equal([0x7fff, 0x8005]);
  });

  it('refuses a P_Key table entry beyond 16 bits and an unknown port @sa @pkey', () => {
    const { sm } = makeLab();
    let caught: unknown;
    try {
      sm.setPkeyTable(G3, [0xffff, 0x10000]);
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(WireError);
    expect((caught as WireError).field).to.equal('pkeyTable[1]');
    expect(sm.port(G3)?.pkeyTable, 'table unchanged').to.deep.equal([0xffff, 0x8002]);
    expect(() => sm.setPkeyTable(0x1234n, [0xffff])).to.throw(RangeError, /0x0000000000001234/);
    expect(() => sm.setPortState(0x1234n, 'down')).to.throw(RangeError);
  });
});

describe('simulated subnet manager: pre-created broadcast groups @sa @multicast', () => {
  it('creates one broadcast group per ipoib partition with MLIDs from 0xC000 in order @sa @multicast @mgid @pkey', () => {
    const { sm } = makeLab();
    const groups = sm.groups();
    expect(groups.map((g) => [g.mgid, g.mlid])).to.deep.equal([
      ['ff12:401b:8001::ffff:ffff', 0xc001],
      ['ff12:401b:ffff::ffff:ffff', 0xc000],
      ['ff15:401b:8002::ffff:ffff', 0xc002],
    ]);
    expect(groups.every((g) => g.preCreated && g.memberCount === 0)).to.equal(true);
  });

  it('takes Q_Key, MTU, rate, SL and scope from the partition, Q_Key 0x0B1B by default @sa @multicast @qkey @pkey @mtu', () => {
    const { sm } = makeLab();
    const lab = sm.group(LAB_BCAST);
    const site = sm.group(SITE_BCAST);
    expect(lab).to.deep.include({ qkey: 0x80001234, pkey: 0x8001, mtuCode: 5, rateCode: 7, sl: 3, scope: 2 });
    expect(site).to.deep.include({ qkey: 0x0b1b, pkey: 0x8002, mtuCode: 4, rateCode: 3, sl: 0, scope: 5 });
    expect(sm.group(DEFAULT_BCAST)).to.deep.include({ qkey: 0x0b1b, pkey: 0xffff, packetLifeTime: 0x12 });
  });

  it('puts the full-member bit into the broadcast MGID even when the file writes the limited key @sa @multicast @mgid @pkey', () => {
    const { sm } = makeLab({ partitions: 'Default=0x7fff : ALL=full ;\nlimkey=0x0005, ipoib : ALL=full ;' });
    expect(sm.groups().map((g) => [g.mgid, g.pkey, g.mlid])).to.deep.equal([['ff12:401b:8005::ffff:ffff', 0x8005, 0xc000]]);
  });

  it('keeps a pre-created group when its last member leaves @sa @multicast', () => {
    const { sm, sa } = makeLab();
    join(sa, { portGuid: G1 }, { mgid: DEFAULT_BCAST, portGid: GID1, pkey: 0xffff, joinState: 1 });
    expect(sm.members(DEFAULT_BCAST).map((m) => m.lid)).to.deep.equal([1]);
    leave(sa, { portGuid: G1 }, { mgid: DEFAULT_BCAST, portGid: GID1, pkey: 0xffff, joinState: 1 });
    expect(sm.members(DEFAULT_BCAST)).to.deep.equal([]);
    expect(sm.group(DEFAULT_BCAST)?.mlid).to.equal(0xc000);
  });
});

describe('simulated subnet manager: read-backs @sa @multicast', () => {
  it('lists members with LID, GID text and JoinState names, by MGID octets or text @sa @multicast @mgid', () => {
    const { sm, sa } = makeLab();
    join(sa, { portGuid: G4 }, { mgid: DEFAULT_BCAST, portGid: GID4, pkey: 0xffff, joinState: 0x1 });
    join(sa, { lid: 2 }, { mgid: DEFAULT_BCAST, portGid: GID2, pkey: 0xffff, joinState: 0x2 });
    join(sa, { lid: 2 }, { mgid: DEFAULT_BCAST, portGid: GID2, pkey: 0xffff, joinState: 0x4 });
    const members = sm.members('ff12:401b:ffff::ffff:ffff');
    expect(members).to.deep.equal([
      { portGuid: G4, lid: 4, portGid: 'fe80::2:c903:0:401', joinState: 1, joinStateNames: ['full'], proxyJoin: false },
      { portGuid: G2, lid: 2, portGid: 'fe80::2:c903:0:201', joinState: 6, joinStateNames: ['non', 'send-only-non'], proxyJoin: false },
    ]);
    expect(sm.members(DEFAULT_BCAST)).to.deep.equal(members);
    expect(sm.members(testMgid(99)), 'unknown group').to.deep.equal([]);
    expect(sm.groups().find((g) => g.mlid === 0xc000)?.memberCount).to.equal(2);
  });
});

describe('simulated subnet manager: port down @sa @multicast', () => {
  it('drops the memberships of a port that goes down and deletes a group it alone kept alive @sa @multicast', () => {
    const { sm, sa } = makeLab();
    join(sa, { portGuid: G1 }, { mgid: DEFAULT_BCAST, portGid: GID1, pkey: 0xffff, joinState: 1 });
    createGroup(sa, G1, GID1, 7);
    join(sa, { portGuid: G3 }, { mgid: testMgid(7), portGid: GID3, joinState: 2 }, ['mgid', 'portGid', 'joinState']);
    expect(sm.members(testMgid(7))).to.have.length(2);
    sm.setPortState(G1, 'down');
    expect(sm.group(testMgid(7)), 'group without full member deleted').to.equal(undefined);
    expect(sm.members(DEFAULT_BCAST)).to.deep.equal([]);
    expect(sa.handle(mcmRequest(MAD_METHOD_SET, { mgid: DEFAULT_BCAST, portGid: GID1, pkey: 0xffff, joinState: 1 }, ['mgid', 'portGid', 'joinState']), { portGuid: G1 }), 'a down port gets no answer').to.deep.equal([]);
  });
});

describe('simulated subnet manager: stop and restart @sa @multicast', () => {
  it('answers nothing at all while stopped @sa @multicast', () => {
    const { sm, sa } = makeLab();
    sm.stop();
    expect(sm.isRunning).to.equal(false);
    const req = mcmRequest(MAD_METHOD_SET, { mgid: DEFAULT_BCAST, portGid: GID1, pkey: 0xffff, joinState: 1 }, ['mgid', 'portGid', 'pkey', 'joinState']);
    expect(sa.handle(req, { portGuid: G1 })).to.deep.equal([]);
    expect(sm.members(DEFAULT_BCAST), 'nothing joined').to.deep.equal([]);
  });

  it('comes back with only the pre-created groups, no members, and client-reregister on every active port @sa @multicast', () => {
    const { sm, sa } = makeLab();
    for (const [guid, gid] of [[G1, GID1], [G2, GID2], [G4, GID4]] as const) {
      join(sa, { portGuid: guid }, { mgid: DEFAULT_BCAST, portGid: gid, pkey: 0xffff, joinState: 1 });
    }
    createGroup(sa, G2, GID2, 1);
    const mlids = sm.groups().map((g) => [g.mgid, g.mlid]);
    sm.setPortState(G3, 'down');

    const rereg: number[] = [];
    sm.on('client-reregister', (e) => rereg.push(e.lid));
    sm.stop();
    expect(rereg, 'stop alone announces nothing').to.deep.equal([]);
    sm.start();
    expect(rereg.sort()).to.deep.equal([1, 2, 4]);
    expect(sm.isRunning).to.equal(true);
    expect(sm.group(testMgid(1)), 'dynamic group forgotten').to.equal(undefined);
    expect(sm.groups().map((g) => [g.mgid, g.mlid]), 'pre-created groups on their MLIDs').to.deep.equal(
      mlids.filter(([m]) => m !== 'ff12:1234::1'),
    );
    expect(sm.groups().every((g) => g.memberCount === 0)).to.equal(true);

    const again = join(sa, { portGuid: G1 }, { mgid: DEFAULT_BCAST, portGid: GID1, pkey: 0xffff, joinState: 1 });
    expect(again.header.method).to.equal(MAD_METHOD_GET_RESP);
    expect(mcmOf(again).mlid).to.equal(0xc000);
  });

  it('does nothing on start() while running @sa @multicast', () => {
    const { sm, sa } = makeLab();
    join(sa, { portGuid: G1 }, { mgid: DEFAULT_BCAST, portGid: GID1, pkey: 0xffff, joinState: 1 });
    let events = 0;
    sm.on('client-reregister', () => events++);
    sm.start();
    expect(events).to.equal(0);
    expect(sm.members(DEFAULT_BCAST)).to.have.length(1);
  });
});

describe('simulated subnet manager: refusing joins @sa @multicast', () => {
  it('answers every join with ERR_NO_RESOURCES, or the code given, while the switch is on @sa @multicast', () => {
    const { sm, sa } = makeLab();
    const fields = { mgid: DEFAULT_BCAST, portGid: GID1, pkey: 0xffff, joinState: 1 };
    sm.refuseJoins(true);
    expect(saError(join(sa, { portGuid: G1 }, fields))).to.equal(SA_ERR_NO_RESOURCES);
    sm.refuseJoins(true, SA_ERR_REQ_DENIED);
    expect(saError(join(sa, { portGuid: G1 }, fields))).to.equal(SA_ERR_REQ_DENIED);
    expect(sm.members(DEFAULT_BCAST)).to.deep.equal([]);
    sm.refuseJoins(false);
    expect(sm.refusedJoinStatus).to.equal(undefined);
    const ok = join(sa, { portGuid: G1 }, fields);
    expect(ok.header.status).to.equal(0);
    expect(mcmOf(ok).joinState).to.equal(1);
  });

  it('still lets members leave while joins are refused @sa @multicast', () => {
    const { sm, sa } = makeLab();
    const fields = { mgid: DEFAULT_BCAST, portGid: GID1, pkey: 0xffff, joinState: 1 };
    join(sa, { portGuid: G1 }, fields);
    sm.refuseJoins(true);
    expect(leave(sa, { portGuid: G1 }, fields).header.status).to.equal(0);
    expect(sm.members(DEFAULT_BCAST)).to.deep.equal([]);
  });

  it('rejects a refusal code that is not an SA error code @sa', () => {
    const { sm } = makeLab();
    expect(() => sm.refuseJoins(true, 0)).to.throw(RangeError);
    expect(() => sm.refuseJoins(true, 0x80)).to.throw(RangeError);
    expect(sm.refusedJoinStatus).to.equal(undefined);
    sm.refuseJoins(true, SA_ERR_REQ_INVALID);
    expect(sm.refusedJoinStatus).to.equal(SA_ERR_REQ_INVALID);
  });
});
