/**
 * The probe on the simulated fabric: frames with chosen addressing, what the receiving port
 * drops, SA joins with each JoinState as the SA lists them, raw MADs on QP1; and the SA
 * client's GetTable (RMPP reassembly) that groupMembers uses.
 */
import { expect } from 'chai';
import { ProbeTimeoutError } from '../../src/errors.js';
import { GsiSaClient } from '../../src/fabric/sa-client.js';
import type { PortCounters } from '../../src/fabric/sim/native-endpoint.js';
import { DEFAULT_SM_KEY } from '../../src/fabric/sim/subnet-manager.js';
import type { SimProbe } from '../../src/lab/probes/sim-probe.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import {
  IPOIB_DEFAULT_QKEY,
  JOIN_STATE_FULL,
  JOIN_STATE_NON,
  JOIN_STATE_SEND_ONLY_NON,
  MAD_METHOD_GET,
  MAD_METHOD_GET_RESP,
  MAD_METHOD_GET_TABLE,
  MGMT_CLASS_SUBN_ADM,
  SA_ATTR_MCMEMBER_RECORD,
  SA_CLASS_VERSION,
} from '../../src/wire/constants.js';
import { MAD_STATUS_BAD_VERSION, RMPP_INACTIVE, RMPP_TYPE_ACK } from '../../src/wire/mad.js';
import { mcMemberComponentMask, type McMemberRecord, mcMemberRecord } from '../../src/wire/mcmember-record.js';
import { broadcastMgid, formatGid, parseGid } from '../../src/wire/mgid.js';
import { parseSaMad, SA_DATA_LEN, saMad } from '../../src/wire/sa.js';
import { createGsiLoopback } from '../fabric/gsi-loopback.js';
import { DEFAULT_BCAST, GID2, GID3, GID4, LAB_BCAST, makeLab, SITE_BCAST } from '../fabric/sim-fixture.js';
import { ProbeFabric } from './probe-fabric.js';

const ZERO_MCM: McMemberRecord = mcMemberRecord.decode(Buffer.alloc(52), 0).value;

/** A SubnAdmGet(MCMemberRecord) selecting one group by MGID, with the given TransactionID. */
function mcMemberGet(mgid: Buffer, transactionId: bigint, classVersion = SA_CLASS_VERSION): Buffer {
  const data = Buffer.alloc(SA_DATA_LEN);
  mcMemberRecord.encode({ ...ZERO_MCM, mgid }, data, 0);
  return encodeToBuffer(saMad, {
    header: { baseVersion: 1, mgmtClass: MGMT_CLASS_SUBN_ADM, classVersion, method: MAD_METHOD_GET, status: 0, classSpecific: 0, transactionId, attributeId: SA_ATTR_MCMEMBER_RECORD, reserved: 0, attributeModifier: 0 },
    rmpp: { ...RMPP_INACTIVE },
    sa: { smKey: 0n, attributeOffset: 0, reserved: 0, componentMask: mcMemberComponentMask(['mgid']) },
    data,
  });
}

function counters(p: SimProbe): PortCounters {
  return p.hcaPort.counters() as PortCounters;
}

