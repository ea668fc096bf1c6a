/**
 * The TUN data plane's fast path, punts and counters, with its host side on a socket pair
 * (TunDataPlane.openLoopback) so it runs without root: the test plays the kernel on one side
 * and plain simulated-fabric ports on the other. The same C++ runs over a real TUN device in
 * tun-namespaces.test.ts.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ArgumentError, MtuExceededError, StateError } from '../../src/errors.js';
import type { UdCompletion } from '../../src/fabric/sim/native-endpoint.js';
import {
  type LoopbackHost,
  TUN_COUNTER_NAMES,
  type TunCounters,
  TunDataPlane,
  type TunDataPlaneOptions,
  type TunPunt,
} from '../../src/ipoib/native/tun-data-plane.js';
import { loadNative } from '../../src/native/addon.js';
import { ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, IPOIB_HEADER_LEN, MCAST_QPN } from '../../src/wire/constants.js';
import {
  ALL_HOSTS_MGID,
  ALL_HOSTS_MLID,
  BROADCAST_MGID,
  BROADCAST_MLID,
  QKEY,
  collect,
  gidOf,
  ipoibFrame,
  ipv4Packet,
  ipv6Packet,
  type Port,
  settle,
  waitUntil,
  withPorts,
} from './fabric-ports.js';

const A_V6 = '20010db8000000000000000000000001'; // 2001:db8::1
const B_V6 = '20010db8000000000000000000000002'; // 2001:db8::2

interface Rig {
  plane: TunDataPlane;
  host: LoopbackHost;
  punts: TunPunt[];
  /** The data plane's port (LID 2) and a plain peer port (LID 3) whose QP collects what arrives. */
  a: Port;
  b: Port;
  atB: UdCompletion[];
}

/**
 * A data plane on port A (LID 2) and a plain port B (LID 3); both are members of the
 * broadcast group (0xc000) and of 224.0.0.1's group (0xc001). Closes everything after `body`.
 */
async function withRig(extra: Partial<TunDataPlaneOptions>, body: (r: Rig) => Promise<void>): Promise<void> {
  const groups = [
    { mlid: BROADCAST_MLID, mgid: BROADCAST_MGID, members: [2, 3] },
    { mlid: ALL_HOSTS_MLID, mgid: ALL_HOSTS_MGID, members: [2, 3] },
  ];
  await withPorts([2, 3], groups, async ([a, b]) => {
    const { plane, host } = TunDataPlane.openLoopback({ endpoint: a!.ep, qpn: a!.qpn, qkey: QKEY, pkeyIndex: 0, mtu: 2044, ...extra });
    try {
      const punts: TunPunt[] = [];
      plane.onPunt((batch) => punts.push(...batch.map(copyPunt)));
      await body({ plane, host, punts, a: a!, b: b!, atB: collect(b!.ep) });
    } finally {
      await plane.close();
    }
  });
}

/** Punt Buffers are views of their batch's Buffer; the tests keep copies. */
function copyPunt(p: TunPunt): TunPunt {
  if (p.direction === 'tx') return { ...p, packet: Buffer.from(p.packet) };
  if (p.direction === 'rc') return { ...p };
  return { ...p, frame: Buffer.from(p.frame), ...(p.grh ? { grh: { sgid: Buffer.from(p.grh.sgid), dgid: Buffer.from(p.grh.dgid) } } : {}) };
}

/** Waits until every host packet was written (rx_packets counts at write time) and returns them. */
async function hostReceives(r: Rig, n: number): Promise<Buffer[]> {
  const got: Buffer[] = [];
  await waitUntil(
    () => (got.push(...r.host.receive()), got.length >= n),
    () => `${got.length} of ${n} packets reached the host; counters ${JSON.stringify(r.plane.counters())}`,
  );
  return got;
}

/**
 * Counters move just after the packet they count went on (a frame can reach its receiver
 * first): waits, up to a deadline, for `expected` to hold, so the assertion that follows sees
 * the settled values (and reports the difference if they never come).
 */
async function countersSettle(plane: TunDataPlane, expected: Partial<TunCounters>): Promise<TunCounters> {
  const holds = (): boolean => Object.entries(expected).every(([k, v]) => plane.counters()[k as keyof TunCounters] === v);
  await waitUntil(holds, () => 'settle', 2000).catch(() => undefined);
  return plane.counters();
}

/** Port B sends `frame` to the data plane's QP (unicast, LID 2). */
function fromB(r: Rig, frame: Buffer, o: { qkey?: number; pkeyIndex?: number } = {}): void {
  r.b.ep.postSendUd(r.b.qpn, { dlid: 2, dqpn: r.a.qpn, qkey: o.qkey ?? QKEY, payload: frame, pkeyIndex: o.pkeyIndex });
}

