/**
 * The after-checks that tell whether the DUT came through a robustness probe unharmed:
 *   (a) its control surface still answers and the interface keeps its address and carrier;
 *   (b) it still works: it answers an ARP request from the probe correctly (reply from the QPN
 *       it advertises, broadcast Q_Key, zero reserved field) and a ping from the peer;
 *   (c) drop counters moved, where the DUT counts drops by reason;
 *   (d) its neighbour entry for the peer was not rewritten.
 */
import { expect } from 'chai';
import type { Neighbour } from '../../src/lab/adapters/dut.js';
import { formatHwAddr, type IpoibHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import type { Case } from '../harness/conformance.js';
import { peerHwAddr } from '../harness/fabric-view.js';
import type { ProbeHost } from './probe-host.js';

/** Counter deltas by name (after - before), for the names present in both snapshots. */
export function counterDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const d: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) if (before[k] !== undefined) d[k] = v - before[k];
  return d;
}

/** Why a frame is dropped, as the probes provoke it. */
export type DropReason = 'short' | 'ip' | 'arp' | 'nd' | 'ethertype';

/**
 * The counters a DUT keeps per drop reason, by the names it uses: the reference stack's control
 * plane (rx_dropped_*) and its TUN data plane, which drops some frames before they reach the
 * control plane (plane_rx_drop_*). Linux ib_ipoib has none of them: it leaves these drops to the
 * network core, whose counters `ethtool -S` does not show.
 */
const DROP_COUNTERS: Readonly<Record<DropReason, readonly string[]>> = {
  short: ['rx_dropped_short', 'plane_rx_drop_short'],
  ip: ['rx_dropped_ip', 'plane_rx_drop_bad_ip'],
  arp: ['rx_dropped_arp'],
  nd: ['rx_dropped_nd'],
  ethertype: ['rx_dropped_ethertype'],
};

/** How many drops of this reason the DUT's counters show (null when it keeps no counter for it). */
export function dropsCounted(delta: Record<string, number>, reason: DropReason): number | null {
  const present = DROP_COUNTERS[reason].filter((name) => delta[name] !== undefined);
  return present.length === 0 ? null : present.reduce((sum, name) => sum + delta[name]!, 0);
}

/**
 * Where the DUT counts drops by reason, its counters for each reason must have moved by at
 * least the number of frames of that kind; a DUT without such counters is not judged on them.
 */
export function expectDropsCounted(delta: Record<string, number>, want: Partial<Record<DropReason, number>>, what: string): void {
  for (const [reason, n] of Object.entries(want) as Array<[DropReason, number]>) {
    const counted = dropsCounted(delta, reason);
    if (counted === null) continue;
    expect(counted, `drops counted for "${reason}" (${DROP_COUNTERS[reason].join(' + ')}) after ${what}: want at least ${n}; counter deltas ${JSON.stringify(nonZero(delta))}`).to.be.at.least(n);
  }
}

function nonZero(d: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(d).filter(([, v]) => v !== 0));
}

/**
 * The after-checks of every probe: the daemon answers, the link kept its address and carrier,
 * the DUT answers an ARP from the probe and a ping from the peer, and its neighbour entry for
 * the peer (when it has one) still names the peer. Resolves with the counter deltas since
 * `before`.
 */
export async function expectUnharmed(t: Case, host: ProbeHost, before: Record<string, number>, what: string): Promise<Record<string, number>> {
  const [after, link, neighbours, peerHw] = await Promise.all([t.dut.adapter.counters(), t.dut.adapter.link(), t.dut.adapter.neighbours(), peerHwAddr(t)]);
  const delta = counterDelta(before, after);
  await t.attachJson(`after ${what}: counter deltas`, nonZero(delta));
  await t.attachJson(`after ${what}: neighbours`, neighbours.map(showNeighbour));
  expect(link.carrier, `carrier of ${link.ifname} after ${what}`).to.equal(true);
  expect(formatHwAddr(link.hwaddr), `${link.ifname}'s address after ${what}`).to.equal(formatHwAddr(host.dut.link.hwaddr));
  expectPeerEntryIntact(neighbours, t.peer.ipv4, peerHw, what);
  await host.expectArpAnswer(`after ${what}`);
  const ping = await t.peer.adapter.ping(host.dutIpv4, { count: 1, waitSeconds: 2 });
  expect(ping.received, `echo replies to the peer's ping of the DUT (${host.dutIpv4}) after ${what}`).to.equal(1);
  return delta;
}

export function showNeighbour(n: Neighbour): { ip: string; hwaddr: string | null; state: string } {
  return { ip: n.ip, hwaddr: n.hwaddr ? formatHwAddr(n.hwaddr) : null, state: n.state.join(',') };
}

/** The DUT's entry for the peer, if any, must still hold the peer's own address. */
function expectPeerEntryIntact(neighbours: Neighbour[], peerIp: string | null, peerHw: IpoibHwAddr, what: string): void {
  if (peerIp === null) return;
  const entry = neighbours.find((n) => n.ip === peerIp);
  if (!entry || !entry.hwaddr) return;
  expect(formatHwAddr(entry.hwaddr), `the DUT's neighbour entry for the peer ${peerIp} after ${what} (the peer's address is ${formatHwAddr(peerHw)})`).to.equal(formatHwAddr(peerHw));
}
