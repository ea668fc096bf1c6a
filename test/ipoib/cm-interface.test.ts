/**
 * Connected mode of the reference interface (RFC 4755, Linux semantics) on the simulated
 * fabric, frames carried by the JS data path: the RC flag, mode switching and its MTU rules,
 * IP over RC connections with ARP, ND and multicast left on UD, peers without the flag reached
 * over UD, PMTU emulation toward the host, and teardown. What goes on the wire is read back
 * from the tap.
 */
import { expect } from 'chai';
import { IpoibControlError } from '../../src/errors.js';
import type { SimHcaPort } from '../../src/fabric/sim/provider.js';
import type { IpoibCmOptions } from '../../src/ipoib/cm/cm-config.js';
import type { DefectName } from '../../src/ipoib/defects.js';
import { Defects } from '../../src/ipoib/defects.js';
import { IpoibInterface } from '../../src/ipoib/interface.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import {
  ETH_P_ARP,
  ETH_P_IP,
  ETH_P_IPV6,
  ICMP_DEST_UNREACH,
  ICMPV6_NA,
  ICMPV6_NS,
  ICMPV6_PACKET_TOO_BIG,
  IPPROTO_ICMPV6,
  OP_RC_SEND_FIRST,
  OP_RC_SEND_ONLY,
  OP_UD_SEND_ONLY,
} from '../../src/wire/constants.js';
import type { IbPacket } from '../../src/wire/ib-packet.js';
import { icmpv4Message, icmpv6Message } from '../../src/wire/icmp.js';
import { formatIpv6, parseIpv6 } from '../../src/wire/ip-text.js';
import { ipv4Packet, makeIpv4Packet } from '../../src/wire/ipv4.js';
import { ipv6Packet, makeIpv6Packet } from '../../src/wire/ipv6.js';
import { icmpEcho, SimLab, until } from './sim-fixture.js';

interface Node {
  port: SimHcaPort;
  ib0: IpoibInterface;
  got: Array<{ packet: Buffer; etherType: number }>;
}

const UDP = 17;
const udp4 = (src: string, dst: string, size: number, seq = 0): Buffer =>
  encodeToBuffer(ipv4Packet, makeIpv4Packet({ src, dst, protocol: UDP, payload: Buffer.alloc(size - 20, seq & 0xff), dontFragment: true, identification: seq }));
const udp6 = (src: string, dst: string, size: number): Buffer =>
  encodeToBuffer(ipv6Packet, makeIpv6Packet({ src: parseIpv6(src), dst: parseIpv6(dst), nextHeader: UDP, payload: Buffer.alloc(size - 40, 0x66) }));

const etherTypeOf = (p: IbPacket): number => (p.payload.length >= 2 ? p.payload.readUInt16BE(0) : -1);
const icmpv6TypeOf = (p: IbPacket): number => (etherTypeOf(p) === ETH_P_IPV6 && p.payload[4 + 6] === IPPROTO_ICMPV6 ? (p.payload[4 + 40] ?? -1) : -1);
/** First (or only) packets of RC SEND messages: where the IPoIB header is. */
const rcMessageStarts = (ps: IbPacket[]): IbPacket[] => ps.filter((p) => p.bth.opcode === OP_RC_SEND_FIRST || p.bth.opcode === OP_RC_SEND_ONLY);
const udSends = (ps: IbPacket[]): IbPacket[] => ps.filter((p) => p.bth.opcode === OP_UD_SEND_ONLY && p.bth.destQp !== 1 && p.deth?.srcQp !== 1);

