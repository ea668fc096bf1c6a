/**
 * IpoibInterface on an in-memory port with a fake clock: the kernel's bring-up order, join
 * components and backoff, send-only joins, queues, flushes on port events, neighbour ageing,
 * umcast, and the control calls. The same behaviour over real packets is in interface.test.ts.
 */
import { expect } from 'chai';
import { IpoibControlError } from '../../src/errors.js';
import { IpoibInterface } from '../../src/ipoib/interface.js';
import { PortMcastDb } from '../../src/ipoib/port-mcast-db.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import {
  ETH_P_ARP,
  ETH_P_IP,
  ETH_P_IPV6,
  IPOIB_DEFAULT_QKEY,
  JOIN_STATE_FULL,
  JOIN_STATE_SEND_ONLY_FULL,
  MCAST_QPN,
} from '../../src/wire/constants.js';
import { arp } from '../../src/wire/arp.js';
import { ipv4Packet, makeIpv4Packet } from '../../src/wire/ipv4.js';
import { ipv6Packet, makeIpv6Packet } from '../../src/wire/ipv6.js';
import { broadcastMgid, mgidForIpv4Group, parseGid } from '../../src/wire/mgid.js';
import { SA_SELECTOR_EXACTLY } from '../../src/wire/sa.js';
import { buildArpReply, buildArpRequest } from '../../src/ipoib/arp-messages.js';
import { frame } from '../../src/ipoib/frames.js';
import { buildNeighborAdvertisement, buildNeighborSolicitation } from '../../src/ipoib/nd-messages.js';
import { createFakeClock, type FakeClock } from '../fabric/fake-clock.js';
import { FAKE_GID, FakePort, type FakeQp, fakePortWithGroups } from './fake-port.js';

const PEER_GID = parseGid('fe80::2:c903:0:201');
const PEER = { flags: 0, qpn: 0x99, gid: PEER_GID };
const BCAST = broadcastMgid(0xffff);

function ipv4(dst: string, size = 28): Buffer {
  return encodeToBuffer(ipv4Packet, makeIpv4Packet({ src: '10.0.0.1', dst, protocol: 17, payload: Buffer.alloc(size - 20, 0xab) }));
}

/** A frame from the peer as our QP would receive it. */
function fromPeer(qp: FakeQp, payload: Buffer, o: { dgid?: Buffer } = {}): void {
  qp.deliver([
    {
      qpn: qp.qpn,
      srcQpn: PEER.qpn,
      slid: 3,
      sl: 0,
      pkey: 0xffff,
      qkey: IPOIB_DEFAULT_QKEY,
      payload,
      ...(o.dgid ? { grh: { sgid: PEER_GID, dgid: o.dgid, hopLimit: 0, trafficClass: 0, flowLabel: 0 } } : {}),
    },
  ]);
}

async function upInterface(port: FakePort, clock: FakeClock, o: { pkey?: number; name?: string; mcastDb?: PortMcastDb } = {}): Promise<IpoibInterface> {
  const iface = new IpoibInterface({ name: o.name ?? 'ib0', port, clock, ...(o.pkey !== undefined ? { pkey: o.pkey, parent: 'ib0' } : {}), ...(o.mcastDb ? { mcastDb: o.mcastDb } : {}) });
  await iface.open();
  await clock.settle();
  return iface;
}

function qpOf(port: FakePort): FakeQp {
  const qp = port.liveQp();
  if (!qp) throw new Error('no live QP');
  return qp;
}

