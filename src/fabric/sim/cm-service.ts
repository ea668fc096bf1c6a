/**
 * The communication manager of one port (IBA vol. 1 ch. 12): REQ/REP/RTU/REJ/DREQ/DREP MADs on
 * QP1, routed to listeners by Service ID, with the retries and timeouts the REQ asks for.
 *
 * Behaviour on the wire, and the decisions taken where the IBA leaves a choice:
 * - Listeners match a Service ID exactly. A REQ for a Service ID nobody listens on gets a REJ
 *   "invalid Service ID" (8), MessageRejected = REQ, LocalCommID 0 (no connection was made),
 *   RemoteCommID = the REQ's, and the REQ's TransactionID (Linux cm_issue_rej does the same).
 * - Timing (see cm-timing.ts): REQ, REP and DREQ are resent after the response timeout plus two
 *   packet lifetimes, up to MaxCMRetries times (so a message goes out at most 1 + retries
 *   times); the active side uses its own REQ's RemoteCMResponseTimeout, the passive side the
 *   REQ's LocalCMResponseTimeout, both sides the REQ's MaxCMRetries.
 * - When a REQ or REP runs out of retries the CM sends a REJ "timeout" (4) with its CA GUID in
 *   the ARI, so the peer drops its half at once instead of waiting out its own timers. Linux
 *   sends that REJ when a REQ is abandoned (ib_destroy_cm_id in REQ_SENT) but only resets to
 *   IDLE when its MAD retries expire; sending it in both cases is this CM's choice. A DREQ
 *   that runs out of retries goes to time-wait (as in Linux) with an error event.
 * - Duplicates (Linux counts them as cm_rx_duplicates, and so do the counters here):
 *   · a REQ that repeats one (same remote CA GUID and comm ID) while the owner has not answered
 *     yet is ignored; after our REP it gets the same REP again (one connection, not two);
 *   · a REQ repeating an ESTABLISHED connection's is ignored: the active side sends its RTU only
 *     after it has stopped sending REQs, so such a REQ is a stale copy still in flight, and a
 *     new REP could only confuse it (Linux ignores it too);
 *   · a REQ repeating a connection in time-wait gets REJ "stale connection" (10);
 *   · a REQ from a CA GUID and QPN that an existing connection already uses gets REJ "stale
 *     connection", and that existing connection is disconnected (the peer evidently lost it);
 *   · a repeated REP on an ESTABLISHED active connection gets the RTU again (the RTU was lost);
 *   · a DREQ matching no connection still gets a DREP (IBA and Linux cm_issue_drep), and a
 *     repeated DREQ in time-wait gets the DREP again.
 * - TransactionIDs: one per exchange. The REQ's is used by the REP, RTU and any REJ of that
 *   handshake; each DREQ takes a new one, which its DREP echoes; a REJ or DREP answering a
 *   message that matches no connection echoes that message's TransactionID. The upper 32 bits
 *   are constant per CM (like the MAD agent's hi_tid in Linux), the lower are a sequence.
 * - Comm IDs are unique per port among live connections, time-wait included; 0 is never used.
 * - Both sides connecting to each other at once is no special case: each gets one active and
 *   one passive connection, with different comm IDs. IBA peer-to-peer REQ collision handling
 *   does not apply (that needs both REQs on the same Service ID with the peer bit); the IPoIB
 *   layer above decides which of the two connections to keep.
 * - What is received and not handled is counted and dropped, never thrown: another management
 *   class, a datagram that is not 256 octets, a bad base or class version, a method other than
 *   Send, and MRA/LAP/APR/SIDR (this CM does not implement them).
 * - The CM does not judge private data: REQ and REP private data go to the owners as received;
 *   an active owner may refuse a REP (checkRep), which is then answered with a REJ, not an RTU.
 */
