/**
 * Per-test wire captures on the simulated fabric (the manager's tap), and the pure functions that
 * pick IPoIB frames and MADs out of a capture.
 */
import { expect } from 'chai';
import { statSync } from 'node:fs';
import path from 'node:path';
import * as allure from 'allure-js-commons';
import { CaptureError } from '../../src/errors.js';
import { FabricClient } from '../../src/fabric/sim/fabric-client.js';
import type { CapturedPacket } from '../../src/lab/capture.js';
import { FabricTapCapturer } from '../../src/lab/captures/fabric-tap.js';
import { ipoibFrames, madsOf } from '../../src/lab/ipoib-frames.js';
import {
  ETH_P_ARP,
  ETH_P_IP,
  GSI_QKEY,
  JOIN_STATE_FULL,
  MGMT_CLASS_SUBN_ADM,
  OP_RC_SEND_ONLY,
  OP_UD_SEND_ONLY,
  SA_ATTR_MCMEMBER_RECORD,
} from '../../src/wire/constants.js';
import { decodeIbPacket, encodeIbPacket, type IbPacketFields } from '../../src/wire/ib-packet.js';
import { broadcastMgid } from '../../src/wire/mgid.js';
import { requireToolOrSkip } from '../helpers/skip.js';
import { field, num, tsharkDecode, tsharkVersion } from '../helpers/tshark.js';
import { ProbeFabric } from './probe-fabric.js';

const PCAP_CONTENT_TYPE = 'application/vnd.tcpdump.pcap';

/** An IPoIB frame: the 4-octet header (EtherType, reserved 0), then `body`. */
function ipoibPayload(etherType: number, body: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16BE(etherType, 0);
  return Buffer.concat([h, body]);
}

