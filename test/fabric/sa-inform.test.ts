/**
 * The simulated SA's event subscriptions (SubnAdmSet(InformInfo)) and Reports of multicast group
 * creation and deletion (traps 66 and 67): what it accepts and refuses, who hears of what, the
 * resends until a ReportResp, and when subscriptions end. Reports leave through a recording
 * transport on a fake clock.
 */
import { expect } from 'chai';
import { encodeToBuffer } from '../../src/wire/codec.js';
import {
  INFORM_ALL_16,
  INFORM_ALL_LIDS,
  INFORM_ALL_PRODUCERS,
  JOIN_STATE_FULL,
  MAD_METHOD_GET_RESP,
  MAD_METHOD_GET_TABLE,
  MAD_METHOD_REPORT,
  MAD_METHOD_REPORT_RESP,
  MGMT_CLASS_SUBN_ADM,
  NOTICE_TYPE_SUBNET_MANAGEMENT,
  NOTICE_TYPE_URGENT,
  PRODUCER_TYPE_CA,
  PRODUCER_TYPE_CLASS_MANAGER,
  SA_ATTR_INFORM_INFO,
  SA_ATTR_NOTICE,
  SA_CLASS_VERSION,
  TRAP_GID_IN_SERVICE,
  TRAP_MCAST_GROUP_CREATED,
  TRAP_MCAST_GROUP_DELETED,
} from '../../src/wire/constants.js';
import { type InformInfo, informInfo } from '../../src/wire/inform-info.js';
import {
  MAD_STATUS_METHOD_ATTRIBUTE_UNSUPPORTED,
  RMPP_FLAG_ACTIVE,
  RMPP_INACTIVE,
  RMPP_TYPE_ABORT,
  RMPP_TYPE_ACK,
  RMPP_TYPE_STOP,
  SA_ERR_REQ_INVALID,
  SA_ERR_REQ_INVALID_GID,
} from '../../src/wire/mad.js';
import type { McMemberRecord } from '../../src/wire/mcmember-record.js';
import { notice, trapGid } from '../../src/wire/notice.js';
import { parseSaMad, SA_DATA_LEN, type SaMad, saMad } from '../../src/wire/sa.js';
import { SaEngine, type SaRequester } from '../../src/fabric/sim/sa-engine.js';
import { REPORT_SENDS, reportResendMs } from '../../src/fabric/sim/sa-reports.js';
import { createFakeClock, type FakeClock } from './fake-clock.js';
import { ask, CREATE_COMPONENTS, join, leave, MAD_METHOD_GET, MAD_METHOD_SET, mcmRequest, saError, saRequest } from './sa-client.js';
import { G1, G2, G3, G4, GID1, GID2, GID4, makeLab, testMgid } from './sim-fixture.js';

const P1 = { portGuid: G1 };
const P2 = { portGuid: G2 };
const P3 = { portGuid: G3 };
const P4 = { portGuid: G4 };
const ZERO_GID = Buffer.alloc(16);
/** The client's RespTimeValue in these tests: 16, so the SA waits reportResendMs(16) between sends. */
const RTV = 16;

function inform(fields: Partial<InformInfo> = {}): InformInfo {
  return {
    gid: ZERO_GID,
    lidRangeBegin: INFORM_ALL_LIDS,
    lidRangeEnd: 0,
    reserved: 0,
    isGeneric: 1,
    subscribe: 1,
    type: NOTICE_TYPE_SUBNET_MANAGEMENT,
    trapNumber: TRAP_MCAST_GROUP_CREATED,
    qpn: 1,
    reserved2: 0,
    respTimeValue: RTV,
    reserved3: 0,
    producerType: PRODUCER_TYPE_CLASS_MANAGER,
    ...fields,
  };
}

function setInform(sa: SaEngine, from: SaRequester, fields: Partial<InformInfo> = {}): SaMad {
  return ask(sa, saRequest(MAD_METHOD_SET, SA_ATTR_INFORM_INFO, 0n, encodeToBuffer(informInfo, inform(fields))), from);
}

function informOf(m: SaMad): InformInfo {
  return informInfo.decode(m.data, 0).value;
}

interface SentReport {
  lid: number;
  qpn: number;
  mad: SaMad;
}

/** A lab whose SA sends its Reports into `sent`, with resends on a fake clock. */
function reportingLab(): { sa: SaEngine; sm: ReturnType<typeof makeLab>['sm']; sent: SentReport[]; clock: FakeClock } {
  const { sm } = makeLab();
  const clock = createFakeClock();
  const sent: SentReport[] = [];
  const sa = new SaEngine(sm, { reports: { clock, send: (to, mad) => sent.push({ ...to, mad: parseSaMad(mad) }) } });
  return { sa, sm, sent, clock };
}