import {
  CM_REJ_MSG_OTHER,
  CM_REJ_MSG_REP,
  CM_REJ_MSG_REQ,
  CM_REJ_REASONS,
  CM_TRANSPORT_RC,
  CM_TRANSPORT_UC,
  type CmDrep,
  type CmDreq,
  type CmKind,
  type CmRej,
  type CmRep,
  type CmReq,
  type CmRtu,
} from '../../wire/cm.js';
import { checkUint } from '../../wire/codec.js';
import type { MadHeader } from '../../wire/mad.js';
import type { GsiAddress, GsiPort } from '../gsi.js';
import {
  type CmAcceptOptions,
  type CmConnectOptions,
  type CmCounters,
  type CmIncomingRequest,
  type CmListener,
  type CmRejectOptions,
  type CmRepRefusal,
  type CmServiceEvents,
  type CmServiceOptions,
  emptyCmCounters,
} from './cm-api.js';
import { CM_TIMEOUT_ARI_LEN, dreqBody, drepBody, rejBody, repBody, reqBody, rtuBody, timeoutAri } from './cm-bodies.js';
import {
  type CmConnectionEvents,
  CmConnection,
  type CmDisconnectResult,
  type CmState,
  type ConnectionRecord,
} from './cm-connection.js';
import { CmClosedError, CmError, CmRejectError, CmReplyRefusedError, CmStateError, CmTimeoutError } from './cm-errors.js';
import { Listeners } from './cm-listeners.js';
import { buildCmMad, parseCmMad } from './cm-messages.js';
import {
  CM_DEFAULT_PACKET_LIFE_TIME,
  type CmClock,
  cmResponseWaitMs,
  cmTimewaitMs,
  IPOIB_CM_MAX_CM_RETRIES,
  IPOIB_CM_RESPONSE_TIMEOUT,
  ibTimeExponentFor,
  systemClock,
} from './cm-timing.js';

/** States in which a connection holds its peer's QP (checked for stale REQs). */
const LIVE_STATES: ReadonlySet<CmState> = new Set(['REQ_RCVD', 'REP_SENT', 'ESTABLISHED', 'DREQ_SENT']);

function randomUint32(): number {
  return (Math.random() * 0x1_0000_0000) >>> 0;
}

function remoteKey(caGuid: bigint, commId: number): string {
  return `${caGuid.toString(16)}:${commId}`;
}

export class CmService {
  private readonly clock: CmClock;
  private readonly packetLifeTime: number;
  private readonly timewaitMs: number;
  private readonly tidHigh: bigint;
  private tidSeq = 0;
  private nextCommId: number;
  private readonly listeners = new Map<bigint, CmListener>();
  private readonly byLocal = new Map<number, ConnectionRecord>();
  private readonly byRemote = new Map<string, ConnectionRecord>();
  private readonly stats = emptyCmCounters();
  private readonly events = new Listeners<CmServiceEvents>();
  private readonly unsubscribe: () => void;
  private closed = false;

  constructor(
    readonly port: GsiPort,
    o: CmServiceOptions = {},
  ) {
    this.clock = o.clock ?? systemClock;
    this.packetLifeTime = o.packetLifeTime ?? CM_DEFAULT_PACKET_LIFE_TIME;
    checkUint('cm.packetLifeTime', -1, this.packetLifeTime, 5);
    this.timewaitMs = o.timewaitMs ?? cmTimewaitMs(this.packetLifeTime);
    const tidHigh = o.tidHigh ?? randomUint32();
    checkUint('cm.tidHigh', -1, tidHigh, 32);
    this.tidHigh = BigInt(tidHigh) << 32n;
    const first = o.firstCommId ?? randomUint32();
    checkUint('cm.firstCommId', -1, first, 32);
    this.nextCommId = first === 0 ? 1 : first;
    this.unsubscribe = port.onMad((mad, from) => this.receive(mad, from));
  }

  // ---- public API

  /** Routes REQs for `serviceId` to `handler`; returns the function that stops listening. */
  listen(serviceId: bigint, handler: CmListener): () => void {
    this.assertOpen();
    if (this.listeners.has(serviceId)) {
      throw new CmStateError(`cm: Service ID 0x${serviceId.toString(16)} already has a listener`);
    }
    this.listeners.set(serviceId, handler);
    return () => {
      if (this.listeners.get(serviceId) === handler) this.listeners.delete(serviceId);
    };
  }