describe('IPoIB interface bring-up on an in-memory port @multicast @sa @pkey @ipoib-stack', function () {
  let clock: FakeClock;
  beforeEach(() => {
    clock = createFakeClock(10_000);
  });

  it('creates the QP with Q_Key 0, sets the group Q_Key before attaching, then turns the carrier on @multicast @qkey @ipoib-stack', async function () {
    const port = fakePortWithGroups();
    port.sa.hold = true;
    const iface = new IpoibInterface({ name: 'ib0', port, clock });
    expect(iface.carrier, 'before open').to.equal(false);
    await iface.open();
    await clock.settle();
    expect(port.qps[0]?.pkeyIndex).to.equal(0);
    expect(port.qps[0]?.qkeys, 'no Q_Key before the join answers').to.deep.equal([]);
    expect(iface.state).to.equal('joining');
    expect(iface.carrier, 'no carrier while joining').to.equal(false);
    port.sa.hold = false;
    port.sa.release();
    await clock.settle();
    expect(iface.carrier).to.equal(true);
    expect(iface.state).to.equal('up');
    expect(iface.qkey).to.equal(IPOIB_DEFAULT_QKEY);
    const firstAttach = port.events.findIndex((e) => e.startsWith('attach'));
    expect(port.events.slice(0, firstAttach + 1)).to.deep.equal(['qkey 0xb1b', `attach ${BCAST.toString('hex')}`]);
  });

  it('joins the broadcast group first, full member, with MGID, PortGID, P_Key and JoinState only @multicast @mgid @sa @ipoib-stack', async function () {
    const port = fakePortWithGroups();
    await upInterface(port, clock);
    const first = port.sa.joins[0];
    expect(first?.mgid.equals(BCAST)).to.equal(true);
    expect(first?.joinState).to.equal(JOIN_STATE_FULL);
    expect(first?.record).to.deep.equal({ pkey: 0xffff });
  });

  it('copies Q_Key, MTU, TClass, rate, SL, FlowLabel and HopLimit into the other full joins @multicast @sa @ipoib-stack @mtu', async function () {
    const port = fakePortWithGroups();
    port.sa.groups.set(BCAST.toString('hex'), { mlid: 0xc000, qkey: 0x1234, mtu: 4, rate: 6, sl: 2 });
    await upInterface(port, clock);
    const others = port.sa.joins.slice(1);
    expect(others.length, 'the default groups (224.0.0.1, ff02::1, the solicited-node group)').to.equal(3);
    for (const j of others) {
      expect(j.joinState).to.equal(JOIN_STATE_FULL);
      expect(j.record).to.deep.include({ pkey: 0xffff, qkey: 0x1234, mtuSelector: SA_SELECTOR_EXACTLY, mtu: 4, rateSelector: SA_SELECTOR_EXACTLY, rate: 6, sl: 2 });
      expect(j.record).to.have.keys(['pkey', 'qkey', 'mtuSelector', 'mtu', 'trafficClass', 'rateSelector', 'rate', 'sl', 'flowLabel', 'hopLimit']);
    }
    expect(qpOf(port).attached.length, 'broadcast + three host groups attached').to.equal(4);
  });

  it('takes MTU 2044 from a 2048 group and 4092 for a child on a 4096 group @multicast @pkey @ipoib-stack @mtu', async function () {
    const port = fakePortWithGroups();
    const parent = await upInterface(port, clock);
    const child = await upInterface(port, clock, { pkey: 0x8001, name: 'ib0.8001' });
    expect(parent.mtu).to.equal(2044);
    expect(child.mtu).to.equal(4092);
    expect(child.qkey, 'the child group Q_Key').to.equal(0x80001234);
    expect(port.qps.map((q) => q.pkeyIndex)).to.deep.equal([0, 1]);
    expect(child.qpn).to.not.equal(parent.qpn);
  });

  it('retries a refused broadcast join after 2, 4, 8, 16 and 16 s, then comes up @multicast @sa @ipoib-stack', async function () {
    const port = fakePortWithGroups();
    port.sa.refuse = 4; // ERR_NO_RESOURCES
    const iface = await upInterface(port, clock);
    const attempts = (): number => port.sa.joins.filter((j) => j.mgid.equals(BCAST)).length;
    expect(attempts()).to.equal(1);
    for (const [wait, total] of [[2, 2], [4, 3], [8, 4], [16, 5], [16, 6]] as const) {
      await clock.tick(wait * 1000 - 1);
      expect(attempts(), `not before ${wait} s`).to.equal(total - 1);
      await clock.tick(1);
      expect(attempts(), `after ${wait} s`).to.equal(total);
      expect(iface.carrier).to.equal(false);
    }
    expect(iface.stats().mcast_join_failures).to.equal(6);
    port.sa.refuse = null;
    await clock.tick(16_000);
    expect(iface.carrier).to.equal(true);
  });

  it('sends to a group it did not join with a send-only join, retried once, then drops the queue @multicast @sa @ipoib-stack', async function () {
    const port = fakePortWithGroups();
    const iface = await upInterface(port, clock);
    const group = mgidForIpv4Group('239.9.9.9', 0xffff);
    port.sa.refuse = 4;
    iface.transmit(ipv4('239.9.9.9'), ETH_P_IP);
    iface.transmit(ipv4('239.9.9.9'), ETH_P_IP);
    await clock.settle();
    const sendOnly = () => port.sa.joins.filter((j) => j.mgid.equals(group));
    expect(sendOnly().map((j) => j.joinState)).to.deep.equal([JOIN_STATE_SEND_ONLY_FULL]);
    await clock.tick(2000);
    expect(sendOnly().length, 'one retry after 2 s').to.equal(2);
    expect(iface.stats().tx_dropped_mcast, 'the queue goes after the second failure').to.equal(2);
    await clock.tick(60_000);
    expect(sendOnly().length, 'no more tries without traffic').to.equal(2);
    port.sa.refuse = null;
    iface.transmit(ipv4('239.9.9.9'), ETH_P_IP);
    await clock.settle();
    expect(sendOnly().length, 'the next packet tries again').to.equal(3);
    const sent = port.sent.filter((s) => s.to.grh?.dgid.equals(group));
    expect(sent.length).to.equal(1);
    expect(sent[0]?.to.dqpn).to.equal(MCAST_QPN);
    expect(qpOf(port).attached.some((a) => a.mgid === group.toString('hex')), 'send-only groups are never attached').to.equal(false);
  });

  it('holds at most 64 packets for a group that is joining @multicast @ipoib-stack', async function () {
    const port = fakePortWithGroups();
    const iface = await upInterface(port, clock);
    port.sa.hold = true;
    for (let i = 0; i < 70; i++) iface.transmit(ipv4('239.1.1.1'), ETH_P_IP);
    expect(iface.stats().tx_dropped_mcast).to.equal(6);
    port.sa.hold = false;
    port.sa.release();
    await clock.settle();
    expect(port.sent.filter((s) => s.to.grh?.dgid.equals(mgidForIpv4Group('239.1.1.1', 0xffff))).length).to.equal(64);
  });

  it('drops sends without carrier and counts them @ipoib-stack', async function () {
    const port = fakePortWithGroups();
    port.sa.refuse = 4;
    const iface = await upInterface(port, clock);
    iface.transmit(ipv4('10.0.0.2'), ETH_P_IP);
    expect(iface.stats()).to.include({ tx_dropped: 1, tx_dropped_no_carrier: 1 });
    expect(port.sent.length).to.equal(0);
  });
});

