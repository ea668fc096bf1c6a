/**
 * The TUN data plane's RC path (connected mode, native/src/tun/rc_path.h), end to end in one
 * process: a fabric manager, two sim-provider ports whose RC QPs are connected by the JS CM
 * (HcaPort.connectRc / listenRc), and on each port a data plane with a loopback host (the test
 * plays both kernels). Host A's IP packets go over the RC connection to host B; what the fast
 * path cannot send is punted ('too-big' with its limit, 'rc-pending'), and a failing QP is
 * punted once as { direction: 'rc' }.
 */
import { expect } from 'chai';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ArgumentError, StateError } from '../../src/errors.js';
import type { RcConnectOptions, RcQp } from '../../src/fabric/hca.js';
import { openManagerEndpoint, openPortEndpoint, openTapWriter } from '../../src/fabric/sim/endpoint-factory.js';
import { FabricClient } from '../../src/fabric/sim/fabric-client.js';
import { FabricManager } from '../../src/fabric/sim/fabric-manager.js';
import { SimEndpoint } from '../../src/fabric/sim/native-endpoint.js';
import { parsePartitionsConf } from '../../src/fabric/sim/partitions-conf.js';
import { SimHcaPort } from '../../src/fabric/sim/provider.js';
import { ensurePrivateDir, fabricPaths } from '../../src/fabric/sim/run-dir.js';
import {
  type LoopbackHost,
  type RcPunt,
  type TunCounters,
  TunDataPlane,
  type TunPunt,
  type TxPunt,
} from '../../src/ipoib/native/tun-data-plane.js';
import { ETH_P_ARP, ETH_P_IP, IPOIB_CM_MAX_MESSAGE_BYTES, IPOIB_CM_MTU } from '../../src/wire/constants.js';
import { skipWithReason } from '../helpers/skip.js';
import { ipoibFrame, ipv4Packet, ipv6Packet, settle, waitUntil } from './fabric-ports.js';
import { Netns, ping, sweepStaleNamespaces, tcpTransfer, tunTestsSkipReason } from './netns-lab.js';

const PARTITIONS = 'Default=0x7fff, ipoib : ALL=full ;\n';
const QKEY = 0x00000b1b;
const SERVICE_ID = 0x1000_0000_0000_0abcn;
const SERVICE_ID_BACK = 0x1000_0000_0000_0abdn;
const A_IP = '192.0.2.1';
const B_IP = '192.0.2.2';
const A_V6 = '20010db8000000000000000000000001';
const B_V6 = '20010db8000000000000000000000002';

interface Side {
  port: SimHcaPort;
  plane: TunDataPlane;
  /** The test's end of the loopback host (a stub that throws when the host is a TUN device). */
  host: LoopbackHost;
  punts: TunPunt[];
  udQpn: number;
  lid: number;
}

interface Rig {
  a: Side;
  b: Side;
  /** A's RC QP (connectRc) and B's (listenRc), connected to each other. */
  active: RcQp;
  passive: RcQp;
  /** With TUN hosts: the connection B → A (B's active QP, A's passive one), as IPoIB-CM makes one per direction. */
  back?: { active: RcQp; passive: RcQp };
  /** The largest IP packet over UD: the port MTU − 4. */
  udMtu: number;
  control: (req: Parameters<FabricClient['request']>[0]) => Promise<unknown>;
}

/** Punt Buffers are views of their batch's Buffer; the tests keep copies. */
function copyPunt(p: TunPunt): TunPunt {
  if (p.direction === 'tx') return { ...p, packet: Buffer.from(p.packet) };
  if (p.direction === 'rc') return { ...p };
  return { ...p, frame: Buffer.from(p.frame) };
}

const NO_LOOPBACK: LoopbackHost = {
  send: () => {
    throw new Error('the host is a TUN device');
  },
  receive: () => [],
  state: () => ({ mtu: 0, carrier: false }),
};

/**
 * A fabric of two ports (node1 = A, node2 = B), a connected-mode data plane (host MTU 65520, UD
 * MTU the port's) on each with a loopback host, and one RC connection A → B made by the CM,
 * attached on both ends. With `netns`, the hosts are TUN devices "ib0" in those namespaces
 * (192.0.2.1 in A, .2 in B) and a second connection carries B → A. Everything is closed after
 * `body`, whatever it does.
 */