  /**
   * Sends a REQ and resolves once the REP came and the RTU went out. Rejects with
   * CmRejectError (the peer's REJ), CmTimeoutError (no REP after all retries), CmClosedError,
   * or a WireError naming the REQ field an option does not fit.
   */
  connect(o: CmConnectOptions): Promise<CmConnection> {
    if (this.closed) return Promise.reject(new CmClosedError('cm: service closed'));
    let rec: ConnectionRecord;
    let mad: Buffer;
    try {
      ({ rec, mad } = this.prepareConnect(o));
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    this.byLocal.set(rec.localCommId, rec);
    return new Promise<CmConnection>((resolve, reject) => {
      rec.handshake = { resolve, reject };
      this.startSending(rec, 'REQ', mad, () => this.handshakeTimedOut(rec, 'REQ'));
    });
  }

  /** Connections not yet back to IDLE (handshaking, established, disconnecting, time-wait). */
  connections(): CmConnection[] {
    return [...this.byLocal.values()].map((r) => this.viewOf(r));
  }

  /** A snapshot of the counters. */
  counters(): CmCounters {
    return structuredClone(this.stats);
  }

  on<K extends keyof CmServiceEvents>(event: K, cb: (payload: CmServiceEvents[K]) => void): () => void {
    return this.events.on(event, cb);
  }

  /**
   * Stops the CM: no more MADs in or out, every timer cleared, pending connect()/accept()
   * rejected with CmClosedError, pending disconnect() resolved unconfirmed. Nothing is sent to
   * peers (as when a port goes away); their own timeouts clean up their side.
   */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.unsubscribe();
    this.listeners.clear();
    const err = new CmClosedError('cm: service closed');
    for (const rec of [...this.byLocal.values()]) {
      this.stopSending(rec);
      if (rec.timewaitTimer) this.clock.clearTimeout(rec.timewaitTimer);
      rec.timewaitTimer = undefined;
      rec.state = 'IDLE';
      rec.failure = err;
      rec.handshake?.reject(err);
      rec.handshake = undefined;
      rec.disconnecting?.resolve(rec.disconnectResult ?? { initiator: 'local', confirmed: false });
      rec.disconnecting = undefined;
      rec.events.clear();
    }
    this.byLocal.clear();
    this.byRemote.clear();
  }

  // ---- receiving

  private receive(buf: Buffer, from: GsiAddress): void {
    if (this.closed) return;
    const parsed = parseCmMad(buf);
    if (!parsed.ok) {
      this.stats.dropped[parsed.reason]++;
      return;
    }
    const { header, msg } = parsed;
    this.stats.rxMsgs[msg.kind]++;
    try {
      switch (msg.kind) {
        case 'REQ':
          return this.onReq(msg.body, header, from);
        case 'REP':
          return this.onRep(msg.body, from);
        case 'RTU':
          return this.onRtu(msg.body);
        case 'REJ':
          return this.onRej(msg.body);
        case 'DREQ':
          return this.onDreq(msg.body, header, from);
        case 'DREP':
          return this.onDrep(msg.body);
      }
    } catch (e) {
      // A bug here must not take down whoever delivers MADs; report it instead.
      this.events.emit('error', e);
    }
  }