describe('TUN data plane: the binding @tun @native', function () {
  it('agrees with the TypeScript wrapper on counter names, punt reasons, layout and wire constants @tun @native', function () {
    const n = loadNative();
    expect(n.tunDataPlaneCounterNames, 'counter names in native order').to.deep.equal([...TUN_COUNTER_NAMES]);
    expect(n.tunDataPlaneCounterNames.slice(0, 8), 'the kernel ethtool -S names first').to.deep.equal([
      'rx_packets', 'tx_packets', 'rx_bytes', 'tx_bytes', 'tx_errors', 'rx_dropped', 'tx_dropped', 'multicast',
    ]);
    expect(n.tunPuntReasons.map((r) => `${r.direction}:${r.name}`)).to.deep.equal([
      'tx:no-neighbour', 'tx:no-group', 'tx:too-big', 'tx:not-ip', 'tx:malformed', 'tx:nd', 'rx:arp', 'rx:nd', 'rx:other-type',
      'tx:rc-pending', 'rc:error',
    ]);
    const l = n.tunDataPlaneLayout;
    expect([l.ethPIp, l.ethPArp, l.ethPIpv6, l.ipoibHeaderLen], 'native constants = src/wire/constants.ts').to.deep.equal([
      ETH_P_IP, ETH_P_ARP, ETH_P_IPV6, IPOIB_HEADER_LEN,
    ]);
    expect(l.puntWords).to.equal(13);
    expect(l.txBatch, 'TX batch size').to.equal(64);
  });
});