async function withRcRig(o: Partial<RcConnectOptions>, body: (r: Rig) => Promise<void>, netns?: [Netns, Netns]): Promise<void> {
  const base = mkdtempSync(path.join(tmpdir(), 'ipoib-lab-tunrc-'));
  const paths = fabricPaths('tunrc', base);
  ensurePrivateDir(paths.dir);
  const undo: Array<() => Promise<void> | void> = [() => rmSync(base, { recursive: true, force: true })];
  try {
    const mgr = await FabricManager.start({
      paths,
      nodes: 2,
      partitions: parsePartitionsConf(PARTITIONS),
      openEndpoint: openManagerEndpoint,
      openTap: openTapWriter,
    });
    undo.push(() => mgr.close());
    const side = async (node: string): Promise<Side> => {
      // A CM packet lifetime of ~1 ms, so that CM waits take milliseconds.
      const port = await SimHcaPort.open({ socketPath: paths.socket, node, openEndpoint: openPortEndpoint, cmPacketLifeTime: 8 });
      undo.push(() => port.close());
      const ud = await port.createUdQp({ qkey: QKEY, pkeyIndex: 0 });
      const ep = port.endpointForDataPlane();
      if (!(ep instanceof SimEndpoint)) throw new Error('the sim port has no native endpoint');
      const common = { endpoint: ep, qpn: ud.qpn, qkey: QKEY, pkeyIndex: 0, mtu: IPOIB_CM_MTU, udMtu: ep.mtuBytes - 4 };
      const ns = netns?.[node === 'node1' ? 0 : 1];
      const { plane, host } = ns ? { plane: TunDataPlane.open({ ...common, ifname: 'ib0', netns: ns.name }), host: NO_LOOPBACK } : TunDataPlane.openLoopback(common);
      undo.push(() => plane.close());
      if (ns) await ns.ip('addr', 'add', node === 'node1' ? `${A_IP}/24` : `${B_IP}/24`, 'dev', 'ib0');
      const punts: TunPunt[] = [];
      plane.onPunt((batch) => punts.push(...batch.map(copyPunt)));
      return { port, plane, host, punts, udQpn: ud.qpn, lid: port.attributes().lid };
    };
    const a = await side('node1');
    const b = await side('node2');
    const listener = b.port.listenRc(SERVICE_ID, () => ({ accept: true }));
    undo.push(() => listener.close());
    const passiveP = new Promise<RcQp>((resolve) => listener.onConnection(resolve));
    const active = await a.port.connectRc({ serviceId: SERVICE_ID, dgid: b.port.attributes().gid, dlid: b.lid, ...o });
    const passive = await passiveP;
    a.plane.attachRc(active.qpn);
    b.plane.attachRc(passive.qpn);
    a.plane.setNeighbour(B_IP, { dlid: b.lid, dqpn: b.udQpn, flags: 0x80, rc: { qpn: active.qpn, mtu: IPOIB_CM_MAX_MESSAGE_BYTES } });
    a.plane.setNeighbour('2001:db8::2', { dlid: b.lid, dqpn: b.udQpn, flags: 0x80, rc: { qpn: active.qpn, mtu: IPOIB_CM_MAX_MESSAGE_BYTES } });
    let back: Rig['back'];
    if (netns) {
      const listenerA = a.port.listenRc(SERVICE_ID_BACK, () => ({ accept: true }));
      undo.push(() => listenerA.close());
      const passiveA = new Promise<RcQp>((resolve) => listenerA.onConnection(resolve));
      const activeB = await b.port.connectRc({ serviceId: SERVICE_ID_BACK, dgid: a.port.attributes().gid, dlid: a.lid, ...o });
      back = { active: activeB, passive: await passiveA };
      b.plane.attachRc(back.active.qpn);
      a.plane.attachRc(back.passive.qpn);
      b.plane.setNeighbour(A_IP, { dlid: a.lid, dqpn: a.udQpn, flags: 0x80, rc: { qpn: back.active.qpn, mtu: IPOIB_CM_MAX_MESSAGE_BYTES } });
    }
    const control = async (req: Parameters<FabricClient['request']>[0]): Promise<unknown> => {
      const ctl = await FabricClient.connect(paths.socket);
      try {
        return await ctl.request(req);
      } finally {
        ctl.close();
      }
    };
    await body({ a, b, active, passive, ...(back ? { back } : {}), udMtu: a.plane.udMtu, control });
  } finally {
    const errors: unknown[] = [];
    for (const u of undo.reverse()) {
      try {
        await u();
      } catch (e) {
        errors.push(e);
      }
    }
    if (errors.length > 0) throw errors[0];
  }
}

