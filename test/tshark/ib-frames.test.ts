/**
 * Cross-check of the wire codecs against Wireshark's dissectors (tshark as an external oracle):
 * frames built with src/wire are written as ERF type 21 captures, and every field tshark
 * reports must be the value the frame was built with. Our own decoder must read the same
 * packet back with valid ICRC and VCRC (tshark does not check those).
 */
import { expect } from 'chai';
import { decodeIbPacket, encodeIbPacket, type IbPacket } from '../../src/wire/ib-packet.js';
import { formatHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { formatGid } from '../../src/wire/mgid.js';
import { ETH_P_ARP, ERF_TYPE_INFINIBAND } from '../../src/wire/constants.js';
import { field, fieldValues, num, type TsharkTree } from '../helpers/tshark.js';
import { colonHex, dissectIbPacket, needTshark } from './capture-helpers.js';
import {
  BROADCAST_MLID,
  NODE_A,
  NODE_B,
  arpRequestToBroadcast,
  cmReqMad,
  gsiPacket,
  mcJoinMad,
  unicastArpReply,
} from '../fixtures/ib-frames.js';

/** Our decoder's view of the packet, which must agree with tshark's and carry valid CRCs. */
function ours(packet: Buffer): IbPacket {
  const p = decodeIbPacket(packet, { verifyCrcs: true });
  expect(p.icrc.ok, 'ICRC verifies').to.equal(true);
  expect(p.vcrc.ok, 'VCRC verifies').to.equal(true);
  return p;
}

/** LRH, BTH and (when present) GRH and DETH fields as tshark shows them vs as we decode them. */
function expectHeadersAgree(t: TsharkTree, p: IbPacket, packet: Buffer): void {
  expect(num(field(t, 'erf.types.type')), 'ERF record type').to.equal(ERF_TYPE_INFINIBAND);
  expect(num(field(t, 'infiniband.lrh.lnh')), 'LRH LNH').to.equal(p.grh ? 0b11 : 0b10);
  expect(num(field(t, 'infiniband.lrh.dlid')), 'LRH DLID').to.equal(p.lrh.dlid);
  expect(num(field(t, 'infiniband.lrh.slid')), 'LRH SLID').to.equal(p.lrh.slid);
  expect(num(field(t, 'infiniband.lrh.sl')), 'LRH SL').to.equal(p.lrh.sl);
  // PktLen counts 4-octet words from the LRH through the ICRC (everything but the 2-octet VCRC).
  expect(num(field(t, 'infiniband.lrh.pktlen')) * 4, 'LRH PktLen in octets').to.equal(packet.length - 2);
  expect(num(field(t, 'infiniband.bth.opcode')), 'BTH OpCode').to.equal(p.bth.opcode);
  expect(num(field(t, 'infiniband.bth.p_key')), 'BTH P_Key').to.equal(p.bth.pKey);
  expect(num(field(t, 'infiniband.bth.destqp')), 'BTH DestQP').to.equal(p.bth.destQp);
  expect(num(field(t, 'infiniband.bth.psn')), 'BTH PSN').to.equal(p.bth.psn);
  expect(num(field(t, 'infiniband.bth.padcnt')), 'BTH PadCnt').to.equal(p.bth.padCnt);
  if (p.grh) {
    expect(field(t, 'infiniband.grh.sgid'), 'GRH SGID').to.equal(formatGid(p.grh.sgid));
    expect(field(t, 'infiniband.grh.dgid'), 'GRH DGID').to.equal(formatGid(p.grh.dgid));
    expect(num(field(t, 'infiniband.grh.nxthdr')), 'GRH NxtHdr').to.equal(0x1b);
    expect(num(field(t, 'infiniband.grh.paylen')), 'GRH PayLen: BTH through ICRC').to.equal(packet.length - 8 - 40 - 2);
  } else {
    expect(fieldValues(t, 'infiniband.grh.dgid'), 'no GRH').to.deep.equal([]);
  }
  if (p.deth) {
    expect(num(field(t, 'infiniband.deth.q_key')), 'DETH Q_Key').to.equal(p.deth.qKey);
    expect(num(field(t, 'infiniband.deth.srcqp')), 'DETH SrcQP').to.equal(p.deth.srcQp);
  } else {
    expect(fieldValues(t, 'infiniband.deth.q_key'), 'no DETH').to.deep.equal([]);
  }
  // tshark shows the CRC fields (as big-endian numbers, unchecked) at the octets where it expects
  // them; it omits them after an SA payload, so only compare where it shows them.
  for (const v of fieldValues(t, 'infiniband.invariant.crc')) {
    expect(num(v), 'ICRC position').to.equal(packet.readUInt32BE(packet.length - 6));
  }
  for (const v of fieldValues(t, 'infiniband.variant.crc')) {
    expect(num(v), 'VCRC position').to.equal(packet.readUInt16BE(packet.length - 2));
  }
}

describe('tshark cross-check: IPoIB address resolution frames @tshark @pcap @arp', function () {
  it('ARP request to the broadcast group, with a GRH, decodes field by field @tshark @pcap @arp @multicast @ib', async function () {
    await needTshark(this);
    const { fields, mgid } = arpRequestToBroadcast(0xffff);
    const packet = encodeIbPacket(fields);
    const t = await dissectIbPacket('arp-request-broadcast', packet);
    const p = ours(packet);
    expectHeadersAgree(t, p, packet);

    expect(num(field(t, 'infiniband.lrh.dlid')), 'DLID is the broadcast MLID').to.equal(BROADCAST_MLID);
    expect(field(t, 'infiniband.grh.dgid'), 'DGID is the broadcast MGID').to.equal('ff12:401b:ffff::ffff:ffff');
    expect(formatGid(mgid)).to.equal('ff12:401b:ffff::ffff:ffff');
    expect(num(field(t, 'infiniband.bth.destqp')), 'multicast QPN').to.equal(0xffffff);
    expect(num(field(t, 'infiniband.deth.q_key')), 'Q_Key').to.equal(0x0b1b);
    expect(num(field(t, 'infiniband.rwh.etype')), 'IPoIB header type').to.equal(ETH_P_ARP);
    expect(num(field(t, 'arp.hw.type')), 'ARP hardware type').to.equal(32);
    expect(num(field(t, 'arp.hw.size')), 'ARP hardware length').to.equal(20);
    expect(num(field(t, 'arp.proto.type')), 'ARP protocol type').to.equal(0x0800);
    expect(num(field(t, 'arp.proto.size')), 'ARP protocol length').to.equal(4);
    expect(num(field(t, 'arp.opcode')), 'ARP op').to.equal(1);
    expect(field(t, 'arp.src.hw'), 'sender hardware address').to.equal(formatHwAddr(NODE_A.hwaddr));
    expect(field(t, 'arp.src.proto_ipv4'), 'sender IP').to.equal(NODE_A.ipv4);
    expect(field(t, 'arp.dst.proto_ipv4'), 'target IP').to.equal(NODE_B.ipv4);
  });

  it('unicast ARP reply without a GRH decodes field by field @tshark @pcap @arp @ib', async function () {
    await needTshark(this);
    const { fields } = unicastArpReply();
    const packet = encodeIbPacket(fields);
    const t = await dissectIbPacket('arp-reply-unicast', packet);
    expectHeadersAgree(t, ours(packet), packet);

    expect(num(field(t, 'infiniband.lrh.dlid'))).to.equal(NODE_A.lid);
    expect(num(field(t, 'infiniband.bth.destqp')), 'unicast to the requester QPN').to.equal(NODE_A.qpn);
    expect(num(field(t, 'arp.opcode')), 'ARP op').to.equal(2);
    expect(field(t, 'arp.src.hw'), 'sender hardware address').to.equal(formatHwAddr(NODE_B.hwaddr));
    expect(field(t, 'arp.dst.hw'), 'target hardware address').to.equal(formatHwAddr(NODE_A.hwaddr));
    expect(field(t, 'arp.src.hw').split(':')[0], 'RC capability flag in the address').to.equal('80');
  });
});

describe('tshark cross-check: partitions @tshark @pcap @pkey', function () {
  it('a UD frame on P_Key 0x8001 carries that P_Key in the BTH and the partition broadcast MGID @tshark @pcap @pkey @arp @multicast @mgid @ib', async function () {
    await needTshark(this);
    const { fields } = arpRequestToBroadcast(0x8001);
    const packet = encodeIbPacket(fields);
    const t = await dissectIbPacket('ud-pkey-8001', packet);
    expectHeadersAgree(t, ours(packet), packet);
    expect(num(field(t, 'infiniband.bth.p_key')), 'BTH P_Key').to.equal(0x8001);
    expect(field(t, 'infiniband.grh.dgid'), 'partition broadcast MGID').to.equal('ff12:401b:8001::ffff:ffff');
  });
});

describe('tshark cross-check: management datagrams @tshark @pcap @mad', function () {
  it('an SA MCMemberRecord join (SubnAdmSet) decodes field by field @tshark @pcap @mad @sa @multicast @pkey @qkey', async function () {
    await needTshark(this);
    const mgid = arpRequestToBroadcast(0xffff).mgid;
    const { bytes, record, componentMask } = mcJoinMad(0x0102030405060708n, mgid, NODE_A.gid);
    const packet = encodeIbPacket(gsiPacket(NODE_A, 0x0001, bytes));
    const t = await dissectIbPacket('sa-mcmember-join', packet);
    expectHeadersAgree(t, ours(packet), packet);

    expect(num(field(t, 'infiniband.bth.destqp')), 'to QP1').to.equal(1);
    expect(num(field(t, 'infiniband.deth.srcqp')), 'from QP1').to.equal(1);
    expect(num(field(t, 'infiniband.deth.q_key')), 'GSI Q_Key').to.equal(0x80010000);
    expect(num(field(t, 'infiniband.mad.baseversion'))).to.equal(1);
    expect(num(field(t, 'infiniband.mad.mgmtclass')), 'SA class').to.equal(0x03);
    expect(num(field(t, 'infiniband.mad.classversion'))).to.equal(2);
    expect(num(field(t, 'infiniband.mad.method')), 'Set').to.equal(0x02);
    expect(num(field(t, 'infiniband.mad.attributeid')), 'MCMemberRecord').to.equal(0x0038);
    expect(BigInt(field(t, 'infiniband.mad.transactionid')), 'TransactionID').to.equal(0x0102030405060708n);
    expect(BigInt(field(t, 'infiniband.sa.componentmask')), 'ComponentMask').to.equal(componentMask);
    expect(field(t, 'infiniband.mcmemberrecord.mgid'), 'MGID').to.equal(formatGid(record.mgid));
    expect(field(t, 'infiniband.mcmemberrecord.portgid'), 'PortGID').to.equal(formatGid(NODE_A.gid));
    expect(num(field(t, 'infiniband.mcmemberrecord.q_key')), 'Q_Key').to.equal(record.qkey);
    expect(num(field(t, 'infiniband.mcmemberrecord.p_key')), 'P_Key').to.equal(record.pkey);
    expect(num(field(t, 'infiniband.mcmemberrecord.scope')), 'Scope').to.equal(2);
    expect(num(field(t, 'infiniband.mcmemberrecord.joinstate')), 'JoinState full member').to.equal(1);
  });

  it('a CM REQ for an IPoIB-CM connection decodes field by field, private data included @tshark @pcap @mad @cm', async function () {
    await needTshark(this);
    const { bytes, req, serviceId } = cmReqMad(0x99n);
    const packet = encodeIbPacket(gsiPacket(NODE_A, NODE_B.lid, bytes));
    const t = await dissectIbPacket('cm-req-ipoib', packet);
    expectHeadersAgree(t, ours(packet), packet);

    expect(num(field(t, 'infiniband.mad.mgmtclass')), 'CM class').to.equal(0x07);
    expect(num(field(t, 'infiniband.mad.method')), 'Send').to.equal(0x03);
    expect(num(field(t, 'infiniband.mad.attributeid')), 'REQ').to.equal(0x0010);
    expect(num(field(t, 'infiniband.cm.req')), 'local communication ID').to.equal(req.localCommId);
    expect(BigInt(field(t, 'infiniband.cm.req.serviceid')), 'Service ID, Linux prefix').to.equal(serviceId);
    expect(serviceId).to.equal(0x1000000000000049n);
    expect(BigInt(field(t, 'infiniband.cm.req.localcaguid')), 'local CA GUID').to.equal(req.localCaGuid);
    expect(num(field(t, 'infiniband.cm.req.localqpn')), 'local QPN').to.equal(req.localQpn);
    expect(num(field(t, 'infiniband.cm.req.startpsn')), 'starting PSN').to.equal(req.startingPsn);
    expect(num(field(t, 'infiniband.cm.req.pkey')), 'P_Key').to.equal(req.pkey);
    // IPoIB-CM private data: UD QPN (low 24 bits of the first word), then the receive MTU.
    expect(field(t, 'infiniband.cm.req.private').startsWith('00:00:00:48:00:00:ff:f4'), 'private data {QPN 0x48, MTU 65524}').to.equal(true);
    expect(colonHex(req.privateData.subarray(0, 8))).to.equal('00:00:00:48:00:00:ff:f4');
  });
});