function createFields(mgid: Buffer, portGid: Buffer): Partial<McMemberRecord> {
  return { mgid, portGid, qkey: 0x1234, pkey: 0xffff, joinState: JOIN_STATE_FULL };
}

/** The port answers a Report with a ReportResp echoing it. */
function reportResp(report: SaMad): Buffer {
  return encodeToBuffer(saMad, { ...report, header: { ...report.header, method: MAD_METHOD_REPORT_RESP } });
}

describe('SA engine: InformInfo subscriptions @sa @mad @multicast', () => {
  it('subscribes to trap 66 for one MGID and answers GetResp with a copy of the request @sa @mad @multicast @mgid', () => {
    const { sm, sa } = makeLab();
    const m = setInform(sa, P1, { gid: testMgid(1) });
    expect(m.header.method, 'GetResp').to.equal(MAD_METHOD_GET_RESP);
    expect(m.header.status, 'status').to.equal(0);
    expect(m.header.attributeId, 'InformInfo').to.equal(SA_ATTR_INFORM_INFO);
    expect(informOf(m), 'the InformInfo echoed').to.deep.equal(inform({ gid: testMgid(1) }));
    expect(sm.informs.forPort(G1).map((s) => ({ trap: s.trapNumber, gid: s.gid.toString('hex'), qpn: s.qpn }))).to.deep.equal([
      { trap: 66, gid: testMgid(1).toString('hex'), qpn: 1 },
    ]);
  });

  it('accepts the wildcard Type and ProducerType, and replaces a subscription set again @sa @mad @multicast', () => {
    const { sm, sa } = makeLab();
    expect(setInform(sa, P1, { type: INFORM_ALL_16, producerType: INFORM_ALL_PRODUCERS }).header.status).to.equal(0);
    expect(setInform(sa, P1, { respTimeValue: 20 }).header.status).to.equal(0);
    expect(sm.informs.forPort(G1).map((s) => s.respTimeValue), 'one subscription, the latest RespTimeValue').to.deep.equal([20]);
  });

  it('refuses what it will never report with ERR_REQ_INVALID and Subscribe 0 in the answer @sa @mad @multicast @mgid', () => {
    const { sm, sa } = makeLab();
    const cases: Array<[string, Partial<InformInfo>, number]> = [
      ['trap 64 (GID in service)', { trapNumber: TRAP_GID_IN_SERVICE }, SA_ERR_REQ_INVALID],
      ['every trap (0xFFFF)', { trapNumber: INFORM_ALL_16 }, SA_ERR_REQ_INVALID],
      ['a vendor subscription', { isGeneric: 0 }, SA_ERR_REQ_INVALID],
      ['IsGeneric 2', { isGeneric: 2 }, SA_ERR_REQ_INVALID],
      ['Subscribe 2', { subscribe: 2 }, SA_ERR_REQ_INVALID],
      ['Type urgent', { type: NOTICE_TYPE_URGENT }, SA_ERR_REQ_INVALID],
      ['ProducerType channel adapter', { producerType: PRODUCER_TYPE_CA }, SA_ERR_REQ_INVALID],
      ['QPN 0', { qpn: 0 }, SA_ERR_REQ_INVALID],
      ['a unicast GID', { gid: GID2 }, SA_ERR_REQ_INVALID_GID],
    ];
    for (const [what, fields, code] of cases) {
      const m = setInform(sa, P1, fields);
      expect(m.header.method, what).to.equal(MAD_METHOD_GET_RESP);
      expect(saError(m), what).to.equal(code);
      expect(informOf(m), `${what}: the record comes back with Subscribe 0`).to.deep.equal(inform({ ...fields, subscribe: 0 }));
    }
    expect(sm.informs.all(), 'nothing subscribed').to.deep.equal([]);
  });

  it('answers Get(InformInfo) with method/attribute unsupported @sa @mad', () => {
    const { sa } = makeLab();
    const m = ask(sa, saRequest(MAD_METHOD_GET, SA_ATTR_INFORM_INFO, 0n, encodeToBuffer(informInfo, inform())), P1);
    expect(m.header.status).to.equal(MAD_STATUS_METHOD_ATTRIBUTE_UNSUPPORTED);
  });

  it('unsubscribes with Subscribe 0, and refuses to unsubscribe what is not subscribed @sa @mad @multicast', () => {
    const { sm, sa } = makeLab();
    setInform(sa, P1, { trapNumber: TRAP_MCAST_GROUP_DELETED });
    setInform(sa, P2, { trapNumber: TRAP_MCAST_GROUP_DELETED });
    const off = setInform(sa, P1, { trapNumber: TRAP_MCAST_GROUP_DELETED, subscribe: 0 });
    expect(off.header.status, 'unsubscribe').to.equal(0);
    expect(informOf(off).subscribe, 'echoed Subscribe').to.equal(0);
    expect(sm.informs.all().map((s) => s.portGuid), 'only the other port is left').to.deep.equal([G2]);
    const again = setInform(sa, P1, { trapNumber: TRAP_MCAST_GROUP_DELETED, subscribe: 0 });
    expect(saError(again), 'a second unsubscribe').to.equal(SA_ERR_REQ_INVALID);
    expect(saError(setInform(sa, P2, { trapNumber: TRAP_MCAST_GROUP_DELETED, subscribe: 0, qpn: 2 })), 'another QPN is another subscription').to.equal(SA_ERR_REQ_INVALID);
  });
});

