/**
 * The seeded defects of the reference stack (src/ipoib/defects.ts): the registry is sound and
 * names real catalogue rows, `--defect` parsing refuses unknown names, and each defect makes
 * the stack produce its one wrong value when, and only when, it is on (checked where the value
 * is produced, and once through the interface so the wiring is covered too). The daemon and
 * ipoibd report what they run with.
 */
import { expect } from 'chai';
import { main as ipoibd } from '../../src/cli/ipoibd.js';
import { UsageError } from '../../src/errors.js';
import { openPortEndpoint } from '../../src/fabric/sim/endpoint-factory.js';
import { SimHcaPort } from '../../src/fabric/sim/provider.js';
import { linkLocalAddress } from '../../src/ipoib/addresses.js';
import { buildArpReply, buildArpRequest } from '../../src/ipoib/arp-messages.js';
import { DaemonClient } from '../../src/ipoib/daemon/client.js';
import { IpoibDaemon } from '../../src/ipoib/daemon/daemon.js';
import { DEFECT_NAMES, DEFECTS, type DefectName, Defects, defectBanner, formatDefectTable, parseDefects } from '../../src/ipoib/defects.js';
import { classifyReceived, frame, withHeaderReserved } from '../../src/ipoib/frames.js';
import { IpoibInterface } from '../../src/ipoib/interface.js';
import { mgidAsSent } from '../../src/ipoib/mcast-manager.js';
import { DatagramMtu } from '../../src/ipoib/mtu.js';
import { TunDataPlane } from '../../src/ipoib/native/tun-data-plane.js';
import { buildNeighborAdvertisement, buildNeighborSolicitation, parseNd } from '../../src/ipoib/nd-messages.js';
import { LINUX_REQUIREMENTS, REQUIREMENTS, ROBUSTNESS_PROBES } from '../../suites/requirements.js';
import { arp } from '../../src/wire/arp.js';
import {
  ETH_P_ARP,
  ETH_P_IP,
  IPOIB_DEFAULT_QKEY,
  JOIN_STATE_FULL,
  JOIN_STATE_SEND_ONLY_NON,
  MCAST_QPN,
} from '../../src/wire/constants.js';
import { ipv6Packet } from '../../src/wire/ipv6.js';
import { ndMessage } from '../../src/wire/nd.js';
import { broadcastMgid, mgidForIpv4Group, mgidForIpv6Group, parseGid } from '../../src/wire/mgid.js';
import { createFakeClock, type FakeClock } from '../fabric/fake-clock.js';
import { DaemonLab } from '../ipoib-daemon/daemon-fixture.js';
import {
  ALL_HOSTS_MGID,
  ALL_HOSTS_MLID,
  BROADCAST_MGID,
  BROADCAST_MLID,
  collect,
  ipv4Packet,
  QKEY,
  waitUntil,
  withPorts,
} from '../ipoib-native/fabric-ports.js';
import { FAKE_GID, type FakePort, type FakeQp, fakePortWithGroups } from './fake-port.js';

const PEER_GID = parseGid('fe80::2:c903:0:201');
const PEER = { flags: 0, qpn: 0x99, gid: PEER_GID };
const BCAST = broadcastMgid(0xffff);
const NONE = Defects.NONE;
const only = (name: DefectName): Defects => Defects.of([name]);

interface Rig {
  clock: FakeClock;
  port: FakePort;
  iface: IpoibInterface;
  qp: () => FakeQp;
}

/** An interface on an in-memory port with the default groups' SA, opened and settled, with 10.0.0.1/24. */
async function rig(defects: Defects, o: { pkey?: number; holdSa?: boolean } = {}): Promise<Rig> {
  const clock = createFakeClock(10_000);
  const port = fakePortWithGroups();
  port.sa.paths.set(PEER_GID.toString('hex'), { dlid: 3, sl: 0, rate: 3 });
  if (o.holdSa) port.sa.hold = true;
  const iface = new IpoibInterface({ name: o.pkey === undefined ? 'ib0' : `ib0.${o.pkey.toString(16)}`, port, clock, defects, ...(o.pkey !== undefined ? { pkey: o.pkey, parent: 'ib0' } : {}) });
  iface.addAddress('10.0.0.1/24');
  await iface.open();
  await clock.settle();
  const qp = (): FakeQp => {
    const q = port.liveQp();
    if (!q) throw new Error('no live QP');
    return q;
  };
  return { clock, port, iface, qp };
}