describe('TUN data plane over a loopback host: TX fast path @tun @native', function () {
  it('encapsulates an IPv4 packet for a resolved neighbour and posts it with the Q_Key, P_Key and SL @tun @native @ip @encap @qkey @pkey', async function () {
    await withRig({}, async (r) => {
      r.plane.setNeighbour('192.0.2.2', { dlid: 3, dqpn: r.b.qpn, sl: 5 });
      const packet = ipv4Packet('192.0.2.1', '192.0.2.2', 8, 0xa0);
      r.host.send(packet);
      await waitUntil(() => r.atB.length === 1, () => `${r.atB.length} frames at B`);
      const c = r.atB[0]!;
      // Golden frame: 08 00 = EtherType IPv4, 00 00 = reserved, then the 28-octet packet:
      // 45 00 001c | 0000 0000 | 40 11 0000 | c0000201 | c0000202 | a0..a7.
      expect(c.payload.toString('hex')).to.equal('08000000' + '4500001c' + '00000000' + '40110000' + 'c0000201' + 'c0000202' + 'a0a1a2a3a4a5a6a7');
      expect([c.slid, c.srcQp, c.qkey, c.pkey, c.sl], 'SLID, source QPN, Q_Key, P_Key, SL').to.deep.equal([2, r.a.qpn, QKEY, 0xffff, 5]);
      expect(c.grh, 'no GRH for a neighbour without one').to.equal(undefined);
      const k = await countersSettle(r.plane, { tx_packets: 1, tx_bytes: 32, tx_batches: 1 });
      expect([k.tx_packets, k.tx_bytes, k.tx_batches, k.tx_dropped], 'tx_packets, tx_bytes (frame), tx_batches, tx_dropped').to.deep.equal([1, 32, 1, 0]);
    });
  });

  it('encapsulates an IPv6 packet with EtherType 0x86dd, and sends a GRH when the neighbour has one @tun @native @ipv6 @encap', async function () {
    await withRig({}, async (r) => {
      r.plane.setNeighbour('2001:db8::2', { dlid: 3, dqpn: r.b.qpn, grh: { dgid: gidOf(3), hopLimit: 64, trafficClass: 0x20, flowLabel: 0x12345 } });
      const packet = ipv6Packet(A_V6, B_V6, 17, Buffer.from('0102030405060708', 'hex'));
      r.host.send(packet);
      await waitUntil(() => r.atB.length === 1, () => `${r.atB.length} frames at B`);
      const c = r.atB[0]!;
      expect(c.payload.subarray(0, 4).toString('hex'), 'EtherType IPv6, reserved 0').to.equal('86dd0000');
      expect(c.payload.subarray(4).equals(packet), 'the packet unchanged').to.equal(true);
      expect(c.grh?.dgid.equals(gidOf(3)), 'DGID').to.equal(true);
      expect(c.grh?.sgid.equals(gidOf(2)), 'SGID is the port GID').to.equal(true);
      expect([c.grh?.hopLimit, c.grh?.tclass, c.grh?.flowLabel], 'GRH hop limit, class, flow').to.deep.equal([64, 0x20, 0x12345]);
    });
  });

  it('sends to a mapped IPv4 group on its MLID with QPN 0xffffff and the MGID, and limited broadcast once mapped @tun @native @multicast @mgid @ip', async function () {
    await withRig({}, async (r) => {
      r.host.send(ipv4Packet('192.0.2.1', '224.0.0.1'));
      r.host.send(ipv4Packet('192.0.2.1', '255.255.255.255'));
      await waitUntil(() => r.punts.length === 2, () => `${r.punts.length} punts`);
      expect(r.punts.map((p) => p.reason), 'no group entries yet').to.deep.equal(['no-group', 'no-group']);
      r.plane.setMulticast('224.0.0.1', { mlid: ALL_HOSTS_MLID, mgid: ALL_HOSTS_MGID });
      r.plane.setMulticast('255.255.255.255', { mlid: BROADCAST_MLID, mgid: BROADCAST_MGID });
      r.plane.setMulticast('192.0.2.255', { mlid: BROADCAST_MLID, mgid: BROADCAST_MGID }); // a subnet-directed broadcast
      expect(r.plane.tableSizes()).to.deep.equal({ neighbours: 0, groups: 3 });
      r.host.send(ipv4Packet('192.0.2.1', '224.0.0.1'));
      r.host.send(ipv4Packet('192.0.2.1', '255.255.255.255'));
      r.host.send(ipv4Packet('192.0.2.1', '192.0.2.255'));
      await waitUntil(() => r.atB.length === 3, () => `${r.atB.length} frames at B`);
      expect(r.atB.map((c) => [c.dlid, c.grh?.dgid.toString('hex')]), 'DLID and DGID of each').to.deep.equal([
        [ALL_HOSTS_MLID, ALL_HOSTS_MGID.toString('hex')],
        [BROADCAST_MLID, BROADCAST_MGID.toString('hex')],
        [BROADCAST_MLID, BROADCAST_MGID.toString('hex')],
      ]);
      // Our own copies come back to port A (a member) and are dropped as our echo.
      await waitUntil(() => r.plane.counters().rx_drop_own_echo === 3, () => `own echo drops: ${r.plane.counters().rx_drop_own_echo}`);
      expect(r.host.receive(), 'nothing of our own reaches the host').to.deep.equal([]);
      expect(r.plane.deleteMulticast('224.0.0.1'), 'an entry was there').to.equal(true);
      expect(r.plane.deleteMulticast('224.0.0.1'), 'and is gone').to.equal(false);
    });
  });

  it('punts what it cannot send, each with its reason and the packet unchanged, and counts each reason @tun @native @ip @ipv6 @nd', async function () {
    await withRig({ mtu: 1500 }, async (r) => {
      const ns = Buffer.from('8700000000000000' + B_V6, 'hex'); // ICMPv6 type 135 (NS), code, checksum, reserved, target
      const sent = [
        ipv4Packet('192.0.2.1', '192.0.2.9'), // no neighbour
        ipv6Packet(A_V6, 'ff0200000000000000000001ff000002', 58, ns), // ND to the solicited-node group: ND first
        ipv4Packet('192.0.2.1', '192.0.2.9', 1481), // 1501 octets > MTU 1500
        Buffer.from('5000001400000000', 'hex'), // version 5
        Buffer.from('45000014000000004011', 'hex'), // IPv4 shorter than 20
        ipv6Packet(A_V6, 'ff020000000000000000000000000016', 0, Buffer.alloc(8)), // MLD-ish multicast, no group
      ];
      for (const p of sent) r.host.send(p);
      await waitUntil(() => r.punts.length === sent.length, () => `${r.punts.length} of ${sent.length} punts`);
      expect(r.punts.map((p) => `${p.direction}:${p.reason}`)).to.deep.equal([
        'tx:no-neighbour', 'tx:nd', 'tx:too-big', 'tx:not-ip', 'tx:malformed', 'tx:no-group',
      ]);
      r.punts.forEach((p, i) => expect(p.direction === 'tx' && p.packet.equals(sent[i]!), `punt ${i} carries the packet as sent`).to.equal(true));
      const k = await countersSettle(r.plane, { tx_punt_no_neighbour: 1, tx_punt_nd: 1, tx_punt_too_big: 1, tx_punt_not_ip: 1, tx_punt_malformed: 1, tx_punt_no_group: 1 });
      expect([k.tx_punt_no_neighbour, k.tx_punt_nd, k.tx_punt_too_big, k.tx_punt_not_ip, k.tx_punt_malformed, k.tx_punt_no_group]).to.deep.equal([1, 1, 1, 1, 1, 1]);
      expect([k.tx_packets, k.tx_dropped], 'punted packets are neither sent nor dropped').to.deep.equal([0, 0]);
      expect(r.atB.length, 'nothing went on the wire').to.equal(0);
    });
  });

  it('follows setMtu and setQkey on later packets @tun @native @qkey', async function () {
    await withRig({}, async (r) => {
      r.plane.setNeighbour('192.0.2.2', { dlid: 3, dqpn: r.b.qpn });
      r.plane.setMtu(1280);
      expect(r.host.state(), 'the MTU reached the host side').to.deep.equal({ mtu: 1280, carrier: true });
      r.host.send(ipv4Packet('192.0.2.1', '192.0.2.2', 1261)); // 1281 octets
      await waitUntil(() => r.punts.length === 1, () => `${r.punts.length} punts`);
      expect(r.punts[0]!.reason).to.equal('too-big');
      r.b.ep.modifyUdQp(r.b.qpn, { qkey: 0x1234 });
      r.plane.setQkey(0x1234);
      expect(r.plane.qkey).to.equal(0x1234);
      r.host.send(ipv4Packet('192.0.2.1', '192.0.2.2', 1260)); // exactly 1280
      await waitUntil(() => r.atB.length === 1, () => `${r.atB.length} frames at B`);
      expect(r.atB[0]!.qkey, 'DETH Q_Key').to.equal(0x1234);
      r.plane.setCarrier(false);
      expect(r.host.state().carrier).to.equal(false);
    });
  });

  it('keeps order and loses nothing over 300 back-to-back packets @tun @native @ip', async function () {
    await withRig({}, async (r) => {
      r.plane.setNeighbour('192.0.2.2', { dlid: 3, dqpn: r.b.qpn });
      for (let i = 0; i < 300; i++) {
        const p = ipv4Packet('192.0.2.1', '192.0.2.2', 4);
        p.writeUInt32BE(i, 20);
        r.host.send(p);
      }
      await waitUntil(() => r.atB.length === 300, () => `${r.atB.length} of 300 frames at B`);
      expect(r.atB.map((c) => c.payload.readUInt32BE(24)), 'sequence numbers in order').to.deep.equal([...Array(300).keys()]);
      const k = await countersSettle(r.plane, { tx_packets: 300 });
      expect(k.tx_packets).to.equal(300);
      expect(k.tx_batches, 'at least one call per 64 packets, at most one per packet').to.be.within(5, 300);
    });
  });

  it('marks the neighbour and group entries it sends to, for the control plane\'s ageing, and takeUsed() clears the marks @tun @native @ip @ipv6 @multicast', async function () {
    await withRig({}, async (r) => {
      r.plane.setNeighbour('192.0.2.2', { dlid: 3, dqpn: r.b.qpn });
      r.plane.setNeighbour('192.0.2.7', { dlid: 3, dqpn: r.b.qpn }); // never sent to
      r.plane.setNeighbour('2001:db8::2', { dlid: 3, dqpn: r.b.qpn });
      r.plane.setMulticast('224.0.0.1', { mlid: ALL_HOSTS_MLID, mgid: ALL_HOSTS_MGID });
      r.plane.setMulticast('255.255.255.255', { mlid: BROADCAST_MLID, mgid: BROADCAST_MGID }); // never sent to
      expect(r.plane.takeUsed(), 'nothing sent yet').to.deep.equal({ neighbours: [], groups: [] });
      r.host.send(ipv4Packet('192.0.2.1', '192.0.2.2'));
      r.host.send(ipv4Packet('192.0.2.1', '192.0.2.2'));
      r.host.send(ipv6Packet(A_V6, B_V6, 17, Buffer.alloc(8)));
      r.host.send(ipv4Packet('192.0.2.1', '224.0.0.1'));
      await waitUntil(() => r.atB.length === 4, () => `${r.atB.length} frames at B`);
      const used = r.plane.takeUsed();
      expect([...used.neighbours].sort(), 'each neighbour sent to, once').to.deep.equal(['192.0.2.2', '2001:db8::2']);
      expect(used.groups, 'the group sent to').to.deep.equal(['224.0.0.1']);
      expect(r.plane.takeUsed(), 'the marks were cleared').to.deep.equal({ neighbours: [], groups: [] });

      // Replacing an entry keeps its mark; deleting one drops it; a punted packet marks nothing.
      r.host.send(ipv4Packet('192.0.2.1', '192.0.2.2'));
      r.host.send(ipv4Packet('192.0.2.1', '192.0.2.9')); // no neighbour: punted
      await waitUntil(() => r.atB.length === 5 && r.punts.length === 1, () => `${r.atB.length} frames at B, ${r.punts.length} punts`);
      r.plane.setNeighbour('192.0.2.2', { dlid: 3, dqpn: r.b.qpn, sl: 2 });
      expect(r.plane.takeUsed().neighbours, 'replaced, still marked').to.deep.equal(['192.0.2.2']);
      r.host.send(ipv4Packet('192.0.2.1', '192.0.2.2'));
      await waitUntil(() => r.atB.length === 6, () => `${r.atB.length} frames at B`);
      expect(r.plane.deleteNeighbour('192.0.2.2')).to.equal(true);
      expect(r.plane.takeUsed(), 'deleted: gone with its mark').to.deep.equal({ neighbours: [], groups: [] });
    });
  });

  it('counts tx_errors when the endpoint refuses, and keeps going @tun @native', async function () {
    await withRig({}, async (r) => {
      r.plane.setNeighbour('192.0.2.2', { dlid: 3, dqpn: r.b.qpn });
      r.a.ep.setMtuCode(1); // 256 octets: the endpoint refuses longer payloads
      r.host.send(ipv4Packet('192.0.2.1', '192.0.2.2', 400));
      r.host.send(ipv4Packet('192.0.2.1', '192.0.2.2', 10));
      await waitUntil(() => r.atB.length === 1, () => `${r.atB.length} frames at B`);
      const k = await countersSettle(r.plane, { tx_errors: 1, tx_packets: 1 });
      expect([k.tx_errors, k.tx_packets], 'the long one refused, the short one sent').to.deep.equal([1, 1]);
      expect(r.atB[0]!.payload.length).to.equal(4 + 30);
    });
  });
});

