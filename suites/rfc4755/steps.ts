/**
 * Steps the RFC 4755 cases share: putting nodes in a mode for the case, where the DUT and the
 * peer sit on the fabric, what the DUT's host learnt about a destination's path MTU (the
 * kernel's route cache, which PMTU emulation feeds), and picking the DUT's traffic out of a
 * capture. Nothing here judges.
 */
import type { IpoibMode } from '../../src/lab/adapters/dut.js';
import type { CapturedPacket } from '../../src/lab/capture.js';
import type { LabNodeHandle } from '../../src/lab/lab-session.js';
import { IB_MTU_CODE_TO_BYTES, IPOIB_HEADER_LEN, PKEY_DEFAULT } from '../../src/wire/constants.js';
import { type CapturedCm, cmMads, type RcMessage, rcMessages } from '../harness/cm-views.js';
import type { Case } from '../harness/conformance.js';
import { dutOnFabric, lidOf, peerHwAddr } from '../harness/fabric-view.js';
import { broadcastRecord } from '../harness/probe-helpers.js';

/** Puts each node in `mode` for the case (its mode and MTU come back after it). */
export async function inMode(t: Case, mode: IpoibMode, nodes: readonly LabNodeHandle[] = [t.dut]): Promise<void> {
  for (const n of nodes) t.defer(await n.adapter.setMode(mode), `${n.node.name} back to its mode and MTU`);
}

/** The DUT's and the peer's LIDs, and the peer's UD QPN (from the address it reports). */
export async function ends(t: Case): Promise<{ dutLid: number; dutQpn: number; peerLid: number; peerQpn: number }> {
  const dut = await dutOnFabric(t);
  const peer = await peerHwAddr(t);
  return { dutLid: dut.lid, dutQpn: dut.hwaddr.qpn, peerLid: await lidOf(t, peer.gid, dut.pkey), peerQpn: peer.qpn };
}

/** The UD MTU of the DUT's link: the broadcast group's MTU - 4 (what IPoIB-UD carries, in either mode). */
export async function udMtuOf(t: Case): Promise<number> {
  const rec = await broadcastRecord(t, (await dutOnFabric(t)).pkey ?? PKEY_DEFAULT);
  const bytes = IB_MTU_CODE_TO_BYTES[rec.mtu];
  if (bytes === undefined) return t.skip(`the broadcast group's MTU code ${rec.mtu} names no IB MTU`);
  return bytes - IPOIB_HEADER_LEN;
}

/** A capture's CM MADs and RC messages, from `slid` (and to `dlid`) when given. */
export function cmTraffic(packets: readonly CapturedPacket[], o: { slid?: number; dlid?: number } = {}): { mads: CapturedCm[]; rc: RcMessage[] } {
  const pick = <T extends { slid: number; dlid: number }>(x: T): boolean => (o.slid === undefined || x.slid === o.slid) && (o.dlid === undefined || x.dlid === o.dlid);
  return { mads: cmMads(packets).filter(pick), rc: rcMessages(packets).filter(pick) };
}

/**
 * The path MTU the node's host holds for `dst` (`ip route get`: the cached "mtu N" PMTU
 * emulation leaves), or null when it holds none.
 */
export async function cachedPathMtu(node: LabNodeHandle, dst: string): Promise<number | null> {
  const r = await node.transport.run(['ip', ...(dst.includes(':') ? ['-6'] : []), 'route', 'get', dst], { timeoutMs: 5_000 });
  const m = /\bmtu (\d+)/.exec(r.stdout);
  return m?.[1] === undefined ? null : Number(m[1]);
}

/** Forgets, after the case, every path MTU the node's host learnt (IPv4 and IPv6 route caches). */
export function flushPathMtusAfter(t: Case, node: LabNodeHandle): void {
  t.defer(async () => {
    await node.transport.check(['ip', 'route', 'flush', 'cache'], { timeoutMs: 5_000 });
    await node.transport.check(['ip', '-6', 'route', 'flush', 'cache'], { timeoutMs: 5_000 });
  }, `flush ${node.node.name}'s route caches (learnt path MTUs)`);
}

/**
 * Runs ping with -M do on the node (through `ifname` when given, as a multicast destination
 * needs) and returns its whole output: the "mtu = N" of an ICMP error is in it.
 */
export async function pingDf(node: LabNodeHandle, dst: string, size: number, o: { count?: number; ifname?: string } = {}): Promise<{ received: number; text: string }> {
  const argv = ['ping', '-n', ...(dst.includes(':') ? ['-6'] : []), ...(o.ifname ? ['-I', o.ifname] : []), '-M', 'do', '-c', String(o.count ?? 1), '-i', '0.2', '-W', '1', '-s', String(size), dst];
  const r = await node.transport.run(argv, { timeoutMs: 15_000 });
  const m = /(\d+) (?:packets )?received/.exec(r.stdout);
  return { received: m?.[1] === undefined ? 0 : Number(m[1]), text: `$ ${argv.join(' ')}\n${r.stdout}${r.stderr}` };
}

/** The MTUs named by ICMP errors and local refusals in a ping's output ("mtu = 2044", "mtu=2044", "mtu: 2044"). */
export function mtusInPingText(text: string): number[] {
  return [...text.matchAll(/\bmtu\s*[=:]\s*(\d+)/g)].map((m) => Number(m[1]));
}