describe('SA engine: Reports of group creation and deletion @sa @mad @multicast', () => {
  it('reports a created group to the subscribers of its MGID and of every group, as a Notice of trap 66 @sa @mad @multicast @mgid', () => {
    const { sa, sent } = reportingLab();
    setInform(sa, P1, { gid: testMgid(1) });
    setInform(sa, P2);
    setInform(sa, P3, { gid: testMgid(2) });
    setInform(sa, P4, { trapNumber: TRAP_MCAST_GROUP_DELETED });
    join(sa, P4, createFields(testMgid(1), GID4), CREATE_COMPONENTS);
    expect(sent.map((s) => [s.lid, s.qpn]), 'Reports to LID 1 and 2, QP1').to.deep.equal([[1, 1], [2, 1]]);
    for (const { mad } of sent) {
      expect(mad.header).to.include({ mgmtClass: MGMT_CLASS_SUBN_ADM, classVersion: SA_CLASS_VERSION, method: MAD_METHOD_REPORT, attributeId: SA_ATTR_NOTICE, status: 0 });
      expect(mad.rmpp.flags, 'not RMPP').to.equal(0);
      const n = notice.decode(mad.data, 0).value;
      expect({ isGeneric: n.isGeneric, type: n.type, producerType: n.producerType, trapNumber: n.trapNumber }).to.deep.equal({
        isGeneric: true, type: NOTICE_TYPE_SUBNET_MANAGEMENT, producerType: PRODUCER_TYPE_CLASS_MANAGER, trapNumber: TRAP_MCAST_GROUP_CREATED,
      });
      expect(trapGid(n).toString('hex'), 'the MGID in DataDetails').to.equal(testMgid(1).toString('hex'));
    }
    expect(sent[0]!.mad.header.transactionId, 'one TransactionID per Report').to.not.equal(sent[1]!.mad.header.transactionId);
  });

  it('reports the deletion when the last full member leaves, as trap 67 @sa @mad @multicast', () => {
    const { sa, sent } = reportingLab();
    join(sa, P4, createFields(testMgid(3), GID4), CREATE_COMPONENTS);
    setInform(sa, P1, { trapNumber: TRAP_MCAST_GROUP_DELETED, gid: testMgid(3) });
    leave(sa, P4, { mgid: testMgid(3), portGid: GID4, joinState: JOIN_STATE_FULL });
    expect(sent.map((s) => s.lid)).to.deep.equal([1]);
    const n = notice.decode(sent[0]!.mad.data, 0).value;
    expect(n.trapNumber).to.equal(TRAP_MCAST_GROUP_DELETED);
    expect(trapGid(n).toString('hex')).to.equal(testMgid(3).toString('hex'));
  });

  it('tells a port nothing about groups of a partition its P_Key table lacks @sa @mad @multicast @pkey', () => {
    const { sa, sent } = reportingLab();
    setInform(sa, P3); // node3 holds no 0x8001
    setInform(sa, P2); // node2 holds 0x0001, the limited key of 0x8001
    join(sa, P1, { ...createFields(testMgid(4), GID1), pkey: 0x8001 }, CREATE_COMPONENTS);
    expect(sent.map((s) => s.lid), 'only the limited member hears of it').to.deep.equal([2]);
  });

  it('resends a Report until the ReportResp, then stops; unanswered ones stop after the last send @sa @mad @multicast', async () => {
    const { sa, sent, clock } = reportingLab();
    setInform(sa, P1);
    setInform(sa, P2);
    join(sa, P4, createFields(testMgid(5), GID4), CREATE_COMPONENTS);
    expect(sent.length, 'first sends').to.equal(2);
    const toP1 = sent.find((s) => s.lid === 1)!.mad;
    await clock.tick(reportResendMs(RTV));
    expect(sent.length, 'one resend each').to.equal(4);
    expect(sent.filter((s) => s.lid === 1).every((s) => s.mad.header.transactionId === toP1.header.transactionId), 'a resend keeps its TransactionID').to.equal(true);
    expect(sa.handle(reportResp(toP1), { lid: 3 }), 'a ReportResp gets no answer').to.deep.equal([]);
    expect(sa.reporter!.outstanding, 'a ReportResp from another port does not count').to.equal(2);
    sa.handle(reportResp(toP1), P1);
    expect(sa.reporter!.outstanding, 'the answered Report is done').to.equal(1);
    await clock.tick(10 * reportResendMs(RTV));
    expect(sent.filter((s) => s.lid === 1).length, 'port 1: no resend after its ReportResp').to.equal(2);
    expect(sent.filter((s) => s.lid === 2).length, `port 2: ${REPORT_SENDS} sends in all`).to.equal(REPORT_SENDS);
    expect(sa.reporter!.outstanding, 'given up').to.equal(0);
    expect(clock.pendingTimers(), 'no timer left').to.equal(0);
  });

  it('forgets a port\'s subscriptions, and stops resending to it, when the port goes down @sa @mad @multicast', async () => {
    const { sa, sm, sent, clock } = reportingLab();
    setInform(sa, P1);
    setInform(sa, P2);
    join(sa, P4, createFields(testMgid(6), GID4), CREATE_COMPONENTS);
    sm.setPortState(G1, 'down');
    await clock.tick(reportResendMs(RTV));
    expect(sent.map((s) => s.lid), 'only port 2 gets the resend').to.deep.equal([1, 2, 2]);
    expect(sm.informs.forPort(G1), 'port 1 subscriptions').to.deep.equal([]);
    sm.setPortState(G1, 'active');
    join(sa, P4, createFields(testMgid(7), GID4), CREATE_COMPONENTS);
    expect(sent.slice(3).map((s) => s.lid), 'back up, port 1 must subscribe again to hear of groups').to.deep.equal([2]);
  });

  it('reports nothing while the SM is stopped, and a restarted SM knows no subscriptions @sa @mad @multicast', async () => {
    const { sa, sm, sent, clock } = reportingLab();
    setInform(sa, P1);
    join(sa, P4, createFields(testMgid(8), GID4), CREATE_COMPONENTS);
    expect(sent.length).to.equal(1);
    sm.stop();
    await clock.tick(10 * reportResendMs(RTV));
    expect(sent.length, 'no resend from a stopped SM').to.equal(1);
    const reregistered: bigint[] = [];
    sm.on('client-reregister', (e) => reregistered.push(e.portGuid));
    sm.start();
    expect(reregistered, 'every port is asked to re-register').to.include(G1);
    expect(sm.informs.all(), 'subscriptions after the restart').to.deep.equal([]);
    join(sa, P4, createFields(testMgid(9), GID4), CREATE_COMPONENTS);
    expect(sent.length, 'nothing reported until port 1 subscribes again').to.equal(1);
    setInform(sa, P1);
    join(sa, P4, createFields(testMgid(10), GID4), CREATE_COMPONENTS);
    expect(sent.length).to.equal(2);
    sa.close();
  });
});

