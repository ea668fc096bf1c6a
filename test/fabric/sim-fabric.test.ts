/**
 * The simulated fabric end to end, in one process: a manager (SM + SA on its own port, routes),
 * ports attached through the control socket with real native endpoints, SA joins over QP1,
 * unicast and multicast UD traffic, partitions, SM restart, link faults, and the tap.
 */
import { expect } from 'chai';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FabricManager } from '../../src/fabric/sim/fabric-manager.js';
import { FabricClient } from '../../src/fabric/sim/fabric-client.js';
import { SimHcaPort } from '../../src/fabric/sim/provider.js';
import { openManagerEndpoint, openPortEndpoint, openTapWriter } from '../../src/fabric/sim/endpoint-factory.js';
import { fabricPaths, ensurePrivateDir, type FabricRunPaths } from '../../src/fabric/sim/run-dir.js';
import { parsePartitionsConf } from '../../src/fabric/sim/partitions-conf.js';
import type { PortEvent, UdCompletion, UdQp } from '../../src/fabric/hca.js';
import { broadcastMgid } from '../../src/wire/mgid.js';
import { readPcap, parseErfRecord } from '../../src/wire/pcap.js';
import { decodeIbPacket } from '../../src/wire/ib-packet.js';
import { IPOIB_DEFAULT_QKEY, JOIN_STATE_FULL, MCAST_QPN } from '../../src/wire/constants.js';
import { tsharkDecode, tsharkVersion, field, num } from '../helpers/tshark.js';
import { requireToolOrSkip } from '../helpers/skip.js';

const PARTITIONS = `
Default=0x7fff, ipoib : ALL=full ;
lab=0x8001, ipoib, mtu=4 : 0x0002c90300000101=full, 0x0002c90300000201=full ;
`;

