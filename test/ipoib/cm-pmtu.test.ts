/**
 * PMTU emulation's ICMP errors (src/ipoib/pmtu.ts), built with the wire codecs and read back
 * with them: addresses, the MTU carried, how much of the original is quoted, checksums, and
 * the rate limit.
 */
import { expect } from 'chai';
import { parseCidr } from '../../src/ipoib/addresses.js';
import { IcmpRateLimit, PMTU_ICMP_BURST, tooBigIcmp } from '../../src/ipoib/pmtu.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import { ETH_P_IP, ETH_P_IPV6, ICMP_CODE_FRAG_NEEDED, ICMP_DEST_UNREACH, ICMPV6_PACKET_TOO_BIG, IPPROTO_ICMP, IPPROTO_ICMPV6 } from '../../src/wire/constants.js';
import { icmpProblems, icmpv4Message, icmpv6Message } from '../../src/wire/icmp.js';
import { formatIpv6, parseIpv6 } from '../../src/wire/ip-text.js';
import { ipv4Packet, ipv4Problems, makeIpv4Packet } from '../../src/wire/ipv4.js';
import { ipv6Packet, makeIpv6Packet } from '../../src/wire/ipv6.js';
import { createFakeClock } from '../fabric/fake-clock.js';

const OWN = [parseCidr('192.0.2.1/24', 't')];
const UDP = 17;

const v4 = (dst: string, size: number): Buffer =>
  encodeToBuffer(ipv4Packet, makeIpv4Packet({ src: '192.0.2.1', dst, protocol: UDP, payload: Buffer.alloc(size - 20, 0x5a), dontFragment: true }));
const v6 = (dst: string, size: number): Buffer =>
  encodeToBuffer(ipv6Packet, makeIpv6Packet({ src: parseIpv6('2001:db8::1'), dst: parseIpv6(dst), nextHeader: UDP, payload: Buffer.alloc(size - 40, 0xa5) }));

describe('PMTU emulation: the ICMP errors a too-big packet earns @icmp @mtu @cm @ipoib-stack', function () {
  it('answers an IPv4 packet with fragmentation needed from its destination, next-hop MTU 2044, 548 octets of it quoted @icmp @mtu @ip @cm @ipoib-stack', function () {
    const packet = v4('192.0.2.2', 3000);
    const r = tooBigIcmp(packet, 2044, OWN);
    if (!r.ok) throw new Error(r.reason);
    expect(r.etherType).to.equal(ETH_P_IP);
    const ip = ipv4Packet.decode(r.packet, 0).value;
    expect(ip.header).to.include({ src: '192.0.2.2', dst: '192.0.2.1', protocol: IPPROTO_ICMP });
    expect(ipv4Problems(ip.header)).to.deep.equal([]);
    expect(r.packet.length, 'within 576 octets').to.equal(576);
    const icmp = icmpv4Message.decode(ip.payload, 0).value;
    expect(icmp).to.include({ type: ICMP_DEST_UNREACH, code: ICMP_CODE_FRAG_NEEDED });
    expect(icmpProblems(icmp)).to.deep.equal([]);
    if (icmp.type !== ICMP_DEST_UNREACH) throw new Error('not unreachable');
    expect(icmp.nextHopMtu).to.equal(2044);
    expect(icmp.original.equals(packet.subarray(0, 548))).to.equal(true);
  });

  it('answers an IPv6 packet with packet too big, MTU 2044, from its destination, quoting what fits in 1280 @icmp @mtu @ipv6 @cm @ipoib-stack', function () {
    const packet = v6('2001:db8::2', 3000);
    const r = tooBigIcmp(packet, 2044, OWN);
    if (!r.ok) throw new Error(r.reason);
    expect(r.etherType).to.equal(ETH_P_IPV6);
    expect(r.packet.length).to.equal(1280);
    const ip = ipv6Packet.decode(r.packet, 0).value;
    expect(formatIpv6(ip.header.src)).to.equal('2001:db8::2');
    expect(formatIpv6(ip.header.dst)).to.equal('2001:db8::1');
    expect(ip.header.nextHeader).to.equal(IPPROTO_ICMPV6);
    const icmp = icmpv6Message.decode(ip.payload, 0).value;
    expect(icmpProblems(icmp, { src: ip.header.src, dst: ip.header.dst })).to.deep.equal([]);
    if (icmp.type !== ICMPV6_PACKET_TOO_BIG) throw new Error('not packet too big');
    expect(icmp.mtu).to.equal(2044);
    expect(icmp.original.equals(packet.subarray(0, 1232))).to.equal(true);
  });

  it('sends the error about a multicast or broadcast packet from an on-link stand-in (IPv4) or the sender itself (IPv6) @icmp @mtu @multicast @ipv6 @cm @ipoib-stack', function () {
    for (const dst of ['224.1.2.3', '255.255.255.255', '192.0.2.255']) {
      const r = tooBigIcmp(v4(dst, 3000), 2044, OWN);
      if (!r.ok) throw new Error(r.reason);
      expect(ipv4Packet.decode(r.packet, 0).value.header.src, dst).to.equal('192.0.2.2');
    }
    const taken = [...OWN, parseCidr('192.0.2.2/24', 't')];
    const r = tooBigIcmp(v4('224.1.2.3', 3000), 2044, taken);
    expect(r.ok && ipv4Packet.decode(r.packet, 0).value.header.src, 'the lowest address not our own').to.equal('192.0.2.3');
    expect(tooBigIcmp(v4('224.1.2.3', 3000), 2044, [parseCidr('192.0.2.1/32', 't')]).ok, 'no stand-in on a /32').to.equal(false);
    const six = tooBigIcmp(v6('ff02::1234', 3000), 2044, OWN);
    expect(six.ok && formatIpv6(ipv6Packet.decode(six.packet, 0).value.header.src)).to.equal('2001:db8::1');
  });

  it('refuses what is not IPv4 or IPv6 without throwing @icmp @ipv6 @cm @ipoib-stack', function () {
    expect(tooBigIcmp(Buffer.from([0x50, 1, 2]), 2044, OWN).ok).to.equal(false);
    expect(tooBigIcmp(Buffer.from([0x45, 0]), 2044, OWN).ok).to.equal(false);
  });

  it('lets a burst of 50 errors through and then one per millisecond @icmp @cm @ipoib-stack', async function () {
    const clock = createFakeClock(1000);
    const limit = new IcmpRateLimit(clock);
    let allowed = 0;
    for (let i = 0; i < 200; i++) if (limit.allow()) allowed++;
    expect(allowed).to.equal(PMTU_ICMP_BURST);
    await clock.tick(10);
    allowed = 0;
    for (let i = 0; i < 200; i++) if (limit.allow()) allowed++;
    expect(allowed).to.equal(10);
  });
});