describe('IPoIB interface address resolution on an in-memory port @arp @nd @ipoib-stack', function () {
  let clock: FakeClock;
  let port: FakePort;
  let iface: IpoibInterface;
  beforeEach(async () => {
    clock = createFakeClock(10_000);
    port = fakePortWithGroups();
    port.sa.paths.set(PEER_GID.toString('hex'), { dlid: 3, sl: 0, rate: 3 });
    iface = await upInterface(port, clock);
    iface.addAddress('10.0.0.1/24');
  });

  it('resolves with ARP over the broadcast group, queues 3 packets and drops the 4th @arp @multicast @ipoib-stack', async function () {
    for (let i = 0; i < 4; i++) iface.transmit(ipv4('10.0.0.2', 30 + i), ETH_P_IP);
    const requests = port.sent.filter((s) => s.payload.readUInt16BE(0) === ETH_P_ARP);
    expect(requests.length).to.equal(1);
    expect(requests[0]?.to.grh?.dgid.equals(BCAST)).to.equal(true);
    expect(iface.stats()).to.include({ tx_dropped: 1, tx_dropped_neigh_queue: 1 });
    fromPeer(qpOf(port), frame(ETH_P_ARP, buildArpReply(PEER, '10.0.0.2', iface.hwAddr(), '10.0.0.1')));
    await clock.settle();
    const unicast = port.sent.filter((s) => s.to.dqpn === PEER.qpn);
    expect(unicast.map((s) => s.payload.length - 4), 'the three queued packets, in order').to.deep.equal([30, 31, 32]);
    expect(unicast[0]?.to).to.deep.include({ dlid: 3, qkey: IPOIB_DEFAULT_QKEY });
    expect(iface.neighbours().find((n) => n.ip === '10.0.0.2')?.state).to.equal('reachable');
  });

  it('answers an ARP request for its address with a unicast reply after a path query @arp @sa @ipoib-stack', async function () {
    fromPeer(qpOf(port), frame(ETH_P_ARP, buildArpRequest(PEER, '10.0.0.2', '10.0.0.1')), { dgid: BCAST });
    await clock.settle();
    expect(port.sa.pathQueries.map((q) => q)).to.deep.equal([{ dgid: PEER_GID.toString('hex'), pkey: 0xffff }]);
    const reply = port.sent.find((s) => s.payload.readUInt16BE(0) === ETH_P_ARP && s.to.dqpn === PEER.qpn);
    if (!reply) throw new Error('no ARP reply');
    const a = arp.decode(reply.payload, 4).value;
    expect(a).to.deep.include({ op: 2, spa: '10.0.0.1', tpa: '10.0.0.2', htype: 32, hlen: 20 });
    expect(a.sha.qpn).to.equal(iface.qpn);
    expect(a.sha.flags, 'no connected mode: flags 0x00').to.equal(0);
    expect(iface.stats().arp_replies_sent).to.equal(1);
  });

  it('ignores ARP requests for addresses that are not its own, and learns nothing from them @arp @ipoib-stack', async function () {
    fromPeer(qpOf(port), frame(ETH_P_ARP, buildArpRequest(PEER, '10.0.0.2', '10.0.0.77')));
    await clock.settle();
    expect(port.sent.filter((s) => s.to.dqpn === PEER.qpn)).to.deep.equal([]);
    expect(iface.neighbours()).to.deep.equal([]);
  });

  it('gives up after 3 unanswered requests 1 s apart and drops what waited @arp @ipoib-stack', async function () {
    iface.transmit(ipv4('10.0.0.9'), ETH_P_IP);
    await clock.tick(2999);
    expect(port.sent.filter((s) => s.payload.readUInt16BE(0) === ETH_P_ARP).length).to.equal(3);
    await clock.tick(1);
    expect(iface.stats()).to.include({ tx_dropped_unresolved: 1 });
    expect(iface.neighbours()).to.deep.equal([]);
  });

  it('answers an NS for its link-local address with a solicited NA and learns the sender @nd @ipv6 @ipoib-stack', async function () {
    const peerLl = parseGid('fe80::202:c903:0:201');
    const ns = buildNeighborSolicitation(peerLl, parseGid(iface.linkLocal()), PEER);
    fromPeer(qpOf(port), frame(ETH_P_IPV6, ns));
    await clock.settle();
    const na = port.sent.find((s) => s.payload.readUInt16BE(0) === ETH_P_IPV6 && s.to.dqpn === PEER.qpn);
    expect(na, 'an NA to the soliciting QPN').to.not.equal(undefined);
    expect(iface.neighbours().find((n) => n.ip === 'fe80::202:c903:0:201')?.state).to.equal('reachable');
    expect(iface.stats().nd_adverts_sent).to.equal(1);
  });

  it('resolves an IPv6 neighbour with an NS to its solicited-node group and an NA back @nd @ipv6 @multicast @ipoib-stack', async function () {
    const peerLl = parseGid('fe80::202:c903:0:201');
    iface.transmit(encodeToBuffer(ipv6Packet, makeIpv6Packet({ src: parseGid(iface.linkLocal()), dst: peerLl, nextHeader: 17, payload: Buffer.alloc(8) })), ETH_P_IPV6);
    await clock.settle();
    const solicitedMgid = parseGid('ff12:601b:ffff::1:ff00:201');
    const nsJoin = port.sa.joins.find((j) => j.mgid.equals(solicitedMgid));
    expect(nsJoin?.joinState, 'send-only join of the peer solicited-node group').to.equal(JOIN_STATE_SEND_ONLY_FULL);
    expect(port.sent.some((s) => s.to.grh?.dgid.equals(solicitedMgid))).to.equal(true);
    fromPeer(qpOf(port), frame(ETH_P_IPV6, buildNeighborAdvertisement(peerLl, parseGid(iface.linkLocal()), PEER, true)));
    await clock.settle();
    expect(port.sent.filter((s) => s.to.dqpn === PEER.qpn).length).to.equal(1);
  });

  it('drops what waited and forgets the neighbour when the SA has no path to its GID @arp @sa @ipoib-stack', async function () {
    port.sa.paths.clear();
    iface.transmit(ipv4('10.0.0.2'), ETH_P_IP);
    fromPeer(qpOf(port), frame(ETH_P_ARP, buildArpReply(PEER, '10.0.0.2', iface.hwAddr(), '10.0.0.1')));
    await clock.settle();
    expect(iface.stats()).to.include({ path_query_failures: 1, tx_dropped_no_path: 1 });
    expect(iface.neighbours(), 'the neighbour of the failed GID is gone').to.deep.equal([]);
    expect(iface.pathDump()).to.equal('');
  });

  it('asks for a path again after a client reregister, sending on the old record meanwhile @arp @sa @ipoib-stack', async function () {
    iface.transmit(ipv4('10.0.0.2'), ETH_P_IP);
    fromPeer(qpOf(port), frame(ETH_P_ARP, buildArpReply(PEER, '10.0.0.2', iface.hwAddr(), '10.0.0.1')));
    await clock.settle();
    expect(port.sa.pathQueries.length).to.equal(1);
    port.emit({ type: 'client-reregister' });
    await clock.settle();
    port.sa.hold = true;
    iface.transmit(ipv4('10.0.0.2'), ETH_P_IP);
    expect(port.sent.filter((s) => s.to.dqpn === PEER.qpn).length, 'sent at once on the old record').to.equal(2);
    expect(port.sa.pathQueries.length, 'and asked again').to.equal(2);
    port.sa.hold = false;
    port.sa.release();
    await clock.settle();
    expect(iface.pathDump()).to.contain('complete:    yes');
  });

  it('ages neighbours out after 60 s without transmit, checked every 30 s, and leaves idle send-only groups @arp @multicast @ipoib-stack', async function () {
    iface.transmit(ipv4('10.0.0.2'), ETH_P_IP);
    iface.transmit(ipv4('239.5.5.5'), ETH_P_IP);
    fromPeer(qpOf(port), frame(ETH_P_ARP, buildArpReply(PEER, '10.0.0.2', iface.hwAddr(), '10.0.0.1')));
    await clock.settle();
    await clock.tick(30_000);
    expect(iface.neighbours().length, 'idle 30 s: kept').to.equal(1);
    await clock.tick(30_000);
    expect(iface.neighbours().length, 'idle 60 s: not more than the limit yet').to.equal(1);
    await clock.tick(30_000);
    expect(iface.neighbours()).to.deep.equal([]);
    expect(iface.stats().neigh_gc_removed).to.equal(1);
    expect(port.sa.leaves.some((l) => l.mgid === mgidForIpv4Group('239.5.5.5', 0xffff).toString('hex') && l.joinState === JOIN_STATE_SEND_ONLY_FULL)).to.equal(true);
  });
});