function waitFor<T>(what: string, timeoutMs: number, poll: () => T | undefined): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const tick = () => {
      const v = poll();
      if (v !== undefined) return resolve(v);
      if (Date.now() > deadline) return reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`));
      setTimeout(tick, 5);
    };
    tick();
  });
}

/** Collects what a QP receives. */
function collect(qp: UdQp): UdCompletion[] {
  const got: UdCompletion[] = [];
  qp.onReceive((b) => got.push(...b));
  return got;
}

describe('simulated fabric end to end @fabric', function () {
  let base: string;
  let paths: FabricRunPaths;
  let mgr: FabricManager;
  const open: SimHcaPort[] = [];

  const port = async (node: string): Promise<SimHcaPort> => {
    const p = await SimHcaPort.open({ socketPath: paths.socket, node, openEndpoint: openPortEndpoint });
    open.push(p);
    return p;
  };

  beforeEach(async function () {
    base = mkdtempSync(path.join(tmpdir(), 'ipoib-lab-fabric-'));
    paths = fabricPaths('t', base);
    ensurePrivateDir(paths.dir);
    mgr = await FabricManager.start({ paths, nodes: 3, partitions: parsePartitionsConf(PARTITIONS), openEndpoint: openManagerEndpoint, openTap: openTapWriter });
  });

  afterEach(async function () {
    for (const p of open.splice(0)) await p.close();
    await mgr.close();
    rmSync(base, { recursive: true, force: true });
  });

  it('assigns LIDs and P_Key tables from the partitions file, SM first @fabric @pkey', async function () {
    const [a, c] = [await port('node1'), await port('node3')];
    expect(a.attributes().smLid, 'SM LID').to.equal(1);
    expect(a.attributes().lid, 'node1 LID').to.equal(2);
    expect(c.attributes().lid, 'node3 LID').to.equal(4);
    expect(a.attributes().pkeys, 'node1 holds both partitions').to.deep.equal([0xffff, 0x8001]);
    expect(c.attributes().pkeys, 'node3 only the default').to.deep.equal([0xffff]);
    expect(a.attributes().state).to.equal('active');
  });

  it('carries a unicast UD message between two ports, with source LID and QPN @fabric @ib', async function () {
    const [a, b] = [await port('node1'), await port('node2')];
    const qa = await a.createUdQp({ qkey: 0x1234, pkeyIndex: 0 });
    const qb = await b.createUdQp({ qkey: 0x1234, pkeyIndex: 0 });
    const got = collect(qb);
    qa.send({ dlid: b.attributes().lid, dqpn: qb.qpn, qkey: 0x1234 }, Buffer.from('hello over the simulated fabric'));
    await waitFor('the message', 2000, () => (got.length ? true : undefined));
    expect(got[0]!.payload.toString()).to.equal('hello over the simulated fabric');
    expect(got[0]!.slid, 'source LID').to.equal(a.attributes().lid);
    expect(got[0]!.srcQpn, 'source QPN').to.equal(qa.qpn);
    expect(got[0]!.pkey, 'P_Key').to.equal(0xffff);
  });

  it('joins the broadcast group through the SA, and multicast reaches the members only, the sender included @fabric @multicast @sa', async function () {
    const [a, b, c] = [await port('node1'), await port('node2'), await port('node3')];
    const mgid = broadcastMgid(0xffff);
    const qps = await Promise.all([a, b, c].map((p) => p.createUdQp({ qkey: IPOIB_DEFAULT_QKEY, pkeyIndex: 0 })));
    const got = qps.map(collect);
    for (const [i, p] of [a, b].entries()) {
      const rec = await p.sa.join({ mgid, joinState: JOIN_STATE_FULL });
      expect(rec.mlid, 'MLID from the SA').to.equal(0xc000);
      expect(rec.qkey, 'Q_Key from the SA').to.equal(IPOIB_DEFAULT_QKEY);
      qps[i]!.attachMulticast(mgid, rec.mlid);
    }
    qps[2]!.attachMulticast(mgid, 0xc000); // attached but never joined: the fabric does not deliver to it
    const members = (mgr.sm.members(mgid)).map((m) => m.lid).sort();
    expect(members, 'SA member list').to.deep.equal([2, 3]);

    qps[0]!.send({ dlid: 0xc000, dqpn: MCAST_QPN, qkey: IPOIB_DEFAULT_QKEY, grh: { dgid: mgid } }, Buffer.from('to all members'));
    await waitFor('delivery to node2', 2000, () => (got[1]!.length ? true : undefined));
    await waitFor('the echo to the sender', 2000, () => (got[0]!.length ? true : undefined));
    await new Promise((r) => setTimeout(r, 100));
    expect(got[1]![0]!.grh?.dgid.equals(mgid), 'DGID is the MGID').to.equal(true);
    expect(got[0]!.length, 'sender gets its own copy (it is a member)').to.equal(1);
    expect(got[2]!.length, 'a non-member gets nothing').to.equal(0);

    await b.sa.leave(mgid, JOIN_STATE_FULL);
    qps[0]!.send({ dlid: 0xc000, dqpn: MCAST_QPN, qkey: IPOIB_DEFAULT_QKEY, grh: { dgid: mgid } }, Buffer.from('after the leave'));
    await waitFor('the second echo', 2000, () => (got[0]!.length === 2 ? true : undefined));
    await new Promise((r) => setTimeout(r, 100));
    expect(got[1]!.length, 'no delivery after leave').to.equal(1);
  });

  it('keeps partitions apart: a port without the P_Key neither joins nor receives, and the drop is counted @fabric @pkey @multicast', async function () {
    const [a, c] = [await port('node1'), await port('node3')];
    const qa = await a.createUdQp({ qkey: 0x11, pkeyIndex: 1 }); // 0x8001
    const qc = await c.createUdQp({ qkey: 0x11, pkeyIndex: 0 });
    const got = collect(qc);
    let refused: unknown;
    try {
      await c.sa.join({ mgid: broadcastMgid(0x8001), joinState: JOIN_STATE_FULL });
    } catch (e) {
      refused = e;
    }
    expect(refused, 'join refused').to.be.instanceOf(Error);
    for (let i = 0; i < 5; i++) qa.send({ dlid: c.attributes().lid, dqpn: qc.qpn, qkey: 0x11 }, Buffer.from(`p${i}`));
    const counters = await waitFor('P_Key violations', 2000, () => {
      const k = c.counters() as Record<string, number>;
      return k.pKeyViolations === 5 ? k : undefined;
    });
    expect(counters.pKeyViolations).to.equal(5);
    expect(got.length, 'nothing delivered across partitions').to.equal(0);
  });

  it('a restarted SM makes every port re-register, and memberships are gone until they rejoin @fabric @sa @multicast', async function () {
    const [a, b] = [await port('node1'), await port('node2')];
    const events: PortEvent['type'][] = [];
    a.onEvent((e) => events.push(e.type));
    b.onEvent((e) => events.push(e.type));
    await a.sa.join({ mgid: broadcastMgid(0xffff), joinState: JOIN_STATE_FULL });
    const ctl = await FabricClient.connect(paths.socket);
    await ctl.request({ op: 'sm', running: false });
    let silent: unknown;
    try {
      await b.sa.join({ mgid: broadcastMgid(0xffff), joinState: JOIN_STATE_FULL, timeoutMs: 300 });
    } catch (e) {
      silent = e;
    }
    expect((silent as { status?: unknown }).status, 'a stopped SA does not answer').to.equal(null);
    await ctl.request({ op: 'sm', running: true });
    ctl.close();
    await waitFor('client-reregister on both ports', 2000, () => (events.filter((t) => t === 'client-reregister').length === 2 ? true : undefined));
    expect(mgr.sm.members(broadcastMgid(0xffff)), 'memberships forgotten').to.deep.equal([]);
    await a.sa.join({ mgid: broadcastMgid(0xffff), joinState: JOIN_STATE_FULL });
    expect(mgr.sm.members(broadcastMgid(0xffff)).map((m) => m.lid)).to.deep.equal([2]);
  });

  it('an SA told to refuse joins answers with the SA status, then accepts again @fabric @sa @multicast', async function () {
    const a = await port('node1');
    const ctl = await FabricClient.connect(paths.socket);
    await ctl.request({ op: 'sa-refuse', on: true, saError: 1 });
    let refused: unknown;
    try {
      await a.sa.join({ mgid: broadcastMgid(0xffff), joinState: JOIN_STATE_FULL });
    } catch (e) {
      refused = e;
    }
    expect((refused as { saError?: unknown }).saError, 'SA error ERR_NO_RESOURCES').to.equal(1);
    await ctl.request({ op: 'sa-refuse', on: false });
    ctl.close();
    const rec = await a.sa.join({ mgid: broadcastMgid(0xffff), joinState: JOIN_STATE_FULL });
    expect(rec.mlid).to.equal(0xc000);
  });

  it('link down stops traffic both ways and raises port-down; a P_Key table change raises pkey-change @fabric @pkey', async function () {
    const [a, b] = [await port('node1'), await port('node2')];
    const events: PortEvent[] = [];
    b.onEvent((e) => events.push(e));
    const qa = await a.createUdQp({ qkey: 7, pkeyIndex: 0 });
    const qb = await b.createUdQp({ qkey: 7, pkeyIndex: 0 });
    const got = collect(qb);
    const ctl = await FabricClient.connect(paths.socket);
    await ctl.request({ op: 'link', node: 'node2', up: false });
    await waitFor('port-down', 2000, () => (events.some((e) => e.type === 'port-down') ? true : undefined));
    qa.send({ dlid: 3, dqpn: qb.qpn, qkey: 7 }, Buffer.from('lost'));
    await new Promise((r) => setTimeout(r, 150));
    expect(got.length, 'nothing through a down link').to.equal(0);
    await ctl.request({ op: 'link', node: 'node2', up: true });
    await ctl.request({ op: 'pkeys', node: 'node2', pkeys: [0xffff, 0x8002] });
    ctl.close();
    const change = await waitFor('pkey-change', 2000, () => events.find((e) => e.type === 'pkey-change'));
    expect(change.type === 'pkey-change' && change.pkeys).to.deep.equal([0xffff, 0x8002]);
    expect(b.attributes().pkeys).to.deep.equal([0xffff, 0x8002]);
    qa.send({ dlid: 3, dqpn: qb.qpn, qkey: 7 }, Buffer.from('back'));
    await waitFor('delivery after link up', 2000, () => (got.length ? true : undefined));
  });

  it('a port owner that goes away takes its port down, and status says so @fabric', async function () {
    const a = await port('node1');
    const ctl = await FabricClient.connect(paths.socket);
    type S = { ports: Array<{ node: string; state: string; attached: boolean; counters?: Record<string, number> }> };
    const before = await ctl.request<S>({ op: 'status', counters: true });
    const n1 = before.ports.find((p) => p.node === 'node1')!;
    expect(n1.state).to.equal('active');
    expect(n1.counters, 'counters from the owner').to.have.property('portXmitPkts');
    await a.close();
    open.splice(open.indexOf(a), 1);
    let n1after: S['ports'][number] | undefined;
    for (let i = 0; i < 100 && n1after?.state !== 'down'; i++) {
      n1after = (await ctl.request<S>({ op: 'status' })).ports.find((p) => p.node === 'node1');
      if (n1after?.state !== 'down') await new Promise((r) => setTimeout(r, 20));
    }
    ctl.close();
    if (!n1after) throw new Error('node1 missing from status');
    expect(n1after.state).to.equal('down');
    expect(n1after.attached).to.equal(false);
  });

  it('refuses bad control requests with a reason and keeps serving @fabric', async function () {
    const ctl = await FabricClient.connect(paths.socket);
    for (const [body, why] of [
      [{ op: 'attach', node: 'nosuch' }, /no node named nosuch/],
      [{ op: 'fault', node: 'node1', lossRate: 2 }, /lossRate/],
      [{ op: 'frobnicate' }, /bad request/],
    ] as const) {
      let err: unknown;
      try {
        await ctl.request(body as never);
      } catch (e) {
        err = e;
      }
      expect((err as Error).message, JSON.stringify(body)).to.match(why);
    }
    const hello = await ctl.request<{ nodes: string[] }>({ op: 'hello' });
    ctl.close();
    expect(hello.nodes).to.deep.equal(['node1', 'node2', 'node3']);
  });

  it('the tap writes every packet crossing the fabric to a pcap that tshark decodes @fabric @pcap @tshark', async function () {
    await requireToolOrSkip(this, 'tshark', (await tsharkVersion()) !== null, 'install it with apt-get install tshark');
    const [a, b] = [await port('node1'), await port('node2')];
    const file = path.join(base, 'tap.pcap');
    const ctl = await FabricClient.connect(paths.socket);
    await ctl.request({ op: 'tap', file });
    await new Promise((r) => setTimeout(r, 50));
    await a.sa.join({ mgid: broadcastMgid(0xffff), joinState: JOIN_STATE_FULL });
    const qa = await a.createUdQp({ qkey: 9, pkeyIndex: 0 });
    const qb = await b.createUdQp({ qkey: 9, pkeyIndex: 0 });
    const got = collect(qb);
    qa.send({ dlid: 3, dqpn: qb.qpn, qkey: 9 }, Buffer.from('captured'));
    await waitFor('delivery', 2000, () => (got.length ? true : undefined));
    await new Promise((r) => setTimeout(r, 100));
    await ctl.request({ op: 'tap', file: null });
    ctl.close();
    const records = readPcap(readFileSync(file)).records.map((r) => decodeIbPacket(parseErfRecord(r.data).packet));
    expect(records.some((p) => p.deth?.qKey === 0x80010000 && p.bth.destQp === 1), 'the SA join on QP1').to.equal(true);
    expect(records.some((p) => p.payload.toString() === 'captured'), 'the UD message').to.equal(true);
    const frames = await tsharkDecode(file);
    const mcm = frames.find((f) => {
      try {
        return num(field(f, 'infiniband.mad.attributeid')) === 0x38;
      } catch {
        return false;
      }
    });
    expect(mcm, 'tshark sees the MCMemberRecord MAD').to.not.equal(undefined);
    expect(field(mcm!, 'infiniband.mcmemberrecord.mgid')).to.equal('ff12:401b:ffff::ffff:ffff');
  });
});
