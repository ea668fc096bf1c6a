/**
 * The ARP and ND messages the stack builds, and what it accepts from peers.
 *
 * ARP request golden (56 octets), derived by hand:
 *   0000 0020            htype 32 (InfiniBand)
 *   0002 0800            ptype IPv4
 *   0004 14 04           hlen 20, plen 4
 *   0006 0001            op request
 *   0008 00 000048 fe80000000000000 0002c90300000101   sha: flags 0, QPN 0x48, port GID
 *   001c 0a000001        spa 10.0.0.1
 *   0020 00 000000 00…00 tha: all zero in a request
 *   0034 0a000002        tpa 10.0.0.2
 */
import { expect } from 'chai';
import { buildArpReply, buildArpRequest, parseArp } from '../../src/ipoib/arp-messages.js';
import {
  allNodesAddress,
  buildNeighborAdvertisement,
  buildNeighborSolicitation,
  ND_HOP_LIMIT,
  parseNd,
  solicitedNodeAddress,
} from '../../src/ipoib/nd-messages.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import { ARP_OP_REPLY, ICMPV6_NA, ICMPV6_NS, IPPROTO_ICMPV6 } from '../../src/wire/constants.js';
import { icmpv6Checksum } from '../../src/wire/icmp.js';
import type { IpoibHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { ipv6Packet, makeIpv6Packet, type Ipv6Packet } from '../../src/wire/ipv6.js';
import { type NdMessage, ndMessage, withIcmpv6Checksum } from '../../src/wire/nd.js';
import { parseGid } from '../../src/wire/mgid.js';
import { hex } from '../helpers/roundtrip.js';

const ME: IpoibHwAddr = { flags: 0, qpn: 0x48, gid: parseGid('fe80::2:c903:0:101') };
const PEER: IpoibHwAddr = { flags: 0, qpn: 0x49, gid: parseGid('fe80::2:c903:0:201') };
const LL_ME = parseGid('fe80::202:c903:0:101');
const LL_PEER = parseGid('fe80::202:c903:0:201');

const ARP_REQUEST_GOLDEN = `
  0020 0800 14 04 0001
  00 000048 fe80000000000000 0002c90300000101
  0a000001
  00 000000 0000000000000000 0000000000000000
  0a000002`;

describe('ARP messages of the reference stack @arp @ipoib-stack', function () {
  it('builds a request with hardware type 32, lengths 20/4 and a zero target address @arp @hwaddr @ipoib-stack', function () {
    expect(buildArpRequest(ME, '10.0.0.1', '10.0.0.2').toString('hex')).to.equal(hex(ARP_REQUEST_GOLDEN).toString('hex'));
  });

  it('builds a reply that carries both addresses and op 2 @arp @ipoib-stack', function () {
    const r = parseArp(buildArpReply(ME, '10.0.0.1', PEER, '10.0.0.2'));
    if (!r.ok) throw new Error(r.reason);
    expect(r.packet.op).to.equal(ARP_OP_REPLY);
    expect(r.packet.tha.qpn).to.equal(0x49);
    expect(r.packet.tha.gid.equals(PEER.gid)).to.equal(true);
    expect(r.packet.tpa).to.equal('10.0.0.2');
  });

  it('refuses ARP with a wrong hardware length, protocol length, type, protocol or op @arp @ipoib-stack', function () {
    const good = hex(ARP_REQUEST_GOLDEN);
    const cases: Array<[string, (b: Buffer) => void, RegExp]> = [
      ['hlen 6 (Ethernet)', (b) => b.writeUInt8(6, 4), /hlen/],
      ['plen 16', (b) => b.writeUInt8(16, 5), /plen/],
      ['htype 1 (Ethernet)', (b) => b.writeUInt16BE(1, 0), /hardware type 1/],
      ['ptype IPv6', (b) => b.writeUInt16BE(0x86dd, 2), /protocol type/],
      ['op 3 (RARP)', (b) => b.writeUInt16BE(3, 6), /op 3/],
      ['multicast sender GID', (b) => b.writeUInt8(0xff, 12), /multicast/],
    ];
    for (const [what, mutate, why] of cases) {
      const b = Buffer.from(good);
      mutate(b);
      const r = parseArp(b);
      expect(r.ok, what).to.equal(false);
      if (!r.ok) expect(r.reason, what).to.match(why);
    }
  });

  it('refuses every truncated ARP without throwing @arp @ipoib-stack', function () {
    const good = hex(ARP_REQUEST_GOLDEN);
    for (let n = 0; n < good.length; n++) expect(parseArp(good.subarray(0, n)).ok, `${n} octets`).to.equal(false);
  });

  it('accepts reserved flag bits in the sender address and keeps them @arp @hwaddr @ipoib-stack', function () {
    const b = hex(ARP_REQUEST_GOLDEN);
    b.writeUInt8(0x3f, 8);
    const r = parseArp(b);
    expect(r.ok).to.equal(true);
    if (r.ok) expect(r.packet.sha.flags).to.equal(0x3f);
  });
});

/** Re-encodes `p` with a mutated ND message (checksum fixed unless told otherwise). */
function withMessage(p: Ipv6Packet, m: NdMessage, fixChecksum = true): Ipv6Packet {
  const msg = fixChecksum ? withIcmpv6Checksum(m, p.header.src, p.header.dst) : m;
  const payload = encodeToBuffer(ndMessage, msg);
  return makeIpv6Packet({ src: p.header.src, dst: p.header.dst, nextHeader: IPPROTO_ICMPV6, hopLimit: p.header.hopLimit, payload });
}

function decodeNs(): { p: Ipv6Packet; m: NdMessage } {
  const p = ipv6Packet.decode(buildNeighborSolicitation(LL_ME, LL_PEER, ME), 0).value;
  return { p, m: ndMessage.decode(p.payload, 0).value };
}

describe('ND messages of the reference stack @nd @ipv6 @ipoib-stack', function () {
  it('maps an address to its solicited-node group ff02::1:ffXX:XXXX @nd @ipv6 @multicast @ipoib-stack', function () {
    expect(solicitedNodeAddress(LL_PEER).toString('hex')).to.equal('ff0200000000000000000001ff000201');
    expect(allNodesAddress().toString('hex')).to.equal('ff020000000000000000000000000001');
  });

  it('builds an NS to the solicited-node group with hop limit 255, a correct checksum and the 3-unit option @nd @ipv6 @icmp @ipoib-stack', function () {
    const { p, m } = decodeNs();
    expect(p.header.hopLimit).to.equal(ND_HOP_LIMIT);
    expect(p.header.nextHeader).to.equal(IPPROTO_ICMPV6);
    expect(p.header.dst.equals(solicitedNodeAddress(LL_PEER))).to.equal(true);
    expect(m.type).to.equal(ICMPV6_NS);
    expect(m.checksum).to.equal(icmpv6Checksum(p.header.src, p.header.dst, p.payload));
    const opt = m.options[0];
    expect(opt?.kind).to.equal('lladdr');
    // The option on the wire: type 1, length 3, two zero octets, then the 20-octet address.
    expect(p.payload.subarray(24, 48).toString('hex')).to.equal('0103000000000048fe800000000000000002c90300000101');
  });

  it('builds a solicited NA with S and O set and the target option @nd @ipv6 @ipoib-stack', function () {
    const p = ipv6Packet.decode(buildNeighborAdvertisement(LL_ME, LL_PEER, ME, true), 0).value;
    const v = parseNd(p);
    expect(v.kind).to.equal('na');
    if (v.kind !== 'na') return;
    expect(v.solicited).to.equal(true);
    expect(v.override).to.equal(true);
    expect(v.targetHw?.qpn).to.equal(0x48);
    expect(p.header.src.equals(LL_ME)).to.equal(true);
  });

  it('parses its own NS back with the source address @nd @ipv6 @ipoib-stack', function () {
    const v = parseNd(decodeNs().p);
    expect(v.kind).to.equal('ns');
    if (v.kind === 'ns') {
      expect(v.target.equals(LL_PEER)).to.equal(true);
      expect(v.sourceHw?.gid.equals(ME.gid)).to.equal(true);
    }
  });

  it('leaves other ICMPv6 and other next headers to the host @nd @ipv6 @icmp @ipoib-stack', function () {
    const echo = makeIpv6Packet({ src: LL_ME, dst: LL_PEER, nextHeader: IPPROTO_ICMPV6, payload: Buffer.from('8000000000010001', 'hex') });
    expect(parseNd(echo).kind).to.equal('not-nd');
    const udp = makeIpv6Packet({ src: LL_ME, dst: LL_PEER, nextHeader: 17, payload: Buffer.alloc(8) });
    expect(parseNd(udp).kind).to.equal('not-nd');
  });

  it('drops ND with a bad option, checksum, hop limit, code or target, and truncated ND @nd @ipv6 @ipoib-stack', function () {
    const { p, m } = decodeNs();
    const ns = m as Extract<NdMessage, { type: typeof ICMPV6_NS }>;
    const bad: Array<[string, Ipv6Packet, RegExp]> = [
      ['Ethernet-sized source option (length 1)', withMessage(p, { ...ns, options: [{ kind: 'raw', type: 1, length: 1, data: Buffer.alloc(6) }] }), /source link-layer option/],
      ['hop limit 64', { ...p, header: { ...p.header, hopLimit: 64 } }, /hop limit 64/],
      ['wrong checksum', withMessage(p, { ...ns, checksum: (ns.checksum + 1) & 0xffff }, false), /checksum/],
      ['code 1', withMessage(p, { ...ns, code: 1 }), /code 1/],
      ['multicast target', withMessage(p, { ...ns, target: parseGid('ff02::1') }), /multicast/],
      ['source option in a DAD probe', withMessage({ ...p, header: { ...p.header, src: Buffer.alloc(16) } }, ns), /from ::/],
      ['zero-length option', { ...p, payload: Buffer.concat([p.payload.subarray(0, 24), Buffer.from('0100', 'hex'), p.payload.subarray(26)]) }, /length 0/],
      ['truncated before the target', { ...p, payload: p.payload.subarray(0, 20) }, /nd/],
      ['option running past the end', { ...p, payload: p.payload.subarray(0, 40) }, /nd\.option/],
    ];
    for (const [what, pkt, why] of bad) {
      const v = parseNd(pkt);
      expect(v.kind, what).to.equal('bad');
      if (v.kind === 'bad') expect(v.reason, what).to.match(why);
    }
  });

  it('drops an NA whose target option is not the IPoIB form @nd @ipv6 @ipoib-stack', function () {
    const p = ipv6Packet.decode(buildNeighborAdvertisement(LL_ME, LL_PEER, ME, true), 0).value;
    const m = ndMessage.decode(p.payload, 0).value as Extract<NdMessage, { type: typeof ICMPV6_NA }>;
    const v = parseNd(withMessage(p, { ...m, options: [{ kind: 'raw', type: 2, length: 2, data: Buffer.alloc(14) }] }));
    expect(v.kind).to.equal('bad');
  });
});
