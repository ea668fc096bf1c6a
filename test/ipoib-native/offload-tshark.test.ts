/**
 * Wireshark's view of what the offload engine builds: the segments of an IPv4 and an IPv6 GSO
 * packet, and a merged packet, written as bare IP packets (LINKTYPE_RAW) and dissected with
 * tshark, whose own IPv4 and TCP checksum verdicts are asserted along with lengths, sequence
 * numbers, identifications and flags. The TCP codec's goldens (test/fixtures/tcp-goldens.ts) go
 * through the same check. In CI a missing tshark fails instead of skipping.
 */
import { expect } from 'chai';
import { offloadCoalesce, offloadSegment } from '../../src/ipoib/native/offload.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import {
  IPOIB_UD_DEFAULT_MTU,
  IPPROTO_TCP,
  LINKTYPE_RAW,
  TCP_FLAG_ACK,
  TCP_FLAG_CWR,
  TCP_FLAG_ECE,
  TCP_FLAG_FIN,
  TCP_FLAG_PSH,
} from '../../src/wire/constants.js';
import { parseIpv6 } from '../../src/wire/ip-text.js';
import { ipv4Packet, makeIpv4Packet } from '../../src/wire/ipv4.js';
import { ipv6Packet, makeIpv6Packet } from '../../src/wire/ipv6.js';
import { ACK_PSH_V4_HEX, SYN_V6_HEX } from '../fixtures/tcp-goldens.js';
import { hex } from '../helpers/roundtrip.js';
import { field, num } from '../helpers/tshark.js';
import { dissect, needTshark } from '../tshark/capture-helpers.js';
import { FLOW_V4, FLOW_V6, type Flow, decodeTcpPacket, gsoVnet, pattern, tcpPacket, withPartialChecksum } from './offload-packets.js';

/** tshark's checksum status value for "good". */
const CHECKSUM_GOOD = 1;
const CHECK_CHECKSUMS = ['-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE'];
const MTU = IPOIB_UD_DEFAULT_MTU;

