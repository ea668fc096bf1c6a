/**
 * The reference stack end to end on the simulated fabric: three nodes, two IPoIB partitions,
 * real SA joins and path queries over QP1, real IB packets between the ports. What the stack
 * puts on the wire is read back from the fabric's tap.
 */
import { expect } from 'chai';
import type { SimHcaPort } from '../../src/fabric/sim/provider.js';
import { IpoibInterface } from '../../src/ipoib/interface.js';
import { frame } from '../../src/ipoib/frames.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import {
  ETH_P_ARP,
  ETH_P_IP,
  ETH_P_IPV6,
  IPOIB_DEFAULT_QKEY,
  JOIN_STATE_FULL,
  JOIN_STATE_SEND_ONLY_FULL,
  OP_UD_SEND_ONLY,
} from '../../src/wire/constants.js';
import { arp } from '../../src/wire/arp.js';
import { ipoibHeader } from '../../src/wire/ipoib-header.js';
import { ipv6Packet, makeIpv6Packet } from '../../src/wire/ipv6.js';
import { linkLocalFromGuid } from '../../src/wire/ipv6-iid.js';
import { broadcastMgid, formatGid, mgidForIpv4Group, parseGid } from '../../src/wire/mgid.js';
import { createFakeClock } from '../fabric/fake-clock.js';
import { icmpEcho, SimLab, until } from './sim-fixture.js';

interface Node {
  port: SimHcaPort;
  ib0: IpoibInterface;
  got: Array<{ packet: Buffer; etherType: number }>;
}