/** Reads host `h` until `n` packets came, or fails after `timeoutMs`. */
async function receiveN(h: LoopbackHost, n: number, what: () => string, timeoutMs = 5000): Promise<Buffer[]> {
  const got: Buffer[] = [];
  await waitUntil(() => (got.push(...h.receive()), got.length >= n), () => `${got.length} of ${n} packets: ${what()}`, timeoutMs);
  return got;
}

/** Waits for the counters to reach `expected` (they move just after the packet they count) and returns them. */
async function countersSettle(plane: TunDataPlane, expected: Partial<TunCounters>): Promise<TunCounters> {
  const holds = (): boolean => Object.entries(expected).every(([k, v]) => plane.counters()[k as keyof TunCounters] === v);
  await waitUntil(holds, () => 'settle', 3000).catch(() => undefined);
  return plane.counters();
}

function pick(c: TunCounters, names: Array<keyof TunCounters>): Partial<TunCounters> {
  return Object.fromEntries(names.map((n) => [n, c[n]]));
}

/** An IPv4 packet A → B of `total` octets whose content depends on `seed`. */
function streamPacket(total: number, seed: number): Buffer {
  const p = ipv4Packet(A_IP, B_IP, total - 20, seed & 0xff);
  p.writeUInt32BE(seed, 20); // the first payload octets say which packet it is
  return p;
}

const rcPunts = (s: Side): RcPunt[] => s.punts.filter((p): p is RcPunt => p.direction === 'rc');
const txPunts = (s: Side): TxPunt[] => s.punts.filter((p): p is TxPunt => p.direction === 'tx');