describe('fabric tap captures @lab @fabric @pcap', function () {
  let fabric: ProbeFabric;

  beforeEach(async function () {
    fabric = await ProbeFabric.start('h2-capture');
  });

  afterEach(async function () {
    await fabric.close();
  });

  it('a capture around one probe send holds exactly that packet, decoded (LRH, BTH, DETH, payload), in a pcap tshark reads @lab @fabric @pcap @tshark @ib @encap', async function () {
    const [a, b] = [await fabric.probe('node1'), await fabric.probe('node2')];
    const qa = await a.openQp({ qkey: 0x21 });
    const qb = await b.openQp({ qkey: 0x0b1b });
    const capturer = new FabricTapCapturer({ socketPath: fabric.paths.socket });
    expect(capturer.scope).to.equal('fabric');
    const pcapPath = path.join(fabric.base, 'one-send.pcap');
    // Only the sender's port: each packet once (a whole-fabric tap also records the accepted copy).
    const capture = await capturer.start({ pcapPath, nodes: ['node1'] });
    const body = Buffer.from('45000014000000004011000001020304', 'hex');
    qa.send({ dlid: b.lid, dqpn: qb.qpn, qkey: 0x0b1b }, ipoibPayload(ETH_P_IP, body));
    await qb.waitFor(() => true, 2000);
    const packets = await capture.stop();
    await allure.attachmentPath('capture (pcap)', pcapPath, { contentType: PCAP_CONTENT_TYPE, fileExtension: 'pcap' });

    expect(packets.length, 'packets captured').to.equal(1);
    const p = packets[0]!;
    expect(p.decodeError, 'decoded').to.equal(undefined);
    const ib = p.ib!;
    expect([ib.lrh.slid, ib.lrh.dlid], 'LRH SLID, DLID').to.deep.equal([a.lid, b.lid]);
    expect(ib.grh, 'no GRH').to.equal(undefined);
    expect([ib.bth.opcode, ib.bth.destQp, ib.bth.pKey], 'BTH OpCode, DestQP, P_Key').to.deep.equal([OP_UD_SEND_ONLY, qb.qpn, 0xffff]);
    expect([ib.deth?.qKey, ib.deth?.srcQp], 'DETH Q_Key, SrcQP').to.deep.equal([0x0b1b, qa.qpn]);
    expect(ib.payload.subarray(4).equals(body), 'payload').to.equal(true);
    expect([ib.icrc.ok, ib.vcrc.ok], 'ICRC, VCRC').to.deep.equal([true, true]);
    expect(p.raw.length, 'raw packet: LRH 8 + BTH 12 + DETH 8 + 20 + ICRC 4 + VCRC 2').to.equal(8 + 12 + 8 + 20 + 4 + 2);
    expect(Math.abs(p.tsUs / 1000 - Date.now()), 'timestamp is recent wall-clock time (ms)').to.be.below(60_000);

    const frames = ipoibFrames(packets);
    expect(frames.length, 'one IPoIB frame').to.equal(1);
    expect(frames[0]!.header, 'IPoIB header').to.deep.equal({ type: ETH_P_IP, reserved: 0 });
    expect(frames[0]!.body.equals(body), 'frame body').to.equal(true);
    expect([frames[0]!.srcQpn, frames[0]!.destQpn, frames[0]!.qkey, frames[0]!.pkey]).to.deep.equal([qa.qpn, qb.qpn, 0x0b1b, 0xffff]);
    expect(madsOf(packets), 'no MADs').to.deep.equal([]);
    expect(statSync(pcapPath).mode & 0o777, 'pcap is owner-only').to.equal(0o600);

    await requireToolOrSkip(this, 'tshark', (await tsharkVersion()) !== null, 'install it with apt-get install tshark');
    const [t] = await tsharkDecode(pcapPath);
    expect(t, 'tshark reads one frame').to.not.equal(undefined);
    expect(num(field(t!, 'infiniband.lrh.dlid')), 'tshark DLID').to.equal(b.lid);
    expect(num(field(t!, 'infiniband.lrh.slid')), 'tshark SLID').to.equal(a.lid);
    expect(num(field(t!, 'infiniband.bth.destqp')), 'tshark DestQP').to.equal(qb.qpn);
    expect(num(field(t!, 'infiniband.deth.q_key')), 'tshark Q_Key').to.equal(0x0b1b);
    expect(num(field(t!, 'infiniband.rwh.etype')), 'tshark IPoIB EtherType').to.equal(ETH_P_IP);
  });

  it('a whole-fabric capture records an accepted packet as sent and as accepted, a Q_Key drop only as sent, and the SA join MADs @lab @fabric @pcap @qkey @sa @mad', async function () {
    const [a, b] = [await fabric.probe('node1'), await fabric.probe('node2')];
    const qa = await a.openQp({ qkey: 0x21 });
    const qb = await b.openQp({ qkey: 0x77 });
    const capture = await new FabricTapCapturer({ socketPath: fabric.paths.socket }).start({ pcapPath: path.join(fabric.base, 'all.pcap') });
    qa.send({ dlid: b.lid, dqpn: qb.qpn, qkey: 0x77 }, Buffer.from('accepted'));
    qa.send({ dlid: b.lid, dqpn: qb.qpn, qkey: 0x78 }, Buffer.from('dropped'));
    await qb.waitFor((f) => f.payload.toString() === 'accepted', 2000);
    await a.join({ mgid: broadcastMgid(0xffff), joinState: JOIN_STATE_FULL });
    const packets = await capture.stop();
    await allure.attachmentPath('capture (pcap)', capture.pcapPath, { contentType: PCAP_CONTENT_TYPE, fileExtension: 'pcap' });
    const withPayload = (s: string): CapturedPacket[] => packets.filter((p) => p.ib?.payload.toString() === s);
    expect(withPayload('accepted').length, 'sent by node1 and accepted by node2').to.equal(2);
    expect(withPayload('accepted')[0]!.raw.equals(withPayload('accepted')[1]!.raw), 'the same octets').to.equal(true);
    expect(withPayload('dropped').length, 'sent, never accepted').to.equal(1);

    const mads = madsOf(packets);
    const sa = mads.filter((m) => m.mad?.header.mgmtClass === MGMT_CLASS_SUBN_ADM && m.mad.header.attributeId === SA_ATTR_MCMEMBER_RECORD);
    const request = sa.find((m) => m.slid === a.lid && m.destQpn === 1);
    const response = sa.find((m) => m.dlid === a.lid && m.srcQpn === 1);
    expect(request, 'the join request (node1 to the SM)').to.not.equal(undefined);
    expect(response, 'the SA answer').to.not.equal(undefined);
    expect(request!.dlid, 'to the SM LID').to.equal(a.smLid);
    expect(request!.qkey, 'GSI Q_Key').to.equal(GSI_QKEY);
    expect(ipoibFrames(packets).some((f) => f.destQpn === 1), 'MADs are not IPoIB frames').to.equal(false);
  });

  it('a second capture on the same fabric fails clearly while one runs, from this process or another client @lab @fabric @pcap', async function () {
    const capturer = new FabricTapCapturer({ socketPath: fabric.paths.socket });
    const first = await capturer.start({ pcapPath: path.join(fabric.base, 'first.pcap') });
    let err: unknown;
    try {
      await capturer.start({ pcapPath: path.join(fabric.base, 'second.pcap') });
    } catch (e) {
      err = e;
    }
    expect(err, 'second start in this process').to.be.instanceOf(CaptureError);
    expect((err as Error).message).to.match(/already running.*one tap/);
    const firstPackets = await first.stop();
    expect(await first.stop(), 'stop is idempotent').to.equal(firstPackets);

    // A tap turned on by another client (the CLI's `fabric tap`) is seen in the manager's status.
    const ctl = await FabricClient.connect(fabric.paths.socket);
    try {
      await ctl.request({ op: 'tap', file: path.join(fabric.base, 'cli.pcap'), nodes: ['node2'] });
      err = undefined;
      try {
        await capturer.start({ pcapPath: path.join(fabric.base, 'third.pcap') });
      } catch (e) {
        err = e;
      }
      expect(err, 'start while another client taps').to.be.instanceOf(CaptureError);
      expect((err as Error).message).to.match(/already tapped \(nodes node2\)/);
      await ctl.request({ op: 'tap', file: null });
    } finally {
      ctl.close();
    }
    const again = await capturer.start({ pcapPath: path.join(fabric.base, 'again.pcap') });
    expect(await again.stop(), 'a capture with no traffic').to.deep.equal([]);
  });
});

