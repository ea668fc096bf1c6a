/**
 * Cross-check of IP traffic over IPoIB against Wireshark's dissectors: ICMP echo over UD and
 * over an RC (connected-mode) SEND ONLY, IPv6 neighbor discovery with the IPoIB link-layer
 * option, and the LINKTYPE_IPOIB (242) capture form. tshark's own checksum verdicts are
 * asserted, so a wrong IPv4, ICMP or ICMPv6 checksum fails here.
 */
import { expect } from 'chai';
import { decodeIbPacket, encodeIbPacket } from '../../src/wire/ib-packet.js';
import { encodeToBuffer } from '../../src/wire/codec.js';
import { formatHwAddr, ipoibHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { formatGid } from '../../src/wire/mgid.js';
import { ipoibPcapRecord, unicastPseudoHeader } from '../../src/wire/pcap.js';
import { ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, IPOIB_DEFAULT_QKEY, LINKTYPE_IPOIB, MCAST_QPN } from '../../src/wire/constants.js';
import { field, fieldValues, hasLayer, num } from '../helpers/tshark.js';
import { colonHex, dissect, dissectIbPacket, needTshark } from './capture-helpers.js';
import {
  NODE_A,
  NODE_B,
  ipv4EchoPayload,
  neighborAdvertisement,
  neighborSolicitation,
  rcSendOnly,
  udPacket,
  unicastArpReply,
} from '../fixtures/ib-frames.js';

/** tshark's checksum status value for "good". */
const CHECKSUM_GOOD = 1;
const CHECK_IP = ['-o', 'ip.check_checksum:TRUE'];

describe('tshark cross-check: IPv4 over IPoIB @tshark @pcap @ip @icmp', function () {
  it('an ICMP echo request over UD decodes with good IPv4 and ICMP checksums @tshark @pcap @ip @icmp @ib', async function () {
    await needTshark(this);
    const { payload, echo } = ipv4EchoPayload(NODE_A, NODE_B, 1);
    const packet = encodeIbPacket(udPacket({ from: NODE_A, dlid: NODE_B.lid, destQp: NODE_B.qpn, qkey: IPOIB_DEFAULT_QKEY, pkey: 0xffff, payload }));
    const t = await dissectIbPacket('ipv4-icmp-echo-ud', packet, CHECK_IP);
    expect(decodeIbPacket(packet).icrc.ok, 'our ICRC').to.equal(true);

    expect(num(field(t, 'infiniband.rwh.etype')), 'IPoIB header type').to.equal(ETH_P_IP);
    expect(field(t, 'ip.src')).to.equal(NODE_A.ipv4);
    expect(field(t, 'ip.dst')).to.equal(NODE_B.ipv4);
    expect(num(field(t, 'ip.proto')), 'protocol').to.equal(1);
    expect(num(field(t, 'ip.len')), 'IPv4 total length = UD payload - 4').to.equal(payload.length - 4);
    expect(num(field(t, 'ip.flags.df')), 'DF').to.equal(1);
    expect(num(field(t, 'ip.checksum.status')), 'IPv4 header checksum verdict').to.equal(CHECKSUM_GOOD);
    expect(num(field(t, 'icmp.type')), 'echo request').to.equal(8);
    expect(num(field(t, 'icmp.ident'))).to.equal(echo.identifier);
    expect(num(field(t, 'icmp.seq'))).to.equal(echo.sequence);
    expect(num(field(t, 'icmp.checksum.status')), 'ICMP checksum verdict').to.equal(CHECKSUM_GOOD);
  });

  it('an RC SEND ONLY carrying IPoIB-CM traffic decodes without a DETH, IPv4 inside @tshark @pcap @ip @icmp @rc @cm @ib', async function () {
    await needTshark(this);
    const { payload } = ipv4EchoPayload(NODE_A, NODE_B, 2, 1400);
    const packet = encodeIbPacket(rcSendOnly({ from: NODE_A, to: NODE_B, destQp: 0x000051, psn: 7, payload }));
    const t = await dissectIbPacket('rc-send-only-ipoib-cm', packet, CHECK_IP);
    const ours = decodeIbPacket(packet);
    expect(ours.deth, 'our decoder: no DETH on RC').to.equal(undefined);

    expect(num(field(t, 'infiniband.bth.opcode')), 'RC SEND ONLY').to.equal(0x04);
    expect(num(field(t, 'infiniband.bth.destqp')), 'connected QP').to.equal(0x51);
    expect(num(field(t, 'infiniband.bth.a')), 'ACK requested').to.equal(1);
    expect(num(field(t, 'infiniband.bth.psn'))).to.equal(7);
    expect(fieldValues(t, 'infiniband.deth.q_key'), 'no DETH').to.deep.equal([]);
    expect(num(field(t, 'infiniband.rwh.etype')), 'IPoIB header type').to.equal(ETH_P_IP);
    expect(num(field(t, 'ip.len'))).to.equal(1428);
    expect(num(field(t, 'ip.checksum.status'))).to.equal(CHECKSUM_GOOD);
    expect(num(field(t, 'icmp.checksum.status'))).to.equal(CHECKSUM_GOOD);
  });
});

describe('tshark cross-check: IPv6 neighbor discovery over IPoIB @tshark @pcap @nd @ipv6 @icmp', function () {
  it('a neighbor solicitation to the solicited-node MGID carries the 20-octet source option @tshark @pcap @nd @ipv6 @icmp @multicast @mgid @ib', async function () {
    await needTshark(this);
    const { payload, ns, dst, mgid } = neighborSolicitation();
    const packet = encodeIbPacket(
      udPacket({ from: NODE_A, dlid: 0xc001, destQp: MCAST_QPN, qkey: IPOIB_DEFAULT_QKEY, pkey: 0xffff, payload, grhDgid: mgid }),
    );
    const t = await dissectIbPacket('ipv6-nd-ns', packet);
    expect(field(t, 'infiniband.grh.dgid'), 'solicited-node MGID').to.equal('ff12:601b:ffff::1:ff00:b');
    expect(num(field(t, 'infiniband.rwh.etype'))).to.equal(ETH_P_IPV6);
    expect(field(t, 'ipv6.dst')).to.equal(formatGid(dst));
    expect(num(field(t, 'ipv6.hlim')), 'ND hop limit').to.equal(255);
    expect(num(field(t, 'icmpv6.type')), 'NS').to.equal(135);
    expect(field(t, 'icmpv6.nd.ns.target_address')).to.equal(formatGid(ns.target));
    expect(num(field(t, 'icmpv6.checksum.status')), 'ICMPv6 checksum verdict').to.equal(CHECKSUM_GOOD);
    expect(num(field(t, 'icmpv6.opt.type')), 'source link-layer option').to.equal(1);
    expect(num(field(t, 'icmpv6.opt.length')), 'option length in 8-octet units').to.equal(3);
    // Two zero octets, then the 20-octet IPoIB address.
    expect(field(t, 'icmpv6.opt.linkaddr')).to.equal(`00:00:${formatHwAddr(NODE_A.hwaddr)}`);
  });

  it('a solicited neighbor advertisement carries S and O and the 20-octet target option @tshark @pcap @nd @ipv6 @icmp @ib', async function () {
    await needTshark(this);
    const { payload, na } = neighborAdvertisement();
    const packet = encodeIbPacket(udPacket({ from: NODE_B, dlid: NODE_A.lid, destQp: NODE_A.qpn, qkey: IPOIB_DEFAULT_QKEY, pkey: 0xffff, payload }));
    const t = await dissectIbPacket('ipv6-nd-na', packet);
    expect(num(field(t, 'icmpv6.type')), 'NA').to.equal(136);
    expect(num(field(t, 'icmpv6.nd.na.flag.r')), 'R').to.equal(0);
    expect(num(field(t, 'icmpv6.nd.na.flag.s')), 'S').to.equal(1);
    expect(num(field(t, 'icmpv6.nd.na.flag.o')), 'O').to.equal(1);
    expect(field(t, 'icmpv6.nd.na.target_address')).to.equal(formatGid(na.target));
    expect(num(field(t, 'icmpv6.checksum.status'))).to.equal(CHECKSUM_GOOD);
    expect(num(field(t, 'icmpv6.opt.type')), 'target link-layer option').to.equal(2);
    expect(num(field(t, 'icmpv6.opt.length'))).to.equal(3);
    expect(field(t, 'icmpv6.opt.linkaddr')).to.equal(`00:00:${formatHwAddr(NODE_B.hwaddr)}`);
  });
});

describe('tshark cross-check: LINKTYPE_IPOIB (242) captures @tshark @pcap @encap', function () {
  it('the unicast pseudo-header form carries the destination address, then the IPoIB header and ARP @tshark @pcap @encap @arp', async function () {
    await needTshark(this);
    const { arpBody } = unicastArpReply();
    const dest = encodeToBuffer(ipoibHwAddr, NODE_A.hwaddr);
    const rec = ipoibPcapRecord(unicastPseudoHeader(dest), { type: ETH_P_ARP, reserved: 0 }, arpBody);
    const [t] = await dissect('ipoib-242-unicast-arp', LINKTYPE_IPOIB, [rec]);
    expect(hasLayer(t!, 'ipoib'), 'ipoib layer').to.equal(true);
    expect(num(field(t!, 'ipoib.daddr.qpn')), 'destination QPN').to.equal(NODE_A.qpn);
    expect(field(t!, 'ipoib.dgid'), 'destination GID').to.equal(formatGid(NODE_A.gid));
    expect(num(field(t!, 'ipoib.type')), 'IPoIB header type').to.equal(ETH_P_ARP);
    expect(num(field(t!, 'ipoib.reserved')), 'reserved').to.equal(0);
    expect(num(field(t!, 'arp.hw.type'))).to.equal(32);
    expect(field(t!, 'arp.dst.hw')).to.equal(colonHex(dest));
  });

  it('the GRH pseudo-header form carries the source QPN and GIDs, then IPv6 @tshark @pcap @encap @ipv6 @nd @icmp', async function () {
    await needTshark(this);
    const { payload, mgid } = neighborSolicitation();
    const rec = ipoibPcapRecord(
      { form: 'grh', ipVer: 6, tClass: 0, flowLabel: 0, resv8: 0, srcQpn: NODE_A.qpn, sgid: NODE_A.gid, dgid: mgid },
      { type: ETH_P_IPV6, reserved: 0 },
      payload.subarray(4),
    );
    const [t] = await dissect('ipoib-242-grh-ns', LINKTYPE_IPOIB, [rec]);
    expect(num(field(t!, 'ipoib.grh.sqpn')), 'source QPN').to.equal(NODE_A.qpn);
    expect(field(t!, 'ipoib.grh.sgid'), 'source GID').to.equal(formatGid(NODE_A.gid));
    expect(field(t!, 'ipoib.dgid'), 'destination MGID').to.equal(formatGid(mgid));
    expect(num(field(t!, 'ipoib.type'))).to.equal(ETH_P_IPV6);
    expect(num(field(t!, 'icmpv6.type'))).to.equal(135);
    expect(num(field(t!, 'icmpv6.checksum.status'))).to.equal(CHECKSUM_GOOD);
  });
});