describe('SA engine: RMPP control MADs from a client @sa @mad', () => {
  it('drops RMPP ACK, STOP and ABORT silently, with or without the response bit @sa @mad @multicast', () => {
    const { sa } = makeLab();
    for (const type of [RMPP_TYPE_ACK, RMPP_TYPE_STOP, RMPP_TYPE_ABORT]) {
      const rmpp = { ...RMPP_INACTIVE, version: 1, type, flags: RMPP_FLAG_ACTIVE, data1: 1, data2: 33 };
      // Linux ACKs a GetTableResp segment with the R bit cleared: the method reads GetTable.
      const linuxAck = mcmRequest(MAD_METHOD_GET_TABLE, {}, [], { rmpp });
      expect(sa.handle(linuxAck, P1), `RMPP type ${type} as GetTable`).to.deep.equal([]);
      const withResponseBit = Buffer.from(linuxAck);
      withResponseBit[3] = 0x92;
      expect(sa.handle(withResponseBit, P1), `RMPP type ${type} as GetTableResp`).to.deep.equal([]);
    }
  });

  it('still answers a Report sent to it as a request with method unsupported @sa @mad', () => {
    const { sa } = makeLab();
    const data = Buffer.alloc(SA_DATA_LEN);
    const m = ask(sa, saRequest(MAD_METHOD_REPORT, SA_ATTR_NOTICE, 0n, data), P1);
    expect(m.header.status, 'method unsupported').to.equal(0x0008);
  });
});