describe('ipoibFrames and madsOf over captured packets @lab @pcap @encap @mad', function () {
  const ud = (destQp: number, srcQp: number, payload: Buffer, qKey = 0x0b1b): IbPacketFields => ({
    lrh: { vl: 0, sl: 0, dlid: 3, slid: 2 },
    bth: { opcode: OP_UD_SEND_ONLY, se: false, migReq: false, pKey: 0xffff, destQp, ackReq: false, psn: 1 },
    deth: { qKey, resv8: 0, srcQp },
    payload,
  });
  const captured = (f: IbPacketFields): CapturedPacket => {
    const raw = encodeIbPacket(f);
    return { tsUs: 1, raw, ib: decodeIbPacket(raw) };
  };

  it('keeps UD sends to data QPs with the IPoIB header taken off, and skips QP0, QP1, reliable-connected and undecoded packets @lab @pcap @encap @ib', function () {
    const arp = captured(ud(0x12, 0x34, ipoibPayload(ETH_P_ARP, Buffer.from('arp body'))));
    const reserved = captured(ud(0x12, 0x34, Buffer.from('0800abcd', 'hex')));
    const short = captured(ud(0x12, 0x34, Buffer.from('08', 'hex')));
    const toQp1 = captured(ud(1, 1, Buffer.alloc(256), 0x80010000));
    const toQp0 = captured(ud(0, 0, Buffer.alloc(256)));
    const rc = captured({
      lrh: { vl: 0, sl: 0, dlid: 3, slid: 2 },
      bth: { opcode: OP_RC_SEND_ONLY, se: false, migReq: false, pKey: 0xffff, destQp: 0x12, ackReq: true, psn: 1 },
      payload: ipoibPayload(ETH_P_IP, Buffer.alloc(8)),
    });
    const broken: CapturedPacket = { tsUs: 1, raw: Buffer.alloc(3), ib: null, decodeError: 'lrh: short' };
    const frames = ipoibFrames([arp, toQp1, reserved, toQp0, rc, broken, short]);
    expect(frames.map((f) => f.packet), 'in capture order').to.deep.equal([arp, reserved, short]);
    expect(frames[0]!.header).to.deep.equal({ type: ETH_P_ARP, reserved: 0 });
    expect(frames[0]!.body.toString()).to.equal('arp body');
    expect([frames[0]!.slid, frames[0]!.dlid, frames[0]!.srcQpn, frames[0]!.destQpn, frames[0]!.qkey, frames[0]!.pkey]).to.deep.equal([2, 3, 0x34, 0x12, 0x0b1b, 0xffff]);
    expect(frames[1]!.header, 'reserved bits kept as found').to.deep.equal({ type: 0x0800, reserved: 0xabcd });
    expect(frames[2]!.header, 'payload shorter than the header').to.equal(null);
    expect(frames[2]!.body.length).to.equal(0);
  });

  it('decodes the MAD of each UD packet to or from QP1, and says why one does not decode @lab @pcap @mad @ib', function () {
    const madBytes = Buffer.alloc(256);
    madBytes[0] = 1; // BaseVersion
    madBytes[1] = MGMT_CLASS_SUBN_ADM;
    madBytes.writeUInt16BE(SA_ATTR_MCMEMBER_RECORD, 16);
    const request = captured(ud(1, 0x40, madBytes, GSI_QKEY));
    const answer = captured(ud(0x40, 1, madBytes, GSI_QKEY));
    const short = captured(ud(1, 1, Buffer.alloc(100), GSI_QKEY));
    const data = captured(ud(0x12, 0x34, ipoibPayload(ETH_P_IP, Buffer.alloc(4))));
    const mads = madsOf([data, request, short, answer]);
    expect(mads.map((m) => m.packet)).to.deep.equal([request, short, answer]);
    expect(mads[0]!.mad?.header.mgmtClass, 'class').to.equal(MGMT_CLASS_SUBN_ADM);
    expect(mads[0]!.mad?.header.attributeId, 'attribute').to.equal(SA_ATTR_MCMEMBER_RECORD);
    expect(mads[2]!.srcQpn, 'answer from QP1').to.equal(1);
    expect(mads[1]!.mad, 'a 100-octet MAD').to.equal(null);
    expect(mads[1]!.decodeError).to.match(/mad\.length/);
  });
});
