/**
 * Checksum completion in the C++ offload engine (native/src/tun/offload_segment.h
 * CompleteChecksum): packets the host hands over with NEEDS_CSUM carry the pseudo-header sum in
 * their checksum field, and the engine sums from csum_start to the end and writes the result at
 * csum_start + csum_offset, for any protocol. TCP and UDP over IPv4 and IPv6 here, every field
 * placement checked against the bounds.
 */
import { expect } from 'chai';
import { OffloadError } from '../../src/errors.js';
import { offloadComplete, offloadSegment, vnetHeader } from '../../src/ipoib/native/offload.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import { IPOIB_UD_DEFAULT_MTU, IPPROTO_UDP, TCP_FLAG_ACK, TCP_FLAG_PSH, UDP_HEADER_LEN, VNET_HDR_F_NEEDS_CSUM } from '../../src/wire/constants.js';
import { internetChecksum, ipv4PseudoHeader, ipv6PseudoHeader, onesComplementSum } from '../../src/wire/inet-checksum.js';
import { parseIpv4 } from '../../src/wire/ip-text.js';
import { ipv4Packet, makeIpv4Packet } from '../../src/wire/ipv4.js';
import { ipv6Packet, makeIpv6Packet } from '../../src/wire/ipv6.js';
import { TCP_CHECKSUM_AT } from '../../src/wire/tcp.js';
import { FLOW_V4, FLOW_V6, type Flow, decodeTcpPacket, expectChecksumsValid, pattern, tcpPacket, withPartialChecksum } from './offload-packets.js';

const UDP_CHECKSUM_AT = 6;

/** The IPv4 or IPv6 pseudo-header of a UDP datagram of `length` octets on `flow`. */
function udpPseudo(flow: Flow, length: number): Buffer {
  if (flow.family === 4) {
    const a = flow.addrs as { src: string; dst: string };
    return ipv4PseudoHeader(parseIpv4(a.src), parseIpv4(a.dst), IPPROTO_UDP, length);
  }
  const a = flow.addrs as { src: Buffer; dst: Buffer };
  return ipv6PseudoHeader(a.src, a.dst, IPPROTO_UDP, length);
}

/**
 * A UDP datagram in an IP packet, built here (the project has no UDP codec): ports, length,
 * checksum (RFC 768). `checksum`: 'valid' (0 sent as 0xffff) or 'partial' (the pseudo-header
 * sum, as the host leaves it with NEEDS_CSUM).
 */
function udpPacket(flow: Flow, payload: Buffer, checksum: 'valid' | 'partial'): { packet: Buffer; udpOffset: number } {
  const udp = Buffer.alloc(UDP_HEADER_LEN + payload.length);
  udp.writeUInt16BE(flow.srcPort, 0);
  udp.writeUInt16BE(flow.dstPort, 2);
  udp.writeUInt16BE(udp.length, 4);
  payload.copy(udp, UDP_HEADER_LEN);
  const pseudo = udpPseudo(flow, udp.length);
  const valid = internetChecksum(pseudo, udp) || 0xffff;
  udp.writeUInt16BE(checksum === 'valid' ? valid : onesComplementSum(pseudo), UDP_CHECKSUM_AT);
  if (flow.family === 4) {
    const a = flow.addrs as { src: string; dst: string };
    return { packet: encodeToBuffer(ipv4Packet, makeIpv4Packet({ src: a.src, dst: a.dst, protocol: IPPROTO_UDP, payload: udp })), udpOffset: 20 };
  }
  const a = flow.addrs as { src: Buffer; dst: Buffer };
  return { packet: encodeToBuffer(ipv6Packet, makeIpv6Packet({ src: a.src, dst: a.dst, nextHeader: IPPROTO_UDP, payload: udp })), udpOffset: 40 };
}

function udpChecksumOk(flow: Flow, packet: Buffer, udpOffset: number): boolean {
  const udp = packet.subarray(udpOffset);
  return onesComplementSum(udpPseudo(flow, udp.length), udp) === 0xffff;
}

const needsCsum = (csumStart: number, csumOffset: number) => vnetHeader({ flags: VNET_HDR_F_NEEDS_CSUM, csumStart, csumOffset });
const SIZES = [0, 1, 2, 3, 1001, 1400];