describe('IPoIB interface flushes on port events @multicast @pkey @sa @ipoib-stack', function () {
  let clock: FakeClock;
  beforeEach(() => {
    clock = createFakeClock(10_000);
  });

  it('on client reregister leaves every group and joins again, keeping the carrier @multicast @sa @ipoib-stack', async function () {
    const port = fakePortWithGroups();
    const iface = await upInterface(port, clock);
    const joinsBefore = port.sa.joins.length;
    port.emit({ type: 'client-reregister' });
    await clock.settle();
    expect(port.sa.leaves.length, 'all four groups left').to.equal(4);
    expect(port.sa.joins.length - joinsBefore, 'all four joined again').to.equal(4);
    expect(iface.carrier).to.equal(true);
    expect(qpOf(port).attached.length).to.equal(4);
  });

  it('on port down drops the carrier and waits; on port active joins again @multicast @ipoib-stack', async function () {
    const port = fakePortWithGroups();
    const iface = await upInterface(port, clock);
    port.attrs = { ...port.attrs, state: 'down' };
    port.emit({ type: 'port-down' });
    await clock.settle();
    expect(iface.carrier).to.equal(false);
    expect(iface.state).to.equal('port-down');
    const joins = port.sa.joins.length;
    await clock.tick(60_000);
    expect(port.sa.joins.length, 'no joins while the port is down').to.equal(joins);
    port.attrs = { ...port.attrs, state: 'active' };
    port.emit({ type: 'port-active' });
    await clock.settle();
    expect(iface.carrier).to.equal(true);
  });

  it('keeps a child without its P_Key down until a pkey-change brings it, on a QP at the new index @pkey @multicast @ipoib-stack', async function () {
    const port = fakePortWithGroups({ pkeys: [0xffff] });
    const child = await upInterface(port, clock, { pkey: 0x8001, name: 'ib0.8001' });
    expect(child.state).to.equal('no-pkey');
    expect(child.carrier).to.equal(false);
    expect(child.qpn, 'no QP until the P_Key is there').to.equal(undefined);
    port.attrs = { ...port.attrs, pkeys: [0xffff, 0x7fff, 0x8001] };
    port.emit({ type: 'pkey-change', pkeys: port.attrs.pkeys });
    await clock.settle();
    expect(child.carrier).to.equal(true);
    expect(qpOf(port).pkeyIndex).to.equal(2);
    expect(child.pkey).to.equal(0x8001);
  });

  it('ignores a pkey-change that moves nothing, and follows index 0 on a parent @pkey @ipoib-stack', async function () {
    const port = fakePortWithGroups();
    const iface = await upInterface(port, clock);
    const joins = port.sa.joins.length;
    port.attrs = { ...port.attrs, pkeys: [0xffff, 0x8001, 0x8002] };
    port.emit({ type: 'pkey-change', pkeys: port.attrs.pkeys });
    await clock.settle();
    expect(port.sa.joins.length, 'index 0 unchanged: no flush').to.equal(joins);
    port.sa.groups.set(broadcastMgid(0x8002).toString('hex'), { mlid: 0xc002, qkey: 0xb1b, mtu: 4 });
    port.attrs = { ...port.attrs, pkeys: [0x8002, 0xffff] };
    port.emit({ type: 'pkey-change', pkeys: port.attrs.pkeys });
    await clock.settle();
    expect(iface.pkey).to.equal(0x8002);
    expect(iface.broadcastAddr().gid.equals(broadcastMgid(0x8002))).to.equal(true);
    expect(port.sa.joins.slice(joins).every((j) => j.mgid.readUInt16BE(4) === 0x8002), 'every group mapped with the new P_Key').to.equal(true);
  });
});

