/**
 * The RC connections of one IPoIB interface in connected mode (RFC 4755), made and ended the
 * way Linux ipoib_cm.c does:
 *
 * Passive side (receiving): while the interface is up and connected mode is offered, in
 * either mode (a datagram-mode kernel accepts connections too), it listens on Service ID
 * prefix | own UD QPN (prefix by profile: linux 0x10…, rfc 0x01…). A REQ is accepted with a
 * REP carrying private data {own UD QPN, receive MTU 65524}, unless `maxPassive` connections
 * (established or still handshaking) exist: then REJ reason 1 (no QP), as max_nonsrq_conn_qp.
 * The REQ's private data is not judged, as Linux ignores it: the field is always 92 octets on
 * the wire, so a "short" one cannot be told from zero padding, and a passive side that only
 * receives has no use for the peer's receive MTU. Passive connections that received nothing
 * for `rxIdleTimeoutMs` are torn down (DREQ) by the next reaping pass.
 *
 * Active side (sending): connections are one-way. The first frame to a peer whose address has
 * the RC flag starts one connection to it (REQ to prefix | its UD QPN, Linux's parameters:
 * starting PSN 0, retry and RNR retry counts 0, CM response timeout 20, 15 CM retries, the
 * path's MTU); up to 3 frames wait meanwhile, later ones are dropped and counted. A REP whose
 * receive MTU is 4 or less is answered with REJ consumer-defined (28). Once the QP is in RTS
 * the waiting frames go, and the peer's REP MTU is the connection's limit on frame length
 * (header included): longer frames are dropped and answered with PMTU emulation. A REJ, a
 * timeout, a DREQ from the peer or a send error ends the connection and frees its state, so
 * the next frame to that peer tries again; there is no fallback to UD for a peer that
 * advertises RC, as in Linux.
 *
 * Crossing REQs (RFC 4755 §3.3): a REQ from a peer to which our own REQ is still pending is
 * settled by comparing the two link-layer addresses with the flags octet zeroed (QPN, then
 * GID, octet by octet): the larger side rejects with REJ 28 (its UD QPN in the private data),
 * the smaller accepts. Linux skips the rule (its connections are one-way, so two crossing
 * REQs simply make one connection each way); we apply it because the RFC makes it a MUST. The
 * smaller side, whose own REQ the peer then rejects, asks again shortly (up to 3 times, when a
 * REJ 28 comes from a peer with the larger address) and keeps the frames that were waiting, so
 * the rule costs no packets.
 *
 * A REP whose receive MTU cannot carry a minimum-size IPv6 packet (1280 + 4 octets; RFC 4755
 * §5: the link has to support the protocols' minimum MTU) is refused like one of 4 octets:
 * REJ 28, the connection forgotten; Linux keeps such a connection and IPv6 to that peer then
 * goes nowhere.
 *
 * REJs this side sends carry {own UD QPN, receive MTU} as private data (RFC 4755 §3.2 asks
 * for the UD QPN in every CM message of the setup; Linux sends its REJs without).
 */
import { IpoibControlError, RcRejectedError } from '../../errors.js';
import type { HcaPort, RcAcceptDecision, RcConnectRequest, RcListener, RcQp } from '../../fabric/hca.js';
import { CM_REJ_REASONS, ipoibCmPrivateData, ipoibCmPrivateDataField, ipoibCmServiceId } from '../../wire/cm.js';
import { IPOIB_CM_MAX_MESSAGE_BYTES, IPOIB_CM_PRIVATE_DATA_LEN, IPOIB_HEADER_LEN, IPV6_MIN_MTU, QPN_MASK } from '../../wire/constants.js';
import { formatHwAddr, type IpoibHwAddr } from '../../wire/ipoib-hwaddr.js';
import { formatGid } from '../../wire/mgid.js';
import type { PathRecord } from '../../wire/path-record.js';
import { type IpoibClock, OneShot } from '../clock.js';
import type { IpoibCounters } from '../counters.js';
import type { Defects } from '../defects.js';
import type { IpoibCmConfig } from './cm-config.js';
import { JsRcDataPath, type RcDataPath } from './rc-data-path.js';

