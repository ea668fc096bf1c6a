/**
 * The probe as an IPoIB host on the DUT's link with a link-layer address of the case's choosing
 * (flags 0x80 for a connected-mode partner, 0x00 for a UD-only host, 0x40 for UC only …): a UD
 * QP that is a full member of the broadcast group, addresses of its own on the lab subnet,
 * introduced to the DUT by an ARP request and a neighbor solicitation (the DUT learns the
 * partner's address from them and answers), and, for a partner that offers RC, a CM listener on
 * prefix | its UD QPN under both Service-ID profiles (finding D1: which one the DUT used is
 * recorded, not presumed). The listener answers each REQ as the case says (REP with the
 * partner's private data and receive MTU, or a REJ) and records the REQ, the connection and
 * every RC message that arrives on it. The partner can also connect to the DUT.
 *
 * Every state change queues its undo on the case: QPs closed (a DREQ for each connection),
 * the listeners closed, the DUT's neighbours flushed (it forgets the partner's addresses).
 */
import { RcConnectError, RcRejectedError } from '../../src/errors.js';
import type { DutInterface } from '../../src/lab/adapters/dut.js';
import type { ProbeFrame, ProbeQp, RcAcceptDecision, RcConnectRequest, RcQp } from '../../src/lab/probe.js';
import { type IpoibCmProfile, ipoibCmPrivateDataField, ipoibCmServiceId } from '../../src/wire/cm.js';
import {
  CM_REP_PRIVATE_DATA_LEN,
  CM_REQ_PRIVATE_DATA_LEN,
  ETH_P_IP,
  ETH_P_IPV6,
  IPOIB_CM_MAX_MESSAGE_BYTES,
  IPOIB_DEFAULT_QKEY,
  IPOIB_FLAG_RC,
  JOIN_STATE_FULL,
  ND_OPT_SOURCE_LLADDR,
  PKEY_DEFAULT,
} from '../../src/wire/constants.js';
import { formatHwAddr, type IpoibHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { parseIpv6 } from '../../src/wire/ip-text.js';
import { broadcastMgid, formatGid } from '../../src/wire/mgid.js';
import type { Case } from './conformance.js';
import { lidOf } from './fabric-view.js';
import { arpFrame, arpOf, echo4Packet, echo6Packet, echoFrame, echoReplyOf, echoRequestOf, ipoibFrame, isArpReply, naOf, nsPacket } from './frames.js';
import { hex6 } from './hex.js';
import { ANSWER_MS, attachQp, forgetProbeAfter, joinFromProbe, openQp } from './probe-helpers.js';

/** The partner's addresses on the lab subnet (192.0.2.0/24, 2001:db8:1b::/64); nothing else uses them. */
export const PARTNER_IPV4 = '192.0.2.201';
export const PARTNER_IPV6 = '2001:db8:1b::c9';
/** A second IPv4 address behind the same partner address (an alias), for cases that need two. */
export const PARTNER_IPV4_ALIAS = '192.0.2.202';

export const CM_PROFILES: readonly IpoibCmProfile[] = ['linux', 'rfc'];

/** How long the DUT gets to take in an introduction whose answer goes to no QP of the partner's. */
const UNANSWERED_INTRODUCTION_MS = 100;

/** A REQ the partner's listener answered. */
export interface PartnerRequest {
  atMs: number;
  /** Which profile's Service ID it came to. */
  profile: IpoibCmProfile;
  req: RcConnectRequest;
  answer: RcAcceptDecision;
}

/** An RC message that reached one of the partner's connections. */
export interface PartnerMessage {
  atMs: number;
  /** The partner's QP it arrived on. */
  qpn: number;
  payload: Buffer;
}

/** What a REQ from the partner came to: a connection, a REJ, or no answer. */
export type ConnectOutcome =
  | { kind: 'REP'; qp: RcQp }
  | { kind: 'REJ'; reason: number; reasonName: string; privateData: Buffer }
  | { kind: 'none'; detail: string };

/** An outcome in a few words, for messages and evidence. */
export function outcomeText(o: ConnectOutcome): string {
  if (o.kind === 'REP') return `REP (DUT QP ${hex6(o.qp.attributes.remoteQpn)})`;
  if (o.kind === 'REJ') return `REJ ${o.reason} (${o.reasonName}), private data ${o.privateData.subarray(0, 8).toString('hex')}`;
  return `no answer: ${o.detail}`;
}

export interface PartnerOptions {
  /** Flags octet of the partner's address (default 0x80: RC). */
  flags?: number;
  /** QPN the partner's address names (default its UD QP's); another value makes an address no UD QP answers for. */
  advertisedQpn?: number;
  /** Receive MTU in the partner's REP private data (default 65524, as Linux). */
  receiveMtu?: number;
  /**
   * Largest message the partner's passive QPs take (default 65536): above the receive MTU it
   * advertises, so a DUT that sends longer messages is seen doing it instead of being NAKed.
   */
  acceptMaxBytes?: number;
  /** How the listener answers a REQ (default: accept with the partner's private data). */
  decide?: (req: RcConnectRequest, profile: IpoibCmProfile) => RcAcceptDecision | Promise<RcAcceptDecision>;
  /** Listen for REQs (default: when the flags offer RC). */
  listen?: boolean;
}

export class CmPartner {
  readonly requests: PartnerRequest[] = [];
  readonly connections: RcQp[] = [];
  readonly messages: PartnerMessage[] = [];
  private readonly openedAt = performance.now();
  /** The IP addresses the partner answers for (introduce() adds an IPv4 alias it was asked for). */
  private readonly ips = new Set([PARTNER_IPV4, PARTNER_IPV6]);
  private seq = 1;

  private constructor(
    private readonly t: Case,
    readonly qp: ProbeQp,
    /** The DUT as the partner found it: its link and LID. */
    readonly dut: { link: DutInterface; lid: number },
    readonly hwaddr: IpoibHwAddr,
    private readonly o: PartnerOptions,
  ) {}

  /** A partner on the DUT's partition (the default one for now); listens when its flags offer RC. */
  static async open(t: Case, o: PartnerOptions = {}): Promise<CmPartner> {
    const link = await t.dut.adapter.link();
    const pkey = link.pkey ?? PKEY_DEFAULT;
    const mgid = broadcastMgid(pkey);
    // The probe port may be a member already (another helper of the same case joined): one membership per port, one leave.
    const member = (await t.probe.groupMembers(mgid)).find((m) => m.portGid.equals(t.probe.gid) && (m.joinState & JOIN_STATE_FULL) !== 0);
    const group = member ?? (await joinFromProbe(t, mgid, JOIN_STATE_FULL));
    if (!group) throw new Error(`the SA refused the probe's FullMember join of ${formatGid(mgid)}`);
    // Every port numbers its QPs alike: a partner QPN equal to the DUT's would make "the QPN
    // in the DUT's REQ is the partner's" unfalsifiable, so take the next QP then.
    let qp = await openQp(t, { pkey, qkey: IPOIB_DEFAULT_QKEY });
    if (qp.qpn === link.hwaddr.qpn) qp = await openQp(t, { pkey, qkey: IPOIB_DEFAULT_QKEY });
    attachQp(t, qp, group);
    const lid = await lidOf(t, link.hwaddr.gid, pkey);
    const hwaddr: IpoibHwAddr = { flags: o.flags ?? IPOIB_FLAG_RC, qpn: o.advertisedQpn ?? qp.qpn, gid: Buffer.from(t.probe.gid) };
    const p = new CmPartner(t, qp, { link, lid }, hwaddr, o);
    forgetProbeAfter(t);
    if (o.listen ?? (hwaddr.flags & IPOIB_FLAG_RC) !== 0) p.listen();
    return p;
  }

  /** Milliseconds since the partner opened. */
  nowMs(): number {
    return performance.now() - this.openedAt;
  }

  /** {partner's UD QPN, receive MTU}: the IPoIB-CM private data of the partner's REQs and REPs. */
  privateData(len: number, receiveMtu = this.o.receiveMtu ?? IPOIB_CM_MAX_MESSAGE_BYTES): Buffer {
    return ipoibCmPrivateDataField({ reserved: 0, qpn: this.hwaddr.qpn, receiveMtu }, len);
  }

  private listen(): void {
    for (const profile of CM_PROFILES) {
      const serviceId = ipoibCmServiceId(this.hwaddr.qpn, profile);
      const l = this.t.probe.listenRc(serviceId, async (req) => {
        const answer = this.o.decide ? await this.o.decide(req, profile) : { accept: true as const, privateData: this.privateData(CM_REP_PRIVATE_DATA_LEN), maxMessageBytes: this.o.acceptMaxBytes ?? 65_536 };
        this.requests.push({ atMs: this.nowMs(), profile, req, answer });
        return answer;
      });
      l.onConnection((qp) => this.adopt(qp));
      this.t.defer(async () => l.close(), `the partner stops listening on 0x${serviceId.toString(16)}`);
    }
  }

  /** Records what arrives on `qp` and closes it (a DREQ) after the case. */
  private adopt(qp: RcQp): void {
    this.connections.push(qp);
    qp.onMessage((m) => this.messages.push({ atMs: this.nowMs(), qpn: qp.qpn, payload: Buffer.from(m) }));
    this.t.defer(() => qp.close(), `the partner closes RC QP ${hex6(qp.qpn)}`);
  }

  /**
   * Answers the DUT's echo requests to the partner's addresses, whether they came over UD or
   * over one of its RC connections, with echo replies over UD to the DUT's UD QP (the way back
   * every IPoIB host accepts), until the case ends; replies that would not fit the broadcast
   * group's MTU are not sent. Returns a live count of the replies sent.
   */
  respondToEchoes(udMtu: number): { replies: number } {
    const state = { replies: 0 };
    let udSeen = 0;
    let rcSeen = 0;
    const answer = (payload: Buffer): void => {
      const e = echoRequestOf(payload);
      if (!e || !this.ips.has(e.dst)) return;
      const init = { src: e.dst, dst: e.src, identifier: e.identifier, sequence: e.sequence, data: e.data, reply: true };
      const packet = e.family === 4 ? echo4Packet(init) : echo6Packet(init);
      if (packet.length > udMtu) return;
      this.sendToDut(ipoibFrame(e.family === 4 ? ETH_P_IP : ETH_P_IPV6, packet));
      state.replies++;
    };
    const timer = setInterval(() => {
      const ud = this.qp.received();
      for (; udSeen < ud.length; udSeen++) answer(ud[udSeen]!.payload);
      for (; rcSeen < this.messages.length; rcSeen++) answer(this.messages[rcSeen]!.payload);
    }, 5);
    this.t.defer(async () => clearInterval(timer), 'the partner stops answering echo requests');
    return state;
  }

  /** Where the DUT's echo reply with this sequence number reached the partner ('UD' or 'RC'), or null when it did not within the time. */
  async echoReplyArrival(sequence: number, timeoutMs: number): Promise<'UD' | 'RC' | null> {
    const deadline = performance.now() + timeoutMs;
    const mine = (payload: Buffer): boolean => {
      const r = echoReplyOf(payload);
      return r !== null && r.sequence === sequence && r.identifier === (this.qp.qpn & 0xffff);
    };
    for (;;) {
      if (this.qp.received().some((f) => mine(f.payload))) return 'UD';
      if (this.messages.some((m) => mine(m.payload))) return 'RC';
      if (performance.now() > deadline) return null;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Unicast to the DUT's UD QP with the broadcast Q_Key. */
  sendToDut(frame: Buffer): void {
    this.qp.send({ dlid: this.dut.lid, dqpn: this.dut.link.hwaddr.qpn, qkey: IPOIB_DEFAULT_QKEY }, frame);
  }

  /**
   * Introduces the partner to the DUT: an ARP request for the DUT's IPv4 address from `ipv4`
   * (family 4; default PARTNER_IPV4) and a neighbor solicitation with the partner's link-layer
   * option (family 6), each answered by the DUT, which learns the partner's address from them
   * as any IPv4/IPv6 host does. Resolves with the answers (none when the partner's address
   * names a QPN of no QP of its own).
   */
  async introduce(families: ReadonlyArray<4 | 6> = [4, 6], o: { ipv4?: string } = {}): Promise<ProbeFrame[]> {
    const ipv4 = o.ipv4 ?? PARTNER_IPV4;
    this.ips.add(ipv4);
    // An address naming another QPN than the partner's UD QP gets its answers elsewhere.
    const answered = this.hwaddr.qpn === this.qp.qpn;
    const out: ProbeFrame[] = [];
    for (const family of families) {
      if (family === 4) {
        const dutIp = this.t.dut.ipv4 ?? this.t.skip('the lab file gives the DUT no IPv4 address');
        this.sendToDut(arpFrame({ sha: this.hwaddr, spa: ipv4, tpa: dutIp }));
        if (answered) out.push(await this.qp.waitFor((f) => isArpReply(f.payload, { from: dutIp }) && arpOf(f.payload)?.tpa === ipv4, ANSWER_MS));
      } else {
        const dutIp = this.t.dut.ipv6 ?? this.t.skip('the lab file gives the DUT no IPv6 address');
        const target = parseIpv6(dutIp);
        this.sendToDut(ipoibFrame(ETH_P_IPV6, nsPacket({ src: PARTNER_IPV6, dst: dutIp, target, options: [{ kind: 'lladdr', type: ND_OPT_SOURCE_LLADDR, pad: 0, address: this.hwaddr }] })));
        if (answered) out.push(await this.qp.waitFor((f) => naOf(f.payload)?.target.equals(target) === true, ANSWER_MS));
      }
    }
    if (!answered) await new Promise((r) => setTimeout(r, UNANSWERED_INTRODUCTION_MS));
    return out;
  }

  /** An echo request from the partner to the DUT behind its IPoIB header, with its sequence number and identifier. */
  echoToDut(family: 4 | 6, dataBytes = 56): { frame: Buffer; sequence: number; identifier: number } {
    const sequence = this.seq++;
    const identifier = this.qp.qpn & 0xffff;
    const [src, dst] = family === 4 ? [PARTNER_IPV4, this.t.dut.ipv4] : [PARTNER_IPV6, this.t.dut.ipv6];
    if (!dst) return this.t.skip(`the lab file gives the DUT no IPv${family} address`);
    return { frame: echoFrame(family, { src, dst, identifier, sequence, data: Buffer.alloc(dataBytes, sequence & 0xff) }), sequence, identifier };
  }

  /**
   * Connects from the partner to the DUT's listener: REQ to `serviceId` (default: the `profile`
   * prefix | the DUT's UD QPN) with `privateData` (default the partner's {UD QPN, 65524});
   * the QP is closed after the case. Rejects as connectRc does.
   */
  async connectToDut(o: { serviceId?: bigint; profile?: IpoibCmProfile; privateData?: Buffer; cmTimeoutMs?: number; cmRetries?: number } = {}): Promise<RcQp> {
    const serviceId = o.serviceId ?? ipoibCmServiceId(this.dut.link.hwaddr.qpn, o.profile ?? 'linux');
    const pkeyIndex = this.t.probe.pkeyIndexOf(this.dut.link.pkey ?? PKEY_DEFAULT);
    const qp = await this.t.probe.connectRc({
      serviceId,
      dgid: this.dut.link.hwaddr.gid,
      dlid: this.dut.lid,
      pkeyIndex: pkeyIndex < 0 ? 0 : pkeyIndex,
      privateData: o.privateData ?? this.privateData(CM_REQ_PRIVATE_DATA_LEN),
      // A REQ nobody answers should not hold a case for a minute (Linux: ≈ 4.3 s × 15).
      cmTimeoutMs: o.cmTimeoutMs ?? 500,
      cmRetries: o.cmRetries ?? 3,
      maxMessageBytes: this.o.acceptMaxBytes ?? 65_536,
    });
    this.adopt(qp);
    return qp;
  }

  /** connectToDut, with a REJ or a lack of answer as a result instead of an error. */
  async tryConnectToDut(o: Parameters<CmPartner['connectToDut']>[0] = {}): Promise<ConnectOutcome> {
    try {
      return { kind: 'REP', qp: await this.connectToDut({ cmTimeoutMs: 300, cmRetries: 1, ...o }) };
    } catch (e) {
      if (e instanceof RcRejectedError) return { kind: 'REJ', reason: e.reason, reasonName: e.reasonName, privateData: e.privateData };
      if (e instanceof RcConnectError) return { kind: 'none', detail: e.message };
      throw e;
    }
  }

  /** The partner for the evidence. */
  summary(): Record<string, unknown> {
    return {
      address: formatHwAddr(this.hwaddr),
      ips: [...this.ips],
      udQpn: hex6(this.qp.qpn),
      dut: { address: formatHwAddr(this.dut.link.hwaddr), lid: this.dut.lid, gid: formatGid(this.dut.link.hwaddr.gid) },
      requests: this.requests.map((r) => ({
        atMs: Math.round(r.atMs),
        profile: r.profile,
        serviceId: `0x${r.req.serviceId.toString(16).padStart(16, '0')}`,
        privateData: r.req.privateData.subarray(0, 8).toString('hex'),
        remoteQpn: hex6(r.req.remoteQpn),
        answer: r.answer.accept ? 'REP' : `REJ ${r.answer.rejectReason ?? ''}`,
      })),
      connections: this.connections.map((q) => ({ qpn: hex6(q.qpn), role: q.attributes.role, remoteQpn: hex6(q.attributes.remoteQpn), state: q.state })),
      messages: this.messages.map((m) => ({ atMs: Math.round(m.atMs), qpn: hex6(m.qpn), octets: m.payload.length, head: m.payload.subarray(0, 8).toString('hex') })),
    };
  }
}