describe('connected mode of the reference interface on the simulated fabric @cm @rc @fabric @ipoib-stack', function () {
  this.timeout(30_000);
  let lab: SimLab;
  const interfaces: IpoibInterface[] = [];

  const node = async (n: 1 | 2 | 3, o: { cm?: IpoibCmOptions; defects?: DefectName[] } = {}): Promise<Node> => {
    const port = await lab.port(`node${n}`);
    const ib0 = new IpoibInterface({ name: 'ib0', port, ...(o.cm ? { cm: o.cm } : {}), ...(o.defects ? { defects: Defects.of(o.defects) } : {}) });
    interfaces.push(ib0);
    ib0.addAddress(`10.0.0.${n}/24`);
    ib0.addAddress(`2001:db8::${n}/64`);
    const got: Node['got'] = [];
    ib0.onDeliver((packet, etherType) => got.push({ packet, etherType }));
    await ib0.open();
    await until(`node${n} carrier`, () => ib0.carrier, 5000);
    return { port, ib0, got };
  };

  const delivered = (n: Node, p: Buffer): boolean => n.got.some((g) => g.packet.equals(p));

  beforeEach(async function () {
    lab = await SimLab.start();
  });

  afterEach(async function () {
    for (const i of interfaces.splice(0)) await i.destroy();
    await lab.close();
  });

  it('advertises RC (0x80) in both modes and accepts connections in datagram mode; without connected mode it advertises 0x00 and refuses it with EINVAL @cm @rc @fabric @hwaddr @ipoib-stack', async function () {
    const stop = await lab.tap();
    const a = await node(1);
    const b = await node(2);
    const c = await node(3, { cm: { enabled: false } });
    expect(a.ib0.hwAddr().flags).to.equal(0x80);
    expect(a.ib0.info()).to.deep.include({ mode: 'datagram', udMtu: 2044 });
    expect(a.ib0.info().cm).to.deep.include({ supported: true, profile: 'linux', serviceId: `0x${(0x1000_0000_0000_0000n | BigInt(a.ib0.qpn!)).toString(16)}` });
    expect(c.ib0.hwAddr().flags).to.equal(0);
    expect(c.ib0.info().cm).to.deep.include({ supported: false, serviceId: null });
    let refused: unknown;
    try {
      c.ib0.setMode('connected');
    } catch (e) {
      refused = e;
    }
    expect(refused).to.be.instanceOf(IpoibControlError);
    expect((refused as IpoibControlError).code).to.equal('EINVAL');
    expect(c.ib0.info()).to.deep.include({ mode: 'datagram', mtu: 2044 });

    b.ib0.setMode('connected');
    const ping = icmpEcho('10.0.0.2', '10.0.0.1', 1, 1000);
    b.ib0.transmit(ping, ETH_P_IP);
    await until('the ping over RC at node1', () => delivered(a, ping));
    const pong = icmpEcho('10.0.0.1', '10.0.0.2', 2, 1000);
    a.ib0.transmit(pong, ETH_P_IP);
    await until('the reply over UD at node2', () => delivered(b, pong));
    expect(a.ib0.connections().map((x) => x.direction), 'node1 (datagram) only receives').to.deep.equal(['rx']);
    expect(b.ib0.connections().map((x) => x.direction), 'node2 (connected) only sends').to.deep.equal(['tx']);
    const packets = await stop();
    const arps = udSends(packets).filter((p) => etherTypeOf(p) === ETH_P_ARP);
    expect(arps.length, 'ARP went over UD').to.be.greaterThan(0);
    expect(rcMessageStarts(packets).filter((p) => p.payload.subarray(4).equals(ping)).length, 'the ping in an RC SEND').to.be.greaterThan(0);
    expect(udSends(packets).filter((p) => p.payload.subarray(4).equals(pong)).length, 'the reply in a UD frame').to.be.greaterThan(0);
  });

  it('switches modes with the kernel\'s MTU rules: 65520, the same mode changes nothing, back to min(group MTU - 4, MTU) @cm @fabric @mtu @pkey @ipoib-stack', async function () {
    const a = await node(1);
    const child = new IpoibInterface({ name: 'ib0.8001', port: a.port, pkey: 0x8001, parent: 'ib0' });
    interfaces.push(child);
    await child.open();
    await until('child carrier', () => child.carrier, 5000);
    a.ib0.setMode('connected');
    expect(a.ib0.info()).to.deep.include({ mode: 'connected', mtu: 65520, udMtu: 2044, mcastMtu: 2044 });
    expect(child.info(), 'a child keeps its own mode').to.deep.include({ mode: 'datagram', mtu: 4092 });
    a.ib0.setMtu(9000);
    a.ib0.setMode('connected');
    expect(a.ib0.mtu, 'connected again: no MTU reset').to.equal(9000);
    for (const bad of [65521, 67, 1_000_000]) {
      let e: unknown;
      try {
        a.ib0.setMtu(bad);
      } catch (x) {
        e = x;
      }
      expect((e as IpoibControlError).code, String(bad)).to.equal('EINVAL');
    }
    a.ib0.setMode('datagram');
    expect(a.ib0.info()).to.deep.include({ mode: 'datagram', mtu: 2044, adminMtu: 2044, udMtu: 2044 });
    a.ib0.setMode('connected');
    expect(a.ib0.mtu).to.equal(65520);
    a.ib0.setMtu(1500);
    a.ib0.setMode('datagram');
    expect(a.ib0.info(), 'min(2044, 1500)').to.deep.include({ mtu: 1500, adminMtu: 1500 });
    child.setMode('connected');
    expect(child.info()).to.deep.include({ mode: 'connected', mtu: 65520, udMtu: 4092 });
    expect(a.ib0.mode).to.equal('datagram');
  });

  it('carries IPv4 and IPv6 up to 65520 octets over RC, byte for byte, and keeps ARP, ND and multicast on UD @cm @rc @fabric @arp @nd @ipv6 @multicast @encap @ipoib-stack', async function () {
    const stop = await lab.tap();
    const a = await node(1);
    const b = await node(2);
    a.ib0.setMode('connected');
    b.ib0.setMode('connected');
    const small = icmpEcho('10.0.0.1', '10.0.0.2', 1, 100);
    a.ib0.transmit(small, ETH_P_IP);
    await until('the first packet', () => delivered(b, small));
    const big4 = udp4('10.0.0.1', '10.0.0.2', 65520, 7);
    const big6 = udp6('2001:db8::1', '2001:db8::2', 65520);
    a.ib0.transmit(big4, ETH_P_IP);
    a.ib0.transmit(big6, ETH_P_IPV6);
    await until('both 65520-octet packets', () => delivered(b, big4) && delivered(b, big6), 10_000);
    const back = udp6('2001:db8::2', '2001:db8::1', 30_000);
    b.ib0.transmit(back, ETH_P_IPV6);
    await until('IPv6 the other way', () => delivered(a, back));
    const group = udp4('10.0.0.1', '224.0.0.1', 1000);
    a.ib0.transmit(group, ETH_P_IP);
    await until('the multicast packet', () => delivered(b, group));
    const packets = await stop();
    const rc = rcMessageStarts(packets);
    expect(new Set(rc.map(etherTypeOf)), 'only IP over RC').to.deep.equal(new Set([ETH_P_IP, ETH_P_IPV6]));
    expect(rc.filter((p) => [ICMPV6_NS, ICMPV6_NA].includes(icmpv6TypeOf(p))), 'no ND over RC').to.deep.equal([]);
    const ud = udSends(packets);
    expect(ud.some((p) => etherTypeOf(p) === ETH_P_ARP), 'ARP over UD').to.equal(true);
    expect(ud.some((p) => icmpv6TypeOf(p) === ICMPV6_NS) && ud.some((p) => icmpv6TypeOf(p) === ICMPV6_NA), 'ND over UD').to.equal(true);
    expect(ud.some((p) => p.payload.subarray(4).equals(group) && p.grh?.dgid[0] === 0xff), 'multicast over UD').to.equal(true);
    expect(a.ib0.connections().map((x) => `${x.direction}/${x.state}`).sort()).to.deep.equal(['rx/connected', 'tx/connected']);
  });

  it('reaches a peer without the RC flag over UD and answers packets over the UD MTU with a local ICMP carrying 2044 @cm @rc @fabric @icmp @mtu @ipv6 @multicast @ipoib-stack', async function () {
    const a = await node(1);
    const c = await node(3, { cm: { enabled: false } });
    a.ib0.setMode('connected');
    const fits = udp4('10.0.0.1', '10.0.0.3', 2044, 1);
    a.ib0.transmit(fits, ETH_P_IP);
    await until('2044 octets over UD', () => delivered(c, fits));
    expect(a.ib0.connections(), 'no connection to a UD-only peer').to.deep.equal([]);
    const before = a.ib0.stats();
    const tooBig = udp4('10.0.0.1', '10.0.0.3', 3000, 2);
    a.ib0.transmit(tooBig, ETH_P_IP);
    const icmp4 = a.got.find((g) => g.etherType === ETH_P_IP && ipv4Packet.decode(g.packet, 0).value.header.protocol === 1);
    if (!icmp4) throw new Error('no ICMP delivered to the host');
    const ip = ipv4Packet.decode(icmp4.packet, 0).value;
    expect(ip.header).to.include({ src: '10.0.0.3', dst: '10.0.0.1' });
    const m = icmpv4Message.decode(ip.payload, 0).value;
    expect(m.type === ICMP_DEST_UNREACH && m.code === 4 && m.nextHopMtu).to.equal(2044);
    const after = a.ib0.stats();
    expect(after.tx_dropped - before.tx_dropped).to.equal(1);
    expect(after.tx_errors - before.tx_errors).to.equal(1);
    expect(after.pmtu_icmp_sent - before.pmtu_icmp_sent).to.equal(1);
    expect(delivered(c, tooBig)).to.equal(false);

    a.got.length = 0;
    const v6 = udp6('2001:db8::1', '2001:db8::3', 3000);
    a.ib0.transmit(v6, ETH_P_IPV6);
    await until('the IPv6 packet too big', () => a.got.some((g) => g.etherType === ETH_P_IPV6));
    const six = ipv6Packet.decode(a.got.find((g) => g.etherType === ETH_P_IPV6)!.packet, 0).value;
    expect(formatIpv6(six.header.src)).to.equal('2001:db8::3');
    const ptb = icmpv6Message.decode(six.payload, 0).value;
    expect(ptb.type === ICMPV6_PACKET_TOO_BIG && ptb.mtu).to.equal(2044);

    a.got.length = 0;
    a.ib0.transmit(udp4('10.0.0.1', '224.1.2.3', 3000), ETH_P_IP);
    expect(a.got.length, 'the multicast packet answered at once').to.equal(1);
    const mc = ipv4Packet.decode(a.got[0]!.packet, 0).value;
    expect(mc.header.src, 'from an on-link stand-in').to.equal('10.0.0.2');
    const mcm = icmpv4Message.decode(mc.payload, 0).value;
    expect(mcm.type === ICMP_DEST_UNREACH && mcm.nextHopMtu).to.equal(2044);
  });

  it('ends the sending connections on a mode switch, keeps neighbours and receiving connections, and ends all on interface down (a DREQ each) @cm @rc @fabric @ipoib-stack', async function () {
    const a = await node(1);
    const b = await node(2);
    a.ib0.setMode('connected');
    b.ib0.setMode('connected');
    const p1 = icmpEcho('10.0.0.1', '10.0.0.2', 1, 100);
    const p2 = icmpEcho('10.0.0.2', '10.0.0.1', 2, 100);
    a.ib0.transmit(p1, ETH_P_IP);
    b.ib0.transmit(p2, ETH_P_IP);
    await until('both ways', () => delivered(b, p1) && delivered(a, p2));
    await until('two connections on each side', () => a.ib0.connections().length === 2 && b.ib0.connections().length === 2);
    const neighbours = a.ib0.neighbours().length;
    a.ib0.setMode('datagram');
    expect(a.ib0.pathDump(), 'paths flushed').to.equal('');
    expect(a.ib0.neighbours().length, 'the host\'s neighbours stay').to.equal(neighbours);
    expect(a.ib0.connections().map((x) => x.direction), 'the receiving one stays').to.deep.equal(['rx']);
    await until('node2 heard the DREQ', () => b.ib0.connections().every((x) => x.direction === 'tx'));
    const p3 = icmpEcho('10.0.0.1', '10.0.0.2', 3, 100);
    a.ib0.transmit(p3, ETH_P_IP);
    await until('datagram mode again sends over UD', () => delivered(b, p3));
    expect(a.ib0.connections().map((x) => x.direction)).to.deep.equal(['rx']);
    await a.ib0.close();
    expect(a.ib0.connections()).to.deep.equal([]);
    await until('node2 lost its connection to node1', () => b.ib0.connections().length === 0);
  });

  it('commits its seeded defects: the CM MTU in the ICMP, no MTU change on mode connected, ARP replies over RC @cm @rc @fabric @arp @icmp @mtu @power @ipoib-stack', async function () {
    const a = await node(1, { defects: ['pmtu-icmp-cm-mtu', 'cm-mode-mtu-unchanged', 'cm-arp-over-rc'] });
    const b = await node(2);
    a.ib0.setMode('connected');
    expect(a.ib0.mtu, 'cm-mode-mtu-unchanged').to.equal(2044);
    a.ib0.setMtu(65520);
    b.ib0.setMode('connected');
    const p1 = icmpEcho('10.0.0.1', '10.0.0.2', 1, 100);
    a.ib0.transmit(p1, ETH_P_IP);
    await until('node1 → node2 over RC', () => delivered(b, p1) && a.ib0.connections().some((x) => x.direction === 'tx' && x.state === 'connected'));
    a.ib0.transmit(udp4('10.0.0.1', '224.1.2.3', 3000), ETH_P_IP);
    const icmp = icmpv4Message.decode(ipv4Packet.decode(a.got.at(-1)!.packet, 0).value.payload, 0).value;
    expect(icmp.type === ICMP_DEST_UNREACH && icmp.nextHopMtu, 'pmtu-icmp-cm-mtu').to.equal(65520);
    const stop = await lab.tap();
    b.ib0.flushNeighbours();
    const p2 = icmpEcho('10.0.0.2', '10.0.0.1', 2, 100);
    b.ib0.transmit(p2, ETH_P_IP);
    await until('node2 resolved node1 again', () => delivered(a, p2));
    const rcArp = rcMessageStarts(await stop()).filter((p) => etherTypeOf(p) === ETH_P_ARP);
    expect(rcArp.length, 'cm-arp-over-rc: the ARP reply in an RC SEND').to.be.greaterThan(0);
  });
});
