/**
 * The eight `ethtool -S` counters of Linux ib_ipoib (research kernel-ipoib.md §4): rx_packets,
 * tx_packets, rx_bytes, tx_bytes, tx_errors, rx_dropped, tx_dropped, multicast. Across a ping
 * of N echoes through the interface and M multicast echoes the peer sends to the all-hosts group, each must move by what the fabric tap saw the DUT send and accept:
 * tx_bytes with the 4-octet IPoIB header, rx_bytes without it, `multicast` for received frames
 * to groups other than the broadcast group, and the error counters not at all. The traffic is
 * made with the hosts' unmodified ping, whose replies arriving is RFC 4392 §3's point (IPoIB
 * needs no special programs).
 */
import { expect } from 'chai';
import { type Case, conformance } from '../harness/conformance.js';
import type { IpoibFrame } from '../../src/lab/capture.js';
import { IPOIB_HEADER_LEN, LID_MULTICAST_BASE } from '../../src/wire/constants.js';
import { formatGid, mgidForIpv4Group, mgidForIpv6Group } from '../../src/wire/mgid.js';
import { frameSummary } from '../harness/capture-views.js';
import { lidOf, partitionBroadcastMgid } from '../harness/fabric-view.js';
import { pingGroup } from '../harness/node-actions.js';
import { sleep } from '../harness/poll.js';
import { attachQp, openQp, probeCreates } from '../harness/probe-helpers.js';

const ECHOES = 4;
const ECHO_PAYLOAD_BYTES = 200;
const GROUP_ECHOES = 3;
/** All-hosts: every IPv4 host listens to it without reporting it, so pinging it provokes no membership reports. */
const ALL_HOSTS_GROUP = '224.0.0.1';
/** Where hosts send IGMPv3 and MLDv2 membership reports. */
const IGMPV3_REPORTS_GROUP = '224.0.0.22';
const MLDV2_REPORTS_GROUP = 'ff02::16';
const ETHTOOL_COUNTERS = ['rx_packets', 'tx_packets', 'rx_bytes', 'tx_bytes', 'tx_errors', 'rx_dropped', 'tx_dropped', 'multicast'] as const;
const CASE_TIMEOUT_MS = 60_000;

const isMulticastLid = (lid: number): boolean => lid >= LID_MULTICAST_BASE && lid !== 0xffff;

describe('Linux ib_ipoib: ethtool -S counters @icmp @multicast', () => {
  conformance({
    covers: ['LINUX-ETHTOOL-a', 'LINUX-ETHTOOL-b', 'RFC4392-3-a'],
    title: 'moves its eight ethtool counters by exactly the frames and octets it sent and accepted across a ping and a group ping from the peer',
    tags: ['icmp', 'multicast'],
    requires: ['wire-capture', 'probe', 'sa', 'ipv4'],
    timeoutMs: CASE_TIMEOUT_MS,
  }, async (t: Case) => {
    if (!t.peer.ipv4) t.skip('the lab file gives the peer no IPv4 address');
    const peerIpv4 = t.peer.ipv4;
    const a = t.dut.adapter;
    const link = await a.link();
    const pkey = link.pkey ?? 0xffff;
    const dutLid = await lidOf(t, link.hwaddr.gid, pkey);
    // The tap sees a multicast frame only when the fabric has somewhere to send it: the probe
    // listens to the groups hosts send membership reports to, so a report the DUT's host happens
    // to send in the window is seen as well as counted.
    const bgid = partitionBroadcastMgid(pkey);
    const bcast = (await t.probe.groupMembers(bgid))[0];
    if (!bcast) t.skip(`the SA has no broadcast group ${formatGid(bgid)}`);
    const ear = await openQp(t, { pkey, qkey: bcast.qkey });
    for (const report of [mgidForIpv4Group(IGMPV3_REPORTS_GROUP, pkey), mgidForIpv6Group(MLDV2_REPORTS_GROUP, pkey)]) attachQp(t, ear, await probeCreates(t, report, bcast));
    // Resolve the peer first, so the window holds the echoes and as little else as possible.
    await a.ping(peerIpv4, { count: 1, waitSeconds: 2 });

    const { result, frames } = await t.capture(async () => {
      const before = await a.counters();
      const ping = await a.ping(peerIpv4, { count: ECHOES, size: ECHO_PAYLOAD_BYTES, waitSeconds: 2 });
      await pingGroup(t.peer, ALL_HOSTS_GROUP, { count: GROUP_ECHOES });
      await sleep(100); // the last frames reach the DUT's counters
      const after = await a.counters();
      return { before, after, ping };
    }, { nodes: [t.dut.fabricNode] });

    // The tap of the DUT's port holds what it sent and what it accepted (own multicast echoes twice: once each way).
    const sent: IpoibFrame[] = [];
    const seenSent = new Set<string>();
    for (const f of frames.filter((x) => x.slid === dutLid)) {
      const key = f.packet.raw.toString('hex');
      if (isMulticastLid(f.dlid) && seenSent.has(key)) continue;
      seenSent.add(key);
      sent.push(f);
    }
    const accepted = frames.filter((f) => f.slid !== dutLid && (f.dlid === dutLid ? f.destQpn === link.hwaddr.qpn : isMulticastLid(f.dlid)));
    const toGroups = accepted.filter((f) => isMulticastLid(f.dlid) && !(f.ib.grh?.dgid.equals(bgid) ?? false));
    const want: Record<(typeof ETHTOOL_COUNTERS)[number], number> = {
      rx_packets: accepted.length,
      tx_packets: sent.length,
      rx_bytes: accepted.reduce((n, f) => n + f.ib.payload.length - IPOIB_HEADER_LEN, 0),
      tx_bytes: sent.reduce((n, f) => n + f.ib.payload.length, 0),
      tx_errors: 0,
      rx_dropped: 0,
      tx_dropped: 0,
      multicast: toGroups.length,
    };
    const moved = Object.fromEntries(ETHTOOL_COUNTERS.map((c) => [c, (result.after[c] ?? NaN) - (result.before[c] ?? NaN)])) as Record<(typeof ETHTOOL_COUNTERS)[number], number>;
    await t.attachJson('counters', { before: result.before, after: result.after, moved, fromTheWire: want, ping: result.ping });
    await t.attachJson('frames the DUT sent', sent.map(frameSummary));
    await t.attachJson('frames the DUT accepted', accepted.map(frameSummary));

    const missing = ETHTOOL_COUNTERS.filter((c) => result.after[c] === undefined || result.before[c] === undefined);
    expect(missing, 'ethtool counters the DUT does not have').to.deep.equal([]);
    expect(result.ping.received, `echo replies from ${peerIpv4} (the host's unmodified ping)`).to.equal(ECHOES);
    expect(sent.length, `frames the DUT sent (at least its ${ECHOES} echo requests)`).to.be.at.least(ECHOES);
    expect(toGroups.length, `the peer's ${GROUP_ECHOES} echoes to ${ALL_HOSTS_GROUP} reached the DUT`).to.be.at.least(GROUP_ECHOES);
    for (const c of ETHTOOL_COUNTERS) expect(moved[c], `${c} moved by (the tap says ${want[c]})`).to.equal(want[c]);
  });
});