  private onReq(req: CmReq, header: MadHeader, from: GsiAddress): void {
    const existing = this.byRemote.get(remoteKey(req.localCaGuid, req.localCommId));
    if (existing) {
      this.stats.rxDuplicates.REQ++;
      if (existing.state === 'REP_SENT' && existing.repMad) this.send('REP', existing.repMad, existing.remote);
      else if (existing.state === 'TIMEWAIT') this.rejectUnknown(req, header, from, CM_REJ_REASONS.staleConnection);
      return;
    }
    // Live connections only: time-wait ones were matched above, by comm ID, as Linux's remote-QPN table drops them.
    const stale = [...this.byLocal.values()].find(
      (r) => LIVE_STATES.has(r.state) && r.remoteCaGuid === req.localCaGuid && r.remoteQpn === req.localQpn,
    );
    if (stale) {
      this.rejectUnknown(req, header, from, CM_REJ_REASONS.staleConnection);
      if (stale.state === 'ESTABLISHED') void this.disconnect(stale);
      return;
    }
    const listener = this.listeners.get(req.serviceId);
    if (!listener) {
      this.rejectUnknown(req, header, from, CM_REJ_REASONS.invalidServiceId);
      return;
    }
    if (req.transportServiceType !== CM_TRANSPORT_RC && req.transportServiceType !== CM_TRANSPORT_UC) {
      this.rejectUnknown(req, header, from, CM_REJ_REASONS.invalidTransportType);
      return;
    }
    const rec = this.newRecord({
      role: 'passive',
      state: 'REQ_RCVD',
      serviceId: req.serviceId,
      localCommId: this.allocCommId(),
      remoteCommId: req.localCommId,
      transactionId: header.transactionId,
      remote: { ...from },
      remoteCaGuid: req.localCaGuid,
      remoteGid: Buffer.from(req.primaryPath.localGid),
      localQpn: 0,
      remoteQpn: req.localQpn,
      sendPsn: 0,
      receivePsn: req.startingPsn,
      pkey: req.pkey,
      pathMtu: req.pathMtu,
      waitMs: cmResponseWaitMs(req.localCmResponseTimeout, this.packetLifeTime),
      maxRetries: req.maxCmRetries,
      req,
    });
    this.byLocal.set(rec.localCommId, rec);
    this.byRemote.set(remoteKey(rec.remoteCaGuid, rec.remoteCommId), rec);
    const request: CmIncomingRequest = {
      req,
      privateData: Buffer.from(req.privateData),
      from,
      accept: (o) => {
        const p = this.accept(rec, o);
        p.catch(() => {});
        return p;
      },
      reject: (reason, o) => this.rejectRequest(rec, reason, o),
    };
    try {
      listener(request);
    } catch (e) {
      if (rec.state === 'REQ_RCVD') this.rejectRequest(rec, CM_REJ_REASONS.consumerDefined);
      this.events.emit('error', e);
    }
  }

  private onRep(rep: CmRep, from: GsiAddress): void {
    const rec = this.byLocal.get(rep.remoteCommId);
    if (!rec || rec.role !== 'active') {
      this.stats.dropped.unmatched++;
      return;
    }
    if (rec.state !== 'REQ_SENT') {
      this.stats.rxDuplicates.REP++;
      // The same REP again means our RTU was lost: send it again. Anything else is a stray.
      if (rec.state === 'ESTABLISHED' && rec.remoteCommId === rep.localCommId && rec.rtuMad) {
        this.send('RTU', rec.rtuMad, rec.remote);
      }
      return;
    }
    const key = remoteKey(rep.localCaGuid, rep.localCommId);
    if (this.byRemote.has(key)) {
      this.stats.rxDuplicates.REP++;
      return;
    }
    this.stopSending(rec);
    if (this.refusedRep(rec, rep)) return;
    rec.remoteCommId = rep.localCommId;
    rec.remoteCaGuid = rep.localCaGuid;
    rec.remoteQpn = rep.localQpn;
    rec.receivePsn = rep.startingPsn;
    rec.rep = rep;
    if (rec.remote.gid === undefined && from.gid !== undefined) rec.remote = { ...rec.remote, gid: from.gid };
    this.byRemote.set(key, rec);
    rec.rtuMad = buildCmMad({ kind: 'RTU', body: rtuBody(rec.localCommId, rec.remoteCommId) }, rec.transactionId);
    this.send('RTU', rec.rtuMad, rec.remote);
    this.establish(rec);
  }