/** Frames that wait for a connection being made (the kernel keeps them on the neighbour, 3 at most). TODO(constants) */
export const CM_TX_QUEUE_MAX = 3;
/**
 * How long an accepted REQ still waiting for its RTU counts against `maxPassive`. The fabric
 * API reports only handshakes that complete, so one that never does is forgotten after this;
 * meanwhile a flood of REQs without RTUs is refused at the cap, and afterwards the cap is
 * merely under-counted until the late ones' connections arrive.
 */
const PENDING_ACCEPT_MS = 10_000;
/** Linux IPoIB-CM's REQ: no transport retries after an ACK timeout or an RNR NAK, starting PSN 0. */
const CM_RETRY_COUNT = 0;
const CM_RNR_RETRY = 0;
const CM_STARTING_PSN = 0;
/** After the larger side of a crossing rejected our REQ: ask again after 50, 100, 150 ms. */
const CROSSING_RETRY_MS = 50;
const CROSSING_RETRIES = 3;

/** Seeded defect cm-private-data-qpn-off: the UD QPN the private data names instead of ours. */
const qpnOff = (qpn: number): number => (qpn + 1) & QPN_MASK;

export interface CmEnv {
  readonly port: HcaPort;
  readonly clock: IpoibClock;
  readonly counters: IpoibCounters;
  readonly defects: Defects;
  readonly config: IpoibCmConfig;
  log(line: string): void;
  /** The interface's UD QPN; undefined while it has none. */
  udQpn(): number | undefined;
  /** The P_Key index of the interface's partition; undefined while the P_Key is not in the table. */
  pkeyIndex(): number | undefined;
  /** An IPoIB frame that arrived on a connection (through the JS data path). */
  deliver(frame: Buffer): void;
  /** A frame longer than its connection allows: dropped; the interface runs PMTU emulation. */
  tooBig(frame: Buffer): void;
  /** A connection to send on came up or went: a fast path's neighbour table follows. */
  changed(): void;
}

/** A sending connection as the fast path needs it. */
export type TxView = { state: 'connected'; qpn: number; mtu: number } | { state: 'connecting' };

/** One connection as `ipoibctl cm` shows it. */
export interface CmConnectionInfo {
  /** `tx`: this side sends (it made the connection); `rx`: this side receives. */
  direction: 'tx' | 'rx';
  state: 'connecting' | 'connected';
  /** tx: the peer's link-layer address; rx: its GID. */
  peer: string;
  /** The peer's UD QPN (from its address, or the REQ's private data); null when unknown. */
  peerUdQpn: number | null;
  localQpn: number | null;
  remoteQpn: number | null;
  /** tx: the peer's receive MTU from its REP (octets, header included); null for rx and while connecting. */
  mtu: number | null;
  ageMs: number;
}

export interface CmStatus {
  /** Connected mode is offered: RC flag, listener, `mode connected` possible. */
  supported: boolean;
  profile: IpoibCmConfig['profile'];
  /** The Service ID listened on (hex), or null when not listening. */
  serviceId: string | null;
  tx: number;
  rx: number;
}

interface TxConnection {
  readonly key: string;
  readonly peer: IpoibHwAddr;
  state: 'connecting' | 'connected';
  qp: RcQp | undefined;
  mtu: number;
  queue: Buffer[];
  readonly since: number;
  readonly unsubscribe: Array<() => void>;
  ended: boolean;
  /** REQs asked again after the larger side of a crossing rejected ours (§3.3). */
  crossingRetries?: number;
}

interface RxConnection {
  readonly qp: RcQp;
  readonly peerGid: Buffer;
  readonly peerUdQpn: number | null;
  readonly since: number;
  lastActive: number;
  lastCount: number;
  readonly unsubscribe: Array<() => void>;
  ended: boolean;
}

interface PendingAccept {
  key: string;
  at: number;
}

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;
const peerKey = (hw: IpoibHwAddr): string => `${hw.qpn.toString(16)}/${hw.gid.toString('hex')}`;
const remoteKey = (gid: Buffer, qpn: number): string => `${gid.toString('hex')}/${qpn}`;

export class IpoibCm {
  private readonly tx = new Map<string, TxConnection>();
  private readonly rx = new Map<RcQp, RxConnection>();
  private pending: PendingAccept[] = [];
  private listener: RcListener | undefined;
  private readonly reapTimer: OneShot;
  private dataPath: RcDataPath;
  private readonly jsDataPath: JsRcDataPath;
  /** Bumped by stop(): a handshake that ends after it belongs to the past. */
  private generation = 0;