describe('TUN data plane over a loopback host: RX fast path @tun @native', function () {
  it('writes IPv4 and IPv6 packets to the host without the IPoIB header, and counts them @tun @native @ip @ipv6 @encap', async function () {
    await withRig({}, async (r) => {
      const v4 = ipv4Packet('192.0.2.2', '192.0.2.1', 12);
      const v6 = ipv6Packet(B_V6, A_V6, 17, Buffer.alloc(16, 7));
      fromB(r, ipoibFrame(ETH_P_IP, v4));
      fromB(r, ipoibFrame(ETH_P_IPV6, v6, 0xbeef)); // reserved set: ignored, counted
      const got = await hostReceives(r, 2);
      expect(got.map((p) => p.toString('hex'))).to.deep.equal([v4.toString('hex'), v6.toString('hex')]);
      const k = await countersSettle(r.plane, { rx_packets: 2, rx_bytes: 8 + v4.length + v6.length });
      expect([k.rx_packets, k.rx_bytes, k.rx_dropped, k.rx_reserved_nonzero], 'rx_packets, rx_bytes (frames), rx_dropped, reserved').to.deep.equal([
        2, 4 + v4.length + 4 + v6.length, 0, 1,
      ]);
    });
  });

  it('punts ARP, ND and unknown EtherTypes with the sender LID, QPN, P_Key and Q_Key @tun @native @arp @nd @pkey @qkey', async function () {
    await withRig({}, async (r) => {
      const arp = ipoibFrame(ETH_P_ARP, Buffer.from('0020080014040001', 'hex'));
      const na = ipoibFrame(ETH_P_IPV6, ipv6Packet(B_V6, A_V6, 58, Buffer.from('8800000060000000' + B_V6, 'hex')));
      const lldp = ipoibFrame(0x88cc, Buffer.from('0102', 'hex'));
      fromB(r, arp);
      fromB(r, na);
      fromB(r, lldp, { pkeyIndex: 0 });
      await waitUntil(() => r.punts.length === 3, () => `${r.punts.length} punts`);
      const rx = r.punts.map((p) => (p.direction === 'rx' ? p : undefined));
      expect(rx.map((p) => p?.reason)).to.deep.equal(['arp', 'nd', 'other-type']);
      expect(rx.map((p) => p?.etherType)).to.deep.equal([ETH_P_ARP, ETH_P_IPV6, 0x88cc]);
      expect(rx[0]!.frame.equals(arp), 'the whole frame, header included').to.equal(true);
      expect(rx[1]!.frame.equals(na)).to.equal(true);
      expect([rx[0]!.slid, rx[0]!.dlid, rx[0]!.srcQpn, rx[0]!.pkey, rx[0]!.qkey, rx[0]!.sl], 'where it came from').to.deep.equal([
        3, 2, r.b.qpn, 0xffff, QKEY, 0,
      ]);
      expect(rx[0]!.grh, 'no GRH on this unicast').to.equal(undefined);
      const k = await countersSettle(r.plane, { rx_punt_arp: 1, rx_punt_nd: 1, rx_punt_other_type: 1, rx_packets: 3 });
      expect([k.rx_punt_arp, k.rx_punt_nd, k.rx_punt_other_type, k.rx_packets]).to.deep.equal([1, 1, 1, 3]);
      expect(r.host.receive(), 'nothing punted reaches the host').to.deep.equal([]);
    });
  });

  it('drops and counts short frames and IP frames whose packet does not fit the EtherType @tun @native @ip @encap', async function () {
    await withRig({}, async (r) => {
      fromB(r, Buffer.from('0800', 'hex')); // shorter than the header
      fromB(r, ipoibFrame(ETH_P_IP, Buffer.alloc(10, 0x45))); // 10 octets of "IPv4"
      fromB(r, ipoibFrame(ETH_P_IPV6, ipv4Packet('192.0.2.2', '192.0.2.1'))); // IPv4 under the IPv6 type
      fromB(r, ipoibFrame(ETH_P_IP, Buffer.alloc(0))); // header only
      await waitUntil(() => r.plane.counters().rx_dropped === 4, () => JSON.stringify(r.plane.counters()));
      const k = r.plane.counters();
      expect([k.rx_drop_short, k.rx_drop_bad_ip, k.rx_packets]).to.deep.equal([1, 3, 0]);
      await settle();
      expect(r.host.receive()).to.deep.equal([]);
      expect(r.punts).to.deep.equal([]);
    });
  });

  it('counts multicast frames except the broadcast group, and delivers our own with deliverOwnMulticast @tun @native @multicast', async function () {
    await withRig({ broadcastMgid: BROADCAST_MGID }, async (r) => {
      const toGroup = (mlid: number, mgid: Buffer, payload: Buffer): void =>
        r.b.ep.postSendUd(r.b.qpn, { dlid: mlid, dqpn: MCAST_QPN, qkey: QKEY, grh: { dgid: mgid }, payload });
      toGroup(ALL_HOSTS_MLID, ALL_HOSTS_MGID, ipoibFrame(ETH_P_IP, ipv4Packet('192.0.2.2', '224.0.0.1')));
      toGroup(BROADCAST_MLID, BROADCAST_MGID, ipoibFrame(ETH_P_IP, ipv4Packet('192.0.2.2', '255.255.255.255')));
      await hostReceives(r, 2);
      expect(r.plane.counters().multicast, 'one of the two: the broadcast group does not count').to.equal(1);

      r.plane.setMulticast('224.0.0.1', { mlid: ALL_HOSTS_MLID, mgid: ALL_HOSTS_MGID });
      r.plane.setDeliverOwnMulticast(true);
      const own = ipv4Packet('192.0.2.1', '224.0.0.1', 3);
      r.host.send(own);
      const back = await hostReceives(r, 1);
      expect(back[0]!.equals(own), 'our own multicast came back to the host').to.equal(true);
      r.plane.setDeliverOwnMulticast(false);
      r.host.send(own);
      await waitUntil(() => r.plane.counters().rx_drop_own_echo === 1, () => JSON.stringify(r.plane.counters()));
    });
  });

  it('tells another port behind the same LID and QPN from its own echo by the GRH interface ID @tun @native @multicast', async function () {
    // Port C (LID 4) gets a QP with our QPN, and the data plane is told its LID is 4: C's frames
    // then carry our LID and QPN, and only C's GRH (another interface ID) tells them apart.
    await withRig({}, async (r) => {
      const { SimEndpoint } = await import('../../src/fabric/sim/native-endpoint.js');
      const c = SimEndpoint.open({ lid: 4, gid: gidOf(4), mtuCode: 4, pkeys: [0xffff] });
      try {
        const qc = c.createUdQp({ qkey: QKEY, pkeyIndex: 0, qpn: r.a.qpn });
        c.setRoutes([{ lid: 2, udpPort: r.a.ep.udpPort }], [{ mlid: ALL_HOSTS_MLID, udpPorts: [r.a.ep.udpPort] }]);
        r.plane.setLocalLid(4);
        const frame = ipoibFrame(ETH_P_IP, ipv4Packet('192.0.2.3', '224.0.0.1'));
        c.postSendUd(qc, { dlid: ALL_HOSTS_MLID, dqpn: MCAST_QPN, qkey: QKEY, grh: { dgid: ALL_HOSTS_MGID }, payload: frame });
        await hostReceives(r, 1);
        c.postSendUd(qc, { dlid: 2, dqpn: r.a.qpn, qkey: QKEY, payload: frame }); // no GRH: indistinguishable from ours
        await waitUntil(() => r.plane.counters().rx_drop_own_echo === 1, () => JSON.stringify(r.plane.counters()));
        expect((await countersSettle(r.plane, { rx_packets: 1 })).rx_packets, 'only the GRH one was delivered').to.equal(1);
      } finally {
        await c.close();
      }
    });
  });
});