describe('IPoIB interface receive robustness and control calls @encap @arp @nd @ipoib-stack @robustness', function () {
  let clock: FakeClock;
  let port: FakePort;
  let iface: IpoibInterface;
  beforeEach(async () => {
    clock = createFakeClock(10_000);
    port = fakePortWithGroups();
    iface = await upInterface(port, clock);
    iface.addAddress('10.0.0.1/24');
  });

  it('counts and drops malformed frames without ever throwing, and keeps delivering @encap @arp @nd @ip @ipoib-stack', async function () {
    const delivered: Buffer[] = [];
    iface.onDeliver((p) => delivered.push(p));
    const qp = qpOf(port);
    const badArp = buildArpRequest(PEER, '10.0.0.2', '10.0.0.1');
    badArp.writeUInt8(6, 4);
    const badNd = buildNeighborSolicitation(parseGid('fe80::9'), parseGid(iface.linkLocal()), PEER);
    badNd.writeUInt8(64, 7); // hop limit
    let seed = 7;
    const random = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff));
    expect(() => {
      fromPeer(qp, Buffer.alloc(2));
      fromPeer(qp, frame(0x88cc, Buffer.alloc(20)));
      fromPeer(qp, frame(ETH_P_ARP, badArp));
      fromPeer(qp, frame(ETH_P_IPV6, badNd));
      fromPeer(qp, frame(ETH_P_IP, Buffer.from('4f00', 'hex')));
      for (const type of [ETH_P_IP, ETH_P_IPV6, ETH_P_ARP]) for (let i = 0; i < 50; i++) fromPeer(qp, frame(type, random(i)));
    }).to.not.throw();
    const s = iface.stats();
    expect(s.rx_dropped_short).to.equal(1);
    expect(s.rx_dropped_ethertype).to.equal(1);
    expect(s.rx_dropped_arp).to.be.at.least(1);
    expect(s.rx_dropped_nd).to.be.at.least(1);
    expect(s.rx_dropped_ip).to.be.at.least(1);
    const good = ipv4('10.0.0.1', 40);
    fromPeer(qp, frame(ETH_P_IP, good));
    expect(delivered.at(-1)?.equals(good), 'a good packet still goes through').to.equal(true);
  });

  it('delivers a frame with a non-zero reserved field and counts the finding @encap @ipoib-stack', function () {
    const delivered: Buffer[] = [];
    iface.onDeliver((p) => delivered.push(p));
    const f = frame(ETH_P_IP, ipv4('10.0.0.1'));
    f.writeUInt16BE(0xbeef, 2);
    fromPeer(qpOf(port), f);
    expect(delivered.length).to.equal(1);
    expect(iface.stats().rx_header_reserved_nonzero).to.equal(1);
  });

  it('applies the datagram MTU rules and refuses connected mode with EINVAL @multicast @ipoib-stack @mtu', function () {
    iface.setMtu(4092);
    expect(iface.mtu, '4092 on a 2048 group stays 2044').to.equal(2044);
    iface.setMtu(1500);
    expect(iface.mtu).to.equal(1500);
    for (const f of [() => iface.setMtu(71), () => iface.setMtu(4093), () => iface.setMode('connected')]) {
      let code = 'none';
      try {
        f();
      } catch (e) {
        if (e instanceof IpoibControlError) code = e.code;
      }
      expect(code).to.equal('EINVAL');
    }
    iface.setMode('datagram');
    expect(iface.mode).to.equal('datagram');
    expect(iface.info()).to.include({ type: 32, addrLen: 20, mode: 'datagram', carrier: true });
  });

  it('reads umcast like the kernel and skips host groups another consumer of the port holds @multicast @ipoib-stack', async function () {
    const db = new PortMcastDb();
    const p2 = fakePortWithGroups();
    const i2 = await upInterface(p2, clock, { mcastDb: db });
    for (const [v, want] of [['1\n', 1], ['garbage', 0], [7, 1], [0, 0], ['0x2', 1]] as const) {
      i2.setUmcast(v);
      expect(i2.umcast, String(v)).to.equal(want);
    }
    const g = mgidForIpv4Group('239.7.7.7', 0xffff);
    db.addExternal(g);
    i2.joinGroup('239.7.7.7');
    await clock.settle();
    expect(p2.sa.joins.some((j) => j.mgid.equals(g)), 'skipped').to.equal(false);
    expect(i2.stats().mcast_umcast_skipped).to.equal(1);
    i2.setUmcast(0);
    i2.leaveGroup('239.7.7.7');
    i2.joinGroup('239.7.7.7');
    await clock.settle();
    expect(p2.sa.joins.some((j) => j.mgid.equals(g)), 'umcast off: joined').to.equal(true);
  });

  it('refuses joinGroup for non-group addresses and leaveGroup for groups not joined @multicast @ipoib-stack', function () {
    const codes: string[] = [];
    for (const f of [() => iface.joinGroup('10.0.0.5'), () => iface.joinGroup('nonsense'), () => iface.leaveGroup('239.1.1.1')]) {
      try {
        f();
        codes.push('none');
      } catch (e) {
        codes.push(e instanceof IpoibControlError ? e.code : 'other');
      }
    }
    expect(codes).to.deep.equal(['EINVAL', 'EINVAL', 'EADDRNOTAVAIL']);
  });

  it('shows the broadcast group and the host groups in the _mcg dump, and nothing after close @multicast @mgid @ipoib-stack', async function () {
    const dump = iface.mcgDump();
    expect(dump.split('GID: ').length - 1).to.equal(4);
    expect(dump).to.contain('GID: ff12:401b:ffff:0:0:0:ffff:ffff\n  created:      10000\n  queuelen:         0\n  complete:       yes\n  send_only:       no\n\n');
    await iface.close();
    expect(iface.mcgDump()).to.equal('');
    expect(iface.carrier).to.equal(false);
    expect(iface.qpn, 'the QPN survives admin down').to.equal(qpOf(port).qpn);
  });

  it('reports the hardware address as flags 0x00, the QPN and the port GID @hwaddr @ipoib-stack', function () {
    const hw = iface.hwAddr();
    expect(hw.flags).to.equal(0);
    expect(hw.qpn).to.equal(qpOf(port).qpn);
    expect(hw.gid.equals(FAKE_GID)).to.equal(true);
    expect(iface.info().broadcast).to.equal('00:ff:ff:ff:ff:12:40:1b:ff:ff:00:00:00:00:00:00:ff:ff:ff:ff');
    expect(iface.linkLocal(), 'linux profile: 0x02 ORed into the GUID').to.equal('fe80::202:c903:0:101');
  });

  it('refuses to open after destroy @ipoib-stack', async function () {
    const fresh = new IpoibInterface({ name: 'ib9', port: new FakePort(), clock });
    await fresh.destroy();
    let err: unknown;
    await fresh.open().catch((e: unknown) => (err = e));
    expect((err as Error).name).to.equal('StateError');
  });
});