  constructor(private readonly env: CmEnv) {
    this.reapTimer = new OneShot(env.clock);
    this.jsDataPath = new JsRcDataPath({
      counters: env.counters,
      deliver: (f) => env.deliver(f),
      failed: (qp, detail) => this.rcFailed(qp.qpn, detail),
    });
    this.dataPath = this.jsDataPath;
  }

  get supported(): boolean {
    return this.env.config.enabled;
  }

  /** The Service ID a peer with UD QPN `qpn` listens on, under this interface's profile. */
  serviceIdFor(qpn: number): bigint {
    // Seeded defect cm-service-id-no-prefix: the QPN alone, no IETF prefix.
    if (this.env.defects.has('cm-service-id-no-prefix')) return BigInt(qpn & QPN_MASK);
    return ipoibCmServiceId(qpn, this.env.config.profile);
  }

  /** Listens on prefix | UD QPN (again, when the QPN changed); a no-op when connected mode is not offered or there is no QP. */
  start(): void {
    const qpn = this.env.udQpn();
    if (!this.supported || qpn === undefined) return;
    const serviceId = this.serviceIdFor(qpn);
    if (this.listener?.serviceId === serviceId) return;
    this.stopListening();
    try {
      const l = this.env.port.listenRc(serviceId, (req) => this.answer(req));
      l.onConnection((qp) => this.accepted(qp));
      this.listener = l;
      this.env.log(`listening for connections on Service ID ${hex(serviceId)}`);
    } catch (e) {
      this.env.log(`listening on Service ID ${hex(serviceId)} failed: ${(e as Error).message}`);
    }
    this.armReap();
  }

  /** Interface down: no more listening, every connection ended (a DREQ to each peer). */
  stop(): void {
    this.generation++;
    this.stopListening();
    this.reapTimer.cancel();
    this.pending = [];
    this.flushTx();
    for (const rx of [...this.rx.values()]) this.endRx(rx, 'the interface went down', true);
  }

  /**
   * Sends `frame` (an IPoIB frame) to `peer` over its connection, making one first when there is
   * none; `path` is the peer's PathRecord (where the REQ goes).
   */
  send(peer: IpoibHwAddr, path: PathRecord, frame: Buffer): void {
    const key = peerKey(peer);
    let tx = this.tx.get(key);
    if (!tx) {
      tx = { key, peer: { flags: peer.flags, qpn: peer.qpn, gid: Buffer.from(peer.gid) }, state: 'connecting', qp: undefined, mtu: 0, queue: [], since: this.env.clock.now(), unsubscribe: [], ended: false };
      this.tx.set(key, tx);
      tx.queue.push(frame);
      void this.connect(tx, path);
      return;
    }
    if (tx.state === 'connected') return this.post(tx, frame);
    if (tx.queue.length < CM_TX_QUEUE_MAX) {
      tx.queue.push(frame);
    } else {
      this.env.counters.inc('tx_dropped');
      this.env.counters.inc('cm_tx_queue_dropped');
    }
  }

  /** The sending connection to `peer`, as a fast path needs it; undefined when none is being made. */
  txView(peer: IpoibHwAddr): TxView | undefined {
    const tx = this.tx.get(peerKey(peer));
    if (!tx) return undefined;
    if (tx.state === 'connected' && tx.qp) return { state: 'connected', qpn: tx.qp.qpn, mtu: tx.mtu };
    return { state: 'connecting' };
  }

  /** Ends every sending connection (a path flush or a mode change, as the kernel's path flush frees its neighbours). */
  flushTx(): void {
    const had = this.tx.size > 0;
    for (const tx of [...this.tx.values()]) this.endTx(tx, 'flushed', true, false);
    if (had) this.env.changed();
  }

  /** Ends the sending connections to peers not in `keep` (their neighbours were collected or deleted). */
  retainTx(keep: readonly IpoibHwAddr[]): void {
    const wanted = new Set(keep.map(peerKey));
    let changed = false;
    for (const tx of [...this.tx.values()]) {
      if (wanted.has(tx.key)) continue;
      this.endTx(tx, 'its neighbour is gone', true, false);
      changed = true;
    }
    if (changed) this.env.changed();
  }