/** The peer's ARP request for 10.0.0.1 arrives; returns the unicast answer the interface sent. */
async function arpReplyOf(r: Rig): Promise<{ payload: Buffer; qkey: number }> {
  r.qp().deliver([{ qpn: r.qp().qpn, srcQpn: PEER.qpn, slid: 3, sl: 0, pkey: 0xffff, qkey: IPOIB_DEFAULT_QKEY, payload: frame(ETH_P_ARP, buildArpRequest(PEER, '10.0.0.2', '10.0.0.1')) }]);
  await r.clock.settle();
  const sent = r.port.sent.find((s) => s.to.dqpn === PEER.qpn);
  if (!sent) throw new Error('no ARP reply');
  return { payload: sent.payload, qkey: sent.to.qkey };
}

/** The ARP request the interface sends to resolve 10.0.0.2 (through the broadcast group). */
async function arpRequestOf(r: Rig): Promise<{ payload: Buffer; qkey: number; dqpn: number }> {
  r.iface.transmit(ipv4Packet('10.0.0.1', '10.0.0.2'), ETH_P_IP);
  await r.clock.settle();
  const sent = r.port.sent.find((s) => s.payload.readUInt16BE(0) === ETH_P_ARP);
  if (!sent) throw new Error('no ARP request');
  return { payload: sent.payload, qkey: sent.to.qkey, dqpn: sent.to.dqpn };
}

const joinedMgids = (r: Rig): string[] => r.port.sa.joins.map((j) => j.mgid.toString('hex'));

describe('seeded defects: the registry @power', function () {
  it('has at least 14 defects with kebab-case names, a one-sentence summary and a visibleAs @power', function () {
    expect(DEFECT_NAMES.length).to.be.at.least(14);
    expect(new Set(DEFECT_NAMES).size, 'names unique').to.equal(DEFECT_NAMES.length);
    for (const n of DEFECT_NAMES) {
      const d = DEFECTS[n];
      expect(n, 'name').to.match(/^[a-z0-9]+(-[a-z0-9]+)*$/);
      expect(d.summary, `${n} summary`).to.match(/^[A-Z].*\.$/);
      expect(d.summary.replace(/\b(e\.g|i\.e)\./g, '').split(/\.\s/).length, `${n}: one sentence`).to.equal(1);
      expect(d.visibleAs.length, `${n} visibleAs`).to.be.greaterThan(20);
    }
  });

  it('names only rows of the requirement catalogue, at least one per defect @power @catalogue', function () {
    const rows = new Set([...REQUIREMENTS, ...LINUX_REQUIREMENTS].map((r) => r.id));
    const probes = new Set(ROBUSTNESS_PROBES.map((p) => p.id));
    for (const n of DEFECT_NAMES) {
      const d = DEFECTS[n];
      for (const id of d.requirements) expect(rows.has(id), `${n}: ${id} is a catalogue row (RFC or LINUX)`).to.equal(true);
      for (const id of d.probes) expect(probes.has(id), `${n}: ${id} is a ROBUSTNESS_PROBES row`).to.equal(true);
      expect(d.requirements.length + d.probes.length, `${n} names what it violates`).to.be.greaterThan(0);
    }
  });

  it('parses --defect names and refuses an unknown one with a UsageError listing the known ones @power @cli', function () {
    expect([...parseDefects([])]).to.deep.equal([]);
    expect([...parseDefects(['qkey-zero', 'arp-htype-1', 'qkey-zero'])]).to.deep.equal(['qkey-zero', 'arp-htype-1']);
    let caught: unknown;
    try {
      parseDefects(['qkey-zero', 'no-such-defect']);
    } catch (e) {
      caught = e;
    }
    expect(caught).to.be.instanceOf(UsageError);
    const message = (caught as Error).message;
    expect(message).to.include('"no-such-defect"');
    for (const n of DEFECT_NAMES) expect(message, `lists ${n}`).to.include(n);
  });

  it('keeps a Defects value immutable, in registry order, and says nothing for a conforming stack @power', function () {
    const d = Defects.of(['mcast-echo', 'arp-htype-1']);
    expect(d.list()).to.deep.equal(['arp-htype-1', 'mcast-echo']);
    expect(d.has('mcast-echo')).to.equal(true);
    expect(d.has('qkey-zero')).to.equal(false);
    expect(Object.isFrozen(d)).to.equal(true);
    expect(Defects.of([])).to.equal(Defects.NONE);
    expect(NONE.any).to.equal(false);
    expect(defectBanner(NONE)).to.equal(undefined);
    expect(defectBanner(d)).to.equal('TEST BUILD: seeded defects active: arp-htype-1, mcast-echo');
  });

  it('prints the table with ipoibd --list-defects, and ipoibd refuses an unknown --defect with exit 2 @power @cli', async function () {
    const out: string[] = [];
    const err: string[] = [];
    const io = { out: (l: string) => out.push(l), err: (l: string) => err.push(l) };
    expect(await ipoibd(['--list-defects'], io)).to.equal(0);
    expect(out).to.deep.equal(formatDefectTable());
    expect(out.length).to.equal(DEFECT_NAMES.length + 1);
    for (const n of DEFECT_NAMES) expect(out.some((l) => l.startsWith(`${n} `) && l.includes(DEFECTS[n].summary)), n).to.equal(true);
    expect(await ipoibd(['--fabric', 'x', '--node', 'node1', '--defect', 'bogus'], io)).to.equal(2);
    expect(err.join('\n')).to.match(/unknown defect "bogus"; known: arp-htype-1, /);
  });
});

