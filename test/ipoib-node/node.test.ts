/**
 * IpoibNode end to end (root only): the reference stack's control plane bound to the native
 * TUN data plane, carrying the kernel's own IP traffic between network namespaces the test
 * creates, over a simulated fabric whose manager runs in this process (node-lab.ts).
 *
 *   ns1: ib0 (node1, Default) 192.0.2.1/24 2001:db8::1/64; ib0.8001 (a child made by
 *        IpoibHost.createChild on the same port) 198.51.100.1/24
 *   ns2: ib0 (node2, Default) 192.0.2.2/24 2001:db8::2/64
 *   ns3: ib0 (node3, P_Key 0x8001 only) 198.51.100.3/24 and 192.0.2.3/24
 *   ns4: ib0 (node4, Default) 192.0.2.4/24, the multicast non-member
 *
 * The tests share one setup and run in order (resolution is observed first, before anything
 * else resolved). Every wait is bounded; namespaces and the fabric go in after().
 */
import { spawn } from 'node:child_process';
import { expect } from 'chai';
import { IpoibHost } from '../../src/ipoib/host.js';
import { FAST_PATH_USE_POLL_MS, IpoibNode } from '../../src/ipoib/node.js';
import type { SimHcaPort } from '../../src/fabric/sim/provider.js';
import { ETH_P_ARP, ETH_P_IPV6, JOIN_STATE_FULL, OP_UD_SEND_ONLY } from '../../src/wire/constants.js';
import { formatHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { broadcastMgid, formatGid, mgidForIpv4Group, mgidForIpv6Group } from '../../src/wire/mgid.js';
import type { IbPacket } from '../../src/wire/ib-packet.js';
import { NativeError } from '../../src/errors.js';
import type { SimEndpoint } from '../../src/fabric/sim/native-endpoint.js';
import { skipWithReason } from '../helpers/skip.js';
import { Netns, ping, sweepStaleNamespaces, tcpTransfer, tunTestsSkipReason } from '../ipoib-native/netns-lab.js';
import { NodeFabric, sendMcast, startMcastReceiver, until } from './node-lab.js';

const MIB = 1 << 20;
const ICMPV6_NS = 135;
const ICMPV6_NA = 136;

interface Lab {
  fabric: NodeFabric;
  ns: Netns[];
  ports: SimHcaPort[];
  host1: IpoibHost;
  n1: IpoibNode;
  n1child: IpoibNode;
  n2: IpoibNode;
  n3: IpoibNode;
  n4: IpoibNode;
}

/** The UD sends between the nodes' interfaces, once each (the tap shows a packet leaving and arriving). */
function udFrames(packets: IbPacket[], qpns: number[]): IbPacket[] {
  const seen = new Set<string>();
  return packets.filter((p) => {
    if (p.bth.opcode !== OP_UD_SEND_ONLY || !p.deth || !qpns.includes(p.deth.srcQp)) return false;
    const key = `${p.lrh.slid}/${p.lrh.dlid}/${p.bth.psn}/${p.payload.toString('hex')}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

const etherTypeOf = (p: IbPacket): number => (p.payload.length >= 2 ? p.payload.readUInt16BE(0) : -1);
/** The ICMPv6 type of an IPoIB frame carrying IPv6 with no extension header, else -1. */
const icmpv6TypeOf = (p: IbPacket): number => (etherTypeOf(p) === ETH_P_IPV6 && p.payload[4 + 6] === 58 ? (p.payload[4 + 40] ?? -1) : -1);

/**
 * A UDP socket in a namespace bound to `port` for `ms`, counting datagrams; with `join` it holds
 * the group through the kernel (IP_ADD_MEMBERSHIP / IPV6_JOIN_GROUP on `iface`: an IPv4 address,
 * or `::%ib0`) and drops it when it closes; without, it is a bystander that never joins.
 */
const GROUP_SOCKET = `
const [family, group, iface, port, ms, join] = process.argv.slice(1);
const s = require('dgram').createSocket({ type: family === '6' ? 'udp6' : 'udp4', reuseAddr: true });
let n = 0;
s.on('message', () => n++);
s.bind(Number(port), () => {
  if (join === '1') s.addMembership(group, iface);
  console.log('ready');
  setTimeout(() => { console.log(JSON.stringify({ received: n })); s.close(); }, Number(ms));
});
`;

interface GroupSocketOptions {
  family: 4 | 6;
  group: string;
  iface: string;
  port: number;
  ms: number;
  join: boolean;
}

/** Starts GROUP_SOCKET; resolves once bound (and joined); `result` is the count once it closed and exited. */
async function openGroupSocket(ns: Netns, o: GroupSocketOptions): Promise<{ result: Promise<number> }> {
  const args = [String(o.family), o.group, o.iface, String(o.port), String(o.ms), o.join ? '1' : '0'];
  const child = spawn('ip', ['netns', 'exec', ns.name, process.execPath, '-e', GROUP_SOCKET, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const killer = setTimeout(() => child.kill('SIGKILL'), o.ms + 10_000);
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      if (out.includes('ready\n')) resolve();
    });
    void exited.then(() => reject(new Error(`the group socket in ${ns.name} exited early: ${err}`)));
  });
  const result = exited.then(() => {
    clearTimeout(killer);
    const m = /\{"received":(\d+)\}/.exec(out);
    if (!m) throw new Error(`the group socket in ${ns.name} printed no count: ${out} ${err}`);
    return Number(m[1]);
  });
  return { result };
}

/** The port's loss-fault drop counter. */
function lossDrops(p: SimHcaPort): number {
  const c = p.counters() as Record<string, unknown> | null;
  const v = c?.lossFaultDrops;
  return typeof v === 'number' ? v : 0;
}

describe('IpoibNode: the stack bound to the TUN data plane between network namespaces (root) @ipoib-stack @tun @native @fabric', function () {
  this.timeout(60_000);
  let lab: Lab | undefined;
  let skipReason: string | undefined;
  const opened: IpoibNode[] = [];
  const namespaces: Netns[] = [];
  let fabric: NodeFabric | undefined;
  let host1: IpoibHost | undefined;

  before(async function () {
    skipReason = tunTestsSkipReason();
    if (skipReason) return;
    this.timeout(30_000);
    await sweepStaleNamespaces();
    fabric = await NodeFabric.start();
    for (const tag of ['n1', 'n2', 'n3', 'n4']) namespaces.push(await Netns.create(tag));
    const [ns1, ns2, ns3, ns4] = namespaces as [Netns, Netns, Netns, Netns];
    const ports = [await fabric.port('node1'), await fabric.port('node2'), await fabric.port('node3'), await fabric.port('node4')];
    const [p1, p2, p3, p4] = ports as [SimHcaPort, SimHcaPort, SimHcaPort, SimHcaPort];
    host1 = new IpoibHost();
    const parent1 = host1.addPort(p1, 'ib0');
    const child1 = host1.createChild('ib0', '0x8001');
    const open = async (o: Parameters<typeof IpoibNode.open>[0]): Promise<IpoibNode> => {
      const n = await IpoibNode.open(o);
      opened.push(n);
      return n;
    };
    const n1 = await open({ port: p1, ifname: 'ib0', netns: ns1.name, interface: parent1, addresses: ['192.0.2.1/24', '2001:db8::1/64'] });
    const n1child = await open({ port: p1, ifname: child1.name, netns: ns1.name, interface: child1, addresses: ['198.51.100.1/24'] });
    const n2 = await open({ port: p2, ifname: 'ib0', netns: ns2.name, addresses: ['192.0.2.2/24', '2001:db8::2/64'] });
    const n3 = await open({ port: p3, ifname: 'ib0', netns: ns3.name, pkey: 0x8001, addresses: ['198.51.100.3/24', '192.0.2.3/24'] });
    const n4 = await open({ port: p4, ifname: 'ib0', netns: ns4.name, addresses: ['192.0.2.4/24'] });
    await until('carrier on every node', () => [n1, n1child, n2, n3, n4].every((n) => n.iface.carrier), 8000);
    lab = { fabric, ns: namespaces, ports, host1, n1, n1child, n2, n3, n4 };
  });

  after(async function () {
    this.timeout(30_000);
    const errors: unknown[] = [];
    for (const n of opened.reverse()) await n.close().catch((e: unknown) => errors.push(e));
    await host1?.close().catch((e: unknown) => errors.push(e));
    await fabric?.close().catch((e: unknown) => errors.push(e));
    for (const ns of namespaces.reverse()) await ns.delete().catch((e: unknown) => errors.push(e));
    if (errors.length > 0) throw errors[0];
  });

  beforeEach(async function () {
    if (skipReason) await skipWithReason(this, skipReason);
    if (!lab) throw new Error('the lab did not come up (see the before hook)');
  });

  const L = (): Lab => {
    if (!lab) throw new Error('no lab');
    return lab;
  };

  it('brings the TUN devices up with the group MTU, carrier and the GUID-derived link-local address @ipoib-stack @tun @ipv6 @mtu', async function () {
    const { n1, n2, ns } = L();
    const link = await ns[0]!.ip('-o', 'link', 'show', 'ib0');
    expect(link, 'ib0 in ns1').to.match(/<[^>]*UP[^>]*> mtu 2044/);
    expect(link).to.not.match(/NO-CARRIER/);
    const addrs = await ns[1]!.ip('-o', 'addr', 'show', 'dev', 'ib0');
    expect(addrs).to.include(`inet6 ${n2.iface.linkLocal()}/64`);
    expect(addrs).to.include('inet 192.0.2.2/24');
    expect(addrs).to.include('inet6 2001:db8::2/64');
    expect(addrs.match(/inet6 fe80:/g)?.length, 'only the stack\'s link-local address').to.equal(1);
    expect([n1.plane.mtu, n1.plane.qkey, n1.iface.mtu]).to.deep.equal([2044, 0x0b1b, 2044]);
  });

  it('resolves IPv4 with ARP and IPv6 with ND for kernel pings, then sends on the fast path @ipoib-stack @tun @arp @nd @ipv6 @icmp', async function () {
    const { fabric: f, ns, n1, n2 } = L();
    const stop = await f.tap();
    const v4 = await ping(ns[0]!, '192.0.2.2', { count: 3 });
    const v6 = await ping(ns[0]!, '2001:db8::2', { count: 3, v6: true });
    const packets = udFrames(await stop(), [n1.iface.qpn ?? -1, n2.iface.qpn ?? -1]);
    expect(v4.received, v4.output).to.equal(3);
    expect(v6.received, v6.output).to.equal(3);

    const hw1 = formatHwAddr(n1.iface.hwAddr());
    const hw2 = formatHwAddr(n2.iface.hwAddr());
    const entry = (n: IpoibNode, ip: string): [string | undefined, string | null | undefined] => {
      const e = n.iface.neighbours().find((x) => x.ip === ip);
      return [e?.state, e?.lladdr];
    };
    expect(entry(n1, '192.0.2.2'), 'node1 resolved node2 by ARP').to.deep.equal(['reachable', hw2]);
    expect(entry(n1, '2001:db8::2'), 'node1 resolved node2 by ND').to.deep.equal(['reachable', hw2]);
    expect(entry(n2, '192.0.2.1'), 'node2 learnt node1 from the request').to.deep.equal(['reachable', hw1]);
    expect(entry(n2, '2001:db8::1'), 'node2 learnt node1 from the solicitation').to.deep.equal(['reachable', hw1]);
    expect(n1.plane.tableSizes().neighbours, 'both installed in node1\'s fast path').to.be.at.least(2);

    const arpRequest = packets.find((p) => etherTypeOf(p) === ETH_P_ARP && p.lrh.slid === 2 && p.lrh.dlid >= 0xc000);
    const arpReply = packets.find((p) => etherTypeOf(p) === ETH_P_ARP && p.lrh.slid === 3 && p.lrh.dlid === 2);
    expect([arpRequest?.payload.readUInt16BE(4 + 6), arpReply?.payload.readUInt16BE(4 + 6)], 'ARP request then reply on the wire').to.deep.equal([1, 2]);
    const ns6 = packets.find((p) => icmpv6TypeOf(p) === ICMPV6_NS && p.lrh.slid === 2 && p.lrh.dlid >= 0xc000);
    const na6 = packets.find((p) => icmpv6TypeOf(p) === ICMPV6_NA && p.lrh.slid === 3 && p.lrh.dlid === 2);
    expect([ns6 !== undefined, na6 !== undefined], 'NS to the solicited-node group, NA back').to.deep.equal([true, true]);

    // Resolved: further echoes pass without a punt.
    const before = n1.plane.counters().tx_punt_no_neighbour;
    const again = await ping(ns[0]!, '192.0.2.2', { count: 2 });
    expect(again.received, again.output).to.equal(2);
    expect(n1.plane.counters().tx_punt_no_neighbour - before, 'no punt once resolved').to.equal(0);
  });

  it('refreshes the control plane\'s neighbour age from fast-path sends, so a busy neighbour never looks idle @ipoib-stack @tun @arp @icmp', async function () {
    const { ns, n1, n2 } = L();
    const idle = (n: IpoibNode, ip: string): number => n.iface.neighbours().find((x) => x.ip === ip)?.idleMs ?? -1;
    const before = n1.plane.counters().tx_punt_no_neighbour;
    const started = Date.now();
    const r = await ping(ns[0]!, '192.0.2.2', { count: 20 }); // 0.2 s apart: about 4 s, all on the fast path
    const elapsedMs = Date.now() - started;
    expect(r.received, r.output).to.equal(20);
    expect(n1.plane.counters().tx_punt_no_neighbour - before, 'no punt: the control plane sent none of them').to.equal(0);
    // Without the refresh both ages would have grown by the whole ping run at least.
    const slackMs = FAST_PATH_USE_POLL_MS + 1000; // one poll, plus timers late on a busy machine
    expect(idle(n1, '192.0.2.2'), `node1's age of node2 after ${elapsedMs} ms of echo requests`).to.be.within(0, slackMs);
    expect(idle(n2, '192.0.2.1'), `node2's age of node1 after ${elapsedMs} ms of echo replies`).to.be.within(0, slackMs);
    expect(elapsedMs, 'the run outlasted the allowed age').to.be.greaterThan(slackMs);
  });

  it('carries ping and ping -6 both ways at 511, 1025, 2044 and 8192 octets (fragmented above the MTU) @ipoib-stack @tun @ip @ipv6 @icmp @mtu', async function () {
    const { ns, n1 } = L();
    const failures: string[] = [];
    for (const size of [511, 1025, 2044, 8192]) {
      for (const [from, to, v6] of [
        [0, '192.0.2.2', false],
        [1, '192.0.2.1', false],
        [0, '2001:db8::2', true],
        [1, '2001:db8::1', true],
      ] as const) {
        const tx0 = n1.plane.counters().tx_packets;
        const r = await ping(ns[from]!, to, { count: 2, size, v6 });
        if (r.received !== 2) failures.push(`${to} -s ${size}: ${r.output}`);
        // 8192 octets of data: five fragments at MTU 2044, each way, per echo.
        if (size === 8192 && from === 0 && r.received === 2) {
          expect(n1.plane.counters().tx_packets - tx0, `fragments sent for ${to}`).to.be.at.least(2 * 5);
        }
      }
    }
    expect(failures).to.deep.equal([]);
  });

  it('transfers 64 MiB over TCP intact (sha256 compared) @ipoib-stack @tun @ip', async function () {
    const { ns } = L();
    const r = await tcpTransfer(ns[1]!, ns[0]!, '192.0.2.2', 5301, 64 * MIB, 45_000);
    expect(r.received.bytes).to.equal(64 * MIB);
    expect(r.received.sha256).to.equal(r.sent.sha256);
  });

  it('keeps a node on partition 0x8001 within its partition: it reaches the pkey child, not the Default nodes @ipoib-stack @tun @pkey @arp @icmp', async function () {
    const { ns, n3, n1child } = L();
    const inside = await ping(ns[2]!, '198.51.100.1', { count: 2 });
    expect(inside.received, inside.output).to.equal(2);
    const back = await ping(ns[0]!, '198.51.100.3', { count: 2 });
    expect(back.received, back.output).to.equal(2);
    expect(n1child.iface.pkey, 'the child is in 0x8001').to.equal(0x8001);
    const outside = await ping(ns[2]!, '192.0.2.2', { count: 2 });
    expect(outside.received, 'node2 is not in 0x8001').to.equal(0);
    expect(n3.iface.neighbours().find((x) => x.ip === '192.0.2.2')?.state, 'never resolved').to.not.equal('reachable');
  });

  /** True while the SA lists the port (by GUID) as a full member of the group. */
  const saFullMember = (mgid: string, port: SimHcaPort): boolean => {
    const guid = port.attributes().guid;
    return L().fabric.mgr.sm.members(mgid).some((m) => m.portGuid === guid && (m.joinState & JOIN_STATE_FULL) !== 0);
  };

  it('joins the multicast group a host socket joined (IP_ADD_MEMBERSHIP), delivers to it and not to a non-member, and leaves when the socket closes @ipoib-stack @tun @multicast @ip @sa', async function () {
    // No explicit joinGroup: the node observes the kernel's membership (/proc/net/igmp in ns2).
    const { ns, ports, n2, n4 } = L();
    const mgid = formatGid(mgidForIpv4Group('239.1.2.3', 0xffff));
    expect(saFullMember(mgid, ports[1]!), 'node2 is not a member before the socket').to.equal(false);
    const member = await startMcastReceiver(ns[1]!, '239.1.2.3', '192.0.2.2', 5400, 4000);
    await until(`the SA lists node2's port as a full member of ${mgid}`, () => saFullMember(mgid, ports[1]!), 5000);
    expect(n2.hostJoinedGroups()).to.include('239.1.2.3');
    const nonMember = await openGroupSocket(ns[3]!, { family: 4, group: '239.1.2.3', iface: '192.0.2.4', port: 5400, ms: 2500, join: false });
    await sendMcast(ns[0]!, '239.1.2.3', '192.0.2.1', 5400, 10);
    const [got, notGot] = await Promise.all([member.result, nonMember.result]);
    // The first datagram may wait for the sender's send-only join (3 queued at most).
    expect(got, 'the member').to.be.at.least(8);
    expect(notGot, 'the non-member').to.equal(0);
    expect(saFullMember(mgid, ports[3]!), 'node4 never joined').to.equal(false);
    expect(n4.hostJoinedGroups()).to.deep.equal([]);
    // The member's socket closed with its process: the kernel drops the group, the node leaves.
    await until(`the SA no longer lists node2's port in ${mgid}`, () => !saFullMember(mgid, ports[1]!), 5000);
    expect(n2.hostJoinedGroups()).to.not.include('239.1.2.3');
  });

  it('joins the ipv6 group a host socket joined (IPV6_JOIN_GROUP ff05::1:3) as the ff12:601b mgid and leaves it when the socket closes @ipoib-stack @tun @multicast @ipv6 @mgid @sa', async function () {
    const { ns, ports, n2 } = L();
    const mgid = formatGid(mgidForIpv6Group('ff05::1:3', 0xffff));
    expect(mgid.startsWith('ff12:601b:ffff:'), mgid).to.equal(true);
    const sock = await openGroupSocket(ns[1]!, { family: 6, group: 'ff05::1:3', iface: '::%ib0', port: 5402, ms: 2500, join: true });
    await until(`the SA lists node2's port as a full member of ${mgid}`, () => saFullMember(mgid, ports[1]!), 5000);
    expect(n2.hostJoinedGroups()).to.include('ff05::1:3');
    await sock.result;
    await until(`the SA no longer lists node2's port in ${mgid}`, () => !saFullMember(mgid, ports[1]!), 5000);
    expect(n2.hostJoinedGroups()).to.not.include('ff05::1:3');
  });

  it('leaves a node without carrier when its partition has no broadcast group, and ping fails @ipoib-stack @tun @pkey @multicast @ipv6 @icmp', async function () {
    const { ports, ns } = L();
    const extra: IpoibNode[] = [];
    try {
      extra.push(await IpoibNode.open({ port: ports[0]!, ifname: 'ib0.8002', netns: ns[0]!.name, pkey: 0x8002, addresses: ['2001:db8:8002::1/64'] }));
      extra.push(await IpoibNode.open({ port: ports[1]!, ifname: 'ib0.8002', netns: ns[1]!.name, pkey: 0x8002, addresses: ['2001:db8:8002::2/64'] }));
      await new Promise((r) => setTimeout(r, 1500));
      expect(extra.map((n) => [n.iface.state, n.iface.carrier])).to.deep.equal([
        ['joining', false],
        ['joining', false],
      ]);
      expect(await ns[0]!.ip('-o', 'link', 'show', 'ib0.8002')).to.match(/NO-CARRIER/);
      const r = await ping(ns[0]!, '2001:db8:8002::2', { count: 1, v6: true });
      expect(r.received, r.output).to.equal(0);
    } finally {
      const errors: unknown[] = [];
      for (const n of extra.reverse()) await n.close().catch((e: unknown) => errors.push(e));
      if (errors.length > 0) throw errors[0];
    }
    const gone = await ns[0]!.exec(['ip', 'link', 'show', 'ib0.8002']);
    expect(gone.code, 'close() removed the TUN device').to.not.equal(0);
  });

  it('undoes a failed open (a TUN name in use) and opens a child whose P_Key the table lacks up without carrier, leaving no QP behind once closed @ipoib-stack @tun @native @pkey', async function () {
    const { ports, ns } = L();
    const qps = (i: number): number => (ports[i]!.endpointForDataPlane() as SimEndpoint).qps().length;
    const [before2, before4] = [qps(1), qps(3)];
    let caught: unknown;
    try {
      await IpoibNode.open({ port: ports[1]!, ifname: 'ib0', netns: ns[1]!.name, addresses: ['192.0.2.22/24'] });
    } catch (e) {
      caught = e;
    }
    expect(caught, 'ib0 is taken in ns2').to.be.instanceOf(NativeError);
    expect((caught as NativeError).code).to.equal('EBUSY');
    expect(qps(1), 'the QP made for the failed open is gone').to.equal(before2);
    // Linux brings such a child up without carrier; the TUN device exists meanwhile.
    const child = await IpoibNode.open({ port: ports[3]!, ifname: 'ib1', netns: ns[3]!.name, pkey: 0x8001 });
    try {
      expect(child.iface.state, 'node4 has no 0x8001').to.equal('no-pkey');
      const link = await ns[3]!.ip('-o', 'link', 'show', 'dev', 'ib1');
      expect(link, 'ib1 is admin up').to.match(/[<,]UP[,>]/);
      expect(link, 'ib1 has no carrier').to.include('NO-CARRIER');
    } finally {
      await child.close();
    }
    expect(qps(3), 'closing the child took its placeholder QP with it').to.equal(before4);
    const still = await ping(ns[1]!, '192.0.2.1', { count: 1 });
    expect(still.received, 'node2 is unharmed').to.equal(1);
    expect(await ns[1]!.ip('-o', 'addr', 'show', 'dev', 'ib0')).to.not.include('192.0.2.22');
  });

  it('completes the 64 MiB TCP transfer intact with 1 % loss on both fabric ports @ipoib-stack @tun @fabric @ip', async function () {
    const { fabric: f, ns, ports } = L();
    try {
      await f.control({ op: 'fault', node: 'node1', lossRate: 0.01, seed: 4 });
      await f.control({ op: 'fault', node: 'node2', lossRate: 0.01, seed: 5 });
      const lost = (): number => ports.slice(0, 2).reduce((sum, p) => sum + lossDrops(p), 0);
      const lost0 = lost();
      const r = await tcpTransfer(ns[1]!, ns[0]!, '192.0.2.2', 5302, 64 * MIB, 50_000);
      expect(lost() - lost0, 'frames the fault dropped').to.be.greaterThan(100);
      expect(r.received.bytes).to.equal(64 * MIB);
      expect(r.received.sha256).to.equal(r.sent.sha256);
    } finally {
      await f.control({ op: 'fault', node: 'node1', lossRate: 0 });
      await f.control({ op: 'fault', node: 'node2', lossRate: 0 });
    }
  });

  it('regains connectivity after an SM restart @ipoib-stack @tun @fabric @sa @multicast @icmp', async function () {
    const { fabric: f, ns, n1, n2 } = L();
    const joins = [n1.iface.stats().mcast_joins, n2.iface.stats().mcast_joins];
    await f.control({ op: 'sm', running: false });
    await f.control({ op: 'sm', running: true });
    await until('both nodes joined again (client reregister)', () => n1.iface.stats().mcast_joins > joins[0]! && n2.iface.stats().mcast_joins > joins[1]!, 10_000);
    await until('carrier on both', () => n1.iface.carrier && n2.iface.carrier, 10_000);
    // The restarted SM knew no members: these came back by the nodes' rejoins.
    await until('node1 and node2 members of the broadcast group again', () => {
      const lids = f.mgr.sm.members(broadcastMgid(0xffff)).map((m) => m.lid);
      return lids.includes(2) && lids.includes(3);
    }, 10_000);
    let last = '';
    const deadline = Date.now() + 15_000;
    for (;;) {
      const a = await ping(ns[0]!, '192.0.2.2', { count: 1 });
      const b = await ping(ns[1]!, '2001:db8::1', { count: 1, v6: true });
      if (a.received === 1 && b.received === 1) break;
      last = a.output + b.output;
      if (Date.now() > deadline) throw new Error(`no connectivity 15 s after the SM restart: ${last}`);
    }
  });

  it('follows a pkey child whose table index moved: the TUN device is made again on the new QP and traffic resumes @ipoib-stack @tun @pkey @native @icmp', async function () {
    const { fabric: f, ns, n1child, n3 } = L();
    const qpnBefore = n1child.iface.qpn;
    const planeBefore = n1child.plane;
    // node1's table was [0xffff, 0x8001, 0x8002]: 0x8001 moves from index 1 to 2.
    await f.control({ op: 'pkeys', node: 'node1', pkeys: [0xffff, 0x8002, 0x8001] });
    await until('a new QP and a data plane on it, with carrier', () => n1child.iface.qpn !== qpnBefore && n1child.plane.qpn === n1child.iface.qpn && n1child.iface.carrier, 10_000);
    expect(planeBefore.closed, 'the old data plane is closed').to.equal(true);
    const deadline = Date.now() + 5000;
    while (!(await ns[0]!.ip('-o', 'addr', 'show', 'dev', 'ib0.8001')).includes('inet 198.51.100.1/24')) {
      if (Date.now() > deadline) throw new Error('the new ib0.8001 never got its address back');
      await new Promise((r) => setTimeout(r, 20));
    }
    // node3 still holds the child's old link-layer address (no gratuitous ARP, as Linux without
    // arp_notify); it learns the new one from the child's next ARP request, for a fresh address.
    await ns[2]!.ip('addr', 'add', '198.51.100.33/24', 'dev', 'ib0');
    n3.iface.addAddress('198.51.100.33/24');
    const fresh = await ping(ns[0]!, '198.51.100.33', { count: 2 });
    expect(fresh.received, fresh.output).to.equal(2);
    const hw = formatHwAddr(n1child.iface.hwAddr());
    expect(n3.iface.neighbours().find((x) => x.ip === '198.51.100.1')?.lladdr, 'node3 learnt the new address').to.equal(hw);
    const r = await ping(ns[0]!, '198.51.100.3', { count: 2 });
    expect(r.received, r.output).to.equal(2);
  });
});