  /**
   * A data path saw `qpn` fail (a send completed with an error, or the QP went to ERROR): the
   * connection ends; for a sending one, the next frame to that peer tries again.
   */
  rcFailed(qpn: number, detail: string): void {
    const tx = [...this.tx.values()].find((t) => t.qp?.qpn === qpn);
    if (tx) {
      this.env.counters.inc('cm_tx_errors');
      return this.endTx(tx, `QP ${hex(qpn)} failed: ${detail}`, true);
    }
    const rx = [...this.rx.values()].find((r) => r.qp.qpn === qpn);
    if (rx) this.endRx(rx, `QP ${hex(qpn)} failed: ${detail}`, true);
  }

  /**
   * Moves every established connection's frames to `path` (a native data plane); returns the
   * undo, which moves them back to the JS path (before that data plane closes).
   */
  useDataPath(path: RcDataPath): () => void {
    this.switchDataPath(path);
    return () => {
      if (this.dataPath === path) this.switchDataPath(this.jsDataPath);
    };
  }

  status(): CmStatus {
    return {
      supported: this.supported,
      profile: this.env.config.profile,
      serviceId: this.listener ? hex(this.listener.serviceId) : null,
      tx: this.tx.size,
      rx: this.rx.size,
    };
  }

  connections(): CmConnectionInfo[] {
    const now = this.env.clock.now();
    const out: CmConnectionInfo[] = [];
    for (const t of this.tx.values()) {
      const a = t.qp?.attributes;
      out.push({
        direction: 'tx',
        state: t.state,
        peer: formatHwAddr(t.peer),
        peerUdQpn: t.peer.qpn,
        localQpn: t.qp?.qpn ?? null,
        remoteQpn: a?.remoteQpn ?? null,
        mtu: t.state === 'connected' ? t.mtu : null,
        ageMs: now - t.since,
      });
    }
    for (const r of this.rx.values()) {
      out.push({
        direction: 'rx',
        state: 'connected',
        peer: formatGid(r.peerGid),
        peerUdQpn: r.peerUdQpn,
        localQpn: r.qp.qpn,
        remoteQpn: r.qp.attributes.remoteQpn,
        mtu: null,
        ageMs: now - r.since,
      });
    }
    return out;
  }

  // ---- active side

  private async connect(tx: TxConnection, path: PathRecord): Promise<void> {
    const generation = this.generation;
    const udQpn = this.env.udQpn();
    const pkeyIndex = this.env.pkeyIndex();
    if (udQpn === undefined || pkeyIndex === undefined) return this.endTx(tx, 'the interface has no UD QP', false);
    const serviceId = this.serviceIdFor(tx.peer.qpn);
    const portMtu = this.env.port.attributes().activeMtuCode;
    this.env.counters.inc('cm_tx_requests');
    let qp: RcQp;
    try {
      qp = await this.env.port.connectRc({
        serviceId,
        dgid: tx.peer.gid,
        dlid: path.dlid,
        pkeyIndex,
        privateData: this.privateData(udQpn),
        pathMtuCode: path.mtu >= 1 && path.mtu <= portMtu ? path.mtu : portMtu,
        retryCount: CM_RETRY_COUNT,
        rnrRetry: CM_RNR_RETRY,
        startingPsn: CM_STARTING_PSN,
        maxMessageBytes: IPOIB_CM_MAX_MESSAGE_BYTES,
        checkReply: (pd) => this.judgeReply(pd, udQpn),
      });
    } catch (e) {
      if (tx.ended || generation !== this.generation) return;
      if (this.retryAfterCrossing(tx, e, udQpn)) {
        // The larger side of a crossing rejected us, as §3.3 says it will: ask again once its
        // own connection is up (a short wait), frames kept.
        tx.crossingRetries = (tx.crossingRetries ?? 0) + 1;
        this.env.counters.inc('cm_tx_crossing_retries');
        this.env.clock.setTimeout(() => {
          if (!tx.ended && generation === this.generation) void this.connect(tx, path);
        }, CROSSING_RETRY_MS * tx.crossingRetries);
        return;
      }
      this.env.counters.inc('cm_tx_failures');
      this.env.log(`connection to ${formatHwAddr(tx.peer)} (Service ID ${hex(serviceId)}) failed: ${(e as Error).message}`);
      return this.endTx(tx, 'its connection failed', false);
    }
    if (tx.ended || generation !== this.generation || this.tx.get(tx.key) !== tx) {
      void qp.close().catch(() => undefined); // given up meanwhile (flush, mode change, interface down)
      return;
    }
    tx.qp = qp;
    tx.mtu = this.replyMtu(qp.attributes.remotePrivateData);
    tx.state = 'connected';
    tx.unsubscribe.push(
      qp.onDisconnect((d) => {
        if (d.initiator === 'remote') this.endTx(tx, 'the peer disconnected', false);
      }),
      qp.onError((e) => this.rcFailed(qp.qpn, e.message)),
    );
    if (!this.attach(qp)) return this.endTx(tx, 'its data path refused it', true);
    this.env.counters.inc('cm_tx_connections');
    this.env.log(`connected to ${formatHwAddr(tx.peer)}: QPN ${hex(qp.qpn)} → ${hex(qp.attributes.remoteQpn)}, MTU ${tx.mtu}`);
    const waiting = tx.queue;
    tx.queue = [];
    for (const f of waiting) {
      if (tx.ended) break;
      this.post(tx, f);
    }
    this.env.changed();
  }