describe('seeded defects: each wrong value, only when on @power @ipoib-stack', function () {
  it('arp-htype-1 and arp-hlen-6: ARP with hardware type 1 or length 6, the addresses still 20 octets @power @arp @ipoib-stack', async function () {
    const right = buildArpRequest(PEER, '10.0.0.2', '10.0.0.1');
    expect(arp.decode(right, 0).value).to.deep.include({ htype: 32, hlen: 20 });
    const htype = buildArpReply(PEER, '10.0.0.2', PEER, '10.0.0.1', only('arp-htype-1'));
    expect(htype.readUInt16BE(0)).to.equal(1);
    const hlen = buildArpRequest(PEER, '10.0.0.2', '10.0.0.1', only('arp-hlen-6'));
    expect(hlen.readUInt8(4)).to.equal(6);
    expect(hlen.length, 'still 8 + 2 x (20 + 4)').to.equal(56);
    expect(Buffer.concat([hlen.subarray(0, 4), hlen.subarray(5)]).equals(Buffer.concat([right.subarray(0, 4), right.subarray(5)])), 'nothing else differs').to.equal(true);
    // Through the interface: replies and requests both.
    expect((await arpReplyOf(await rig(only('arp-htype-1')))).payload.readUInt16BE(4)).to.equal(1);
    expect((await arpRequestOf(await rig(only('arp-hlen-6')))).payload.readUInt8(4 + 4)).to.equal(6);
    expect((await arpReplyOf(await rig(NONE))).payload.readUInt16BE(4)).to.equal(32);
  });

  it('mtu-plus-4: MTU 2048 on a 2048 group instead of 2044 @power @mtu @ipoib-stack', async function () {
    for (const [defects, want] of [[NONE, 2044], [only('mtu-plus-4'), 2048]] as const) {
      const m = new DatagramMtu(5, defects);
      m.groupJoined(4);
      m.carrierOn();
      expect(m.mtu, defects.list().join() || 'none').to.equal(want);
    }
    const r = await rig(only('mtu-plus-4'));
    expect([r.iface.mtu, r.iface.info().mcastMtu]).to.deep.equal([2048, 2048]);
  });

  it('mgid-signature-ipv4: 0x401A in IPv4 MGIDs, the broadcast group\'s included, which then is never joined @power @mgid @multicast @ipoib-stack', async function () {
    const d = only('mgid-signature-ipv4');
    expect(mgidAsSent(BCAST, d).toString('hex')).to.equal('ff12401affff000000000000ffffffff');
    expect(mgidAsSent(mgidForIpv4Group('224.0.0.1', 0xffff), d).readUInt16BE(2)).to.equal(0x401a);
    expect(mgidAsSent(mgidForIpv6Group('ff02::1', 0xffff), d).readUInt16BE(2), 'IPv6 untouched').to.equal(0x601b);
    expect(mgidAsSent(BCAST, NONE)).to.equal(BCAST);
    const r = await rig(d);
    expect(joinedMgids(r)[0]).to.equal('ff12401affff000000000000ffffffff');
    expect(r.iface.carrier, 'the SA knows no such group').to.equal(false);
    expect(r.iface.broadcastAddr().gid.readUInt16BE(2), 'the address shown follows').to.equal(0x401a);
  });

  it('mgid-signature-ipv6: 0x601A in IPv6 MGIDs, the broadcast group unaffected @power @mgid @multicast @ipv6 @ipoib-stack', async function () {
    const d = only('mgid-signature-ipv6');
    expect(mgidAsSent(mgidForIpv6Group('ff02::1', 0xffff), d).readUInt16BE(2)).to.equal(0x601a);
    expect(mgidAsSent(BCAST, d).equals(BCAST)).to.equal(true);
    const r = await rig(d);
    expect(r.iface.carrier).to.equal(true);
    const v6 = r.port.sa.joins.filter((j) => (j.mgid.readUInt16BE(2) & 0xf000) === 0x6000);
    expect(v6.length, 'ff02::1 and the solicited-node group').to.equal(2);
    for (const j of v6) expect(j.mgid.readUInt16BE(2)).to.equal(0x601a);
    const right = await rig(NONE);
    for (const j of right.port.sa.joins.filter((x) => (x.mgid.readUInt16BE(2) & 0xf000) === 0x6000)) expect(j.mgid.readUInt16BE(2)).to.equal(0x601b);
  });

  it('mgid-scope-site: scope 5 in every MGID but the broadcast group\'s @power @mgid @multicast @ipoib-stack', async function () {
    const d = only('mgid-scope-site');
    expect(mgidAsSent(mgidForIpv4Group('224.0.0.1', 0xffff), d)[1]).to.equal(0x15);
    expect(mgidAsSent(BCAST, d)[1], 'broadcast keeps scope 2').to.equal(0x12);
    const r = await rig(d);
    const [first, ...rest] = joinedMgids(r);
    expect(first).to.equal(BCAST.toString('hex'));
    expect(rest.length).to.equal(3);
    for (const m of rest) expect(m.slice(0, 4)).to.equal('ff15');
    expect(r.iface.multicastGroups().filter((g) => g.mgid.startsWith('ff15:')).length, 'ipoibctl mcg shows them').to.equal(3);
  });

  it('mgid-pkey-no-full-bit: P_Key octets without 0x8000 in every MGID, so the broadcast group is never joined @power @mgid @pkey @ipoib-stack', async function () {
    const d = only('mgid-pkey-no-full-bit');
    expect(mgidAsSent(broadcastMgid(0x8001), d).readUInt16BE(4)).to.equal(0x0001);
    expect(mgidAsSent(mgidForIpv6Group('ff02::1', 0xffff), d).readUInt16BE(4)).to.equal(0x7fff);
    const r = await rig(d);
    expect(r.port.sa.joins[0]?.mgid.readUInt16BE(4)).to.equal(0x7fff);
    expect(r.port.sa.joins[0]?.record, 'the join record keeps the real P_Key').to.deep.equal({ pkey: 0xffff });
    expect(r.iface.carrier).to.equal(false);
  });

  it('header-reserved-set: 0x0001 in the reserved field of every frame the control plane sends @power @encap @ipoib-stack', async function () {
    const f = frame(ETH_P_IP, Buffer.alloc(20));
    const set = withHeaderReserved(f, 1);
    expect(set.readUInt16BE(2)).to.equal(1);
    expect(f.readUInt16BE(2), 'a copy: the original stays').to.equal(0);
    expect((await arpRequestOf(await rig(only('header-reserved-set')))).payload.readUInt16BE(2)).to.equal(1);
    expect((await arpReplyOf(await rig(only('header-reserved-set')))).payload.readUInt16BE(2)).to.equal(1);
    expect((await arpRequestOf(await rig(NONE))).payload.readUInt16BE(2)).to.equal(0);
  });

  it('qkey-zero: Q_Key 0 on the control plane\'s unicast, the group Q_Key still on multicast @power @qkey @arp @multicast @ipoib-stack', async function () {
    expect((await arpReplyOf(await rig(only('qkey-zero')))).qkey).to.equal(0);
    const request = await arpRequestOf(await rig(only('qkey-zero')));
    expect([request.dqpn, request.qkey]).to.deep.equal([MCAST_QPN, IPOIB_DEFAULT_QKEY]);
    expect((await arpReplyOf(await rig(NONE))).qkey).to.equal(IPOIB_DEFAULT_QKEY);
  });

  it('bcast-join-send-only: the broadcast group joined and left as SendOnlyNonMember, the others full @power @multicast @sa @ipoib-stack', async function () {
    const r = await rig(only('bcast-join-send-only'));
    expect(r.port.sa.joins.map((j) => j.joinState)).to.deep.equal([JOIN_STATE_SEND_ONLY_NON, JOIN_STATE_FULL, JOIN_STATE_FULL, JOIN_STATE_FULL]);
    await r.iface.close();
    expect(r.port.sa.leaves.find((l) => l.mgid === BCAST.toString('hex'))?.joinState).to.equal(JOIN_STATE_SEND_ONLY_NON);
    expect((await rig(NONE)).port.sa.joins[0]?.joinState).to.equal(JOIN_STATE_FULL);
  });

  it('carrier-before-join: carrier on while the broadcast join is still unanswered, and when it fails @power @multicast @ipoib-stack', async function () {
    const waiting = await rig(only('carrier-before-join'), { holdSa: true });
    expect([waiting.iface.state, waiting.iface.carrier]).to.deep.equal(['joining', true]);
    const refused = fakePortWithGroups();
    refused.sa.refuse = 4;
    const clock = createFakeClock(10_000);
    const iface = new IpoibInterface({ name: 'ib0', port: refused, clock, defects: only('carrier-before-join') });
    await iface.open();
    await clock.settle();
    expect([iface.state, iface.carrier]).to.deep.equal(['joining', true]);
    const right = await rig(NONE, { holdSa: true });
    expect([right.iface.state, right.iface.carrier]).to.deep.equal(['joining', false]);
  });

  it('nd-option-len-2: NS and NA carry a 2-unit link-layer option that a receiver rejects @power @nd @ipv6 @ipoib-stack', async function () {
    const me = parseGid('fe80::202:c903:0:101');
    const target = parseGid('fe80::202:c903:0:201');
    const d = only('nd-option-len-2');
    for (const built of [buildNeighborSolicitation(me, target, PEER, d), buildNeighborAdvertisement(me, target, PEER, true, d)]) {
      const p = ipv6Packet.decode(built, 0).value;
      const option = ndMessage.decode(p.payload, 0).value.options[0];
      expect(option).to.deep.include({ kind: 'raw', length: 2 });
      expect(parseNd(p).kind, 'a receiver drops it as a bad ND').to.equal('bad');
    }
    const right = ipv6Packet.decode(buildNeighborSolicitation(me, target, PEER), 0).value;
    expect(ndMessage.decode(right.payload, 0).value.options[0]).to.deep.include({ kind: 'lladdr' });
    expect(parseNd(right).kind).to.equal('ns');
  });

  it('linklocal-no-ul-flip: the link-local address with the U/L bit the other way @power @ipv6 @ipoib-stack', async function () {
    const guid = FAKE_GID.subarray(8);
    const right = linkLocalAddress(guid, 'linux');
    const wrong = linkLocalAddress(guid, 'linux', only('linklocal-no-ul-flip'));
    expect(right.toString('hex')).to.equal('fe800000000000000202c90300000101');
    expect(wrong.toString('hex'), 'the GUID as it is').to.equal('fe800000000000000002c90300000101');
    expect(linkLocalAddress(guid, 'rfc', only('linklocal-no-ul-flip')).toString('hex'), 'rfc profile too').to.equal('fe800000000000000002c90300000101');
    expect((await rig(only('linklocal-no-ul-flip'))).iface.linkLocal()).to.equal('fe80::2:c903:0:101');
  });

  it('mcast-echo: our own multicast coming back is not dropped but taken in @power @multicast @arp @ipoib-stack', async function () {
    const self = { lid: 2, qpn: 0x48, gid: FAKE_GID };
    const echo = { qpn: 0x48, srcQpn: 0x48, slid: 2, sl: 0, pkey: 0xffff, qkey: IPOIB_DEFAULT_QKEY, payload: frame(ETH_P_IP, Buffer.alloc(20)) };
    expect(classifyReceived(echo, self).action).to.equal('drop');
    expect(classifyReceived(echo, self, only('mcast-echo')).action).to.equal('ipv4');
    for (const [defects, ownEcho, rxArp] of [[NONE, 1, 0], [only('mcast-echo'), 0, 1]] as const) {
      const r = await rig(defects);
      const request = await arpRequestOf(r);
      r.qp().deliver([{ qpn: r.qp().qpn, srcQpn: r.qp().qpn, slid: 2, sl: 0, pkey: 0xffff, qkey: IPOIB_DEFAULT_QKEY, payload: request.payload, grh: { sgid: FAKE_GID, dgid: BCAST, hopLimit: 0, trafficClass: 0, flowLabel: 0 } }]);
      expect([r.iface.stats().rx_own_echo, r.iface.stats().rx_arp], defects.list().join() || 'none').to.deep.equal([ownEcho, rxArp]);
    }
  });

  it('hwaddr-qpn-off and hwaddr-flags-reserved: the advertised address names QPN + 1 or flags 0x20 @power @hwaddr @arp @ipoib-stack', async function () {
    const off = await rig(only('hwaddr-qpn-off'));
    expect(off.iface.hwAddr().qpn).to.equal((off.iface.qpn ?? 0) + 1);
    expect(arp.decode((await arpRequestOf(off)).payload, 4).value.sha.qpn, 'in the ARP sender address').to.equal((off.iface.qpn ?? 0) + 1);
    const flags = await rig(only('hwaddr-flags-reserved'));
    expect(flags.iface.hwAddr().flags).to.equal(0x20);
    expect(flags.iface.info().address.startsWith('20:')).to.equal(true);
    expect(arp.decode((await arpReplyOf(flags)).payload, 4).value.sha.flags).to.equal(0x20);
    const right = await rig(NONE);
    expect(right.iface.hwAddr()).to.deep.include({ flags: 0, qpn: right.iface.qpn });
  });

  it('ignore-pkey-table: a child whose P_Key is not in the table joins anyway on a QP at index 0 @power @pkey @multicast @ipoib-stack', async function () {
    const r = await rig(only('ignore-pkey-table'), { pkey: 0x8005 });
    expect(r.iface.state).to.equal('joining');
    expect(r.port.qps.map((q) => q.pkeyIndex)).to.deep.equal([0]);
    expect(joinedMgids(r)[0]).to.equal(broadcastMgid(0x8005).toString('hex'));
    const right = await rig(NONE, { pkey: 0x8005 });
    expect(right.iface.state).to.equal('no-pkey');
    expect(right.port.sa.joins).to.deep.equal([]);
  });
});