describe('TUN data plane over a loopback host: calls from the control plane @tun @native', function () {
  it('sendUd posts a frame JS built with the interface Q_Key, counted like the fast path @tun @native @arp @qkey', async function () {
    await withRig({}, async (r) => {
      const arp = ipoibFrame(ETH_P_ARP, Buffer.alloc(28, 1));
      r.plane.sendUd({ dlid: 3, dqpn: r.b.qpn }, arp);
      r.plane.sendUd({ dlid: BROADCAST_MLID, dqpn: MCAST_QPN, grh: { dgid: BROADCAST_MGID } }, arp);
      await waitUntil(() => r.atB.length === 2, () => `${r.atB.length} frames at B`);
      expect(r.atB.map((c) => [c.dlid, c.qkey, c.payload.equals(arp)])).to.deep.equal([
        [3, QKEY, true],
        [BROADCAST_MLID, QKEY, true],
      ]);
      const k = r.plane.counters();
      expect([k.tx_packets, k.tx_bytes]).to.deep.equal([2, 64]);
    });
  });

  it('injectToHost writes a packet to the host and counts it apart from received frames @tun @native @ip', async function () {
    await withRig({}, async (r) => {
      const p = ipv4Packet('192.0.2.9', '192.0.2.1', 5);
      r.plane.injectToHost(p);
      const got = await hostReceives(r, 1);
      expect(got[0]!.equals(p)).to.equal(true);
      const k = r.plane.counters();
      expect([k.host_injected_packets, k.host_injected_bytes, k.rx_packets]).to.deep.equal([1, p.length, 0]);
    });
  });

  it('refuses bad arguments with ArgumentError naming them @tun @native', async function () {
    await withRig({}, async (r) => {
      const bad: Array<[() => unknown, string]> = [
        [() => r.plane.setNeighbour('192.0.2.300', { dlid: 3, dqpn: 5 }), 'ip'],
        [() => r.plane.setNeighbour('fe80::1%ib0', { dlid: 3, dqpn: 5 }), 'ip'],
        [() => r.plane.setNeighbour('192.0.2.2', { dlid: 0xc000, dqpn: 5 }), 'entry.dlid'],
        [() => r.plane.setNeighbour('192.0.2.2', { dlid: 3, dqpn: 0x1000000 }), 'entry.dqpn'],
        [() => r.plane.setNeighbour('192.0.2.2', { dlid: 3, dqpn: 5, sl: 16 }), 'entry.sl'],
        [() => r.plane.setNeighbour('192.0.2.2', { dlid: 3, dqpn: 5, flags: 256 }), 'entry.flags'],
        [() => r.plane.setNeighbour('192.0.2.2', { dlid: 3, dqpn: 5, grh: { dgid: Buffer.alloc(15) } }), 'entry.grh.dgid'],
        [() => r.plane.setNeighbour('192.0.2.2', { dlid: 3, dqpn: 5, grh: { dgid: gidOf(3), flowLabel: 0x100000 } }), 'entry.grh.flowLabel'],
        [() => r.plane.setMulticast('224.0.0.1', { mlid: 0xbfff, mgid: ALL_HOSTS_MGID }), 'entry.mlid'],
        [() => r.plane.setMulticast('224.0.0.1', { mlid: ALL_HOSTS_MLID, mgid: gidOf(3) }), 'entry.mgid'],
        [() => r.plane.sendUd({ dlid: 0xffff, dqpn: 5 }, Buffer.alloc(8)), 'dest.dlid'],
        [() => r.plane.sendUd({ dlid: BROADCAST_MLID, dqpn: 5, grh: { dgid: BROADCAST_MGID } }, Buffer.alloc(8)), 'dest.dqpn'],
        [() => r.plane.sendUd({ dlid: BROADCAST_MLID, dqpn: MCAST_QPN }, Buffer.alloc(8)), 'dest.grh'],
        [() => r.plane.sendUd({ dlid: 3, dqpn: 5, qkey: -1 }, Buffer.alloc(8)), 'dest.qkey'],
        [() => r.plane.sendUd({ dlid: 3, dqpn: 5 }, Buffer.alloc(3)), 'ipoibFrame'],
        [() => r.plane.injectToHost(Buffer.alloc(0)), 'packet'],
        [() => r.plane.injectToHost(Buffer.from('5000', 'hex')), 'packet'],
        [() => r.plane.setMtu(67), 'mtu'],
        [() => r.plane.setMtu(2045), 'mtu'],
        [() => r.plane.setQkey(2 ** 32), 'qkey'],
        [() => r.plane.setLocalLid(0), 'lid'],
        [() => r.plane.setCarrier(1 as unknown as boolean), 'on'],
        [() => r.plane.onPunt('x' as unknown as null), 'cb'],
      ];
      for (const [call, argument] of bad) {
        expect(call, argument).to.throw(ArgumentError).with.property('argument', argument);
      }
      expect(() => r.plane.sendUd({ dlid: 3, dqpn: 5 }, Buffer.alloc(2049)), 'over the port MTU').to.throw(MtuExceededError);
      expect(() => r.plane.injectToHost(ipv4Packet('192.0.2.9', '192.0.2.1', 2030)), 'over the interface MTU').to.throw(MtuExceededError);
      expect(r.plane.tableSizes(), 'nothing was stored').to.deep.equal({ neighbours: 0, groups: 0 });
    });
  });

  it('refuses bad open options with ArgumentError naming them @tun @native', async function () {
    await withPorts([2], [], async ([a]) => {
      const base: TunDataPlaneOptions = { ifname: 'ib0', endpoint: a!.ep, qpn: a!.qpn, qkey: QKEY, pkeyIndex: 0, mtu: 2044 };
      const bad: Array<[Partial<TunDataPlaneOptions> | Record<string, unknown>, string]> = [
        [{ ifname: '' }, 'o.ifname'],
        [{ ifname: 'sixteen-chars-xx' }, 'o.ifname'],
        [{ ifname: 'ib0/x' }, 'o.ifname'],
        [{ ifname: '..' }, 'o.ifname'],
        [{ ifname: 'tun%d' }, 'o.ifname'],
        [{ netns: 'a b' }, 'o.netns'],
        [{ up: 'yes' }, 'o.up'],
        [{ endpoint: {} }, 'o.endpoint'],
        [{ qpn: 1 }, 'o.qpn'],
        [{ qpn: a!.qpn + 1 }, 'o.qpn'],
        [{ qkey: 1.5 }, 'o.qkey'],
        [{ pkeyIndex: 2 }, 'o.pkeyIndex'],
        [{ mtu: 67 }, 'o.mtu'],
        [{ mtu: 2045 }, 'o.mtu'],
        [{ broadcastMgid: gidOf(2) }, 'o.broadcastMgid'],
        [{ deliverOwnMulticast: 1 }, 'o.deliverOwnMulticast'],
      ];
      for (const [o, argument] of bad) {
        expect(() => TunDataPlane.open({ ...base, ...o } as TunDataPlaneOptions), argument).to.throw(ArgumentError).with.property('argument', argument);
      }
    });
  });

  it('refuses every call after close() with StateError, keeps its counters, and closes twice quietly @tun @native', async function () {
    await withPorts([2, 3], [], async ([a, b]) => {
      const { plane, host } = TunDataPlane.openLoopback({ endpoint: a!.ep, qpn: a!.qpn, qkey: QKEY, pkeyIndex: 0, mtu: 2044 });
      plane.setNeighbour('192.0.2.2', { dlid: 3, dqpn: b!.qpn });
      host.send(ipv4Packet('192.0.2.1', '192.0.2.2'));
      await waitUntil(() => plane.counters().tx_packets === 1, () => JSON.stringify(plane.counters()));
      await plane.close();
      await plane.close();
      expect(plane.closed).to.equal(true);
      expect(plane.counters().tx_packets, 'counters survive close').to.equal(1);
      expect(() => plane.setNeighbour('192.0.2.3', { dlid: 3, dqpn: 5 })).to.throw(StateError);
      expect(() => plane.injectToHost(ipv4Packet('192.0.2.9', '192.0.2.1'))).to.throw(StateError);
      expect(() => host.send(ipv4Packet('192.0.2.1', '192.0.2.2'))).to.throw(StateError);
      expect(() => plane.onPunt(() => undefined)).to.throw(StateError);
      // The QP handler is gone: the port's own receive callback sees the QP's traffic again.
      const atA = collect(a!.ep);
      b!.ep.postSendUd(b!.qpn, { dlid: 2, dqpn: a!.qpn, qkey: QKEY, payload: ipoibFrame(ETH_P_IP, ipv4Packet('192.0.2.2', '192.0.2.1')) });
      await waitUntil(() => atA.length === 1, () => `${atA.length} completions at A's own callback`);
    });
  });

  it('survives its endpoint closing first: sends become tx_errors @tun @native', async function () {
    await withPorts([2, 3], [], async ([a, b]) => {
      const { plane, host } = TunDataPlane.openLoopback({ endpoint: a!.ep, qpn: a!.qpn, qkey: QKEY, pkeyIndex: 0, mtu: 2044 });
      try {
        plane.setNeighbour('192.0.2.2', { dlid: 3, dqpn: b!.qpn });
        await a!.ep.close();
        host.send(ipv4Packet('192.0.2.1', '192.0.2.2'));
        await waitUntil(() => plane.counters().tx_errors === 1, () => JSON.stringify(plane.counters()));
        expect(plane.counters().tx_packets).to.equal(0);
      } finally {
        await plane.close();
      }
    });
  });

  it('lets the process exit once closed, with a punt callback set @tun @native', function () {
    this.timeout(30_000);
    const modulePath = fileURLToPath(new URL('../../src/ipoib/native/tun-data-plane.ts', import.meta.url));
    const endpointPath = fileURLToPath(new URL('../../src/fabric/sim/native-endpoint.ts', import.meta.url));
    const script = `
      const { SimEndpoint } = await import(${JSON.stringify(endpointPath)});
      const { TunDataPlane } = await import(${JSON.stringify(modulePath)});
      const ep = SimEndpoint.open({ lid: 2, gid: Buffer.alloc(16, 1), mtuCode: 4, pkeys: [0xffff] });
      const qpn = ep.createUdQp({ qkey: 0xb1b, pkeyIndex: 0 });
      const { plane, host } = TunDataPlane.openLoopback({ endpoint: ep, qpn, qkey: 0xb1b, pkeyIndex: 0, mtu: 2044 });
      plane.onPunt((b) => console.log('punt', b[0].reason));
      host.send(Buffer.from('450000140000000040110000c0000201c0000209', 'hex'));
      await new Promise((r) => setTimeout(r, 300));
      await plane.close();
      await ep.close();
      console.log('closed');`;
    const r = spawnSync(process.execPath, ['--import', 'tsx/esm', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 20_000 });
    expect(r.signal, `killed by the timeout; stderr: ${r.stderr}`).to.equal(null);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout.trim().split('\n'), 'the punt arrived, then close() settled').to.deep.equal(['punt no-neighbour', 'closed']);
  });
});
