/**
 * Neighbour revalidation in the reference stack (RFC 4391 §9.4: a QPN may change under the
 * same IP), with the host's NUD timers: REACHABLE for 30 s × [0.5, 1.5) after a confirmation,
 * then DELAY (5 s) while in use, then PROBE (3 unicast requests 1 s apart), then a broadcast
 * resolution. On an in-memory port with a fake clock and the kernel's timers; on the simulated
 * fabric with short timers, where the peer really makes a new QP, and in connected mode, where
 * the connection to the old address must go.
 */
import { expect } from 'chai';
import type { SimHcaPort } from '../../src/fabric/sim/provider.js';
import { buildArpReply, buildArpRequest } from '../../src/ipoib/arp-messages.js';
import { frame } from '../../src/ipoib/frames.js';
import { IpoibInterface } from '../../src/ipoib/interface.js';
import type { MulticastEntry, NeighbourEntry } from '../../src/ipoib/native/tun-data-plane.js';
import { buildNeighborAdvertisement, ND_HOP_LIMIT } from '../../src/ipoib/nd-messages.js';
import { NEIGH_BASE_REACHABLE_MS, NEIGH_DELAY_PROBE_MS, NEIGH_RETRANS_MS, NEIGH_UNICAST_PROBES, type NeighbourState } from '../../src/ipoib/neighbours.js';
import { FastPathTables, type TablesTarget } from '../../src/ipoib/node-tables.js';
import { arp } from '../../src/wire/arp.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import { ARP_OP_REQUEST, ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, ICMPV6_NA, ICMPV6_NS, IPOIB_DEFAULT_QKEY, IPPROTO_ICMPV6, MCAST_QPN, OP_UD_SEND_ONLY } from '../../src/wire/constants.js';
import type { IbPacket } from '../../src/wire/ib-packet.js';
import { formatHwAddr, type IpoibHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { formatIpv6, parseIpv6 } from '../../src/wire/ip-text.js';
import { ipv4Packet, makeIpv4Packet } from '../../src/wire/ipv4.js';
import { ipv6Packet, makeIpv6Packet } from '../../src/wire/ipv6.js';
import { parseGid } from '../../src/wire/mgid.js';
import { ndMessage, withIcmpv6Checksum } from '../../src/wire/nd.js';
import { createFakeClock, type FakeClock } from '../fabric/fake-clock.js';
import { type FakePort, type FakeQp, fakePortWithGroups, type SentUd } from './fake-port.js';
import { icmpEcho, SimLab, until } from './sim-fixture.js';

const PEER_GID = parseGid('fe80::2:c903:0:201');
const PEER: IpoibHwAddr = { flags: 0, qpn: 0x99, gid: PEER_GID };
/** The same port after its interface made a new UD QP. */
const MOVED: IpoibHwAddr = { flags: 0, qpn: 0x9a, gid: PEER_GID };
const ME4 = '10.0.0.1';
const PEER4 = '10.0.0.2';
const ME6 = '2001:db8::1';
const PEER6 = '2001:db8::2';

/** The longest a confirmed entry stays reachable with the kernel's base time. */
const REACHABLE_MAX_MS = 1.5 * NEIGH_BASE_REACHABLE_MS;
const REACHABLE_MIN_MS = 0.5 * NEIGH_BASE_REACHABLE_MS;
const STEP_MS = 100;
const SEND_EVERY_MS = 1000;
const CONFIRM_EVERY_MS = 5000;
/** Long enough for every timer a neighbour could have armed to fire. */
const ALL_TIMERS_MS = REACHABLE_MAX_MS + NEIGH_DELAY_PROBE_MS + 10 * NEIGH_RETRANS_MS;

const ipv4 = (dst: string): Buffer => encodeToBuffer(ipv4Packet, makeIpv4Packet({ src: ME4, dst, protocol: 17, payload: Buffer.alloc(8, 0xab) }));
const ipv6 = (dst: string): Buffer => encodeToBuffer(ipv6Packet, makeIpv6Packet({ src: parseIpv6(ME6), dst: parseIpv6(dst), nextHeader: 17, payload: Buffer.alloc(8, 0xcd) }));

const typeOf = (s: SentUd): number => s.payload.readUInt16BE(0);
const isArpRequest = (s: SentUd): boolean => typeOf(s) === ETH_P_ARP && arp.decode(s.payload, 4).value.op === ARP_OP_REQUEST;
/** An NS (the stack's IPv6 frames carry no extension headers). */
const isNs = (s: SentUd): boolean => typeOf(s) === ETH_P_IPV6 && s.payload[4 + 6] === IPPROTO_ICMPV6 && s.payload[4 + 40] === ICMPV6_NS;

interface Seen {
  atMs: number;
  sent: SentUd;
}

/**
 * Drives one interface on a fake port: a packet to the peer every second, the clock in 100 ms
 * steps, and after each step whatever the peer does with the frames that left (the policy).
 */
class Driver {
  readonly log: Seen[] = [];
  readonly states: NeighbourState[] = [];
  private seen = 0;

  constructor(
    readonly port: FakePort,
    readonly clock: FakeClock,
    readonly iface: IpoibInterface,
    private readonly peerIp: string,
  ) {}

  get qp(): FakeQp {
    const qp = this.port.liveQp();
    if (!qp) throw new Error('no live QP');
    return qp;
  }

  /** From now on, the log holds only frames sent after this call. */
  skipSent(): void {
    this.seen = this.port.sent.length;
  }

  /** The frames sent since the last call, stamped with the time they were seen. */
  private fresh(): Seen[] {
    const out = this.port.sent.slice(this.seen).map((sent) => ({ atMs: this.clock.now(), sent }));
    this.seen = this.port.sent.length;
    this.log.push(...out);
    return out;
  }

  /** A frame from `from` as the QP receives it. */
  deliver(from: IpoibHwAddr, payload: Buffer): void {
    this.qp.deliver([{ qpn: this.qp.qpn, srcQpn: from.qpn, slid: 3, sl: 0, pkey: 0xffff, qkey: IPOIB_DEFAULT_QKEY, payload }]);
  }

  arpReplyFrom(from: IpoibHwAddr): Buffer {
    return frame(ETH_P_ARP, buildArpReply(from, this.peerIp, this.iface.hwAddr(), ME4));
  }

  state(): NeighbourState | undefined {
    return this.iface.neighbours().find((n) => n.ip === this.peerIp)?.state;
  }

  entry(): string | null | undefined {
    return this.iface.neighbours().find((n) => n.ip === this.peerIp)?.lladdr;
  }

  /** Runs for `ms` (or until `stop` says so), sending `packet()` every second unless `send` is false. */
  async run(ms: number, o: { packet?: () => Buffer; send?: boolean; onFrames?: (fresh: Seen[]) => void; stop?: () => boolean }): Promise<void> {
    const end = this.clock.now() + ms;
    let nextSend = this.clock.now();
    while (this.clock.now() < end) {
      if (o.send !== false && o.packet && this.clock.now() >= nextSend) {
        const packet = o.packet();
        this.iface.transmit(packet, packet.readUInt8(0) >> 4 === 6 ? ETH_P_IPV6 : ETH_P_IP);
        nextSend += SEND_EVERY_MS;
      }
      await this.clock.tick(STEP_MS);
      const s = this.state();
      if (s !== undefined && this.states.at(-1) !== s) this.states.push(s);
      const fresh = this.fresh();
      o.onFrames?.(fresh);
      await this.clock.settle();
      if (o.stop?.()) return;
    }
  }
}

async function upDriver(peerIp: string): Promise<Driver> {
  const clock = createFakeClock(10_000);
  const port = fakePortWithGroups();
  port.sa.paths.set(PEER_GID.toString('hex'), { dlid: 3, sl: 0, rate: 3 });
  const iface = new IpoibInterface({ name: 'ib0', port, clock });
  await iface.open();
  await clock.settle();
  iface.addAddress(`${ME4}/24`);
  iface.addAddress(`${ME6}/64`);
  return new Driver(port, clock, iface, peerIp);
}

/** Resolves the peer over IPv4 (one packet, the reply from `at`); resolves with the time of the confirmation. */
async function resolve4(d: Driver, at: IpoibHwAddr = PEER): Promise<number> {
  d.iface.transmit(ipv4(PEER4), ETH_P_IP);
  d.deliver(at, d.arpReplyFrom(at));
  await d.clock.settle();
  expect(d.entry(), 'resolved').to.equal(formatHwAddr(at));
  d.skipSent();
  return d.clock.now();
}

const unicastArpTo = (qpn: number) => (x: Seen): boolean => isArpRequest(x.sent) && x.sent.to.dqpn === qpn;
const broadcastArp = (x: Seen): boolean => isArpRequest(x.sent) && x.sent.to.dqpn === MCAST_QPN;
const ipTo = (qpn: number) => (x: Seen): boolean => (typeOf(x.sent) === ETH_P_IP || (typeOf(x.sent) === ETH_P_IPV6 && !isNs(x.sent))) && x.sent.to.dqpn === qpn;

describe('neighbour revalidation of the reference stack (kernel timers, fake clock) @arp @nd @ipoib-stack', function () {
  const drivers: Driver[] = [];
  afterEach(async function () {
    for (const d of drivers.splice(0)) await d.iface.destroy();
  });

  it('re-resolves a peer whose QPN changed: 3 unicast ARP requests to the old QPN 1 s apart, then broadcast, within reachable + delay + probes @arp @ipoib-stack', async function () {
    const d = await upDriver(PEER4);
    drivers.push(d);
    const confirmedAt = await resolve4(d);
    // The peer now listens on MOVED only: unicast to PEER goes nowhere, broadcast is answered from MOVED.
    // A fast path follows the control plane as a node wires it: a sync on every config change.
    const plane = new Recorder();
    const tables = new FastPathTables(d.iface, plane);
    d.iface.onConfigChange(() => tables.sync());
    tables.sync();
    let planeQpnWhenLearnt: number | undefined;
    await d.run(REACHABLE_MAX_MS + NEIGH_DELAY_PROBE_MS + 10 * NEIGH_RETRANS_MS, {
      packet: () => ipv4(PEER4),
      onFrames: (fresh) => {
        if (!fresh.some(broadcastArp)) return;
        d.deliver(MOVED, d.arpReplyFrom(MOVED));
        // No tick since: only the config-change hook can have put the new address in the plane.
        planeQpnWhenLearnt = plane.neighbours.get(PEER4)?.dqpn;
      },
      stop: () => d.log.some(ipTo(MOVED.qpn)),
    });
    const unicast = d.log.filter(unicastArpTo(PEER.qpn));
    const bcast = d.log.filter(broadcastArp).filter((x) => x.atMs > confirmedAt);
    const firstToMoved = d.log.find(ipTo(MOVED.qpn));
    const firstProbe = unicast[0];
    expect(firstProbe, 'a unicast ARP request to the old QPN').to.not.equal(undefined);
    expect(firstToMoved, 'IP to the new QPN').to.not.equal(undefined);
    const probeDelayMs = firstProbe!.atMs - confirmedAt;
    expect(probeDelayMs, 'first probe after the reachable time (15-45 s) and the 5 s delay').to.be.within(REACHABLE_MIN_MS + NEIGH_DELAY_PROBE_MS, REACHABLE_MAX_MS + NEIGH_DELAY_PROBE_MS + STEP_MS);
    expect(unicast.length, 'ucast_solicit unicast requests').to.equal(NEIGH_UNICAST_PROBES);
    expect(unicast.slice(1).map((x, i) => x.atMs - unicast[i]!.atMs), '1 s apart').to.deep.equal([NEIGH_RETRANS_MS, NEIGH_RETRANS_MS]);
    for (const x of unicast) {
      const a = arp.decode(x.sent.payload, 4).value;
      expect({ tpa: a.tpa, spa: a.spa, tha: formatHwAddr(a.tha) }, 'a request for the peer, target hardware address zero').to.deep.equal({ tpa: PEER4, spa: ME4, tha: formatHwAddr({ flags: 0, qpn: 0, gid: Buffer.alloc(16) }) });
      expect(x.sent.to.dlid, 'to the peer LID (through the path table)').to.equal(3);
    }
    expect(d.log.some((x) => ipTo(PEER.qpn)(x) && x.atMs > firstProbe!.atMs), 'still sending to the cached address while probing').to.equal(true);
    expect(bcast.length, 'a broadcast request after the unicast ones').to.be.greaterThan(0);
    expect(bcast[0]!.atMs, 'broadcast one retransmit time after the last unicast probe').to.equal(unicast.at(-1)!.atMs + NEIGH_RETRANS_MS);
    expect(firstToMoved!.atMs - confirmedAt, 'IP to the new QPN within reachable + delay + 3 probes + one send').to.be.at.most(REACHABLE_MAX_MS + NEIGH_DELAY_PROBE_MS + NEIGH_UNICAST_PROBES * NEIGH_RETRANS_MS + SEND_EVERY_MS + STEP_MS);
    expect(d.states, 'NUD states on the way').to.include.members(['reachable', 'delay', 'probe', 'incomplete']);
    expect(d.states.at(-1)).to.equal('reachable');
    expect(d.entry()).to.equal(formatHwAddr(MOVED));
    expect(planeQpnWhenLearnt, 'the fast path holds the new QPN as soon as the control plane learnt it').to.equal(MOVED.qpn);
  });

  it('keeps a peer that answers the unicast probe, with no broadcast request, and keeps using it meanwhile @arp @ipoib-stack', async function () {
    const d = await upDriver(PEER4);
    drivers.push(d);
    const confirmedAt = await resolve4(d);
    await d.run(4 * NEIGH_BASE_REACHABLE_MS, {
      packet: () => ipv4(PEER4),
      onFrames: (fresh) => {
        if (fresh.some(unicastArpTo(PEER.qpn))) d.deliver(PEER, d.arpReplyFrom(PEER));
      },
    });
    const unicast = d.log.filter(unicastArpTo(PEER.qpn));
    const bcast = d.log.filter(broadcastArp).filter((x) => x.atMs > confirmedAt);
    expect(unicast.length, 'two minutes of traffic: probed at least twice (every 20-50 s)').to.be.at.least(2);
    // One probe per cycle: each answered at once, so the next one comes only after another reachable time and delay.
    const gaps = unicast.slice(1).map((x, i) => x.atMs - unicast[i]!.atMs);
    for (const g of gaps) expect(g, 'time between answered probes').to.be.at.least(REACHABLE_MIN_MS + NEIGH_DELAY_PROBE_MS);
    expect(bcast.map((x) => x.atMs), 'no broadcast request').to.deep.equal([]);
    expect(d.log.filter((x) => typeOf(x.sent) === ETH_P_IP).every((x) => x.sent.to.dqpn === PEER.qpn), 'every IP packet to the peer').to.equal(true);
    expect(d.iface.stats().tx_dropped, 'nothing dropped').to.equal(0);
    expect(d.states).to.include.members(['reachable', 'delay', 'probe']);
    expect(d.entry()).to.equal(formatHwAddr(PEER));
  });

  it('does not probe an entry the peer keeps confirming, nor a stale entry nobody uses; probes one 5 s after its next use @arp @ipoib-stack', async function () {
    const d = await upDriver(PEER4);
    drivers.push(d);
    await resolve4(d);
    // The peer asks for us every 5 s (well below the shortest reachable time): each request confirms it.
    let lastAsk = d.clock.now();
    await d.run(4 * NEIGH_BASE_REACHABLE_MS, {
      packet: () => ipv4(PEER4),
      onFrames: () => {
        if (d.clock.now() - lastAsk < CONFIRM_EVERY_MS) return;
        lastAsk = d.clock.now();
        d.deliver(PEER, frame(ETH_P_ARP, buildArpRequest(PEER, PEER4, ME4)));
      },
    });
    expect(d.log.filter((x) => isArpRequest(x.sent)).map((x) => x.atMs), 'no ARP request while confirmed').to.deep.equal([]);
    expect(d.states, 'reachable throughout').to.deep.equal(['reachable']);

    // Unused: it goes stale after its reachable time and stays so, without a probe.
    await d.run(REACHABLE_MAX_MS + NEIGH_DELAY_PROBE_MS, { send: false });
    expect(d.state(), 'unused after the reachable time').to.equal('stale');
    expect(d.log.filter((x) => isArpRequest(x.sent)).length, 'no probe of an unused entry').to.equal(0);
    const usedAt = d.clock.now();
    d.iface.transmit(ipv4(PEER4), ETH_P_IP);
    expect(d.state(), 'used again').to.equal('delay');
    const last = d.port.sent.at(-1);
    expect(last && typeOf(last) === ETH_P_IP && last.to.dqpn === PEER.qpn, 'sent at once to the cached address').to.equal(true);
    await d.run(NEIGH_DELAY_PROBE_MS + STEP_MS, { send: false, stop: () => d.log.some(unicastArpTo(PEER.qpn)) });
    const probe = d.log.find(unicastArpTo(PEER.qpn));
    expect(probe?.atMs, 'the unicast probe 5 s after the use').to.equal(usedAt + NEIGH_DELAY_PROBE_MS);
  });

  it('revalidates an IPv6 neighbour with a unicast NS to its address, confirmed by a solicited NA without a target option @nd @ipv6 @ipoib-stack', async function () {
    const d = await upDriver(PEER6);
    drivers.push(d);
    d.iface.transmit(ipv6(PEER6), ETH_P_IPV6);
    await d.clock.settle();
    d.deliver(PEER, frame(ETH_P_IPV6, buildNeighborAdvertisement(parseIpv6(PEER6), parseIpv6(ME6), PEER, true)));
    await d.clock.settle();
    expect(d.entry()).to.equal(formatHwAddr(PEER));
    d.skipSent();
    const confirmedAt = d.clock.now();
    const naWithoutOption = (): Buffer => {
      // A Linux host answers a unicast NS with an NA that leaves the target option out.
      const [src, dst] = [parseIpv6(PEER6), parseIpv6(ME6)];
      const na = withIcmpv6Checksum({ type: ICMPV6_NA, code: 0, checksum: 0, router: false, solicited: true, override: false, reserved: 0, target: src, options: [] }, src, dst);
      return frame(ETH_P_IPV6, encodeToBuffer(ipv6Packet, makeIpv6Packet({ src, dst, nextHeader: IPPROTO_ICMPV6, hopLimit: ND_HOP_LIMIT, payload: encodeToBuffer(ndMessage, na) })));
    };
    let answered = 0;
    await d.run(REACHABLE_MAX_MS + NEIGH_DELAY_PROBE_MS + 3 * NEIGH_RETRANS_MS, {
      packet: () => ipv6(PEER6),
      onFrames: (fresh) => {
        if (!fresh.some((x) => isNs(x.sent) && x.sent.to.dqpn === PEER.qpn)) return;
        answered++;
        d.deliver(PEER, naWithoutOption());
      },
      stop: () => answered > 0 && d.state() === 'reachable',
    });
    const unicastNs = d.log.filter((x) => isNs(x.sent) && x.sent.to.dqpn === PEER.qpn);
    const multicastNs = d.log.filter((x) => isNs(x.sent) && x.sent.to.dqpn === MCAST_QPN && x.atMs > confirmedAt);
    expect(unicastNs.length, 'one unicast NS, answered').to.equal(1);
    const ns = ipv6Packet.decode(unicastNs[0]!.sent.payload, 4).value;
    expect(formatIpv6(ns.header.dst), 'the unicast NS goes to the target address itself').to.equal(PEER6);
    expect(ns.header.hopLimit).to.equal(255);
    expect(multicastNs.length, 'no multicast NS').to.equal(0);
    expect(d.state(), 'confirmed by the NA without a target option').to.equal('reachable');
    expect(d.entry()).to.equal(formatHwAddr(PEER));
  });

  it('leaves no timer and sends nothing when the interface closes mid-probe, or is destroyed mid-probe @arp @ipoib-stack', async function () {
    // What a closed interface that never had a neighbour still has pending (its groups' timers, if any).
    const idle = await upDriver(PEER4);
    drivers.push(idle);
    await idle.iface.close();
    await idle.clock.settle();
    const idleTimers = idle.clock.pendingTimers();
    for (const how of ['close', 'destroy'] as const) {
      const d = await upDriver(PEER4);
      drivers.push(d);
      await resolve4(d);
      await d.run(REACHABLE_MAX_MS + NEIGH_DELAY_PROBE_MS + STEP_MS, { packet: () => ipv4(PEER4), stop: () => d.state() === 'probe' });
      expect(d.state(), `${how}: probing`).to.equal('probe');
      if (how === 'close') await d.iface.close();
      else await d.iface.destroy();
      await d.clock.settle();
      const sentAtClose = d.port.sent.length;
      expect(d.iface.neighbours(), `${how}: the neighbours go with the link`).to.deep.equal([]);
      if (how === 'close') expect(d.clock.pendingTimers(), 'closed: no more timers than a closed interface that never probed').to.equal(idleTimers);
      await d.clock.tick(2 * ALL_TIMERS_MS);
      expect(d.port.sent.slice(sentAtClose).map((s) => `${s.to.dqpn.toString(16)} ${typeOf(s).toString(16)}`), `${how}: nothing sent afterwards`).to.deep.equal([]);
      if (how === 'destroy') expect(d.clock.pendingTimers(), 'destroyed: no timer at all').to.equal(0);
    }
  });
});


class Recorder implements TablesTarget {
  closed = false;
  readonly neighbours = new Map<string, NeighbourEntry>();
  takeUsed(): { neighbours: string[]; groups: string[] } {
    return { neighbours: [], groups: [] };
  }
  setNeighbour(ip: string, e: NeighbourEntry): void {
    this.neighbours.set(ip, e);
  }
  deleteNeighbour(ip: string): boolean {
    return this.neighbours.delete(ip);
  }
  setMulticast(_ip: string, _e: MulticastEntry): void {}
  deleteMulticast(_ip: string): boolean {
    return true;
  }
}

describe('neighbour revalidation on the simulated fabric (short timers) @fabric @arp @ipoib-stack', function () {
  this.timeout(30_000);
  /** Reachable 200 ms (100-300), delay 100 ms, probes 50 ms apart. */
  const TIMERS = { reachableMs: 200, delayMs: 100, retransMs: 50 };
  const BOUND_MS = 1.5 * TIMERS.reachableMs + TIMERS.delayMs + NEIGH_UNICAST_PROBES * TIMERS.retransMs + TIMERS.retransMs;
  let lab: SimLab;
  const interfaces: IpoibInterface[] = [];

  const open = async (port: SimHcaPort, n: number, o: { short?: boolean; connected?: boolean } = {}): Promise<{ ib0: IpoibInterface; got: Buffer[] }> => {
    const ib0 = new IpoibInterface({ name: 'ib0', port, ...(o.short ? { neighbourTimers: TIMERS } : {}) });
    interfaces.push(ib0);
    ib0.addAddress(`10.0.0.${n}/24`);
    const got: Buffer[] = [];
    ib0.onDeliver((p) => got.push(p));
    await ib0.open();
    await until(`10.0.0.${n} carrier`, () => ib0.carrier, 5000);
    if (o.connected) ib0.setMode('connected');
    return { ib0, got };
  };

  /** Sends a ping from `from` to 10.0.0.2 every 10 ms until `done`, or fails after `timeoutMs`. */
  const pingUntil = async (from: IpoibInterface, done: () => boolean, timeoutMs: number): Promise<number> => {
    const start = performance.now();
    let seq = 100;
    while (!done()) {
      if (performance.now() - start > timeoutMs) throw new Error(`not done within ${timeoutMs} ms`);
      from.transmit(icmpEcho('10.0.0.1', '10.0.0.2', seq++, 64), ETH_P_IP);
      await new Promise((r) => setTimeout(r, 10));
    }
    return performance.now() - start;
  };

  beforeEach(async function () {
    lab = await SimLab.start();
  });

  afterEach(async function () {
    for (const i of interfaces.splice(0)) await i.destroy();
    await lab.close();
  });

  it('follows a peer that made a new UD QP (new QPN, same GID, no gratuitous ARP) within reachable + delay + probes, asking its old QPN first @fabric @arp @ipoib-stack', async function () {
    const stop = await lab.tap();
    const a = await open(await lab.port('node1'), 1, { short: true });
    const portB = await lab.port('node2');
    const b = await open(portB, 2);
    await pingUntil(a.ib0, () => b.got.length > 0, 3000);
    const oldQpn = b.ib0.qpn!;
    // The peer's interface goes and comes back on the same port: a new QP, announced to nobody.
    await b.ib0.destroy();
    const b2 = await open(portB, 2);
    const newQpn = b2.ib0.qpn!;
    expect(newQpn, 'a new QPN').to.not.equal(oldQpn);
    const tookMs = await pingUntil(a.ib0, () => b2.got.length > 0, 5000);
    const packets = await stop();
    // A frame between two tapped ports is there twice (sent, accepted): one of each by PSN.
    const fromA = uniqueSends(packets.filter((p) => p.bth.opcode === OP_UD_SEND_ONLY && p.lrh.slid === 2 && p.bth.destQp !== 1 && p.payload.length >= 2 && p.payload.readUInt16BE(0) === ETH_P_ARP));
    const unicastToOld = fromA.filter((p) => p.bth.destQp === oldQpn);
    const broadcast = fromA.filter((p) => p.bth.destQp === MCAST_QPN);
    expect(tookMs, `re-resolved within ${BOUND_MS} ms (plus scheduling)`).to.be.below(BOUND_MS + 1000);
    expect(unicastToOld.length, 'unicast ARP requests to the old QPN').to.equal(NEIGH_UNICAST_PROBES);
    expect(broadcast.length, 'the first resolution and the one after the unicast probes').to.be.at.least(2);
    expect(a.ib0.neighbours().find((n) => n.ip === '10.0.0.2')?.lladdr).to.equal(formatHwAddr(b2.ib0.hwAddr()));
    expect(lastIndexTo(fromA, oldQpn), 'the unicast probes come before the last broadcast request').to.be.below(lastIndexTo(fromA, MCAST_QPN));
  });

  it('ends the RC connection to a neighbour\'s old address when revalidation moves it to another node @fabric @cm @rc @arp @ipoib-stack', async function () {
    const a = await open(await lab.port('node1'), 1, { short: true, connected: true });
    const b = await open(await lab.port('node2'), 2);
    const c = await open(await lab.port('node3'), 3);
    await pingUntil(a.ib0, () => b.got.length > 0 && a.ib0.connections().some((x) => x.direction === 'tx' && x.state === 'connected'), 3000);
    const oldPeer = formatHwAddr(b.ib0.hwAddr());
    expect(a.ib0.connections().filter((x) => x.direction === 'tx').map((x) => x.peer), 'connected to node2').to.deep.equal([oldPeer]);
    // 10.0.0.2 moves from node2 (which stays up, accepting connections) to node3, with no gratuitous ARP.
    b.ib0.removeAddress('10.0.0.2/24');
    c.ib0.addAddress('10.0.0.2/24');
    await pingUntil(a.ib0, () => c.got.length > 0, 5000);
    const newPeer = formatHwAddr(c.ib0.hwAddr());
    expect(a.ib0.neighbours().find((n) => n.ip === '10.0.0.2')?.lladdr).to.equal(newPeer);
    expect(a.ib0.connections().filter((x) => x.direction === 'tx').map((x) => x.peer), 'only the connection to the new address').to.deep.equal([newPeer]);
    await until('node2 sees its connection end (DREQ)', () => b.ib0.connections().filter((x) => x.direction === 'rx').length === 0);
  });
});

/** One packet per sender QP and PSN, in tap order. */
function uniqueSends(packets: IbPacket[]): IbPacket[] {
  const seen = new Set<string>();
  return packets.filter((p) => {
    const key = `${p.deth?.srcQp}/${p.bth.psn}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Where the last packet to `destQp` is in tap order (an IbPacket carries no time), or -1. */
function lastIndexTo(packets: IbPacket[], destQp: number): number {
  return packets.map((p) => p.bth.destQp).lastIndexOf(destQp);
}