describe('seeded defects in the native fast path @power @tun @native', function () {
  it('header-reserved-set writes 0x0001 in fast-path frames, mcast-echo delivers our own multicast to the host @power @tun @native @encap @multicast', async function () {
    const groups = [
      { mlid: BROADCAST_MLID, mgid: BROADCAST_MGID, members: [2, 3] },
      { mlid: ALL_HOSTS_MLID, mgid: ALL_HOSTS_MGID, members: [2, 3] },
    ];
    for (const [defects, reserved, echoed] of [[NONE, 0, 0], [Defects.of(['header-reserved-set', 'mcast-echo']), 1, 1]] as const) {
      await withPorts([2, 3], groups, async ([a, b]) => {
        const atB = collect(b!.ep);
        const { plane, host } = TunDataPlane.openLoopback({ endpoint: a!.ep, qpn: a!.qpn, qkey: QKEY, pkeyIndex: 0, mtu: 2044, defects });
        try {
          plane.setNeighbour('192.0.2.2', { dlid: 3, dqpn: b!.qpn });
          plane.setMulticast('224.0.0.1', { mlid: ALL_HOSTS_MLID, mgid: ALL_HOSTS_MGID });
          host.send(ipv4Packet('192.0.2.1', '192.0.2.2'));
          host.send(ipv4Packet('192.0.2.1', '224.0.0.1'));
          await waitUntil(() => atB.length === 2, () => `${atB.length} frames at B`);
          expect(atB.map((c) => c.payload.readUInt16BE(2)), `${defects.list().join() || 'none'}: reserved field`).to.deep.equal([reserved, reserved]);
          const own = (): number => (defects.has('mcast-echo') ? plane.counters().rx_packets : plane.counters().rx_drop_own_echo);
          await waitUntil(() => own() === 1, () => JSON.stringify(plane.counters()));
          const back = host.receive();
          expect(back.length, 'own multicast written to the host').to.equal(echoed);
        } finally {
          await plane.close();
        }
      });
    }
  });
});