  /**
   * The REP's private data: a receive MTU that cannot carry a minimum-size IPv6 packet is refused
   * with REJ 28 (Linux refuses only 4 or less, leaving IPv6 without a path to the peer).
   */
  private judgeReply(pd: Buffer, udQpn: number): { rejectReason: number; privateData: Buffer } | undefined {
    const mtu = pd.length >= IPOIB_CM_PRIVATE_DATA_LEN ? ipoibCmPrivateData.decode(pd, 0).value.receiveMtu : 0;
    if (mtu >= IPOIB_HEADER_LEN + IPV6_MIN_MTU) return undefined;
    this.env.counters.inc('cm_tx_reply_refused');
    return { rejectReason: CM_REJ_REASONS.consumerDefined, privateData: this.privateData(udQpn) };
  }

  /** The connection's limit on frame length: the REP's receive MTU (header included). */
  private replyMtu(pd: Buffer): number {
    // Seeded defect cm-rep-mtu-ignored: our own receive MTU, whatever the peer said.
    if (this.env.defects.has('cm-rep-mtu-ignored')) return IPOIB_CM_MAX_MESSAGE_BYTES;
    return ipoibCmPrivateData.decode(pd, 0).value.receiveMtu;
  }

  private post(tx: TxConnection, frame: Buffer): void {
    const qp = tx.qp;
    if (!qp) return;
    if (frame.length > tx.mtu) return this.env.tooBig(frame);
    try {
      this.dataPath.send(qp, frame);
    } catch (e) {
      this.env.counters.inc('tx_errors');
      this.env.log(`send on QP ${hex(qp.qpn)} to ${formatHwAddr(tx.peer)} refused: ${(e as Error).message}`);
      this.endTx(tx, 'a send was refused', true);
    }
  }

  /**
   * Ends a sending connection: forgotten (so the next frame to the peer makes a new one), its
   * waiting frames dropped and counted, its QP closed (a DREQ when it was established).
   */
  private endTx(tx: TxConnection, why: string, disconnect: boolean, notify = true): void {
    if (tx.ended) return;
    tx.ended = true;
    if (this.tx.get(tx.key) === tx) this.tx.delete(tx.key);
    for (const off of tx.unsubscribe.splice(0)) off();
    if (tx.queue.length > 0) {
      this.env.counters.inc('tx_dropped', tx.queue.length);
      this.env.counters.inc('cm_tx_queue_dropped', tx.queue.length);
      tx.queue = [];
    }
    const qp = tx.qp;
    if (qp) {
      this.detach(qp);
      if (disconnect) void qp.close().catch(() => undefined);
      this.env.counters.inc('cm_tx_disconnects');
      this.env.log(`connection to ${formatHwAddr(tx.peer)} ended: ${why}`);
    }
    if (notify) this.env.changed();
  }

  // ---- passive side