describe('probe on the simulated fabric @lab @fabric', function () {
  let fabric: ProbeFabric;

  beforeEach(async function () {
    fabric = await ProbeFabric.start('h2-probe');
  });

  afterEach(async function () {
    await fabric.close();
  });

  it('sends a unicast frame with a chosen Q_Key, P_Key index, SL and GRH; the receiving probe records each field @lab @fabric @qkey @pkey @ib', async function () {
    const [a, b] = [await fabric.probe('node1'), await fabric.probe('node2')];
    const qa = await a.openQp({ qkey: 0x11, pkeyIndex: a.pkeyIndexOf(0x8001) });
    const qb = await b.openQp({ qkey: 0x00c0ffee, pkeyIndex: b.pkeyIndexOf(0x8001) });
    expect([qa.pkeyIndex, qa.pkey], 'sender QP on 0x8001').to.deep.equal([1, 0x8001]);
    const withGrh = Buffer.from('probe frame with a GRH');
    qa.send({ dlid: b.lid, dqpn: qb.qpn, qkey: qb.qkey, sl: 5, grh: { dgid: b.gid, hopLimit: 7, trafficClass: 0x20, flowLabel: 0x12345 } }, withGrh);
    const f = await qb.waitFor((x) => x.payload.equals(withGrh), 2000);
    expect(f.qpn, 'receiving QP').to.equal(qb.qpn);
    expect(f.slid, 'SLID').to.equal(a.lid);
    expect(f.srcQpn, 'source QPN').to.equal(qa.qpn);
    expect(f.qkey, 'Q_Key').to.equal(0x00c0ffee);
    expect(f.pkey, 'P_Key').to.equal(0x8001);
    expect(f.sl, 'SL').to.equal(5);
    expect(f.grh, 'GRH').to.not.equal(undefined);
    expect(formatGid(f.grh!.sgid), 'SGID').to.equal(formatGid(a.gid));
    expect(formatGid(f.grh!.dgid), 'DGID').to.equal(formatGid(b.gid));
    expect([f.grh!.hopLimit, f.grh!.trafficClass, f.grh!.flowLabel], 'hop limit, traffic class, flow label').to.deep.equal([7, 0x20, 0x12345]);
    expect(f.atMs, 'arrival time since the probe opened').to.be.greaterThan(0);

    const noGrh = Buffer.from('probe frame, LRH only');
    qa.send({ dlid: b.lid, dqpn: qb.qpn, qkey: qb.qkey }, noGrh);
    const g = await qb.waitFor((x) => x.payload.equals(noGrh), 2000);
    expect(g.grh, 'no GRH').to.equal(undefined);
    expect(g.sl, 'default SL').to.equal(0);
    expect(qb.received().map((x) => x.payload.toString()), 'everything received, oldest first').to.deep.equal([withGrh.toString(), noGrh.toString()]);
  });

  it('a frame with the wrong Q_Key is dropped: the receiver records nothing within the window and counts a Q_Key violation @lab @fabric @qkey', async function () {
    const [a, b] = [await fabric.probe('node1'), await fabric.probe('node2')];
    const qa = await a.openQp({ qkey: 0x11 });
    const qb = await b.openQp({ qkey: 0x1234 });
    const before = counters(b).qKeyViolations;
    qa.send({ dlid: b.lid, dqpn: qb.qpn, qkey: 0x1235 }, Buffer.from('wrong Q_Key'));
    expect(await qb.collect(() => true, 300), 'frames within 300 ms').to.deep.equal([]);
    expect(counters(b).qKeyViolations - before, 'Q_Key violations counted by the receiving port').to.equal(1);
    // The same window catches the frame when the Q_Key is right: the silence above is a drop.
    qa.send({ dlid: b.lid, dqpn: qb.qpn, qkey: 0x1234 }, Buffer.from('right Q_Key'));
    const got = await qb.collect(() => true, 300);
    expect(got.map((f) => f.payload.toString())).to.deep.equal(['right Q_Key']);
  });

  it('waitFor rejects with ProbeTimeoutError, naming the QP and what else arrived @lab @fabric', async function () {
    const [a, b] = [await fabric.probe('node1'), await fabric.probe('node2')];
    const qa = await a.openQp({ qkey: 7 });
    const qb = await b.openQp({ qkey: 7 });
    qa.send({ dlid: b.lid, dqpn: qb.qpn, qkey: 7 }, Buffer.from('not the one'));
    let err: unknown;
    try {
      await qb.waitFor((f) => f.payload.toString() === 'never sent', 300);
    } catch (e) {
      err = e;
    }
    expect(err).to.be.instanceOf(ProbeTimeoutError);
    const t = err as ProbeTimeoutError;
    expect(t.timeoutMs).to.equal(300);
    expect(t.seen, 'the non-matching frame').to.equal(1);
    expect(t.message).to.include(`QP 0x${qb.qpn.toString(16).padStart(6, '0')}`);
    qb.clear();
    expect(qb.received(), 'after clear()').to.deep.equal([]);
  });

  it('finds a partition in the port table by its base, so a limited member gets its index too @lab @fabric @pkey', async function () {
    const c = await fabric.probe('node3');
    expect(c.pkeys, 'node3 table').to.deep.equal([0xffff, 0x0001]);
    expect(c.pkeyIndexOf(0x8001), 'full key asked, limited key held').to.equal(1);
    expect(c.pkeyIndexOf(0xffff)).to.equal(0);
    expect(c.pkeyIndexOf(0x8123), 'a partition the port is not in').to.equal(-1);
    const q = await c.openQp({ qkey: 1, pkeyIndex: 1 });
    expect(q.pkey, 'the P_Key at the QP index').to.equal(0x0001);
  });

  it('joins with JoinState full, non-member and send-only non-member appear in the SA member list with that JoinState @lab @fabric @sa @multicast', async function () {
    const [a, b, c] = [await fabric.probe('node1'), await fabric.probe('node2'), await fabric.probe('node3')];
    const mgid = parseGid('ff12:1234::4832');
    const created = await a.join({ mgid, joinState: JOIN_STATE_FULL, record: { qkey: 0x4832, pkey: 0xffff, trafficClass: 0, flowLabel: 0, sl: 0 } });
    expect(created.mlid, 'an MLID for the new group').to.be.at.least(0xc000);
    await b.join({ mgid, joinState: JOIN_STATE_NON });
    await c.join({ mgid, joinState: JOIN_STATE_SEND_ONLY_NON });
    const byGid = (records: McMemberRecord[]): Record<string, number> => Object.fromEntries(records.map((r) => [formatGid(r.portGid), r.joinState]));
    const members = await c.groupMembers(mgid);
    expect(members.every((r) => r.mgid.equals(mgid) && r.mlid === created.mlid), 'records of this group').to.equal(true);
    expect(byGid(members), 'member PortGIDs and JoinStates').to.deep.equal({
      [formatGid(a.gid)]: JOIN_STATE_FULL,
      [formatGid(b.gid)]: JOIN_STATE_NON,
      [formatGid(c.gid)]: JOIN_STATE_SEND_ONLY_NON,
    });
    await b.leave(mgid, JOIN_STATE_NON);
    expect(byGid(await a.groupMembers(mgid)), 'after the non-member left').to.deep.equal({
      [formatGid(a.gid)]: JOIN_STATE_FULL,
      [formatGid(c.gid)]: JOIN_STATE_SEND_ONLY_NON,
    });
  });

  it('learns a peer LID from its GID with a PathRecord query @lab @fabric @sa', async function () {
    const [a, b] = [await fabric.probe('node1'), await fabric.probe('node2')];
    const path = await a.pathTo(b.gid, 0xffff);
    expect(path.dlid, 'DLID').to.equal(b.lid);
    expect(path.slid, 'SLID').to.equal(a.lid);
  });

  it('a raw SA MAD (MCMemberRecord Get) gets its response recorded in mads(); a bad class version gets status 0x0004 @lab @fabric @sa @mad', async function () {
    const a = await fabric.probe('node1');
    const bcast = broadcastMgid(0xffff);
    a.sendMad(a.smLid, mcMemberGet(bcast, 0x4832_0001n));
    const m = await a.waitForMad((x) => parseSaMad(x.mad).header.transactionId === 0x4832_0001n, 2000);
    expect(m.slid, 'from the SM port').to.equal(a.smLid);
    const resp = parseSaMad(m.mad);
    expect(resp.header.method, 'GetResp').to.equal(MAD_METHOD_GET_RESP);
    expect(resp.header.status, 'status').to.equal(0);
    const rec = mcMemberRecord.decode(resp.data, 0).value;
    expect(formatGid(rec.mgid), 'the broadcast group').to.equal(formatGid(bcast));
    expect(rec.qkey, 'its Q_Key').to.equal(IPOIB_DEFAULT_QKEY);

    a.sendMad(a.smLid, mcMemberGet(bcast, 0x4832_0002n, 1));
    const bad = parseSaMad((await a.waitForMad((x) => parseSaMad(x.mad).header.transactionId === 0x4832_0002n, 2000)).mad);
    expect(bad.header.status, 'bad class version').to.equal(MAD_STATUS_BAD_VERSION);
    expect(a.mads().length, 'both answers recorded').to.equal(2);
    a.clearMads();
    expect(a.mads()).to.deep.equal([]);
  });
});