  /** The owner refused the REP (checkRep): a REJ answers it, and connect() fails. True when refused. */
  private refusedRep(rec: ConnectionRecord, rep: CmRep): boolean {
    let refusal: CmRepRefusal | undefined;
    try {
      refusal = rec.checkRep?.(rep);
    } catch (e) {
      refusal = { reason: CM_REJ_REASONS.consumerDefined };
      this.events.emit('error', e);
    }
    if (refusal === undefined) return false;
    try {
      const rej = rejBody(rec.localCommId, rep.localCommId, CM_REJ_MSG_REP, refusal.reason, refusal.privateData ? { privateData: refusal.privateData } : {});
      this.send('REJ', buildCmMad({ kind: 'REJ', body: rej }, rec.transactionId), rec.remote);
    } catch (e) {
      this.events.emit('error', e); // private data that does not fit: the REJ goes without it
      const rej = rejBody(rec.localCommId, rep.localCommId, CM_REJ_MSG_REP, refusal.reason);
      this.send('REJ', buildCmMad({ kind: 'REJ', body: rej }, rec.transactionId), rec.remote);
    }
    this.release(rec);
    this.failHandshake(rec, new CmReplyRefusedError(refusal.reason));
    return true;
  }

  private onRtu(rtu: CmRtu): void {
    const rec = this.matchBoth(rtu.remoteCommId, rtu.localCommId);
    if (!rec || rec.role !== 'passive') {
      this.stats.dropped.unmatched++;
      return;
    }
    if (rec.state !== 'REP_SENT') {
      this.stats.rxDuplicates.RTU++;
      return;
    }
    this.stopSending(rec);
    this.establish(rec);
  }

  private onRej(rej: CmRej): void {
    let rec: ConnectionRecord | undefined;
    if (rej.reason === CM_REJ_REASONS.timeout && rej.rejectedInfoLength >= CM_TIMEOUT_ARI_LEN) {
      // A timeout REJ names the sender's CA GUID: find our connection by the peer's identity.
      rec = this.byRemote.get(remoteKey(rej.ari.readBigUInt64BE(0), rej.localCommId));
    }
    if (!rec) {
      // Otherwise by our comm ID; while our REQ is unanswered we do not know the peer's yet.
      const r = this.byLocal.get(rej.remoteCommId);
      const awaitingRep = r?.role === 'active' && r.state === 'REQ_SENT';
      if (r && (awaitingRep || (rej.messageRejected !== CM_REJ_MSG_REQ && r.remoteCommId === rej.localCommId))) rec = r;
    }
    if (!rec) {
      this.stats.dropped.unmatched++;
      return;
    }
    const err = new CmRejectError(rej);
    switch (rec.state) {
      case 'REQ_SENT':
      case 'REP_SENT':
        this.stopSending(rec);
        this.release(rec);
        this.failHandshake(rec, err);
        return;
      case 'REQ_RCVD':
        // The peer gave up before our owner answered; a later accept() learns why.
        this.release(rec);
        rec.failure = err;
        return;
      case 'ESTABLISHED':
      case 'DREQ_SENT':
        this.enterTimewait(rec, { initiator: 'remote', confirmed: false }, rej.privateData);
        rec.events.emit('error', err);
        return;
      default:
        this.stats.rxDuplicates.REJ++;
    }
  }

  private onDreq(dreq: CmDreq, header: MadHeader, from: GsiAddress): void {
    const rec = this.matchBoth(dreq.remoteCommId, dreq.localCommId);
    if (!rec) {
      // Nothing to tear down, but the peer still needs its DREP to leave DREQ_SENT.
      this.stats.rxDuplicates.DREQ++;
      const drep = drepBody(dreq.remoteCommId, dreq.localCommId);
      this.send('DREP', buildCmMad({ kind: 'DREP', body: drep }, header.transactionId), from);
      return;
    }
    if (dreq.remoteQpn !== rec.localQpn) {
      this.stats.dropped.unmatched++;
      return;
    }
    if (rec.state === 'TIMEWAIT') {
      this.stats.rxDuplicates.DREQ++;
      if (rec.drepMad) this.send('DREP', rec.drepMad, rec.remote);
      return;
    }
    if (rec.state !== 'ESTABLISHED' && rec.state !== 'DREQ_SENT' && rec.state !== 'REP_SENT') {
      this.stats.rxDuplicates.DREQ++;
      return;
    }
    const wasState = rec.state;
    this.stopSending(rec);
    rec.transactionId = header.transactionId;
    const drep = drepBody(rec.localCommId, rec.remoteCommId);
    rec.drepMad = buildCmMad({ kind: 'DREP', body: drep }, header.transactionId);
    this.send('DREP', rec.drepMad, rec.remote);
    if (wasState === 'REP_SENT') {
      // The peer established (our RTU never came) and already hung up.
      this.enterTimewait(rec, { initiator: 'remote', confirmed: true }, dreq.privateData);
      this.failHandshake(rec, new CmStateError('cm: the peer disconnected before its RTU arrived'));
      return;
    }
    const initiator = wasState === 'DREQ_SENT' ? 'local' : 'remote';
    this.enterTimewait(rec, { initiator, confirmed: true }, dreq.privateData);
  }