  private answer(req: RcConnectRequest): RcAcceptDecision {
    const udQpn = this.env.udQpn();
    if (!this.listener || udQpn === undefined) return { accept: false, rejectReason: CM_REJ_REASONS.invalidServiceId };
    const privateData = this.privateData(udQpn);
    // Seeded defect cm-refuse-connections: RC advertised, every REQ refused.
    if (this.env.defects.has('cm-refuse-connections')) return { accept: false, rejectReason: CM_REJ_REASONS.consumerDefined, privateData };
    if (this.losesCrossing(req, udQpn)) {
      this.env.counters.inc('cm_rx_rejected_crossing');
      this.env.log(`refusing a crossing connection from ${formatGid(req.remoteGid)}: our own REQ to it is pending and our address is the larger`);
      return { accept: false, rejectReason: CM_REJ_REASONS.consumerDefined, privateData };
    }
    this.expirePending();
    if (this.rx.size + this.pending.length >= this.env.config.maxPassive) {
      this.env.counters.inc('cm_rx_rejected_no_qp');
      this.env.log(`refusing a connection from ${formatGid(req.remoteGid)}: ${this.env.config.maxPassive} passive connections exist`);
      return { accept: false, rejectReason: CM_REJ_REASONS.noQp, privateData };
    }
    this.pending.push({ key: remoteKey(req.remoteGid, req.remoteQpn), at: this.env.clock.now() });
    return { accept: true, privateData, maxMessageBytes: IPOIB_CM_MAX_MESSAGE_BYTES };
  }

  /**
   * §3.3: true when `req` crosses our own pending REQ to the same peer and our address is the
   * larger, so we are the side that rejects (the smaller side accepts, and retries its own REQ
   * when we reject it: retryAfterCrossing).
   */
  private losesCrossing(req: RcConnectRequest, udQpn: number): boolean {
    if (req.privateData.length < IPOIB_CM_PRIVATE_DATA_LEN) return false;
    const peerQpn = ipoibCmPrivateData.decode(req.privateData, 0).value.qpn & QPN_MASK;
    let pending: TxConnection | undefined;
    for (const t of this.tx.values()) {
      if (t.state === 'connecting' && !t.ended && (t.peer.qpn & QPN_MASK) === peerQpn && t.peer.gid.equals(req.remoteGid)) pending = t;
    }
    if (!pending) return false;
    const ours = comparableAddress(udQpn, this.env.port.attributes().gid);
    return Buffer.compare(ours, comparableAddress(peerQpn, req.remoteGid)) > 0;
  }

  /**
   * A REJ 28 from a peer whose address is larger than ours may be §3.3's answer to a crossing
   * (whichever of its REJ and its own REQ reaches us first): worth asking again a few times.
   */
  private retryAfterCrossing(tx: TxConnection, e: unknown, udQpn: number): boolean {
    if (!(e instanceof RcRejectedError) || e.reason !== CM_REJ_REASONS.consumerDefined) return false;
    if ((tx.crossingRetries ?? 0) >= CROSSING_RETRIES) return false;
    const ours = comparableAddress(udQpn, this.env.port.attributes().gid);
    return Buffer.compare(ours, comparableAddress(tx.peer.qpn, tx.peer.gid)) < 0;
  }

  private accepted(qp: RcQp): void {
    const a = qp.attributes;
    const i = this.pending.findIndex((p) => p.key === remoteKey(a.remoteGid, a.remoteQpn));
    this.pending.splice(i >= 0 ? i : 0, 1);
    if (!this.listener) {
      void qp.close().catch(() => undefined); // the interface went down during the handshake
      return;
    }
    const now = this.env.clock.now();
    const pd = a.remotePrivateData;
    const rx: RxConnection = {
      qp,
      peerGid: Buffer.from(a.remoteGid),
      // Informational only (the REQ's private data is not judged); the reserved octet is ignored.
      peerUdQpn: pd.length >= IPOIB_CM_PRIVATE_DATA_LEN ? ipoibCmPrivateData.decode(pd, 0).value.qpn : null,
      since: now,
      lastActive: now,
      lastCount: 0,
      unsubscribe: [],
      ended: false,
    };
    this.rx.set(qp, rx);
    rx.unsubscribe.push(
      qp.onDisconnect((d) => {
        if (d.initiator === 'remote') this.endRx(rx, 'the peer disconnected', false);
      }),
      qp.onError((e) => this.rcFailed(qp.qpn, e.message)),
    );
    if (!this.attach(qp)) return this.endRx(rx, 'its data path refused it', true);
    rx.lastCount = this.dataPath.received(qp);
    this.env.counters.inc('cm_rx_connections');
    this.env.log(`accepted a connection from ${formatGid(rx.peerGid)}: QPN ${hex(qp.qpn)} ← ${hex(a.remoteQpn)}`);
  }