describe('offload engine: checksum completion of NEEDS_CSUM packets @offload @native @ip @ipv6', function () {
  for (const flow of [FLOW_V4, FLOW_V6]) {
    it(`completes TCP over IPv${flow.family} to the checksum a full computation gives, payloads ${SIZES.join(', ')} @offload @native @ip @ipv6`, function () {
      for (const size of SIZES) {
        const valid = tcpPacket(flow, { seq: 7, flags: TCP_FLAG_ACK | TCP_FLAG_PSH, payload: pattern(size, size + 3) });
        const partial = withPartialChecksum(valid);
        const at = decodeTcpPacket(valid).tcpOffset;
        expect(partial.equals(valid), 'the partial form differs').to.equal(false);
        const v = needsCsum(at, TCP_CHECKSUM_AT);
        const done = offloadComplete(v, partial);
        expectChecksumsValid(decodeTcpPacket(done), `${size} octets`);
        expect(done.subarray(0, at + TCP_CHECKSUM_AT), 'nothing before the field changed').to.deep.equal(valid.subarray(0, at + TCP_CHECKSUM_AT));
        expect(done.subarray(at + TCP_CHECKSUM_AT + 2), 'nothing after the field changed').to.deep.equal(valid.subarray(at + TCP_CHECKSUM_AT + 2));
        const [viaSegment] = offloadSegment(v, partial, IPOIB_UD_DEFAULT_MTU);
        expect(viaSegment, 'the same through offloadSegment without GSO').to.deep.equal(done);
      }
    });

    it(`completes UDP over IPv${flow.family}, payloads ${SIZES.join(', ')} @offload @native @ip @ipv6`, function () {
      for (const size of SIZES) {
        const { packet: partial, udpOffset } = udpPacket(flow, pattern(size, size + 9), 'partial');
        const { packet: valid } = udpPacket(flow, pattern(size, size + 9), 'valid');
        const done = offloadComplete(needsCsum(udpOffset, UDP_CHECKSUM_AT), partial);
        expect(udpChecksumOk(flow, done, udpOffset), `${size} octets: UDP checksum`).to.equal(true);
        expect(done, `${size} octets: as computed in full`).to.deep.equal(valid);
      }
    });

    it(`writes a UDP checksum that computes to 0 as 0xffff over IPv${flow.family} @offload @native @ip @ipv6`, function () {
      // Choose the last payload word so the whole datagram sums to 0xffff: its checksum is then 0,
      // which UDP reserves for "no checksum".
      const { packet: probe, udpOffset } = udpPacket(flow, Buffer.alloc(2), 'partial');
      const udp = Buffer.from(probe.subarray(udpOffset));
      udp.writeUInt16BE(0, UDP_CHECKSUM_AT);
      const rest = onesComplementSum(udpPseudo(flow, udp.length), udp);
      const { packet: partial } = udpPacket(flow, Buffer.from([(0xffff - rest) >> 8, (0xffff - rest) & 0xff]), 'partial');
      const done = offloadComplete(needsCsum(udpOffset, UDP_CHECKSUM_AT), partial);
      expect(done.readUInt16BE(udpOffset + UDP_CHECKSUM_AT), 'checksum field').to.equal(0xffff);
      expect(udpChecksumOk(flow, done, udpOffset)).to.equal(true);
    });
  }

  it('leaves a packet without NEEDS_CSUM as it is, and never writes into the caller\'s buffer @offload @native @ip', function () {
    const partial = withPartialChecksum(tcpPacket(FLOW_V4, { seq: 1, flags: TCP_FLAG_ACK, payload: pattern(100) }));
    const before = Buffer.from(partial);
    expect(offloadComplete(vnetHeader(), partial)).to.deep.equal(partial);
    offloadComplete(needsCsum(20, TCP_CHECKSUM_AT), partial);
    expect(partial, 'the input').to.deep.equal(before);
  });

  it('accepts exactly the placements inside the packet and refuses every other one, touching only the field @offload @native', function () {
    const p = pattern(64, 77);
    const offsets = [...Array.from({ length: 70 }, (_, i) => i), 0x7fff, 0xfffe, 0xffff];
    let accepted = 0;
    for (const start of [...Array.from({ length: 70 }, (_, i) => i), 0xffff]) {
      for (const off of offsets) {
        const inside = start < p.length && start + off + 2 <= p.length;
        let out: Buffer | undefined;
        let err: unknown;
        try {
          out = offloadComplete(needsCsum(start, off), p);
        } catch (e) {
          err = e;
        }
        if (inside) {
          expect(err, `start ${start}, offset ${off}`).to.equal(undefined);
          expect(out!.length).to.equal(p.length);
          const at = start + off;
          expect(Buffer.concat([out!.subarray(0, at), out!.subarray(at + 2)]), `start ${start}, offset ${off}: other octets`).to.deep.equal(
            Buffer.concat([p.subarray(0, at), p.subarray(at + 2)]),
          );
          accepted++;
        } else {
          expect(err, `start ${start}, offset ${off}`).to.be.instanceOf(OffloadError);
          const want = start >= p.length ? 'csum-start-out-of-bounds' : 'csum-offset-out-of-bounds';
          expect((err as OffloadError).reason, `start ${start}, offset ${off}`).to.equal(want);
        }
      }
    }
    expect(accepted, 'placements inside a 64-octet packet').to.equal((63 * 64) / 2);
  });
});
