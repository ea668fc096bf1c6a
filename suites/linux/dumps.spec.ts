/**
 * The debugfs dumps of Linux ib_ipoib, `<if>_mcg` and `<if>_path` (research kernel-ipoib.md
 * §3), read through the DUT adapter (which parses their exact layout) and checked against the
 * fabric: every group the dump lists as complete is one the SA has the DUT in, with the
 * JoinState its send_only flag implies, and every group the SA has the DUT in is listed; a path
 * to the peer appears after traffic, with the DLID, SL and rate the SA gives for the peer's GID,
 * which the DUT asked the SA for. Both dumps list their records in GID order, as the kernel
 * walks its trees.
 */
import { expect } from 'chai';
import { type Case, conformance } from '../harness/conformance.js';
import { IB_RATE_CODE_TO_GBPS, JOIN_STATE_FULL, JOIN_STATE_SEND_ONLY_FULL, JOIN_STATE_SEND_ONLY_NON, MAD_METHOD_GET, MAD_METHOD_GET_TABLE } from '../../src/wire/constants.js';
import { broadcastMgid, formatGid, mgidForIpv4Group } from '../../src/wire/mgid.js';
import { saPathMads } from '../harness/capture-views.js';
import { lidOf, smGroupsOf } from '../harness/fabric-view.js';
import { hex } from '../harness/hex.js';
import { pingGroup } from '../harness/node-actions.js';

/** A group the DUT only sends to (not used by another suite file). */
const SEND_ONLY_GROUP = '239.43.93.1';
const SEND_ONLY_STATES = JOIN_STATE_SEND_ONLY_FULL | JOIN_STATE_SEND_ONLY_NON;

/** GIDs whose next one does not sort after them (the dumps list records in memcmp order). */
function outOfOrder(gids: readonly Buffer[]): string[] {
  const bad: string[] = [];
  for (let i = 1; i < gids.length; i++) if (Buffer.compare(gids[i - 1]!, gids[i]!) >= 0) bad.push(`${formatGid(gids[i - 1]!)} before ${formatGid(gids[i]!)}`);
  return bad;
}