  private endRx(rx: RxConnection, why: string, disconnect: boolean): void {
    if (rx.ended) return;
    rx.ended = true;
    this.rx.delete(rx.qp);
    for (const off of rx.unsubscribe.splice(0)) off();
    this.detach(rx.qp);
    if (disconnect) void rx.qp.close().catch(() => undefined);
    this.env.counters.inc('cm_rx_disconnects');
    this.env.log(`connection from ${formatGid(rx.peerGid)} (QPN ${hex(rx.qp.qpn)}) ended: ${why}`);
  }

  /** A handshake that never completed (no RTU) stops counting against the cap. */
  private expirePending(): void {
    const oldest = this.env.clock.now() - Math.min(PENDING_ACCEPT_MS, this.env.config.rxIdleTimeoutMs);
    this.pending = this.pending.filter((p) => p.at >= oldest);
  }

  private armReap(): void {
    this.reapTimer.arm(this.env.config.rxReapIntervalMs, () => {
      this.reap();
      if (this.listener) this.armReap();
    });
  }

  /** One reaping pass: passive connections with nothing received for the idle timeout go. */
  private reap(): void {
    const now = this.env.clock.now();
    for (const rx of [...this.rx.values()]) {
      const n = this.dataPath.received(rx.qp);
      if (n !== rx.lastCount) {
        rx.lastCount = n;
        rx.lastActive = now;
        continue;
      }
      if (now - rx.lastActive <= this.env.config.rxIdleTimeoutMs) continue;
      this.env.counters.inc('cm_rx_reaped');
      this.endRx(rx, `idle for ${Math.round(now - rx.lastActive)} ms`, true);
    }
    this.expirePending();
  }

  // ---- shared

  /** {UD QPN, receive MTU 65524}: the private data of every REQ, REP and REJ this side sends. */
  private privateData(udQpn: number): Buffer {
    const qpn = this.env.defects.has('cm-private-data-qpn-off') ? qpnOff(udQpn) : udQpn;
    return ipoibCmPrivateDataField({ reserved: 0, qpn, receiveMtu: IPOIB_CM_MAX_MESSAGE_BYTES }, IPOIB_CM_PRIVATE_DATA_LEN);
  }

  /** Hands `qp` to the data path; false (logged) when it refuses. */
  private attach(qp: RcQp): boolean {
    try {
      this.dataPath.attach(qp);
      return true;
    } catch (e) {
      this.env.log(`attaching QP ${hex(qp.qpn)} to the data path failed: ${(e as Error).message}`);
      return false;
    }
  }

  private detach(qp: RcQp): void {
    try {
      this.dataPath.detach(qp);
    } catch (e) {
      this.env.log(`detaching QP ${hex(qp.qpn)} from the data path failed: ${(e as Error).message}`);
    }
  }

  private switchDataPath(next: RcDataPath): void {
    const qps = [...[...this.tx.values()].flatMap((t) => (t.state === 'connected' && t.qp ? [t.qp] : [])), ...this.rx.keys()];
    for (const qp of qps) this.detach(qp);
    this.dataPath = next;
    for (const qp of qps) if (!this.attach(qp)) this.rcFailed(qp.qpn, 'its data path refused it');
    for (const rx of this.rx.values()) rx.lastCount = next.received(rx.qp);
  }

  private stopListening(): void {
    this.listener?.close();
    this.listener = undefined;
  }
}

/** EINVAL for `mode connected` on an interface that does not offer it (its address has no RC flag). */
export function connectedModeUnsupported(op: string): IpoibControlError {
  return new IpoibControlError(op, 'EINVAL', 'connected mode is not supported (the address flags octet has no 0x80)');
}

/** A link-layer address as §3.3 compares it: flags octet zeroed, then the QPN and the GID, big-endian. */
function comparableAddress(udQpn: number, gid: Buffer): Buffer {
  const a = Buffer.alloc(4 + gid.length);
  a.writeUInt32BE(udQpn & QPN_MASK, 0);
  gid.copy(a, 4);
  return a;
}
