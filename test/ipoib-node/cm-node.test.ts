/**
 * Connected mode end to end (root only): IpoibNodes whose TUN data planes carry the kernel's own
 * traffic over RC connections the control plane makes, between network namespaces the test
 * creates, over a simulated fabric whose manager runs in this process (node-lab.ts).
 *
 *   ns cmc1: ib0 (node1) 192.0.2.1/24 2001:db8::1/64, connected mode offered
 *   ns cmc2: ib0 (node2) 192.0.2.2/24 2001:db8::2/64, connected mode offered, passive
 *            connections reaped after 1.5 s idle (the kernel waits 512 s)
 *   ns cmc4: ib0 (node4) 192.0.2.4/24 2001:db8::4/64, no connected mode (address flags 0x00)
 *
 * The tests share one setup and run in order. Every wait is bounded; namespaces and the fabric
 * go in after(), also when a test failed.
 */
import { expect } from 'chai';
import type { SimHcaPort } from '../../src/fabric/sim/provider.js';
import { IpoibNode } from '../../src/ipoib/node.js';
import { formatHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { skipWithReason } from '../helpers/skip.js';
import { Netns, ping, sweepStaleNamespaces, tcpTransfer, tunTestsSkipReason } from '../ipoib-native/netns-lab.js';
import { NodeFabric, until } from './node-lab.js';

const MIB = 1 << 20;
/** ICMP data that makes a 65520-octet IPv4 (20 + 8 + 65492) and IPv6 (40 + 8 + 65472) packet. */
const PING4_MAX = 65_492;
const PING6_MAX = 65_472;
/** node2's idle limit for the connections it receives on. */
const IDLE_MS = 1500;

interface Lab {
  fabric: NodeFabric;
  ns1: Netns;
  ns2: Netns;
  ns4: Netns;
  n1: IpoibNode;
  n2: IpoibNode;
  n4: IpoibNode;
}

describe('connected mode through the TUN data plane between network namespaces (root) @cm @rc @tun @native @fabric @ipoib-stack', function () {
  this.timeout(120_000);
  let lab: Lab | undefined;
  let skipReason: string | undefined;
  const opened: IpoibNode[] = [];
  const namespaces: Netns[] = [];
  let fabric: NodeFabric | undefined;

  before(async function () {
    skipReason = tunTestsSkipReason();
    if (skipReason) return;
    this.timeout(30_000);
    await sweepStaleNamespaces();
    fabric = await NodeFabric.start();
    for (const tag of ['cmc1', 'cmc2', 'cmc4']) namespaces.push(await Netns.create(tag));
    const [ns1, ns2, ns4] = namespaces as [Netns, Netns, Netns];
    const [p1, p2, p4] = [await fabric.port('node1'), await fabric.port('node2'), await fabric.port('node4')] as [SimHcaPort, SimHcaPort, SimHcaPort];
    const open = async (o: Parameters<typeof IpoibNode.open>[0]): Promise<IpoibNode> => {
      const n = await IpoibNode.open(o);
      opened.push(n);
      return n;
    };
    const n1 = await open({ port: p1, ifname: 'ib0', netns: ns1.name, addresses: ['192.0.2.1/24', '2001:db8::1/64'] });
    const n2 = await open({ port: p2, ifname: 'ib0', netns: ns2.name, addresses: ['192.0.2.2/24', '2001:db8::2/64'], interfaceOptions: { cm: { rxIdleTimeoutMs: IDLE_MS, rxReapIntervalMs: 250 } } });
    const n4 = await open({ port: p4, ifname: 'ib0', netns: ns4.name, addresses: ['192.0.2.4/24', '2001:db8::4/64'], interfaceOptions: { cm: { enabled: false } } });
    await until('carrier on every node', () => [n1, n2, n4].every((n) => n.iface.carrier), 8000);
    lab = { fabric, ns1, ns2, ns4, n1, n2, n4 };
  });

  after(async function () {
    this.timeout(30_000);
    const errors: unknown[] = [];
    for (const n of opened.reverse()) await n.close().catch((e: unknown) => errors.push(e));
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

  /** The kernel's MTU of ib0 in `ns`. */
  const linkMtu = async (ns: Netns): Promise<number> => Number(/ mtu (\d+) /.exec(await ns.ip('-o', 'link', 'show', 'ib0'))?.[1] ?? -1);

  it('switches node1 and node2 to connected mode: TUN MTU 65520, UD MTU 2044, RC flag; node4 refuses it @cm @tun @mtu @hwaddr @ipoib-stack', async function () {
    const { n1, n2, n4, ns1, ns2 } = L();
    for (const n of [n1, n2]) n.iface.setMode('connected');
    await until('the TUN devices follow', () => n1.plane.mtu === 65_520 && n2.plane.mtu === 65_520, 3000);
    expect(await linkMtu(ns1)).to.equal(65_520);
    expect(await linkMtu(ns2)).to.equal(65_520);
    expect([n1.plane.udMtu, n1.iface.hwAddr().flags, n4.iface.hwAddr().flags]).to.deep.equal([2044, 0x80, 0]);
    expect(() => n4.iface.setMode('connected')).to.throw(/connected mode is not supported/);
  });

  it('pings with 65492 octets (65472 over IPv6) both ways, each way over its own RC connection @cm @rc @tun @ip @ipv6 @icmp @mtu @ipoib-stack', async function () {
    const { n1, n2, ns1, ns2 } = L();
    const results = [
      await ping(ns1, '192.0.2.2', { count: 3, size: PING4_MAX }),
      await ping(ns2, '192.0.2.1', { count: 3, size: PING4_MAX }),
      await ping(ns1, '2001:db8::2', { count: 3, size: PING6_MAX, v6: true }),
      await ping(ns2, '2001:db8::1', { count: 3, size: PING6_MAX, v6: true }),
    ];
    expect(results.map((r) => r.received), results.map((r) => r.output).join('\n')).to.deep.equal([3, 3, 3, 3]);
    for (const n of [n1, n2]) {
      expect(n.iface.connections().map((c) => `${c.direction}/${c.state}`).sort(), n.ifname).to.deep.equal(['rx/connected', 'tx/connected']);
      const c = n.plane.counters();
      expect(c.rc_tx_packets, 'RC sends').to.be.greaterThan(6);
      expect(c.rc_rx_packets, 'RC receives').to.be.greaterThan(6);
      expect(c.rc_tx_errors, 'no RC errors').to.equal(0);
    }
    expect(n1.plane.attachedRcQpns().length, 'both connections in the data plane').to.equal(2);
  });

  it('moves 64 MiB over TCP through a connection with the same SHA-256 @cm @rc @tun @ipoib-stack', async function () {
    const { ns1, ns2, n1 } = L();
    const r = await tcpTransfer(ns2, ns1, '192.0.2.2', 5201, 64 * MIB, 90_000);
    expect(r.received, `${(r.sent.bytes / MIB / r.sent.seconds).toFixed(1)} MiB/s`).to.deep.equal({ bytes: r.sent.bytes, sha256: r.sent.sha256 });
    this.test!.title += ` (${(r.sent.bytes / MIB / r.sent.seconds).toFixed(1)} MiB/s)`;
    expect(n1.plane.counters().rc_tx_errors).to.equal(0);
  });

  it('keeps a receiving connection the data plane carries while it is busy, and reaps it once idle @cm @rc @tun @ipoib-stack', async function () {
    const { n2, ns1 } = L();
    const fromNode1 = (): number | null => n2.iface.connections().find((c) => c.direction === 'rx')?.localQpn ?? null;
    const first = await ping(ns1, '192.0.2.2', { count: 1 });
    expect(first.received, first.output).to.equal(1);
    const qpn = fromNode1();
    const reapedBefore = n2.iface.stats().cm_rx_reaped;
    const busy = await ping(ns1, '192.0.2.2', { count: 15 }); // 0.2 s apart: twice the idle limit
    expect(busy.received, busy.output).to.equal(15);
    expect([fromNode1(), n2.iface.stats().cm_rx_reaped - reapedBefore], 'the same connection, never reaped').to.deep.equal([qpn, 0]);
    await until('reaped once idle', () => fromNode1() === null, 3 * IDLE_MS + 2000);
    expect(n2.iface.stats().cm_rx_reaped - reapedBefore).to.equal(1);
  });

  it('reaches the UD-only node over UD and teaches the host its 2044-octet MTU with a local ICMP, for a group too (ping -M do, ip route get, TCP) @cm @tun @ip @icmp @mtu @ipv6 @multicast @ipoib-stack', async function () {
    const { ns1, ns4, n1 } = L();
    const small = await ping(ns1, '192.0.2.4', { count: 2 });
    expect(small.received, small.output).to.equal(2);
    const node4 = formatHwAddr(L().n4.iface.hwAddr());
    expect(n1.iface.connections().map((c) => c.peer), 'no connection to node4').to.not.include(node4);
    const df = await ns1.exec(['ping', '-4', '-c', '2', '-i', '0.3', '-W', '1', '-M', 'do', '-s', '3000', '192.0.2.4'], 15_000);
    expect(df.stdout + df.stderr).to.match(/mtu = 2044/);
    expect(await ns1.ip('route', 'get', '192.0.2.4')).to.match(/mtu 2044/);
    const df6 = await ns1.exec(['ping', '-6', '-c', '2', '-i', '0.3', '-W', '1', '-M', 'do', '-s', '3000', '2001:db8::4'], 15_000);
    expect(df6.stdout + df6.stderr).to.match(/mtu(=|: | = )2044/);
    // A group is UD only: its MTU is taught the same way.
    const group = await ns1.exec(['ping', '-4', '-c', '2', '-i', '0.3', '-W', '1', '-M', 'do', '-s', '3000', '-I', 'ib0', '224.0.0.1'], 15_000);
    expect(group.stdout + group.stderr).to.match(/mtu = 2044/);
    expect(n1.iface.stats().pmtu_icmp_sent, 'the ICMP came from PMTU emulation').to.be.at.least(2);
    // A TCP sender starts at 65520 and must learn 2044 to get anything through.
    const r = await tcpTransfer(ns4, ns1, '192.0.2.4', 5202, 8 * MIB, 60_000);
    expect(r.received).to.deep.equal({ bytes: r.sent.bytes, sha256: r.sent.sha256 });
  });

  it('keeps a TCP transfer intact while the mode switches under it, and ends with mode, MTU and data plane agreeing @cm @rc @tun @mtu @ipoib-stack', async function () {
    const { ns1, ns2, n1 } = L();
    let done = false;
    const transfer = tcpTransfer(ns2, ns1, '192.0.2.2', 5203, 128 * MIB, 90_000).finally(() => (done = true));
    const modes: string[] = [];
    // Switch every 100 ms while data flows (the client needs a moment to make its data first).
    await until('the transfer under way', () => n1.plane.counters().rc_tx_packets > 1000 || done, 20_000);
    for (let i = 0; !done && i < 40; i++) {
      n1.iface.setMode(i % 2 === 0 ? 'datagram' : 'connected');
      modes.push(`${n1.iface.mode}:${n1.iface.mtu}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const r = await transfer;
    expect(r.received, modes.join(' ')).to.deep.equal({ bytes: r.sent.bytes, sha256: r.sent.sha256 });
    expect(modes.length, `switches during the transfer: ${modes.join(' ')}`).to.be.at.least(3);
    this.test!.title += ` (${modes.length} switches)`;
    if (n1.iface.mode !== 'connected') n1.iface.setMode('connected');
    await until('the data plane follows', () => n1.plane.mtu === 65_520, 3000);
    expect([n1.iface.mode, n1.iface.mtu, await linkMtu(ns1), n1.plane.udMtu]).to.deep.equal(['connected', 65_520, 65_520, 2044]);
    n1.iface.setMode('datagram');
    await until('datagram MTU on the TUN device', () => n1.plane.mtu === 2044, 3000);
    expect(await linkMtu(ns1)).to.equal(2044);
    const back = await ping(ns1, '192.0.2.2', { count: 2, size: 1000 });
    expect(back.received, back.output).to.equal(2);
  });
});