describe('tshark cross-check: software TSO and coalescing @tshark @pcap @offload @native @ip @ipv6 @mtu', function () {
  this.timeout(60_000);

  for (const flow of [FLOW_V4, FLOW_V6] as Flow[]) {
    it(`IPv${flow.family}: every segment of a 40000-octet GSO packet has good checksums, its length, sequence number and flags @tshark @pcap @offload @native @ip @ipv6 @mtu`, async function () {
      await needTshark(this);
      const mss = MTU - (flow.family === 4 ? 20 : 40) - 20;
      const flags = TCP_FLAG_ACK | TCP_FLAG_CWR | TCP_FLAG_ECE | TCP_FLAG_PSH | TCP_FLAG_FIN;
      const original = withPartialChecksum(tcpPacket(flow, { seq: 0xfffff000, flags, payload: pattern(40000, 4), id: 0xfff0 }));
      const segs = offloadSegment(gsoVnet(original, mss, true), original, MTU);
      expect(segs.length).to.equal(Math.ceil(40000 / mss));
      const frames = await dissect(`offload-tso-ipv${flow.family}`, LINKTYPE_RAW, segs, CHECK_CHECKSUMS);
      let seq = 0xfffff000;
      frames.forEach((t, i) => {
        const what = `segment ${i + 1}/${segs.length}`;
        const last = i === segs.length - 1;
        const payload = last ? 40000 - i * mss : mss;
        expect(segs[i]!.length, `${what}: octets`).to.be.at.most(MTU);
        if (flow.family === 4) {
          expect(num(field(t, 'ip.checksum.status')), `${what}: IPv4 checksum verdict`).to.equal(CHECKSUM_GOOD);
          expect(num(field(t, 'ip.len')), `${what}: IPv4 total length`).to.equal(segs[i]!.length);
          expect(num(field(t, 'ip.id')), `${what}: identification`).to.equal((0xfff0 + i) & 0xffff);
        } else {
          expect(num(field(t, 'ipv6.plen')), `${what}: IPv6 payload length`).to.equal(segs[i]!.length - 40);
        }
        expect(num(field(t, 'tcp.checksum.status')), `${what}: TCP checksum verdict`).to.equal(CHECKSUM_GOOD);
        expect(num(field(t, 'tcp.len')), `${what}: TCP payload`).to.equal(payload);
        expect(num(field(t, 'tcp.seq_raw')), `${what}: sequence number`).to.equal(seq);
        expect(num(field(t, 'tcp.flags.fin')), `${what}: FIN`).to.equal(last ? 1 : 0);
        expect(num(field(t, 'tcp.flags.push')), `${what}: PSH`).to.equal(last ? 1 : 0);
        expect(num(field(t, 'tcp.flags.cwr')), `${what}: CWR`).to.equal(i === 0 ? 1 : 0);
        expect(num(field(t, 'tcp.flags.ece')), `${what}: ECE`).to.equal(1);
        seq = (seq + payload) >>> 0;
      });
    });
  }

  it('a merged packet has good IPv4 and TCP checksums and the whole payload @tshark @pcap @offload @native @ip', async function () {
    await needTshark(this);
    const segs = [0, 1, 2, 3].map((i) => tcpPacket(FLOW_V4, { seq: 1000 + i * 1448, flags: TCP_FLAG_ACK, payload: pattern(1448, i), id: 40 + i }));
    const [merged] = offloadCoalesce(segs);
    expect(merged!.members).to.deep.equal([0, 1, 2, 3]);
    const [t] = await dissect('offload-coalesced-ipv4', LINKTYPE_RAW, [merged!.packet], CHECK_CHECKSUMS);
    expect(num(field(t!, 'ip.checksum.status')), 'IPv4 checksum verdict').to.equal(CHECKSUM_GOOD);
    expect(num(field(t!, 'tcp.checksum.status')), 'TCP checksum verdict').to.equal(CHECKSUM_GOOD);
    expect(num(field(t!, 'tcp.len'))).to.equal(4 * 1448);
    expect(num(field(t!, 'tcp.seq_raw'))).to.equal(1000);
    expect(decodeTcpPacket(merged!.packet).tcp.payload.length).to.equal(4 * 1448);
  });

  it('the TCP codec goldens, inside IPv4 and IPv6 packets, dissect as derived with good checksums @tshark @pcap @offload @ip @ipv6', async function () {
    await needTshark(this);
    const v4 = encodeToBuffer(ipv4Packet, makeIpv4Packet({ src: '10.0.0.1', dst: '10.0.0.2', protocol: IPPROTO_TCP, payload: hex(ACK_PSH_V4_HEX), dontFragment: true }));
    const v6 = encodeToBuffer(
      ipv6Packet,
      makeIpv6Packet({ src: parseIpv6('2001:db8::1'), dst: parseIpv6('2001:db8::2'), nextHeader: IPPROTO_TCP, payload: hex(SYN_V6_HEX) }),
    );
    const [a, b] = await dissect('tcp-goldens', LINKTYPE_RAW, [v4, v6], CHECK_CHECKSUMS);
    expect(num(field(a!, 'tcp.checksum.status')), 'golden ACK|PSH checksum verdict').to.equal(CHECKSUM_GOOD);
    expect(num(field(a!, 'tcp.checksum')), 'its checksum').to.equal(0x5a02);
    expect(num(field(a!, 'tcp.srcport'))).to.equal(40000);
    expect(num(field(a!, 'tcp.seq_raw'))).to.equal(0x01020304);
    expect(num(field(a!, 'tcp.ack_raw'))).to.equal(0x0a0b0c0d);
    expect(num(field(a!, 'tcp.hdr_len'))).to.equal(32);
    expect(num(field(a!, 'tcp.options.timestamp.tsval'))).to.equal(100);
    expect(num(field(a!, 'tcp.options.timestamp.tsecr'))).to.equal(200);
    expect(num(field(a!, 'tcp.len'))).to.equal(5);
    expect(num(field(b!, 'tcp.checksum.status')), 'golden SYN checksum verdict').to.equal(CHECKSUM_GOOD);
    expect(num(field(b!, 'tcp.checksum')), 'its checksum').to.equal(0x7bff);
    expect(num(field(b!, 'tcp.flags.syn'))).to.equal(1);
    expect(num(field(b!, 'tcp.options.mss_val'))).to.equal(1460);
    expect(num(field(b!, 'tcp.seq_raw'))).to.equal(0xfffffff0);
  });
});
