/**
 * The probe as an IPoIB host on the DUT's link, as every robustness case uses it: one QP on the
 * default partition with the broadcast Q_Key, a full member of the broadcast group (so it can
 * send there and hears the DUT's broadcasts), addresses of its own on the lab subnet, and the
 * well-formed stimuli whose answers show the DUT still works: an ARP request, a neighbor
 * solicitation and echo requests, each with the checks its answer must pass.
 */
import { expect } from 'chai';
import type { DutInterface } from '../../src/lab/adapters/dut.js';
import type { ProbeDestination, ProbeFrame, ProbeQp } from '../../src/lab/probe.js';
import { ETH_P_IP, ETH_P_IPV6, IPOIB_DEFAULT_QKEY, MCAST_QPN, ND_OPT_SOURCE_LLADDR, PKEY_DEFAULT } from '../../src/wire/constants.js';
import { formatHwAddr, type IpoibHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { parseIpv6 } from '../../src/wire/ip-text.js';
import { broadcastMgid, formatGid } from '../../src/wire/mgid.js';
import type { NdOption } from '../../src/wire/nd.js';
import type { Case } from '../harness/conformance.js';
import { lidOf } from '../harness/fabric-view.js';
import { arpFrame, arpOf, echo4Packet, echo6Packet, echoReplyOf, ipoibFrame, isArpReply, isEchoReply, naOf, nsPacket, reservedOf } from '../harness/frames.js';
import { hex4, hex6, hex8 } from '../harness/hex.js';
import { ANSWER_MS, listenOn, probeHwAddr } from '../harness/probe-helpers.js';

/** The probe's addresses on the lab subnet (192.0.2.0/24, 2001:db8:1b::/64); nothing else uses them. */
export const PROBE_IPV4 = '192.0.2.200';
export const PROBE_IPV6 = '2001:db8:1b::c8';

export interface DutView {
  link: DutInterface;
  lid: number;
}

export class ProbeHost {
  private seq = 1;

  private constructor(
    private readonly t: Case,
    readonly qp: ProbeQp,
    readonly dut: DutView,
    readonly broadcast: { mgid: Buffer; mlid: number },
    /** The DUT's counters when the host opened, before any probe frame: the "before" of the drop counts. */
    readonly countersAtOpen: Record<string, number>,
  ) {}

  /**
   * Joins the broadcast group of `pkey` (default 0xFFFF) from a probe QP with Q_Key `qkey`
   * (default the broadcast one) and learns the DUT's LID; every step queues its undo.
   */
  static async open(t: Case, o: { qkey?: number; pkey?: number } = {}): Promise<ProbeHost> {
    const pkey = o.pkey ?? PKEY_DEFAULT;
    // The counters are read here, beside the link, to save a round trip to the DUT per case.
    const [link, counters] = await Promise.all([t.dut.adapter.link(), t.dut.adapter.counters()]);
    const mgid = broadcastMgid(pkey);
    const { qp, group } = await listenOn(t, mgid, { pkey, qkey: o.qkey ?? IPOIB_DEFAULT_QKEY });
    const lid = await lidOf(t, link.hwaddr.gid, pkey);
    return new ProbeHost(t, qp, { link, lid }, { mgid, mlid: group.mlid }, counters);
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
    return probeHwAddr(this.t, this.qp);
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
    const f = await this.qp.waitFor((x) => isEchoReply(x.payload, { family, identifier: this.echoId, sequence }), ANSWER_MS);
    expect(reservedOf(f.payload), `reserved field of the DUT's IPv${family === 4 ? '4' : '6'} echo reply (${what}); RFC 4391 §6 wants 0`).to.equal(0);
    expect(f.qkey, `Q_Key of the DUT's echo reply (${what})`).to.equal(IPOIB_DEFAULT_QKEY);
    return f;
  }

  /** Echo replies to this probe QP's identifier that arrive within the window. */
  echoRepliesWithin(windowMs: number): Promise<ProbeFrame[]> {
    return this.qp.collect((x) => echoReplyOf(x.payload)?.identifier === this.echoId, windowMs);
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
    const f = await this.qp.waitFor((x) => naOf(x.payload)?.target.equals(target) === true, ANSWER_MS);
    expect(reservedOf(f.payload), `reserved field of the DUT's neighbor advertisement (${what})`).to.equal(0);
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
    this.send(o.to ?? this.toDut(), arpFrame({ sha, spa: PROBE_IPV4, tpa: this.dutIpv4, reserved: o.reserved ?? 0 }));
    const f = await this.qp.waitFor((x) => isArpReply(x.payload, { from: this.dutIpv4 }), ANSWER_MS);
    const reply = arpOf(f.payload)!;
    await this.t.attachJson(`ARP reply (${what})`, { srcQpn: hex6(f.srcQpn), slid: f.slid, qkey: hex8(f.qkey), pkey: hex4(f.pkey), reserved: reservedOf(f.payload), sha: formatHwAddr(reply.sha), tha: formatHwAddr(reply.tha), tpa: reply.tpa });
    expect(reservedOf(f.payload), `reserved field of the DUT's ARP reply (${what}); RFC 4391 §6 wants 0`).to.equal(0);
    expect(f.qkey, `Q_Key of the DUT's ARP reply (${what}); the broadcast group's is ${hex8(IPOIB_DEFAULT_QKEY)}`).to.equal(IPOIB_DEFAULT_QKEY);
    expect(reply.sha.qpn, `QPN the DUT's ARP reply advertises (${what}) vs. the QP it came from (DETH source QP ${hex6(f.srcQpn)})`).to.equal(f.srcQpn);
    expect(formatGid(reply.sha.gid), `GID in the DUT's ARP reply (${what})`).to.equal(formatGid(this.dut.link.hwaddr.gid));
    expect(reply.tpa, `target protocol address of the DUT's ARP reply (${what})`).to.equal(PROBE_IPV4);
    return f;
  }
}