describe('SA client GetTable over QP1 @sa @mad @fabric', function () {
  /** The lab SA on loopback port 0 (LID 1); clients on ports 1..3 with the GIDs the subnet knows. */
  function rig() {
    const { sa } = makeLab();
    const loop = createGsiLoopback(4);
    const smPort = loop.ports[0]!;
    smPort.onMad((mad, from) => {
      for (const r of sa.handle(mad, { lid: from.lid })) smPort.sendMad(from, r);
    });
    const client = (i: 1 | 2 | 3, gid: Buffer) => new GsiSaClient({ ...loop.ports[i]!, gid }, { smLid: () => 1, attempts: 2, attemptTimeoutMs: 300 });
    return { loop, client };
  }

  it('reassembles a table of several RMPP segments and ACKs each segment @sa @mad @fabric @multicast', async function () {
    const { loop, client } = rig();
    const clients = [client(1, GID2), client(2, GID3), client(3, GID4)];
    const gids = [GID2, GID3, GID4];
    for (const c of clients) await c.join({ mgid: DEFAULT_BCAST, joinState: JOIN_STATE_FULL });
    await clients[0]!.join({ mgid: SITE_BCAST, joinState: JOIN_STATE_FULL });
    await clients[2]!.join({ mgid: LAB_BCAST, joinState: JOIN_STATE_FULL });
    const trusted = await clients[0]!.mcMemberTable({}, { smKey: DEFAULT_SM_KEY });
    const seen = trusted.map((r) => `${formatGid(r.mgid)} ${formatGid(r.portGid)} ${r.joinState}`).sort();
    const want = [
      ...gids.map((g) => `${formatGid(DEFAULT_BCAST)} ${formatGid(g)} 1`),
      `${formatGid(SITE_BCAST)} ${formatGid(GID2)} 1`,
      `${formatGid(LAB_BCAST)} ${formatGid(GID4)} 1`,
    ].sort();
    expect(seen, 'one record per member, 5 × 56 octets: two segments').to.deep.equal(want);
    const acks = loop.wire.filter((w) => w.from === 1).map((w) => parseSaMad(w.mad)).filter((m) => m.rmpp.type === RMPP_TYPE_ACK);
    expect(acks.map((m) => m.rmpp.data1), 'ACKed segments').to.deep.equal([1, 2]);
    expect(acks.map((m) => m.header.method), 'ACKs carry the request method (R bit cleared)').to.deep.equal([MAD_METHOD_GET_TABLE, MAD_METHOD_GET_TABLE]);

    const untrusted = await clients[1]!.mcMemberTable({ mgid: DEFAULT_BCAST });
    expect(untrusted.length, 'untrusted: one record per group').to.equal(1);
    expect(untrusted[0]!.portGid.equals(Buffer.alloc(16)), 'PortGID zeroed').to.equal(true);
    expect(await clients[1]!.mcMemberTable({ mgid: parseGid('ff12:1234::9') }), 'no such group').to.deep.equal([]);
    for (const c of clients) c.close();
  });
});