describe('TUN data plane in connected mode: the RC path @tun @native @rc @cm', function () {
  this.timeout(30_000);

  it('carries IP packets from host A to host B over the RC connection byte-exact, up to 65,520 octets, counted in rc_* and the first eight @tun @native @rc @cm @ip @ipv6 @mtu', async function () {
    await withRcRig({}, async (r) => {
      const packets = [
        ipv4Packet(A_IP, B_IP, 8, 1),
        ipv4Packet(A_IP, B_IP, 2044, 2), // longer than the UD MTU: fine over RC
        ipv6Packet(A_V6, B_V6, 17, Buffer.alloc(4000, 3)),
        ipv6Packet(A_V6, B_V6, 17, Buffer.alloc(IPOIB_CM_MTU - 40, 4)),
        streamPacket(IPOIB_CM_MTU, 5),
      ];
      for (const p of packets) r.a.host.send(p);
      const got = await receiveN(r.b.host, packets.length, () => JSON.stringify(r.b.plane.counters()));
      expect(got.map((g) => g.length), 'lengths in order').to.deep.equal(packets.map((p) => p.length));
      for (let i = 0; i < packets.length; i++) expect(got[i]!.equals(packets[i]!), `packet ${i} byte-exact`).to.equal(true);
      const frames = packets.length;
      const octets = packets.reduce((n, p) => n + p.length + 4, 0);
      const ka = await countersSettle(r.a.plane, { tx_packets: frames, rc_tx_packets: frames });
      const kb = await countersSettle(r.b.plane, { rx_packets: frames, rc_rx_packets: frames });
      expect(pick(ka, ['tx_packets', 'tx_bytes', 'rc_tx_packets', 'rc_tx_bytes', 'tx_errors', 'tx_dropped', 'rc_tx_errors', 'tx_punt_too_big']), 'A').to.deep.equal({
        tx_packets: frames, tx_bytes: octets, rc_tx_packets: frames, rc_tx_bytes: octets, tx_errors: 0, tx_dropped: 0, rc_tx_errors: 0, tx_punt_too_big: 0,
      });
      expect(ka.tx_batches, 'no UD post').to.equal(0);
      expect(pick(kb, ['rx_packets', 'rx_bytes', 'rc_rx_packets', 'rc_rx_bytes', 'rx_dropped']), 'B').to.deep.equal({
        rx_packets: frames, rx_bytes: octets, rc_rx_packets: frames, rc_rx_bytes: octets, rx_dropped: 0,
      });
      expect(r.a.punts.concat(r.b.punts), 'no punts').to.deep.equal([]);
      expect(r.a.plane.takeUsed().neighbours, 'the RC neighbours are marked used').to.have.members([B_IP, '2001:db8::2']);
    });
  });

  it('punts too-big with the connection limit (mtu − 4), rc-pending while connecting, and too-big with the UD MTU over UD @tun @native @rc @cm @ip @mtu @multicast', async function () {
    await withRcRig({}, async (r) => {
      r.a.plane.setNeighbour(B_IP, { dlid: r.b.lid, dqpn: r.b.udQpn, rc: { qpn: r.active.qpn, mtu: 1004 } });
      const fits = ipv4Packet(A_IP, B_IP, 980, 1); // 1000 octets: 1004 with the header
      const tooBig = ipv4Packet(A_IP, B_IP, 981, 2);
      r.a.host.send(fits);
      r.a.host.send(tooBig);
      const got = await receiveN(r.b.host, 1, () => 'the 1000-octet packet');
      expect(got[0]!.equals(fits), 'the packet that fits went over RC').to.equal(true);
      await waitUntil(() => r.a.punts.length >= 1, () => 'too-big punt');
      expect(txPunts(r.a).map((p) => [p.reason, p.limit, p.packet.equals(tooBig)]), 'too-big, limit mtu − 4').to.deep.equal([['too-big', 1000, true]]);

      // Connecting: punted as rc-pending, whatever the size.
      r.a.punts.length = 0;
      r.a.plane.setNeighbour(B_IP, { dlid: r.b.lid, dqpn: r.b.udQpn, connecting: true, rc: { qpn: r.active.qpn, mtu: 1004 } });
      const pending = [ipv4Packet(A_IP, B_IP, 40, 3), ipv4Packet(A_IP, B_IP, 3000, 4)];
      for (const p of pending) r.a.host.send(p);
      await waitUntil(() => r.a.punts.length >= 2, () => 'rc-pending punts');
      expect(txPunts(r.a).map((p) => [p.reason, p.limit, p.packet.length]), 'rc-pending').to.deep.equal([
        ['rc-pending', undefined, 60],
        ['rc-pending', undefined, 3020],
      ]);

      // A UD neighbour in connected mode: the UD MTU is the limit; multicast too.
      r.a.punts.length = 0;
      const before = r.b.plane.counters().rx_packets;
      r.a.plane.setNeighbour(B_IP, { dlid: r.b.lid, dqpn: r.b.udQpn });
      r.a.plane.setMulticast('224.0.0.1', { mlid: 0xc000, mgid: Buffer.from('ff12401bffff000000000000ffffffff', 'hex') });
      const udFits = ipv4Packet(A_IP, B_IP, r.udMtu - 20, 5);
      r.a.host.send(udFits);
      r.a.host.send(ipv4Packet(A_IP, B_IP, r.udMtu - 19, 6));
      r.a.host.send(ipv4Packet(A_IP, '224.0.0.1', r.udMtu - 19, 7));
      const viaUd = await receiveN(r.b.host, 1, () => 'the UD packet');
      expect(viaUd[0]!.equals(udFits), 'a UD-MTU packet went over UD').to.equal(true);
      await waitUntil(() => r.a.punts.length >= 2, () => 'UD too-big punts');
      expect(txPunts(r.a).map((p) => [p.reason, p.limit, p.packet.length]), 'too-big, limit the UD MTU').to.deep.equal([
        ['too-big', r.udMtu, r.udMtu + 1],
        ['too-big', r.udMtu, r.udMtu + 1],
      ]);
      const kb = await countersSettle(r.b.plane, { rx_packets: before + 1 });
      expect([kb.rx_packets - before, kb.rc_rx_packets], 'B: the UD packet, and only the first RC one').to.deep.equal([1, 1]);
      const ka = await countersSettle(r.a.plane, { tx_punt_too_big: 3 });
      expect(pick(ka, ['tx_punt_too_big', 'rc_tx_punt_pending', 'tx_dropped', 'tx_errors', 'rc_tx_packets', 'tx_packets']), 'A').to.deep.equal({
        tx_punt_too_big: 3, rc_tx_punt_pending: 2, tx_dropped: 3, tx_errors: 3, rc_tx_packets: 1, tx_packets: 2,
      });

      // setUdMtu lowers the UD limit at once.
      r.a.punts.length = 0;
      r.a.plane.setUdMtu(1280);
      r.a.host.send(ipv4Packet(A_IP, B_IP, 1261, 8));
      await waitUntil(() => r.a.punts.length >= 1, () => 'too-big at the new UD MTU');
      expect(txPunts(r.a).map((p) => [p.reason, p.limit]), 'the new limit').to.deep.equal([['too-big', 1280]]);
    });
  });

  it('sendRc posts a frame JS built, injectRcFrame runs one through RX, and ARP over RC is punted via rc with the connection as its source @tun @native @rc @cm @arp @ip', async function () {
    await withRcRig({}, async (r) => {
      const packet = ipv4Packet(A_IP, B_IP, 100, 9);
      r.a.plane.sendRc(r.active.qpn, ipoibFrame(ETH_P_IP, packet));
      expect((await receiveN(r.b.host, 1, () => 'sendRc'))[0]!.equals(packet), 'sendRc reached host B').to.equal(true);
      const ka = await countersSettle(r.a.plane, { rc_tx_packets: 1 });
      expect([ka.tx_packets, ka.rc_tx_packets, ka.rc_tx_bytes], 'sendRc counted like the fast path').to.deep.equal([1, 1, 124]);

      const injected = ipv6Packet(A_V6, B_V6, 17, Buffer.alloc(16, 0x5a));
      r.b.plane.injectRcFrame(r.passive.qpn, ipoibFrame(0x86dd, injected));
      expect((await receiveN(r.b.host, 1, () => 'inject'))[0]!.equals(injected), 'injectRcFrame reached host B').to.equal(true);

      const arp = ipoibFrame(ETH_P_ARP, Buffer.alloc(28, 0x11));
      r.a.plane.sendRc(r.active.qpn, arp);
      await waitUntil(() => r.b.punts.length >= 1, () => 'ARP punt');
      const p = r.b.punts[0]!;
      expect(p.direction === 'rx' && [p.reason, p.via, p.rcQpn, p.srcQpn, p.slid, p.qkey, p.frame.equals(arp)]).to.deep.equal([
        'arp', 'rc', r.passive.qpn, r.active.qpn, r.a.lid, 0, true,
      ]);
      const kb = await countersSettle(r.b.plane, { rc_rx_packets: 3 });
      expect([kb.rx_packets, kb.rc_rx_packets, kb.rx_punt_arp], 'B counts all three').to.deep.equal([3, 3, 1]);

      // Bad calls.
      expect(() => r.a.plane.sendRc(0xabcde, arp), 'a QPN not attached').to.throw(ArgumentError).with.property('argument', 'qpn');
      expect(() => r.a.plane.sendRc(r.active.qpn, Buffer.alloc(3)), 'shorter than the header').to.throw(ArgumentError).with.property('argument', 'ipoibFrame');
      expect(() => r.b.plane.injectRcFrame(0xabcde, arp), 'inject on a QPN not attached').to.throw(ArgumentError);
      expect(() => r.a.plane.attachRc(r.active.qpn), 'attached twice').to.throw(StateError);
      expect(() => r.a.plane.attachRc(0xabcde), 'no such RC QP').to.throw(ArgumentError).with.property('argument', 'qpn');
      expect(() => r.a.plane.attachRc(r.active.qpn, { recvDepth: 0 }), 'recvDepth').to.throw(ArgumentError).with.property('argument', 'o.recvDepth');
      expect(() => r.a.plane.setNeighbour(B_IP, { dlid: 2, dqpn: 5, rc: { qpn: 0, mtu: 65524 } }), 'rc.qpn').to.throw(ArgumentError).with.property('argument', 'entry.rc.qpn');
      expect(() => r.a.plane.setNeighbour(B_IP, { dlid: 2, dqpn: 5, rc: { qpn: 9, mtu: 4 } }), 'rc.mtu').to.throw(ArgumentError).with.property('argument', 'entry.rc.mtu');
      expect(() => r.a.plane.setUdMtu(r.udMtu + 1), 'UD MTU over the port').to.throw(ArgumentError).with.property('argument', 'mtu');
      expect(() => r.a.plane.setMtu(IPOIB_CM_MTU + 1), 'host MTU over 65520').to.throw(ArgumentError).with.property('argument', 'mtu');
      expect(r.a.plane.attachedRcQpns()).to.deep.equal([r.active.qpn]);
    });
  });

  it('punts exactly one rc error when the QP fails (retry exceeded), with the failed send status, and counts the failed sends @tun @native @rc @cm', async function () {
    await withRcRig({ retryCount: 1, ackTimeoutExp: 10 }, async (r) => {
      await r.control({ op: 'link', node: 'node2', up: false });
      await waitUntil(() => r.b.port.attributes().state !== 'active', () => 'node2 down', 3000);
      for (let i = 0; i < 3; i++) r.a.host.send(ipv4Packet(A_IP, B_IP, 500, i));
      await waitUntil(() => rcPunts(r.a).length >= 1, () => `rc punts; counters ${JSON.stringify(r.a.plane.counters())}`, 5000);
      r.a.host.send(ipv4Packet(A_IP, B_IP, 500, 9)); // on a QP in ERROR: flushed at once
      await settle(200);
      expect(rcPunts(r.a), 'one punt').to.have.length(1);
      const p = rcPunts(r.a)[0]!;
      expect([p.qpn, p.event, p.status, p.reason], 'the QP, its failed send and the reason').to.deep.equal([r.active.qpn, 'error', 'retry-exceeded', 'retry-exceeded']);
      expect(p.detail, 'detail in words').to.match(/ACK/);
      const ka = await countersSettle(r.a.plane, { rc_tx_errors: 4 });
      expect(pick(ka, ['rc_tx_packets', 'rc_tx_errors', 'tx_errors']), 'every send failed (one timed out, the rest flushed)').to.deep.equal({
        rc_tx_packets: 4, rc_tx_errors: 4, tx_errors: 4,
      });
      expect(r.a.plane.attachedRcQpns(), 'still attached until detachRc').to.deep.equal([r.active.qpn]);
    });
  });

  it('punts exactly one rc error when the peer port closes and the connection is torn down (the QP moved to ERROR, reason modify) @tun @native @rc @cm', async function () {
    await withRcRig({}, async (r) => {
      await r.b.port.close(); // a DREQ to A: A's RcQp moves its QP to ERROR, then frees it
      await waitUntil(() => rcPunts(r.a).length >= 1, () => 'rc punt', 5000);
      r.a.host.send(ipv4Packet(A_IP, B_IP, 100, 1)); // the QP is gone now: refused, counted
      await countersSettle(r.a.plane, { rc_tx_errors: 1 });
      await settle(100);
      expect(rcPunts(r.a).map((p) => [p.qpn, p.reason, p.status]), 'one punt, no send failed').to.deep.equal([[r.active.qpn, 'modify', undefined]]);
      expect(pick(r.a.plane.counters(), ['rc_tx_errors', 'tx_errors', 'rc_tx_packets']), 'the refused post').to.deep.equal({ rc_tx_errors: 1, tx_errors: 1, rc_tx_packets: 0 });
      expect(r.a.plane.detachRc(r.active.qpn), 'detach after the QP went: quiet').to.equal(true);
    });
  });

  it('detachRc gives the QP back to its RcQp: frames then reach onMessage, not the host @tun @native @rc @cm @ip', async function () {
    await withRcRig({}, async (r) => {
      expect(r.b.plane.detachRc(r.passive.qpn), 'detached').to.equal(true);
      expect(r.b.plane.detachRc(r.passive.qpn), 'twice: false').to.equal(false);
      expect(r.b.plane.attachedRcQpns()).to.deep.equal([]);
      const messages: Buffer[] = [];
      r.passive.onMessage((m) => messages.push(Buffer.from(m)));
      const packet = ipv4Packet(A_IP, B_IP, 64, 1);
      r.a.host.send(packet);
      await waitUntil(() => messages.length >= 1, () => 'onMessage');
      expect(messages[0]!.equals(ipoibFrame(ETH_P_IP, packet)), 'the whole IPoIB frame').to.equal(true);
      await settle(50);
      expect(r.b.host.receive(), 'nothing written to host B').to.deep.equal([]);
      expect(r.b.plane.counters().rc_rx_packets, 'nor counted').to.equal(0);
      // Attached again: the data plane handles it again.
      r.b.plane.attachRc(r.passive.qpn);
      r.a.host.send(packet);
      expect((await receiveN(r.b.host, 1, () => 'after re-attach'))[0]!.equals(packet)).to.equal(true);
    });
  });

  it('closes cleanly while RC traffic flows: no punt callback after close() resolves, the peer QP goes on through JS @tun @native @rc @cm @ip', async function () {
    await withRcRig({}, async (r) => {
      let closed = false;
      let lateCallbacks = 0;
      r.b.plane.onPunt(() => {
        if (closed) lateCallbacks++;
      });
      const arp = ipoibFrame(ETH_P_ARP, Buffer.alloc(28, 0x22));
      for (let i = 0; i < 50; i++) {
        r.a.host.send(ipv4Packet(A_IP, B_IP, 1000, i));
        r.a.plane.sendRc(r.active.qpn, arp);
      }
      await r.b.plane.close();
      closed = true;
      const messages: Buffer[] = [];
      r.passive.onMessage((m) => messages.push(m));
      for (let i = 0; i < 5; i++) r.a.plane.sendRc(r.active.qpn, arp);
      await waitUntil(() => messages.length >= 5, () => `${messages.length} messages reached the RcQp after close`);
      await settle(50);
      expect(lateCallbacks, 'punt callbacks after close').to.equal(0);
      expect(r.b.plane.counters().rc_rx_packets, 'counters readable after close').to.be.greaterThan(0);
      expect(() => r.b.plane.attachRc(r.passive.qpn)).to.throw(StateError);
    });
  });

  it('streams 64 MiB through one RC connection from host A to host B with no RNR NAK, no retransmission and no loss @tun @native @rc @cm @ip', async function () {
    const N = 1024; // × 65,520 octets = 64 MiB of IP packets
    const WINDOW = 3; // packets in flight: what host B's socket holds without dropping
    await withRcRig({ rnrRetry: 0, retryCount: 0 }, async (r) => {
      const started = Date.now();
      let sent = 0;
      let got = 0;
      while (got < N) {
        if (Date.now() - started > 20_000) throw new Error(`${got} of ${N} packets after 20 s; A ${JSON.stringify(r.a.plane.counters())}`);
        while (sent < N && sent - got < WINDOW) r.a.host.send(streamPacket(IPOIB_CM_MTU, sent++));
        const batch = r.b.host.receive();
        for (const p of batch) {
          if (!p.equals(streamPacket(IPOIB_CM_MTU, got))) throw new Error(`packet ${got} differs (first word ${p.readUInt32BE(20)})`);
          got++;
        }
        if (batch.length === 0) await new Promise((res) => setImmediate(res));
      }
      const elapsedMs = Date.now() - started;
      const sender = r.a.port.rcQpInfo(r.active.qpn);
      const receiver = r.b.port.rcQpInfo(r.passive.qpn);
      expect([sender.state, receiver.state], 'both QPs still RTS').to.deep.equal(['RTS', 'RTS']);
      expect([sender.stats.rnrNaksReceived, receiver.stats.rnrNaksSent, sender.stats.retransmissions, receiver.stats.naksSent], 'no RNR NAK, no retransmission').to.deep.equal([0, 0, 0, 0]);
      expect(receiver.stats.messagesDelivered, 'every message delivered').to.equal(N);
      const kb = await countersSettle(r.b.plane, { rc_rx_packets: N });
      expect(pick(kb, ['rc_rx_packets', 'rx_dropped']), 'B').to.deep.equal({ rc_rx_packets: N, rx_dropped: 0 });
      const ka = r.a.plane.counters();
      expect(pick(ka, ['rc_tx_packets', 'rc_tx_errors', 'rc_tx_queue_full', 'tx_dropped']), 'A').to.deep.equal({ rc_tx_packets: N, rc_tx_errors: 0, rc_tx_queue_full: 0, tx_dropped: 0 });
      expect(rcPunts(r.a).concat(rcPunts(r.b)), 'no rc punts').to.deep.equal([]);
      this.test!.title += ` [${elapsedMs} ms, ${((N * IPOIB_CM_MTU) / 1048576 / (elapsedMs / 1000)).toFixed(0)} MiB/s]`;
    });
  });

  it('keeps receive buffers posted through a burst of 1024 messages posted at once: no RNR NAK with rnr_retry 0 @tun @native @rc @cm', async function () {
    const N = 1024;
    await withRcRig({ rnrRetry: 0 }, async (r) => {
      const frame = ipoibFrame(ETH_P_IP, streamPacket(IPOIB_CM_MTU, 1));
      const started = Date.now();
      for (let i = 0; i < N; i++) r.a.plane.sendRc(r.active.qpn, frame); // the send queue holds 1024
      let drained = 0;
      await waitUntil(
        () => ((drained += r.b.host.receive().length), (r.b.port.rcQpInfo(r.passive.qpn).stats.messagesDelivered ?? 0) >= N),
        () => `${r.b.port.rcQpInfo(r.passive.qpn).stats.messagesDelivered} of ${N} delivered`,
        20_000,
      );
      const elapsedMs = Date.now() - started;
      const sender = r.a.port.rcQpInfo(r.active.qpn);
      const receiver = r.b.port.rcQpInfo(r.passive.qpn);
      expect([sender.state, receiver.state]).to.deep.equal(['RTS', 'RTS']);
      expect([sender.stats.rnrNaksReceived, receiver.stats.rnrNaksSent, sender.stats.retransmissions], 'no RNR NAK, no retransmission').to.deep.equal([0, 0, 0]);
      const kb = await countersSettle(r.b.plane, {});
      // Host B is a socket the test drains now and then: what it could not take is a host drop, not an RC loss.
      expect(kb.rc_rx_packets + kb.rx_drop_host_write, 'every message reached the data plane').to.equal(N);
      expect(kb.rc_rx_packets, 'written to host B').to.be.greaterThan(0);
      expect(receiver.recvsPosted, 'receive buffers still posted').to.be.at.least(64);
      this.test!.title += ` [${elapsedMs} ms; ${drained + r.b.host.receive().length} read by host B]`;
    });
  });
});