describe('seeded defects reported by the daemon @power @ipoib-stack @cli', function () {
  this.timeout(30_000);
  let lab: DaemonLab;
  before(async () => {
    lab = await DaemonLab.start();
  });
  after(async () => {
    await lab.close();
  });

  async function helloOf(node: string): Promise<unknown> {
    const c = await DaemonClient.connect(lab.socketOf(node));
    try {
      return await c.request({ cmd: 'hello' });
    } finally {
      c.close();
    }
  }

  it('logs them at start and reports them in hello and show, and an empty list without them @power @ipoib-stack @cli', async function () {
    const logs: string[] = [];
    const openPort = (socketPath: string, node: string): Promise<SimHcaPort> => SimHcaPort.open({ socketPath, node, openEndpoint: openPortEndpoint });
    const d = await IpoibDaemon.start({ fabric: lab.paths, node: 'node1', defects: Defects.of(['qkey-zero', 'mcast-echo']), log: (l) => logs.push(l), openPort });
    try {
      expect(logs[0]).to.equal('TEST BUILD: seeded defects active: qkey-zero, mcast-echo');
      expect(await helloOf('node1')).to.deep.include({ defects: ['qkey-zero', 'mcast-echo'] });
      const show = await lab.ctl('node1', '--json', 'show');
      expect(show.code, show.err).to.equal(0);
      expect(JSON.parse(show.out)).to.deep.include({ defects: ['qkey-zero', 'mcast-echo'] });
      const human = await lab.ctl('node1', 'show');
      expect(human.out.split('\n')[0]).to.equal('TEST BUILD: seeded defects active: qkey-zero, mcast-echo');
    } finally {
      await d.stop();
    }
    const clean = await lab.daemon('node2');
    expect(clean.socketPath).to.be.a('string');
    expect(await helloOf('node2')).to.deep.include({ defects: [] });
    expect(JSON.parse((await lab.ctl('node2', '--json', 'show')).out)).to.deep.include({ defects: [] });
    expect(lab.logs.some((l) => l.includes('TEST BUILD'))).to.equal(false);
  });
});