describe('Linux ib_ipoib: debugfs _mcg and _path @multicast @sa', () => {
  conformance({
    covers: ['LINUX-DEBUGFS-a', 'RFC4391-5-b', 'RFC4391-10-e'],
    title: 'lists in _mcg, in MGID order, exactly the groups the SA has it in, complete, with send_only matching its JoinState',
    tags: ['multicast', 'sa', 'mgid'],
    requires: ['probe', 'sa', 'fabric-control'],
  }, async (t: Case) => {
    const a = t.dut.adapter;
    const link = await a.link();
    const pkey = link.pkey ?? 0xffff;
    const sendOnlyMgid = mgidForIpv4Group(SEND_ONLY_GROUP, pkey);
    await pingGroup(t.dut, SEND_ONLY_GROUP, { count: 1 });
    const mcg = await a.mcgDump();
    const sa = await smGroupsOf(t, link.hwaddr.gid);
    if (!sa) t.skip('the sim fabric\'s status does not list group members');
    // The SA knows ports, not interfaces: keep the groups of this interface's partition.
    const saByMgid = new Map(sa.filter((g) => g.mgid.readUInt16BE(4) === pkey).map((g) => [formatGid(g.mgid), g.joinState]));
    await t.attachJson('_mcg and the SA', {
      mcg: mcg.map((r) => ({ mgid: formatGid(r.mgid), complete: r.complete, sendOnly: r.sendOnly, queuelen: r.queuelen })),
      sa: sa.map((g) => ({ mgid: formatGid(g.mgid), joinState: hex(g.joinState, 1) })),
    });

    const bcast = formatGid(broadcastMgid(pkey));
    const bRow = mcg.find((r) => formatGid(r.mgid) === bcast);
    expect(bRow, `_mcg lists the broadcast group ${bcast}`).to.not.equal(undefined);
    expect(bRow!.sendOnly, 'the broadcast group\'s send_only').to.equal(false);
    const soRow = mcg.find((r) => r.mgid.equals(sendOnlyMgid));
    expect(soRow, `_mcg lists ${formatGid(sendOnlyMgid)}, the group of ${SEND_ONLY_GROUP} it sent to`).to.not.equal(undefined);
    expect(soRow!.sendOnly, `send_only of ${SEND_ONLY_GROUP}'s group (the host does not listen to it)`).to.equal(true);
    for (const r of mcg) {
      const g = formatGid(r.mgid);
      const state = saByMgid.get(g);
      expect(r.complete, `_mcg complete of ${g}`).to.equal(true);
      expect(state, `the SA has the DUT in ${g}, which _mcg lists as complete`).to.not.equal(undefined);
      if (r.sendOnly) expect(state! & SEND_ONLY_STATES, `JoinState of send-only ${g}`).to.not.equal(0);
      else expect(state! & JOIN_STATE_FULL, `JoinState of ${g}`).to.equal(JOIN_STATE_FULL);
    }
    const listed = new Set(mcg.map((r) => formatGid(r.mgid)));
    for (const g of saByMgid.keys()) expect(listed.has(g), `_mcg lists ${g}, which the SA has the DUT in`).to.equal(true);
    expect(outOfOrder(mcg.map((r) => r.mgid)), '_mcg records out of MGID order').to.deep.equal([]);
  });

  conformance({
    covers: ['LINUX-DEBUGFS-b', 'RFC4391-9.1.2-a', 'RFC4392-4.3-b'],
    title: 'asks the SA for a path to the peer it resolved and lists it in _path, in GID order, with that DLID, SL and rate',
    tags: ['sa', 'ib'],
    requires: ['wire-capture', 'probe', 'sa', 'ipv4'],
  }, async (t: Case) => {
    if (!t.peer.ipv4) t.skip('the lab file gives the peer no IPv4 address');
    const peerIpv4 = t.peer.ipv4;
    const a = t.dut.adapter;
    const link = await a.link();
    const peerLink = await t.peer.adapter.link();
    const pkey = link.pkey ?? 0xffff;
    const dutLid = await lidOf(t, link.hwaddr.gid, pkey);
    t.defer(await a.flushNeighbours());
    const { result: ping, packets } = await t.capture(() => a.ping(peerIpv4, { count: 1, waitSeconds: 2 }), { nodes: [t.dut.fabricNode] });
    const queries = saPathMads(packets).filter((m) => m.slid === dutLid && (m.method === MAD_METHOD_GET || m.method === MAD_METHOD_GET_TABLE));
    const rows = await a.pathDump();
    const want = await t.probe.pathTo(peerLink.hwaddr.gid, pkey);
    const row = rows.find((r) => r.dgid.equals(peerLink.hwaddr.gid));
    const wantMbps = Math.round((IB_RATE_CODE_TO_GBPS[want.rate] ?? NaN) * 1000);
    await t.attachJson('_path and the SA', {
      ping,
      queries: queries.map((q) => ({ tsUs: q.tsUs, dgid: formatGid(q.path.dgid), pkey: hex(q.path.pkey, 4) })),
      path: rows.map((r) => ({ dgid: formatGid(r.dgid), complete: r.complete, dlid: r.dlid, sl: r.sl, rateMbps: r.rateMbps })),
      sa: { dlid: want.dlid, sl: want.sl, rate: want.rate, mbps: wantMbps },
    });

    expect(ping.received, `the DUT reached ${peerIpv4}`).to.equal(1);
    expect(queries.some((q) => q.path.dgid.equals(peerLink.hwaddr.gid)), `the DUT queried a PathRecord for the peer's GID ${formatGid(peerLink.hwaddr.gid)}`).to.equal(true);
    expect(row, `_path lists the peer's GID ${formatGid(peerLink.hwaddr.gid)}`).to.not.equal(undefined);
    expect(row!.complete, '_path complete').to.equal(true);
    expect(row!.dlid, '_path DLID (the SA\'s for that GID)').to.equal(want.dlid);
    expect(row!.sl, '_path SL').to.equal(want.sl);
    expect(row!.rateMbps, '_path rate in Mb/s').to.equal(wantMbps);
    expect(outOfOrder(rows.map((r) => r.dgid)), '_path records out of GID order').to.deep.equal([]);
  });
});