describe('TUN data plane in connected mode between two network namespaces (root) @tun @native @rc @cm', function () {
  this.timeout(60_000);

  beforeEach(async function () {
    const reason = tunTestsSkipReason();
    if (reason) await skipWithReason(this, reason);
  });

  /** Namespaces A and B for `body`, deleted afterwards whatever happens. */
  async function withNamespaces(body: (ns: [Netns, Netns]) => Promise<void>): Promise<void> {
    await sweepStaleNamespaces();
    const made: Netns[] = [];
    try {
      made.push(await Netns.create('rca'));
      made.push(await Netns.create('rcb'));
      await body([made[0]!, made[1]!]);
    } finally {
      for (const ns of made.reverse()) await ns.delete();
    }
  }

  it('carries the kernel\'s 60,000-octet pings and a 16 MiB TCP transfer over one RC connection each way, MTU 65520 @tun @native @rc @cm @ip @icmp @mtu', async function () {
    await withNamespaces(async (ns) => {
      await withRcRig({}, async (r) => {
        const there = await ping(ns[0], B_IP, { count: 3, size: 60_000 });
        expect(there.received, there.output).to.equal(3);
        const back = await ping(ns[1], A_IP, { count: 3, size: 60_000 });
        expect(back.received, back.output).to.equal(3);
        const t = await tcpTransfer(ns[1], ns[0], B_IP, 5201, 16 << 20);
        expect([t.received.bytes, t.received.sha256], 'the stream arrived whole').to.deep.equal([t.sent.bytes, t.sent.sha256]);
        const [ka, kb] = [r.a.plane.counters(), r.b.plane.counters()];
        expect(ka.rc_tx_bytes, 'A sent the stream over RC').to.be.greaterThan(16 << 20);
        expect(kb.rc_tx_packets, 'B answered over its own connection').to.be.greaterThan(0);
        expect(pick(ka, ['rc_tx_errors', 'rc_tx_queue_full', 'rx_dropped', 'tx_punt_too_big']), 'A: no errors or drops').to.deep.equal({ rc_tx_errors: 0, rc_tx_queue_full: 0, rx_dropped: 0, tx_punt_too_big: 0 });
        expect(pick(kb, ['rc_tx_errors', 'rc_tx_queue_full', 'rx_dropped']), 'B: no errors or drops').to.deep.equal({ rc_tx_errors: 0, rc_tx_queue_full: 0, rx_dropped: 0 });
        const receiver = r.b.port.rcQpInfo(r.passive.qpn);
        expect([receiver.stats.rnrNaksSent, receiver.state], 'no RNR NAK').to.deep.equal([0, 'RTS']);
        this.test!.title += ` [${(t.sent.bytes / 1048576 / t.sent.seconds).toFixed(0)} MiB/s over TCP]`;
      }, ns);
    });
  });
});
