/**
 * RFC 4391 §9.1.1: the 20-octet IPoIB link-layer address (flags | QPN | GID) the DUT advertises,
 * read three ways: what the DUT reports for its interface, the sender address of its ARP, and
 * the link-layer option of its ND; then compared with what the fabric shows (the source QPN
 * of its frames, its port's GID and GUID at the SM).
 */
import { expect } from 'chai';
import type { IpoibFrame } from '../../src/lab/capture.js';
import { ARP_OP_REQUEST, IPOIB_FLAGS_RESERVED_MASK, MCAST_QPN, QPN_GSI, QPN_SMI } from '../../src/wire/constants.js';
import { formatHwAddr, type IpoibHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { broadcastMgid, formatGid } from '../../src/wire/mgid.js';
import { linuxPkey } from '../../src/wire/pkey.js';
import { arpFrames, frameSummary, uniqueFrames } from '../harness/capture-views.js';
import { conformance } from '../harness/conformance.js';
import { dutOnFabric, smPortOf } from '../harness/fabric-view.js';
import { ndOf } from '../harness/frames.js';
import { hex6 } from '../harness/hex.js';
import { resolvePeerAfresh } from '../harness/node-actions.js';
import { broadcastRecord } from '../harness/probe-helpers.js';

/** The sender addresses the DUT put in its ARP and ND during one capture. */
interface Advertised {
  arp: Array<{ frame: IpoibFrame; sha: IpoibHwAddr }>;
  nd: Array<{ frame: IpoibFrame; address: IpoibHwAddr; type: number }>;
}

function advertisedBy(frames: readonly IpoibFrame[], dutLid: number): Advertised {
  const mine = uniqueFrames(frames.filter((f) => f.slid === dutLid));
  const out: Advertised = { arp: [], nd: [] };
  for (const { frame, arp } of arpFrames(mine)) out.arp.push({ frame, sha: arp.sha });
  for (const f of mine) {
    const nd = ndOf(f.ib.payload);
    if (!nd) continue;
    for (const opt of nd.message.options) {
      if (opt.kind === 'lladdr') out.nd.push({ frame: f, address: opt.address, type: opt.type });
    }
  }
  return out;
}

function evidence(a: Advertised): Record<string, unknown> {
  return {
    arp: a.arp.map((x) => ({ ...frameSummary(x.frame), sha: formatHwAddr(x.sha) })),
    nd: a.nd.map((x) => ({ ...frameSummary(x.frame), optionType: x.type, address: formatHwAddr(x.address) })),
  };
}

describe('RFC 4391 §9.1.1: the IPoIB link-layer address @hwaddr', function () {
  conformance(
    {
      covers: ['RFC4391-9.1.1-d', 'RFC4391-14-c'],
      title: 'sends its link-layer address with the reserved flag bits zero, in its interface address, its ARP and its ND',
      tags: ['hwaddr', 'arp', 'nd'],
      requires: ['probe', 'wire-capture', 'ipv4'],
    },
    async (t) => {
      const dut = await dutOnFabric(t);
      const { result: pings, frames } = await t.capture(() => resolvePeerAfresh(t));
      const adv = advertisedBy(frames, dut.lid);
      await t.attachJson('advertised addresses', { interface: formatHwAddr(dut.hwaddr), pings, ...evidence(adv) });

      expect(adv.arp.length, 'ARP frames from the DUT while it resolved the peer (none seen: nothing to judge)').to.be.greaterThan(0);
      expect(dut.hwaddr.flags & IPOIB_FLAGS_RESERVED_MASK, `reserved flag bits of the address the DUT reports (${formatHwAddr(dut.hwaddr)})`).to.equal(0);
      for (const { sha, frame } of adv.arp) {
        expect(sha.flags & IPOIB_FLAGS_RESERVED_MASK, `reserved flag bits of the ARP sender address ${formatHwAddr(sha)} (frame to LID ${frame.dlid})`).to.equal(0);
      }
      for (const { address } of adv.nd) {
        expect(address.flags & IPOIB_FLAGS_RESERVED_MASK, `reserved flag bits of the ND link-layer option address ${formatHwAddr(address)}`).to.equal(0);
      }
      // The RC/UC bits (0x80/0x40) are RFC 4755's to judge: a CM-capable stack sets RC even in datagram mode.
    },
  );

  conformance(
    {
      covers: ['RFC4391-9.1.1-c', 'RFC4391-9.1.1-h', 'RFC4391-9.1.1-b', 'RFC4391-9.1.1-f'],
      title: 'names in its address the QPN its IPoIB frames come from, the same 20 octets in ARP and ND',
      tags: ['hwaddr', 'arp', 'nd'],
      requires: ['probe', 'wire-capture', 'ipv4', 'ipv6'],
    },
    async (t) => {
      const dut = await dutOnFabric(t);
      const { frames } = await t.capture(() => resolvePeerAfresh(t));
      const mine = uniqueFrames(frames.filter((f) => f.slid === dut.lid));
      const adv = advertisedBy(frames, dut.lid);
      const sourceQpns = [...new Set(mine.map((f) => f.srcQpn))];
      await t.attachJson('addresses and source QPNs', { interface: formatHwAddr(dut.hwaddr), sourceQpns: sourceQpns.map(hex6), ...evidence(adv) });

      expect(mine.length, 'IPoIB frames from the DUT while it resolved the peer').to.be.greaterThan(0);
      expect(sourceQpns.map(hex6), 'source QPN (DETH) of every DUT frame = the QPN in the address the DUT reports').to.deep.equal([hex6(dut.hwaddr.qpn)]);
      expect([QPN_SMI, QPN_GSI, MCAST_QPN].map(hex6), 'the QPN is an ordinary data QP (not 0, 1 or 0xFFFFFF)').to.not.include(hex6(dut.hwaddr.qpn));
      expect(adv.arp.length, 'ARP frames from the DUT').to.be.greaterThan(0);
      for (const { sha, frame } of adv.arp) {
        expect(hex6(sha.qpn), `QPN in the ARP sender address vs the frame's source QPN`).to.equal(hex6(frame.srcQpn));
        expect(formatHwAddr(sha), 'ARP sender address vs the interface address').to.equal(formatHwAddr(dut.hwaddr));
      }
      expect(adv.nd.length, 'ND link-layer options from the DUT (its NS for the peer)').to.be.greaterThan(0);
      for (const { address, frame } of adv.nd) {
        expect(hex6(address.qpn), `QPN in the ND option vs the frame's source QPN`).to.equal(hex6(frame.srcQpn));
        expect(formatHwAddr(address), 'ND option address vs the ARP sender address (the same 20 octets)').to.equal(formatHwAddr(adv.arp[0]!.sha));
      }
    },
  );

  conformance(
    {
      covers: ['RFC4391-9.1.1-i', 'RFC4391-9.1.1-j'],
      title: 'puts its port GID (subnet prefix + port GUID, GID index 0) in its address',
      tags: ['hwaddr', 'arp'],
      requires: ['probe', 'wire-capture', 'ipv4'],
    },
    async (t) => {
      const port = await smPortOf(t, t.dut.fabricNode);
      if (!port) return t.skip('the SM of this lab does not say which GID and GUID the DUT port has');
      const dut = await dutOnFabric(t);
      const { frames } = await t.capture(() => resolvePeerAfresh(t, [4]));
      const adv = advertisedBy(frames, dut.lid);
      const guid = `0x${port.guid.toString(16).padStart(16, '0')}`;
      await t.attachJson('port and addresses', { smPortGid: formatGid(port.gid), smPortGuid: guid, smLid: port.lid, interface: formatHwAddr(dut.hwaddr), ...evidence(adv) });
      await t.parameter('subnet prefix change', 'not exercised: the simulated SM has no control to change the prefix');

      expect(dut.lid, 'the DUT LID by the SA vs by the SM').to.equal(port.lid);
      expect(formatGid(dut.hwaddr.gid), 'GID in the address the DUT reports vs its port GID at the SM').to.equal(formatGid(port.gid));
      expect(`0x${dut.hwaddr.gid.subarray(8).toString('hex')}`, 'low 64 bits of the address GID vs the port GUID').to.equal(guid);
      expect(adv.arp.length, 'ARP frames from the DUT').to.be.greaterThan(0);
      for (const { sha } of adv.arp) expect(formatGid(sha.gid), 'GID in the ARP sender address vs the port GID').to.equal(formatGid(port.gid));
    },
  );

  conformance(
    {
      covers: ['RFC4391-4-h', 'RFC4391-5-d'],
      title: 'has a broadcast address of flags 0, QPN 0xFFFFFF and its partition\'s broadcast-GID, and sends its ARP requests there',
      tags: ['hwaddr', 'arp', 'multicast'],
      requires: ['probe', 'wire-capture', 'ipv4'],
    },
    async (t) => {
      const dut = await dutOnFabric(t);
      const link = await t.dut.adapter.link();
      const bcast = await broadcastRecord(t, dut.pkey);
      const want: IpoibHwAddr = { flags: 0, qpn: MCAST_QPN, gid: broadcastMgid(linuxPkey(dut.pkey)) };
      const { frames } = await t.capture(() => resolvePeerAfresh(t, [4]));
      const requests = arpFrames(uniqueFrames(frames.filter((f) => f.slid === dut.lid))).filter((x) => x.arp.op === ARP_OP_REQUEST);
      await t.attachJson('broadcast address and ARP requests', {
        reported: formatHwAddr(link.broadcast),
        expected: formatHwAddr(want),
        groupMlid: bcast.mlid,
        requests: requests.map((x) => frameSummary(x.frame)),
      });

      expect(formatHwAddr(link.broadcast), 'broadcast address the DUT reports').to.equal(formatHwAddr(want));
      expect(requests.length, 'ARP requests from the DUT while it resolved the peer').to.be.greaterThan(0);
      for (const { frame } of requests) {
        expect(hex6(frame.destQpn), 'BTH DestQP of an ARP request').to.equal(hex6(MCAST_QPN));
        expect(frame.ib.grh ? formatGid(frame.ib.grh.dgid) : 'no GRH', 'GRH DGID of an ARP request').to.equal(formatGid(want.gid));
        expect(frame.dlid, 'LRH DLID of an ARP request = the broadcast group MLID').to.equal(bcast.mlid);
      }
    },
  );
});
