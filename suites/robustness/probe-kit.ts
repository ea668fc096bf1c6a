/**
 * What every robustness case shares: a probe QP that can reach the DUT's UD QP (unicast, by the
 * LID the SA gives for its GID) and the broadcast group (the probe joins it as a full member),
 * the probe's own IPoIB identity on the lab subnet, and the after-checks that tell whether the
 * DUT came through a probe unharmed:
 *   (a) ipoibd still answers and the interface keeps its address and carrier;
 *   (b) it still works: it answers an ARP request from the probe correctly (reply from the QPN
 *       it advertises, broadcast Q_Key, zero reserved field) and a ping from the peer;
 *   (c) drop counters moved, where the DUT counts drops by reason;
 *   (d) its neighbour entry for the peer was not rewritten.
 */
import { expect } from 'chai';
import type { DutInterface, Neighbour } from '../../src/lab/adapters/dut.js';
import type { ProbeDestination, ProbeFrame, ProbeQp } from '../../src/lab/probe.js';
import { ETH_P_ARP, ETH_P_IP, ETH_P_IPV6, IPOIB_DEFAULT_QKEY, JOIN_STATE_FULL, MCAST_QPN, ND_OPT_SOURCE_LLADDR, PKEY_DEFAULT } from '../../src/wire/constants.js';
import { formatHwAddr, type IpoibHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { broadcastMgid, formatGid } from '../../src/wire/mgid.js';
import type { Case } from '../harness/conformance.js';
import { parseIpv6 } from '../../src/wire/ip-text.js';
import type { NdOption } from '../../src/wire/nd.js';
import { arpBody, arpOf, echo4Packet, echo6Packet, echoReplyOf, ipoibFrame, isArpReplyFrom, isEchoReply, naOf, nsPacket, reservedOf } from './probe-frames.js';

/** The probe's addresses on the lab subnet (192.0.2.0/24, 2001:db8:1b::/64); nothing else uses them. */
export const PROBE_IPV4 = '192.0.2.200';
export const PROBE_IPV6 = '2001:db8:1b::c8';
/** How long a case waits for an answer that must come. */
export const ANSWER_TIMEOUT_MS = 2000;
/** How long a case listens for answers that must not come. */
export const SILENCE_WINDOW_MS = 400;

const hex = (n: number, digits: number): string => `0x${n.toString(16).padStart(digits, '0')}`;

/** The peer's address as the DUT should know it; read once per lab (it does not change). */
const peerHwByFabric = new Map<string, Promise<IpoibHwAddr>>();

export function peerHwaddr(t: Case): Promise<IpoibHwAddr> {
  let p = peerHwByFabric.get(t.lab.sim?.name ?? t.lab.lab.name);
  if (!p) {
    p = t.peer.adapter.hwaddr();
    peerHwByFabric.set(t.lab.sim?.name ?? t.lab.lab.name, p);
    p.catch(() => peerHwByFabric.delete(t.lab.sim?.name ?? t.lab.lab.name));
  }
  return p;
}

export interface DutView {
  link: DutInterface;
  lid: number;
}

export class ProbeKit {
  private seq = 1;

  private constructor(
    private readonly t: Case,
    readonly qp: ProbeQp,
    readonly dut: DutView,
    readonly broadcast: { mgid: Buffer; mlid: number },
    /** The DUT's counters when the kit opened, before any probe frame: the "before" of the drop counts. */
    readonly countersAtOpen: Record<string, number>,
  ) {}

  /**
   * Opens a probe QP on the default partition with the broadcast Q_Key, joins the broadcast
   * group (so the probe can send to it and hear the DUT's broadcasts) and learns the DUT's
   * LID; every step registers its undo.
   */
  static async open(t: Case, o: { qkey?: number; pkey?: number } = {}): Promise<ProbeKit> {
    const pkey = o.pkey ?? PKEY_DEFAULT;
    // The counters are read here, beside the link, to save a round trip to the DUT per case.
    const [link, counters] = await Promise.all([t.dut.adapter.link(), t.dut.adapter.counters()]);
    const pkeyIndex = t.probe.pkeyIndexOf(pkey);
    if (pkeyIndex < 0) t.skip(`the probe port holds no P_Key ${hex(pkey, 4)}`);
    const qp = await t.probe.openQp({ qkey: o.qkey ?? IPOIB_DEFAULT_QKEY, pkeyIndex });
    t.defer(() => qp.close(), 'close the probe QP');
    const path = await t.probe.pathTo(link.hwaddr.gid, pkey);
    const mgid = broadcastMgid(pkey);
    const record = await t.probe.join({ mgid, joinState: JOIN_STATE_FULL });
    t.defer(() => t.probe.leave(mgid, JOIN_STATE_FULL), 'probe leaves the broadcast group');
    qp.attachMulticast(mgid, record.mlid);
    t.defer(async () => qp.detachMulticast(mgid, record.mlid), 'detach the probe QP from the broadcast group');
    return new ProbeKit(t, qp, { link, lid: path.dlid }, { mgid, mlid: record.mlid }, counters);
  }

  /** The DUT's IPv4 address from the lab file; a case that needs it skips on a lab without one. */
  get dutIpv4(): string {
    return this.t.dut.ipv4 ?? this.t.skip('the lab file gives the DUT no IPv4 address');
  }

  get dutIpv6(): string {
    return this.t.dut.ipv6 ?? this.t.skip('the lab file gives the DUT no IPv6 address');
  }

  /** The probe QP's own link-layer address. */
  get hwaddr(): IpoibHwAddr {
    return { flags: 0, qpn: this.qp.qpn, gid: this.t.probe.gid };
  }

  /** Unicast to the DUT's UD QP, with the broadcast Q_Key unless told otherwise. */
  toDut(o: Partial<ProbeDestination> = {}): ProbeDestination {
    return { dlid: this.dut.lid, dqpn: this.dut.link.hwaddr.qpn, qkey: IPOIB_DEFAULT_QKEY, ...o };
  }

  /** To the broadcast group (multicast needs the GRH). */
  toBroadcast(): ProbeDestination {
    return { dlid: this.broadcast.mlid, dqpn: MCAST_QPN, qkey: IPOIB_DEFAULT_QKEY, grh: { dgid: this.broadcast.mgid } };
  }

  /** Forgets what the probe QP received so far: "within the window" then means "after this". */
  clear(): void {
    this.qp.clear();
  }

  send(to: ProbeDestination, frame: Buffer): void {
    this.qp.send(to, frame);
  }

  /** A fresh echo sequence number for this case (the identifier is the probe QPN's low 16 bits). */
  nextSeq(): number {
    return this.seq++;
  }

  get echoId(): number {
    return this.qp.qpn & 0xffff;
  }

  /** An IPv4 or IPv6 packet with an echo request from the probe to the DUT; `dataBytes` of pattern. */
  echoPacket(family: 4 | 6, sequence: number, dataBytes = 56): Buffer {
    const data = Buffer.alloc(dataBytes, sequence & 0xff);
    return family === 4
      ? echo4Packet({ src: PROBE_IPV4, dst: this.dutIpv4, identifier: this.echoId, sequence, data })
      : echo6Packet({ src: PROBE_IPV6, dst: this.dutIpv6, identifier: this.echoId, sequence, data });
  }

  /** Sends an echo request in a frame of the right EtherType; resolves with its sequence number. */
  sendEcho(family: 4 | 6, o: { to?: ProbeDestination; reserved?: number; dataBytes?: number } = {}): number {
    const sequence = this.nextSeq();
    this.send(o.to ?? this.toDut(), ipoibFrame(family === 4 ? ETH_P_IP : ETH_P_IPV6, this.echoPacket(family, sequence, o.dataBytes), o.reserved ?? 0));
    return sequence;
  }

  /** Waits for the DUT's echo reply with this sequence number and checks its reserved field and Q_Key. */
  async expectEchoReply(family: 4 | 6, sequence: number, what: string): Promise<ProbeFrame> {
    const f = await this.qp.waitFor((x) => isEchoReply(x, family, this.echoId, sequence), ANSWER_TIMEOUT_MS);
    expect(reservedOf(f), `reserved field of the DUT's IPv${family === 4 ? '4' : '6'} echo reply (${what}); RFC 4391 §6 wants 0`).to.equal(0);
    expect(f.qkey, `Q_Key of the DUT's echo reply (${what})`).to.equal(IPOIB_DEFAULT_QKEY);
    return f;
  }

  /** Echo replies to this probe QP's identifier that arrive within the window. */
  echoRepliesWithin(windowMs: number): Promise<ProbeFrame[]> {
    return this.qp.collect((x) => {
      const r = echoReplyOf(x);
      return r !== null && r.identifier === this.echoId;
    }, windowMs);
  }

  /**
   * Sends a neighbor solicitation for the DUT's IPv6 address, unicast to its QP, from the probe's
   * IPv6 address with the probe's link-layer address (or the options given), and waits for the
   * DUT's advertisement. This also teaches the DUT the probe's IPv6 neighbour entry.
   */
  async expectNdAnswer(what: string, o: { reserved?: number; options?: NdOption[] } = {}): Promise<ProbeFrame> {
    const options = o.options ?? [this.sourceOption()];
    this.clear(); // an earlier advertisement must not count as this one's
    this.send(this.toDut(), ipoibFrame(ETH_P_IPV6, nsPacket({ src: PROBE_IPV6, dst: this.dutIpv6, target: this.dutIpv6, options }), o.reserved ?? 0));
    const target = parseIpv6(this.dutIpv6);
    const f = await this.qp.waitFor((x) => naOf(x)?.target.equals(target) === true, ANSWER_TIMEOUT_MS);
    expect(reservedOf(f), `reserved field of the DUT's neighbor advertisement (${what})`).to.equal(0);
    expect(f.qkey, `Q_Key of the DUT's neighbor advertisement (${what})`).to.equal(IPOIB_DEFAULT_QKEY);
    return f;
  }

  /** The probe's IPoIB source link-layer address option. */
  sourceOption(address: IpoibHwAddr = this.hwaddr): NdOption {
    return { kind: 'lladdr', type: ND_OPT_SOURCE_LLADDR, pad: 0, address };
  }

  /** Unicast frames that reached the probe QP within the window (answers addressed to the probe). */
  unicastWithin(windowMs: number, match: (f: ProbeFrame) => boolean = () => true): Promise<ProbeFrame[]> {
    return this.qp.collect((f) => (f.grh === undefined || f.grh.dgid[0] !== 0xff) && match(f), windowMs);
  }

  /**
   * Sends a well-formed ARP request for the DUT's IPv4 address from the probe and checks the
   * answer: an ARP reply from the DUT, sent from the QPN its address names, to the probe's
   * address, with the broadcast Q_Key and a zero reserved field. Resolves with the reply frame.
   */
  async expectArpAnswer(what: string, o: { to?: ProbeDestination; reserved?: number; sha?: IpoibHwAddr } = {}): Promise<ProbeFrame> {
    const sha = o.sha ?? this.hwaddr;
    this.clear(); // an earlier reply must not count as this one's
    this.send(o.to ?? this.toDut(), ipoibFrame(ETH_P_ARP, arpBody({ sha, spa: PROBE_IPV4, tpa: this.dutIpv4 }), o.reserved ?? 0));
    const f = await this.qp.waitFor((x) => isArpReplyFrom(x, this.dutIpv4), ANSWER_TIMEOUT_MS);
    const reply = arpOf(f)!;
    await this.t.attachJson(`ARP reply (${what})`, { srcQpn: hex(f.srcQpn, 6), slid: f.slid, qkey: hex(f.qkey, 8), pkey: hex(f.pkey, 4), reserved: reservedOf(f), sha: formatHwAddr(reply.sha), tha: formatHwAddr(reply.tha), tpa: reply.tpa });
    expect(reservedOf(f), `reserved field of the DUT's ARP reply (${what}); RFC 4391 §6 wants 0`).to.equal(0);
    expect(f.qkey, `Q_Key of the DUT's ARP reply (${what}); the broadcast group's is ${hex(IPOIB_DEFAULT_QKEY, 8)}`).to.equal(IPOIB_DEFAULT_QKEY);
    expect(reply.sha.qpn, `QPN the DUT's ARP reply advertises (${what}) vs. the QP it came from (DETH source QP ${hex(f.srcQpn, 6)})`).to.equal(f.srcQpn);
    expect(formatGid(reply.sha.gid), `GID in the DUT's ARP reply (${what})`).to.equal(formatGid(this.dut.link.hwaddr.gid));
    expect(reply.tpa, `target protocol address of the DUT's ARP reply (${what})`).to.equal(PROBE_IPV4);
    return f;
  }
}

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
export async function expectUnharmed(t: Case, kit: ProbeKit, before: Record<string, number>, what: string): Promise<Record<string, number>> {
  const [after, link, neighbours, peerHw] = await Promise.all([t.dut.adapter.counters(), t.dut.adapter.link(), t.dut.adapter.neighbours(), peerHwaddr(t)]);
  const delta = counterDelta(before, after);
  await t.attachJson(`after ${what}: counter deltas`, nonZero(delta));
  await t.attachJson(`after ${what}: neighbours`, neighbours.map(showNeighbour));
  expect(link.carrier, `carrier of ${link.ifname} after ${what}`).to.equal(true);
  expect(formatHwAddr(link.hwaddr), `${link.ifname}'s address after ${what}`).to.equal(formatHwAddr(kit.dut.link.hwaddr));
  expectPeerEntryIntact(neighbours, t.peer.ipv4, peerHw, what);
  await kit.expectArpAnswer(`after ${what}`);
  const ping = await t.peer.adapter.ping(kit.dutIpv4, { count: 1, waitSeconds: 2 });
  expect(ping.received, `echo replies to the peer's ping of the DUT (${kit.dutIpv4}) after ${what}`).to.equal(1);
  return delta;
}

export function showNeighbour(n: Neighbour): { ip: string; hwaddr: string | null; state: string } {
  return { ip: n.ip, hwaddr: n.hwaddr ? formatHwAddr(n.hwaddr) : null, state: n.state.join(',') };
}

/** The DUT's entry for the peer, if any, must still hold the peer's own address. */
export function expectPeerEntryIntact(neighbours: Neighbour[], peerIp: string | null, peerHw: IpoibHwAddr, what: string): void {
  if (peerIp === null) return;
  const entry = neighbours.find((n) => n.ip === peerIp);
  if (!entry || !entry.hwaddr) return;
  expect(formatHwAddr(entry.hwaddr), `the DUT's neighbour entry for the peer ${peerIp} after ${what} (the peer's address is ${formatHwAddr(peerHw)})`).to.equal(formatHwAddr(peerHw));
}