describe('reference IPoIB stack on the simulated fabric @fabric @multicast @arp @nd @ipoib-stack', function () {
  this.timeout(30_000);
  let lab: SimLab;
  const interfaces: IpoibInterface[] = [];

  const iface = (port: SimHcaPort, name: string, o: { pkey?: number; clock?: ReturnType<typeof createFakeClock> } = {}): IpoibInterface => {
    const i = new IpoibInterface({ name, port, ...(o.pkey !== undefined ? { pkey: o.pkey, parent: 'ib0' } : {}), ...(o.clock ? { clock: o.clock } : {}) });
    interfaces.push(i);
    return i;
  };

  const node = async (n: 1 | 2 | 3, ip: string): Promise<Node> => {
    const port = await lab.port(`node${n}`);
    const ib0 = iface(port, 'ib0');
    ib0.addAddress(`${ip}/24`);
    const got: Node['got'] = [];
    ib0.onDeliver((packet, etherType) => got.push({ packet, etherType }));
    await ib0.open();
    return { port, ib0, got };
  };

  const carrier = (i: IpoibInterface, timeoutMs = 5000) => until(`${i.name} carrier`, () => i.carrier, timeoutMs);

  beforeEach(async function () {
    lab = await SimLab.start();
  });

  afterEach(async function () {
    for (const i of interfaces.splice(0)) await i.destroy();
    await lab.close();
  });

  it('turns the carrier on only after the broadcast join, with MTU 2044 on a 2048 group and 4092 on 4096 @fabric @multicast @pkey @mgid @sa @ipoib-stack @mtu', async function () {
    const port = await lab.port('node1');
    const ib0 = iface(port, 'ib0');
    const child = iface(port, 'ib0.8001', { pkey: 0x8001 });
    expect(ib0.carrier, 'before open').to.equal(false);
    await lab.control({ op: 'sa-refuse', on: true });
    await ib0.open();
    await until('a refused join', () => ib0.stats().mcast_join_failures >= 1);
    expect(ib0.carrier, 'no carrier while the join is refused').to.equal(false);
    expect(ib0.mtu, 'port maximum before the join').to.equal(4092);
    await lab.control({ op: 'sa-refuse', on: false });
    await child.open();
    await carrier(child);
    expect(child.mtu).to.equal(4092);
    expect(child.qkey).to.equal(0x80001234);
    const members = lab.mgr.sm.members(broadcastMgid(0x8001));
    expect(members.map((m) => [m.lid, m.joinState])).to.deep.equal([[2, JOIN_STATE_FULL]]);
    await carrier(ib0, 5000); // the retry 2 s after the refusal
    expect(ib0.mtu).to.equal(2044);
    expect(ib0.qkey).to.equal(IPOIB_DEFAULT_QKEY);
    expect(ib0.info().broadcast).to.equal('00:ff:ff:ff:ff:12:40:1b:ff:ff:00:00:00:00:00:00:ff:ff:ff:ff');
  });

  it('resolves with ARP both ways and delivers IPv4 byte for byte, with type 32, hlen 20, reserved 0 and the group Q_Key on the wire @fabric @arp @ip @icmp @encap @qkey @hwaddr @ipoib-stack', async function () {
    const stop = await lab.tap();
    const a = await node(1, '10.0.0.1');
    const b = await node(2, '10.0.0.2');
    await Promise.all([carrier(a.ib0), carrier(b.ib0)]);
    const ping = icmpEcho('10.0.0.1', '10.0.0.2', 1, 1000);
    a.ib0.transmit(ping, ETH_P_IP);
    await until('delivery on node2', () => b.got.length === 1);
    expect(b.got[0]?.packet.equals(ping), 'byte-exact').to.equal(true);
    expect(b.got[0]?.etherType).to.equal(ETH_P_IP);
    const pong = icmpEcho('10.0.0.2', '10.0.0.1', 2, 1400);
    b.ib0.transmit(pong, ETH_P_IP);
    await until('delivery on node1', () => a.got.length === 1);
    expect(a.got[0]?.packet.equals(pong)).to.equal(true);
    expect(b.ib0.neighbours().find((n) => n.ip === '10.0.0.1')?.state, 'node2 learnt node1 from its request').to.equal('reachable');
    expect(a.ib0.stats().arp_requests_sent, 'node1 asked once').to.equal(1);
    expect(b.ib0.stats().arp_requests_sent, 'node2 did not need to ask').to.equal(0);
    expect(a.ib0.pathDump()).to.match(/^GID: fe80:0:0:0:2:c903:0:201\n {2}complete: {4}yes\n {2}DLID: {5}0x0003\n/);

    // The tap mirrors a packet when it is sent and again when a port accepts it: keep one copy.
    const seen = new Set<string>();
    const packets = (await stop()).filter((p) => {
      if (p.bth.opcode !== OP_UD_SEND_ONLY || !p.deth || ![a.ib0.qpn, b.ib0.qpn].includes(p.deth.srcQp)) return false;
      const key = `${p.lrh.slid}/${p.lrh.dlid}/${p.bth.psn}/${p.payload.toString('hex')}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    expect(packets.length, 'the stack sent UD packets').to.be.greaterThan(3);
    for (const p of packets) {
      expect(p.deth?.qKey, 'Q_Key of every send').to.equal(IPOIB_DEFAULT_QKEY);
      expect(ipoibHeader.decode(p.payload, 0).value.reserved, 'reserved field').to.equal(0);
    }
    const arps = packets.filter((p) => p.payload.readUInt16BE(0) === ETH_P_ARP).map((p) => arp.decode(p.payload, 4).value);
    expect(arps.map((x) => x.op).sort(), 'one request, one reply').to.deep.equal([1, 2]);
    for (const x of arps) {
      expect(x.htype).to.equal(32);
      expect(x.hlen).to.equal(20);
      expect(x.sha.flags, 'connected mode offered: the RC flag alone').to.equal(0x80);
    }
    const request = packets.find((p) => p.payload.readUInt16BE(0) === ETH_P_ARP && p.grh);
    expect(request?.grh?.dgid.equals(broadcastMgid(0xffff)), 'the request goes to the broadcast group').to.equal(true);
  });

  it('resolves IPv6 with ND and the IPoIB option, from link-local addresses derived from the GUIDs @fabric @nd @ipv6 @multicast @ipoib-stack', async function () {
    const a = await node(1, '10.0.0.1');
    const b = await node(2, '10.0.0.2');
    await Promise.all([carrier(a.ib0), carrier(b.ib0)]);
    const guid2 = b.port.attributes().gid.subarray(8, 16);
    expect(b.ib0.linkLocal()).to.equal(linkLocalFromGuid(guid2, 'linux').text);
    expect(b.ib0.linkLocal()).to.equal('fe80::202:c903:0:201');
    const src = parseGid(a.ib0.linkLocal());
    const dst = parseGid(b.ib0.linkLocal());
    const packet = encodeToBuffer(ipv6Packet, makeIpv6Packet({ src, dst, nextHeader: 17, payload: Buffer.from('over IPv6 on IPoIB') }));
    a.ib0.transmit(packet, ETH_P_IPV6);
    await until('IPv6 delivery', () => b.got.length === 1);
    expect(b.got[0]?.packet.equals(packet)).to.equal(true);
    expect(a.ib0.neighbours().find((n) => n.ip === b.ib0.linkLocal())?.lladdr?.slice(3, 11), 'learnt QPN').to.equal(b.ib0.qpn?.toString(16).padStart(6, '0').match(/../g)?.join(':'));
    const solicited = parseGid('ff12:601b:ffff::1:ff00:201');
    const members = lab.mgr.sm.members(solicited).map((m) => [m.lid, m.joinState]).sort();
    expect(members, 'node2 full member of its solicited-node group, node1 send-only').to.deep.equal([[2, JOIN_STATE_SEND_ONLY_FULL], [3, JOIN_STATE_FULL]]);
  });

  it('keeps partition 0x8001 apart: children reach each other, node3 cannot bring one up or reach one @fabric @pkey @arp @ipoib-stack', async function () {
    const [p1, p2, p3] = [await lab.port('node1'), await lab.port('node2'), await lab.port('node3')];
    const c1 = iface(p1, 'ib0.8001', { pkey: 0x8001 });
    const c2 = iface(p2, 'ib0.8001', { pkey: 0x8001 });
    const c3 = iface(p3, 'ib0.8001', { pkey: 0x8001 });
    const n3 = iface(p3, 'ib0');
    c1.addAddress('10.1.0.1/24');
    c2.addAddress('10.1.0.2/24');
    n3.addAddress('10.1.0.3/24');
    const got2: Buffer[] = [];
    c2.onDeliver((p) => got2.push(p));
    for (const i of [c1, c2, c3, n3]) await i.open();
    await Promise.all([carrier(c1), carrier(c2), carrier(n3)]);
    expect(c3.state, 'node3 holds no 0x8001').to.equal('no-pkey');
    c1.transmit(icmpEcho('10.1.0.1', '10.1.0.2', 1), ETH_P_IP);
    await until('delivery inside the partition', () => got2.length === 1);
    const arpsBefore = c2.stats().rx_arp;
    n3.transmit(icmpEcho('10.1.0.3', '10.1.0.2', 2), ETH_P_IP);
    await new Promise((r) => setTimeout(r, 300));
    expect(got2.length, 'nothing from outside the partition').to.equal(1);
    expect(n3.neighbours()[0]?.state, 'node3 gets no answer').to.equal('incomplete');
    expect(n3.stats().arp_requests_sent, 'node3 asked (three times)').to.be.at.least(1);
    expect(c2.stats().rx_arp, 'none of its requests reached the child').to.equal(arpsBefore);
  });

  it('sends multicast to members only, with a send-only join from a sender that did not join @fabric @multicast @mgid @sa @ipoib-stack', async function () {
    const a = await node(1, '10.0.0.1');
    const b = await node(2, '10.0.0.2');
    const c = await node(3, '10.0.0.3');
    await Promise.all([a, b, c].map((n) => carrier(n.ib0)));
    const group = mgidForIpv4Group('239.1.2.3', 0xffff);
    b.ib0.joinGroup('239.1.2.3');
    await until('node2 joined and attached', () => b.ib0.multicastGroups().some((g) => g.mgid === formatGid(group) && g.attached));
    expect(lab.mgr.sm.members(group).map((m) => m.lid)).to.deep.equal([3]);
    const packet = icmpEcho('10.0.0.1', '239.1.2.3', 9);
    a.ib0.transmit(packet, ETH_P_IP);
    await until('the member receives', () => b.got.length === 1);
    await new Promise((r) => setTimeout(r, 150));
    expect(b.got[0]?.packet.equals(packet)).to.equal(true);
    expect(c.got.length, 'a non-member receives nothing').to.equal(0);
    expect(a.got.length, 'the sender gets nothing back').to.equal(0);
    const members = lab.mgr.sm.members(group).map((m) => [m.lid, m.joinState]).sort();
    expect(members).to.deep.equal([[2, JOIN_STATE_SEND_ONLY_FULL], [3, JOIN_STATE_FULL]]);
    expect(b.ib0.stats().multicast, 'counted as multicast (not the broadcast group)').to.equal(1);
    expect(a.ib0.mcgDump()).to.contain(`GID: ff12:401b:ffff:0:0:0:f01:203\n  created: `);
    expect(a.ib0.mcgDump()).to.match(/GID: ff12:401b:ffff:0:0:0:f01:203\n {2}created: +\d+\n {2}queuelen: {9}0\n {2}complete: {7}yes\n {2}send_only: {6}yes\n/);

    b.ib0.transmit(icmpEcho('10.0.0.2', '239.1.2.3', 10), ETH_P_IP);
    await until('own echo dropped', () => b.ib0.stats().rx_own_echo >= 1);
    expect(b.got.length, 'its own multicast is not delivered back').to.equal(1);
    b.ib0.leaveGroup('239.1.2.3');
    await until('node2 left', () => !lab.mgr.sm.members(group).some((m) => m.lid === 3));
  });

  it('queues 3 packets while resolving and drops the 4th @fabric @arp @ipoib-stack', async function () {
    const a = await node(1, '10.0.0.1');
    const b = await node(2, '10.0.0.2');
    await Promise.all([carrier(a.ib0), carrier(b.ib0)]);
    for (let i = 1; i <= 4; i++) a.ib0.transmit(icmpEcho('10.0.0.1', '10.0.0.2', i), ETH_P_IP);
    await until('three deliveries', () => b.got.length === 3);
    await new Promise((r) => setTimeout(r, 150));
    expect(b.got.length).to.equal(3);
    expect(b.got.map((g) => g.packet.readUInt16BE(4)), 'IP identification = sequence 1..3').to.deep.equal([1, 2, 3]);
    expect(a.ib0.stats()).to.include({ tx_dropped: 1, tx_dropped_neigh_queue: 1 });
  });

  it('retries the broadcast join with backoff while the SA refuses, then comes up @fabric @multicast @sa @ipoib-stack', async function () {
    const clock = createFakeClock(0);
    const port = await lab.port('node1');
    const ib0 = iface(port, 'ib0', { clock });
    await lab.control({ op: 'sa-refuse', on: true });
    await ib0.open();
    const failures = (): number => ib0.stats().mcast_join_failures;
    await until('first refusal', () => failures() === 1);
    for (const [wait, n] of [[2, 2], [4, 3], [8, 4]] as const) {
      await clock.tick(wait * 1000 - 1);
      await new Promise((r) => setTimeout(r, 50));
      expect(failures(), `nothing before ${wait} s`).to.equal(n - 1);
      await clock.tick(1);
      await until(`attempt ${n}`, () => failures() === n);
    }
    expect(ib0.carrier).to.equal(false);
    await lab.control({ op: 'sa-refuse', on: false });
    await clock.tick(16_000);
    await carrier(ib0);
    expect(lab.mgr.sm.members(broadcastMgid(0xffff)).map((m) => m.lid)).to.deep.equal([2]);
  });

  it('rejoins after an SM restart and traffic resumes @fabric @multicast @sa @ipoib-stack', async function () {
    const a = await node(1, '10.0.0.1');
    const b = await node(2, '10.0.0.2');
    await Promise.all([carrier(a.ib0), carrier(b.ib0)]);
    a.ib0.transmit(icmpEcho('10.0.0.1', '10.0.0.2', 1), ETH_P_IP);
    await until('first delivery', () => b.got.length === 1);
    const joinsBefore = a.ib0.stats().mcast_joins;
    await lab.control({ op: 'sm', running: false });
    await lab.control({ op: 'sm', running: true });
    await until('both rejoined the broadcast group', () => lab.mgr.sm.members(broadcastMgid(0xffff)).length === 2, 8000);
    await until('node1 rejoined everything', () => a.ib0.stats().mcast_joins >= joinsBefore + 4, 8000);
    a.ib0.transmit(icmpEcho('10.0.0.1', '10.0.0.2', 2), ETH_P_IP);
    b.ib0.transmit(icmpEcho('10.0.0.2', '10.0.0.1', 3), ETH_P_IP);
    await until('traffic after the restart', () => b.got.length === 2 && a.got.length === 1, 8000);
    expect(a.ib0.carrier).to.equal(true);
  });

  it('brings a child up when a pkey-change adds its absent P_Key @fabric @pkey @multicast @ipoib-stack', async function () {
    const port = await lab.port('node3');
    const child = iface(port, 'ib0.8001', { pkey: 0x8001 });
    await child.open();
    expect(child.state).to.equal('no-pkey');
    expect(child.carrier).to.equal(false);
    await lab.control({ op: 'pkeys', node: 'node3', pkeys: [0xffff, 0x8001] });
    await carrier(child);
    expect(child.mtu).to.equal(4092);
    expect(lab.mgr.sm.members(broadcastMgid(0x8001)).map((m) => m.lid)).to.deep.equal([4]);
  });

  it('counts malformed frames from a peer and keeps working @fabric @encap @arp @nd @ipoib-stack', async function () {
    const a = await node(1, '10.0.0.1');
    const b = await node(2, '10.0.0.2');
    await Promise.all([carrier(a.ib0), carrier(b.ib0)]);
    const probe = await b.port.createUdQp({ qkey: IPOIB_DEFAULT_QKEY, pkeyIndex: 0 });
    const to = { dlid: a.port.attributes().lid, dqpn: a.ib0.qpn ?? 0, qkey: IPOIB_DEFAULT_QKEY };
    const badArp = Buffer.alloc(56);
    badArp.writeUInt16BE(32, 0);
    badArp.writeUInt16BE(0x0800, 2);
    badArp.writeUInt8(6, 4); // Ethernet hardware length
    badArp.writeUInt8(4, 5);
    const ndBadOption = encodeToBuffer(
      ipv6Packet,
      makeIpv6Packet({ src: parseGid('fe80::9'), dst: parseGid(a.ib0.linkLocal()), nextHeader: 58, hopLimit: 255, payload: Buffer.concat([Buffer.from('87000000000000000000', 'hex'), Buffer.alloc(14), Buffer.from('0100', 'hex')]) }),
    );
    for (const payload of [Buffer.alloc(3), frame(0x88cc, Buffer.alloc(10)), frame(ETH_P_ARP, badArp), frame(ETH_P_IPV6, ndBadOption), frame(ETH_P_ARP, Buffer.alloc(7))]) probe.send(to, payload);
    await until('five drops', () => a.ib0.stats().rx_dropped === 5);
    expect(a.ib0.stats()).to.include({ rx_dropped_short: 1, rx_dropped_ethertype: 1, rx_dropped_arp: 2, rx_dropped_nd: 1 });
    a.ib0.transmit(icmpEcho('10.0.0.1', '10.0.0.2', 1), ETH_P_IP);
    await until('still carrying traffic', () => b.got.length === 1);
    await probe.close();
    expect(formatGid(a.port.attributes().gid)).to.equal('fe80::2:c903:0:101');
  });

  it('reports counters under the kernel ethtool names @fabric @ipoib-stack', async function () {
    const a = await node(1, '10.0.0.1');
    const b = await node(2, '10.0.0.2');
    await Promise.all([carrier(a.ib0), carrier(b.ib0)]);
    a.ib0.transmit(icmpEcho('10.0.0.1', '10.0.0.2', 1, 100), ETH_P_IP);
    await until('delivery', () => b.got.length === 1);
    const names = a.ib0.ethtoolStats().map(([n]) => n);
    expect(names).to.deep.equal(['rx_packets', 'tx_packets', 'rx_bytes', 'tx_bytes', 'tx_errors', 'rx_dropped', 'tx_dropped', 'multicast']);
    const rx = Object.fromEntries(b.ib0.ethtoolStats());
    expect(rx.rx_packets, 'the ARP request and the ping').to.be.at.least(2);
    const tx = Object.fromEntries(a.ib0.ethtoolStats());
    expect(tx.tx_packets, 'ARP request and the ping').to.be.at.least(2);
    expect(tx.tx_bytes, 'frames counted with their 4-octet header').to.be.at.least(4 + 128 + 4 + 56);
  });
});
