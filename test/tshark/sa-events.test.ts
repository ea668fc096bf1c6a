/**
 * Cross-check of the InformInfo and Notice codecs against Wireshark's InfiniBand dissector: a
 * SubnAdmSet(InformInfo) subscription and the SubnAdmReport(Notice) of a group creation, built
 * with src/wire, written as ERF captures and read back field by field with tshark.
 */
import { expect } from 'chai';
import { encodeToBuffer } from '../../src/wire/codec.js';
import {
  MAD_METHOD_REPORT,
  MAD_METHOD_SET,
  MGMT_CLASS_SUBN_ADM,
  NOTICE_TYPE_SUBNET_MANAGEMENT,
  PRODUCER_TYPE_CLASS_MANAGER,
  SA_ATTR_INFORM_INFO,
  SA_ATTR_NOTICE,
  SA_CLASS_VERSION,
  TRAP_MCAST_GROUP_CREATED,
} from '../../src/wire/constants.js';
import { encodeIbPacket } from '../../src/wire/ib-packet.js';
import { type InformInfo, informInfo } from '../../src/wire/inform-info.js';
import { RMPP_INACTIVE } from '../../src/wire/mad.js';
import { formatGid, parseGid } from '../../src/wire/mgid.js';
import { gidDataDetails, type Notice, notice } from '../../src/wire/notice.js';
import { SA_DATA_LEN, saMad } from '../../src/wire/sa.js';
import { gsiPacket, NODE_A, NODE_B } from '../fixtures/ib-frames.js';
import { field, num } from '../helpers/tshark.js';
import { colonHex, dissectIbPacket, needTshark } from './capture-helpers.js';

const MGID = parseGid('ff12:401b:ffff::e000:1');

function saMadWith(method: number, attributeId: number, transactionId: bigint, record: Buffer): Buffer {
  const data = Buffer.alloc(SA_DATA_LEN);
  record.copy(data);
  return encodeToBuffer(saMad, {
    header: { baseVersion: 1, mgmtClass: MGMT_CLASS_SUBN_ADM, classVersion: SA_CLASS_VERSION, method, status: 0, classSpecific: 0, transactionId, attributeId, reserved: 0, attributeModifier: 0 },
    rmpp: { ...RMPP_INACTIVE },
    sa: { smKey: 0n, attributeOffset: 0, reserved: 0, componentMask: 0n },
    data,
  });
}

describe('tshark cross-check: SA event subscriptions and reports @tshark @pcap @mad @sa @multicast', function () {
  it('a SubnAdmSet(InformInfo) subscribing to trap 66 for one MGID decodes field by field @tshark @pcap @mad @sa @multicast @mgid', async function () {
    await needTshark(this);
    const sub: InformInfo = {
      gid: MGID, lidRangeBegin: 0xffff, lidRangeEnd: 0, reserved: 0, isGeneric: 1, subscribe: 1,
      type: NOTICE_TYPE_SUBNET_MANAGEMENT, trapNumber: TRAP_MCAST_GROUP_CREATED, qpn: 1, reserved2: 0, respTimeValue: 18,
      reserved3: 0, producerType: PRODUCER_TYPE_CLASS_MANAGER,
    };
    const mad = saMadWith(MAD_METHOD_SET, SA_ATTR_INFORM_INFO, 0x1122334455667788n, encodeToBuffer(informInfo, sub));
    const t = await dissectIbPacket('sa-informinfo-subscribe', encodeIbPacket(gsiPacket(NODE_A, 0x0001, mad)));

    expect(num(field(t, 'infiniband.mad.method')), 'Set').to.equal(MAD_METHOD_SET);
    expect(num(field(t, 'infiniband.mad.attributeid')), 'InformInfo').to.equal(SA_ATTR_INFORM_INFO);
    expect(field(t, 'infiniband.informinfo.gid'), 'GID').to.equal(formatGid(MGID));
    expect(num(field(t, 'infiniband.informinfo.lidrangebegin')), 'LIDRangeBegin').to.equal(0xffff);
    expect(num(field(t, 'infiniband.informinfo.lidrangeend')), 'LIDRangeEnd').to.equal(0);
    expect(num(field(t, 'infiniband.informinfo.isgeneric')), 'IsGeneric').to.equal(1);
    expect(num(field(t, 'infiniband.informinfo.subscribe')), 'Subscribe').to.equal(1);
    expect(num(field(t, 'infiniband.informinfo.type')), 'Type').to.equal(NOTICE_TYPE_SUBNET_MANAGEMENT);
    expect(num(field(t, 'infiniband.informinfo.trapnumberdeviceid')), 'TrapNumber').to.equal(TRAP_MCAST_GROUP_CREATED);
    expect(num(field(t, 'infiniband.informinfo.qpn')), 'QPN').to.equal(1);
    expect(num(field(t, 'infiniband.informinfo.resptimevalue')), 'RespTimeValue').to.equal(18);
    expect(num(field(t, 'infiniband.informinfo.producertypevendorid')), 'ProducerType').to.equal(PRODUCER_TYPE_CLASS_MANAGER);
  });

  it('a SubnAdmReport(Notice) of trap 66 carries the created MGID where tshark looks for it @tshark @pcap @mad @sa @multicast @mgid', async function () {
    await needTshark(this);
    const n: Notice = {
      isGeneric: true, type: NOTICE_TYPE_SUBNET_MANAGEMENT, producerType: PRODUCER_TYPE_CLASS_MANAGER,
      trapNumber: TRAP_MCAST_GROUP_CREATED, issuerLid: 0x0001, noticeToggle: true, noticeCount: 0x0123,
      dataDetails: gidDataDetails(MGID), issuerGid: NODE_B.gid,
    };
    const mad = saMadWith(MAD_METHOD_REPORT, SA_ATTR_NOTICE, 0x0a0b0c0d0e0f1011n, encodeToBuffer(notice, n));
    const t = await dissectIbPacket('sa-notice-report', encodeIbPacket(gsiPacket(NODE_B, NODE_A.lid, mad)));

    expect(num(field(t, 'infiniband.mad.method')), 'Report').to.equal(MAD_METHOD_REPORT);
    expect(num(field(t, 'infiniband.mad.attributeid')), 'Notice').to.equal(SA_ATTR_NOTICE);
    expect(num(field(t, 'infiniband.notice.isgeneric')), 'IsGeneric').to.equal(1);
    expect(num(field(t, 'infiniband.notice.type')), 'Type').to.equal(NOTICE_TYPE_SUBNET_MANAGEMENT);
    expect(num(field(t, 'infiniband.notice.producertypevendorid')), 'ProducerType').to.equal(PRODUCER_TYPE_CLASS_MANAGER);
    expect(num(field(t, 'infiniband.notice.trapnumberdeviceid')), 'TrapNumber').to.equal(TRAP_MCAST_GROUP_CREATED);
    expect(num(field(t, 'infiniband.notice.issuerlid')), 'IssuerLID').to.equal(1);
    expect(num(field(t, 'infiniband.notice.noticetoggle')), 'NoticeToggle').to.equal(1);
    expect(num(field(t, 'infiniband.notice.noticecount')), 'NoticeCount').to.equal(0x0123);
    expect(field(t, 'infiniband.notice.datadetails'), 'DataDetails').to.equal(colonHex(gidDataDetails(MGID)));
    expect(field(t, 'infiniband.trap.gidaddr'), 'the GID of trap 66').to.equal(formatGid(MGID));
  });
});