  private onDrep(drep: CmDrep): void {
    const rec = this.matchBoth(drep.remoteCommId, drep.localCommId);
    if (!rec) {
      this.stats.dropped.unmatched++;
      return;
    }
    if (rec.state !== 'DREQ_SENT') {
      this.stats.rxDuplicates.DREP++;
      return;
    }
    this.enterTimewait(rec, { initiator: 'local', confirmed: true }, drep.privateData);
  }

  // ---- passive answers

  private accept(rec: ConnectionRecord, o: CmAcceptOptions): Promise<CmConnection> {
    if (this.closed) return Promise.reject(rec.failure ?? new CmClosedError('cm: service closed'));
    if (rec.state !== 'REQ_RCVD') {
      return Promise.reject(rec.failure ?? new CmStateError(`cm: cannot accept a connection in state ${rec.state}`));
    }
    const req = rec.req;
    if (!req) return Promise.reject(new CmStateError('cm: passive connection without its REQ'));
    let mad: Buffer;
    try {
      const rep = repBody(o, req, rec.localCommId, this.port.caGuid);
      mad = buildCmMad({ kind: 'REP', body: rep }, rec.transactionId);
      rec.rep = rep;
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    rec.localQpn = o.localQpn;
    rec.sendPsn = o.startingPsn;
    rec.state = 'REP_SENT';
    rec.repMad = mad;
    return new Promise<CmConnection>((resolve, reject) => {
      rec.handshake = { resolve, reject };
      this.startSending(rec, 'REP', mad, () => this.handshakeTimedOut(rec, 'REP'));
    });
  }

  private rejectRequest(rec: ConnectionRecord, reason: number, o: CmRejectOptions = {}): void {
    if (this.closed) return;
    if (rec.state !== 'REQ_RCVD') throw new CmStateError(`cm: cannot reject a connection in state ${rec.state}`);
    const rej = rejBody(rec.localCommId, rec.remoteCommId, CM_REJ_MSG_REQ, reason, o);
    this.send('REJ', buildCmMad({ kind: 'REJ', body: rej }, rec.transactionId), rec.remote);
    this.release(rec);
    rec.failure = new CmStateError('cm: this request was rejected');
  }

  /** REJ for a REQ that gets no connection (unknown Service ID, stale): echoes its TID and comm ID. */
  private rejectUnknown(req: CmReq, header: MadHeader, to: GsiAddress, reason: number): void {
    const rej = rejBody(0, req.localCommId, CM_REJ_MSG_REQ, reason);
    this.send('REJ', buildCmMad({ kind: 'REJ', body: rej }, header.transactionId), to);
  }

  // ---- active side

  private prepareConnect(o: CmConnectOptions): { rec: ConnectionRecord; mad: Buffer } {
    const responseTimeout =
      o.responseTimeout ?? (o.timeoutMs !== undefined ? ibTimeExponentFor(o.timeoutMs) : IPOIB_CM_RESPONSE_TIMEOUT);
    checkUint('cm.req.remoteCmResponseTimeout', 43, responseTimeout, 5);
    const retries = o.retries ?? IPOIB_CM_MAX_CM_RETRIES;
    const localCommId = this.allocCommId();
    const transactionId = this.nextTid();
    const req = reqBody(o, {
      localCommId,
      caGuid: this.port.caGuid,
      lid: this.port.lid,
      gid: this.port.gid,
      packetLifeTime: this.packetLifeTime,
      responseTimeout,
      localResponseTimeout: o.localResponseTimeout ?? responseTimeout,
      maxCmRetries: retries,
    });
    const mad = buildCmMad({ kind: 'REQ', body: req }, transactionId);
    const rec = this.newRecord({
      role: 'active',
      state: 'REQ_SENT',
      serviceId: o.serviceId,
      localCommId,
      remoteCommId: 0,
      transactionId,
      remote: { ...o.dest },
      remoteCaGuid: 0n,
      remoteGid: Buffer.from(req.primaryPath.remoteGid),
      localQpn: o.localQpn,
      remoteQpn: 0,
      sendPsn: o.startingPsn,
      receivePsn: 0,
      pkey: o.pkey,
      pathMtu: o.pathMtu,
      waitMs: cmResponseWaitMs(responseTimeout, this.packetLifeTime),
      maxRetries: retries,
      req,
      ...(o.checkRep ? { checkRep: o.checkRep } : {}),
    });
    return { rec, mad };
  }

  // ---- disconnecting

  private disconnect(rec: ConnectionRecord, privateData?: Buffer): Promise<CmDisconnectResult> {
    if (rec.disconnecting) return rec.disconnecting.promise;
    if (rec.state === 'TIMEWAIT' || rec.state === 'IDLE') {
      return Promise.resolve(rec.disconnectResult ?? { initiator: 'local', confirmed: false });
    }
    if (rec.state !== 'ESTABLISHED') {
      return Promise.reject(new CmStateError(`cm: cannot disconnect a connection in state ${rec.state}`));
    }
    let mad: Buffer;
    try {
      const dreq = dreqBody(rec.localCommId, rec.remoteCommId, rec.remoteQpn, privateData);
      rec.transactionId = this.nextTid();
      mad = buildCmMad({ kind: 'DREQ', body: dreq }, rec.transactionId);
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)));
    }
    let resolve!: (r: CmDisconnectResult) => void;
    const promise = new Promise<CmDisconnectResult>((r) => (resolve = r));
    rec.disconnecting = { promise, resolve };
    rec.state = 'DREQ_SENT';
    this.startSending(rec, 'DREQ', mad, () => {
      // Linux enters time-wait when its DREQ goes unanswered; so does this CM.
      rec.events.emit('error', new CmTimeoutError('DREQ', 1 + rec.maxRetries, rec.waitMs));
      this.enterTimewait(rec, { initiator: 'local', confirmed: false }, Buffer.alloc(0));
    });
    return promise;
  }

  // ---- state changes

  private establish(rec: ConnectionRecord): void {
    rec.state = 'ESTABLISHED';
    const view = this.viewOf(rec);
    rec.handshake?.resolve(view);
    rec.handshake = undefined;
    rec.events.emit('established', view);
  }

  private handshakeTimedOut(rec: ConnectionRecord, unanswered: 'REQ' | 'REP'): void {
    const ari = timeoutAri(this.port.caGuid);
    const rej = rejBody(rec.localCommId, rec.remoteCommId, CM_REJ_MSG_OTHER, CM_REJ_REASONS.timeout, { ari });
    this.send('REJ', buildCmMad({ kind: 'REJ', body: rej }, rec.transactionId), rec.remote);
    this.release(rec);
    this.failHandshake(rec, new CmTimeoutError(unanswered, 1 + rec.maxRetries, rec.waitMs));
  }

  private failHandshake(rec: ConnectionRecord, err: Error): void {
    rec.failure = err;
    rec.handshake?.reject(err);
    rec.handshake = undefined;
  }

  private enterTimewait(rec: ConnectionRecord, result: CmDisconnectResult, privateData: Buffer): void {
    this.stopSending(rec);
    rec.state = 'TIMEWAIT';
    rec.disconnectResult = result;
    rec.disconnecting?.resolve(result);
    rec.disconnecting = undefined;
    rec.timewaitTimer = this.clock.setTimeout(() => {
      rec.timewaitTimer = undefined;
      this.release(rec);
      rec.events.emit('idle', this.viewOf(rec));
    }, this.timewaitMs);
    rec.timewaitTimer.unref?.();
    rec.events.emit('disconnected', { ...result, privateData: Buffer.from(privateData) });
  }

  /** Back to IDLE: timers stopped, comm ID and remote identity forgotten. */
  private release(rec: ConnectionRecord): void {
    this.stopSending(rec);
    if (rec.timewaitTimer) this.clock.clearTimeout(rec.timewaitTimer);
    rec.timewaitTimer = undefined;
    rec.state = 'IDLE';
    if (this.byLocal.get(rec.localCommId) === rec) this.byLocal.delete(rec.localCommId);
    const key = remoteKey(rec.remoteCaGuid, rec.remoteCommId);
    if (this.byRemote.get(key) === rec) this.byRemote.delete(key);
  }

  // ---- sending and retrying

  private send(kind: CmKind, mad: Buffer, to: GsiAddress): void {
    this.stats.txMsgs[kind]++;
    this.port.sendMad(to, mad);
  }

  /** Sends `mad` now and again after each `rec.waitMs` without an answer, at most 1 + maxRetries times. */
  private startSending(rec: ConnectionRecord, kind: CmKind, mad: Buffer, onGiveUp: () => void): void {
    this.stopSending(rec);
    const expire = (): void => {
      const pending = rec.retry;
      if (!pending || this.closed) return;
      if (pending.attempts > rec.maxRetries) {
        rec.retry = undefined;
        pending.onGiveUp();
        return;
      }
      pending.attempts++;
      this.stats.txRetries[kind]++;
      this.send(kind, mad, rec.remote);
      pending.timer = this.arm(expire, rec.waitMs);
    };
    rec.retry = { kind, mad, attempts: 1, timer: this.arm(expire, rec.waitMs), onGiveUp };
    this.send(kind, mad, rec.remote);
  }

  private stopSending(rec: ConnectionRecord): void {
    if (rec.retry) this.clock.clearTimeout(rec.retry.timer);
    rec.retry = undefined;
  }

  private arm(fn: () => void, ms: number) {
    const handle = this.clock.setTimeout(fn, ms);
    handle.unref?.();
    return handle;
  }

  // ---- bookkeeping

  private newRecord(fields: Omit<ConnectionRecord, 'events'>): ConnectionRecord {
    return { ...fields, events: new Listeners<CmConnectionEvents>((e) => this.events.emit('error', e)) };
  }

  private viewOf(rec: ConnectionRecord): CmConnection {
    rec.view ??= new CmConnection(rec, (pd) => this.disconnect(rec, pd));
    return rec.view;
  }

  /** The connection whose local comm ID is `local` and whose peer's is `remote`. */
  private matchBoth(local: number, remote: number): ConnectionRecord | undefined {
    const rec = this.byLocal.get(local);
    return rec && rec.remoteCommId === remote ? rec : undefined;
  }

  private allocCommId(): number {
    for (;;) {
      const id = this.nextCommId;
      this.nextCommId = (this.nextCommId + 1) >>> 0 || 1;
      if (!this.byLocal.has(id)) return id;
    }
  }

  private nextTid(): bigint {
    this.tidSeq = (this.tidSeq + 1) >>> 0;
    return this.tidHigh | BigInt(this.tidSeq);
  }

  private assertOpen(): void {
    if (this.closed) throw new CmClosedError('cm: service closed');
  }
}

export type {
  CmAcceptOptions,
  CmConnectionEvents,
  CmConnectOptions,
  CmCounters,
  CmDisconnectResult,
  CmIncomingRequest,
  CmListener,
  CmRejectOptions,
  CmServiceEvents,
  CmServiceOptions,
  CmState,
};
export { CmConnection, CmError };
