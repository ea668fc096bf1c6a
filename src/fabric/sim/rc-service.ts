/**
 * RC connections of one simulated port: HcaPort.listenRc/connectRc over the CM service (QP1)
 * and the RC QPs of the port's native endpoint.
 *
 * The QP follows the handshake as IBA lays it out:
 *   active:  create → INIT (receive buffers posted) → REQ … REP → RTR → RTS → RTU (rtu-gate.ts
 *            makes the transitions happen before the RTU leaves) → connectRc resolves;
 *   passive: REQ → the listener decides → create → INIT → RTR → REP … RTU → RTS → onConnection.
 * Both QPs take the path from the handshake: the peer's QPN, its LID (the REQ's primary path
 * on the passive side), the REQ's P_Key and path MTU. As in Linux's CM (cm.c), each side's
 * Starting PSN (the REQ's for the active side, the REP's for the passive one) is the PSN that
 * side expects to receive, so the peer sends from it; the active side sends from the REP's,
 * the passive side from the REQ's. (cm-api.ts words `startingPsn` as the local send PSN: the
 * field is the same, the CmConnection's sendPsn/receivePsn labels are the other way round.)
 * Retry counts also follow Linux: both sides use the REQ's retry count; the passive side the
 * REQ's RNR retry count, the active side the REP's. The local ACK timeout is each side's own
 * choice (default 14, 67 ms).
 *
 * A REJ or a CM timeout fails connectRc with RcRejectedError / RcConnectTimeoutError (the CM
 * error as `cause`), and frees the QP; so does a REP the caller refuses (checkReply: a REJ goes
 * back instead of the RTU; RcConnectError). A REQ whose P_Key the port lacks, or whose path MTU
 * exceeds the port's, is rejected (consumer-defined, invalid MTU) before the listener sees it.
 */
import { randomInt } from 'node:crypto';
import { ArgumentError, RcConnectError, RcConnectTimeoutError, RcRejectedError } from '../../errors.js';
import { CM_REJ_REASONS, CM_REQ_PRIVATE_DATA_LEN, CM_REP_PRIVATE_DATA_LEN, type CmRep } from '../../wire/cm.js';
import { GID_LEN } from '../../wire/grh.js';
import { LID_MULTICAST_BASE, QPN_GSI } from '../../wire/constants.js';
import type {
  PortAttributes,
  RcAcceptDecision,
  RcAcceptFn,
  RcConnectionAttributes,
  RcConnectOptions,
  RcConnectRequest,
  RcListener,
  RcQp,
  SaClient,
} from '../hca.js';
import type { CmConnection } from './cm-connection.js';
import { CmRejectError, CmTimeoutError } from './cm-errors.js';
import type { CmIncomingRequest, CmRepRefusal } from './cm-api.js';
import type { CmService } from './cm-service.js';
import type { RcPortEvent, RcQpPath } from './native-rc.js';
import { type PortRc, SimRcQp } from './rc-qp.js';
import type { RtuGate } from './rtu-gate.js';

/** Local ACK timeout exponent when the caller gives none: 4.096 µs × 2^14 ≈ 67 ms. */
export const RC_DEFAULT_ACK_TIMEOUT_EXP = 14;
/** Largest message a QP accepts when the caller gives no limit (covers IPoIB-CM's 65,524). */
export const RC_DEFAULT_MAX_MESSAGE_BYTES = 65536;
/** Receive buffers each QP keeps posted. */
export const RC_RECV_DEPTH = 128;

export interface RcServiceDeps {
  cm: CmService;
  gate: RtuGate;
  rc: PortRc;
  sa: SaClient;
  attributes: () => PortAttributes;
}

const hex = (v: number | bigint): string => `0x${v.toString(16)}`;

function uintOpt(op: string, arg: string, v: unknown, dflt: number, min: number, max: number, what?: string): number {
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ArgumentError(op, arg, v, what ?? `an integer from ${min} to ${max}`);
  }
  return v;
}

function bytesOpt(op: string, arg: string, v: unknown, max: number): Buffer {
  if (v === undefined) return Buffer.alloc(0);
  if (!Buffer.isBuffer(v) || v.length > max) throw new ArgumentError(op, arg, v, `a Buffer of at most ${max} octets`);
  return Buffer.from(v);
}

/** The index of the table entry that carries `pkey`'s partition, or -1. */
function pkeyIndexOf(table: readonly number[], pkey: number): number {
  return table.findIndex((k) => (k & 0x7fff) === (pkey & 0x7fff) && (k & 0x7fff) !== 0);
}

/** A connection failure as the provider-independent error, the CM's own as its cause. */
function connectFailure(e: unknown, serviceId: bigint): Error {
  const what = `connectRc to Service ID ${hex(serviceId)}`;
  let err: Error;
  if (e instanceof CmRejectError) {
    err = new RcRejectedError(`${what}: rejected by the peer: ${e.reasonName} (${e.reason})`, e.reason, e.reasonName, Buffer.from(e.rej.privateData));
  } else if (e instanceof CmTimeoutError) {
    err = new RcConnectTimeoutError(`${what}: ${e.message}`, e.unanswered, e.attempts);
  } else if (e instanceof RcConnectError || e instanceof ArgumentError) {
    return e;
  } else {
    err = new RcConnectError(`${what}: ${e instanceof Error ? e.message : String(e)}`);
  }
  err.cause = e;
  return err;
}

/** The owner's verdict on a REP's private data as the CM's refusal; a verdict that throws refuses (consumer-defined). */
function refusalOf(check: NonNullable<RcConnectOptions['checkReply']>, rep: CmRep): CmRepRefusal | undefined {
  let verdict: ReturnType<typeof check>;
  try {
    verdict = check(Buffer.from(rep.privateData));
  } catch {
    return { reason: CM_REJ_REASONS.consumerDefined };
  }
  if (verdict === undefined) return undefined;
  const reason = Number.isInteger(verdict.rejectReason) && verdict.rejectReason >= 0 && verdict.rejectReason <= 0xffff ? verdict.rejectReason : CM_REJ_REASONS.consumerDefined;
  return { reason, ...(Buffer.isBuffer(verdict.privateData) ? { privateData: verdict.privateData } : {}) };
}

class SimRcListener implements RcListener {
  private readonly connections = new Set<(qp: RcQp) => void>();

  constructor(
    readonly serviceId: bigint,
    readonly accept: RcAcceptFn,
    private readonly stop: () => void,
  ) {}

  onConnection(cb: (qp: RcQp) => void): () => void {
    if (typeof cb !== 'function') throw new ArgumentError('RcListener.onConnection', 'cb', cb, 'a function');
    this.connections.add(cb);
    return () => this.connections.delete(cb);
  }

  emit(qp: RcQp): void {
    for (const cb of [...this.connections]) {
      try {
        cb(qp);
      } catch {
        // the subscriber's own failure; the connection stands
      }
    }
  }

  close(): void {
    this.stop();
  }
}

export class SimRcService {
  private readonly qps = new Map<number, SimRcQp>();
  private closed = false;

  constructor(private readonly deps: RcServiceDeps) {}

  /** Routes a batch of native RC events to their QPs. */
  dispatch(events: readonly RcPortEvent[]): void {
    for (const e of events) this.qps.get(e.qpn)?.onEvent(e);
  }

  listen(serviceId: bigint, accept: RcAcceptFn): RcListener {
    const op = 'HcaPort.listenRc';
    if (typeof serviceId !== 'bigint' || serviceId < 0n || serviceId > 0xffff_ffff_ffff_ffffn) {
      throw new ArgumentError(op, 'serviceId', serviceId, 'a 64-bit Service ID (bigint)');
    }
    if (typeof accept !== 'function') throw new ArgumentError(op, 'accept', accept, 'a function');
    if (this.closed) throw new RcConnectError(`${op}: the port is closed`);
    let listener: SimRcListener | undefined;
    const stop = this.deps.cm.listen(serviceId, (incoming) => {
      // answer() handles its own failures; a bug in it must not become an unhandled rejection.
      if (listener) this.answer(incoming, listener).catch(() => {});
    });
    listener = new SimRcListener(serviceId, accept, stop);
    return listener;
  }

  async connect(o: RcConnectOptions): Promise<RcQp> {
    const op = 'HcaPort.connectRc';
    if (typeof o !== 'object' || o === null) throw new ArgumentError(op, 'o', o, 'an object');
    if (typeof o.serviceId !== 'bigint' || o.serviceId < 0n || o.serviceId > 0xffff_ffff_ffff_ffffn) {
      throw new ArgumentError(op, 'o.serviceId', o.serviceId, 'a 64-bit Service ID (bigint)');
    }
    if (!Buffer.isBuffer(o.dgid) || o.dgid.length !== GID_LEN) throw new ArgumentError(op, 'o.dgid', o.dgid, 'a 16-octet Buffer');
    const port = this.deps.attributes();
    const pkeyIndex = uintOpt(op, 'o.pkeyIndex', o.pkeyIndex, 0, 0, port.pkeys.length - 1, `an index into the ${port.pkeys.length}-entry P_Key table`);
    const pathMtuCode = uintOpt(op, 'o.pathMtuCode', o.pathMtuCode, port.activeMtuCode, 1, port.activeMtuCode, `an MTU code from 1 to the port's ${port.activeMtuCode}`);
    const retryCount = uintOpt(op, 'o.retryCount', o.retryCount, 7, 0, 7);
    const rnrRetry = uintOpt(op, 'o.rnrRetry', o.rnrRetry, 7, 0, 7);
    const ackTimeoutExp = uintOpt(op, 'o.ackTimeoutExp', o.ackTimeoutExp, RC_DEFAULT_ACK_TIMEOUT_EXP, 0, 31);
    const maxMessageBytes = uintOpt(op, 'o.maxMessageBytes', o.maxMessageBytes, RC_DEFAULT_MAX_MESSAGE_BYTES, 0, 2 ** 31);
    const cmRetries = o.cmRetries === undefined ? undefined : uintOpt(op, 'o.cmRetries', o.cmRetries, 0, 0, 15);
    if (o.cmTimeoutMs !== undefined && !(typeof o.cmTimeoutMs === 'number' && o.cmTimeoutMs > 0 && o.cmTimeoutMs <= 600_000)) {
      throw new ArgumentError(op, 'o.cmTimeoutMs', o.cmTimeoutMs, 'a duration above 0 and at most 600000 ms');
    }
    const privateData = bytesOpt(op, 'o.privateData', o.privateData, CM_REQ_PRIVATE_DATA_LEN);
    const startingPsn = o.startingPsn === undefined ? undefined : uintOpt(op, 'o.startingPsn', o.startingPsn, 0, 0, 0xffffff, 'a 24-bit PSN');
    if (o.checkReply !== undefined && typeof o.checkReply !== 'function') throw new ArgumentError(op, 'o.checkReply', o.checkReply, 'a function');
    const checkReply = o.checkReply;
    const dgid = Buffer.from(o.dgid);
    const pkey = port.pkeys[pkeyIndex] ?? 0;
    if (this.closed) throw new RcConnectError(`${op}: the port is closed`);

    let dlid: number;
    if (o.dlid !== undefined) {
      dlid = uintOpt(op, 'o.dlid', o.dlid, 0, 1, LID_MULTICAST_BASE - 1, 'a unicast LID (1..0xbfff)');
    } else {
      try {
        dlid = (await this.deps.sa.pathTo(dgid, pkey)).dlid;
      } catch (e) {
        throw connectFailure(e, o.serviceId);
      }
    }

    const { rc, gate, cm } = this.deps;
    let qpn: number;
    try {
      qpn = rc.createQp({ pkeyIndex, maxRecvBytes: maxMessageBytes, recvQueueDepth: RC_RECV_DEPTH });
    } catch (e) {
      throw connectFailure(e, o.serviceId); // the port closed during the path query
    }
    const receivePsn = startingPsn ?? randomInt(0, 0x1000000); // goes in the REQ: the peer sends from it
    const attrs: RcConnectionAttributes = {
      serviceId: o.serviceId,
      role: 'active',
      remoteLid: dlid,
      remoteGid: dgid,
      remoteQpn: 0,
      sendPsn: 0,
      receivePsn,
      pkey,
      pkeyIndex,
      pathMtuCode,
      retryCount,
      rnrRetry,
      ackTimeoutExp,
      maxMessageBytes,
      remotePrivateData: Buffer.alloc(0),
      localPrivateData: privateData,
    };
    const qp = new SimRcQp(rc, qpn, attrs, 'RESET', () => this.qps.delete(qpn));
    this.qps.set(qpn, qp);
    let ready: { rep: CmRep } | { error: unknown } | undefined;
    const forget = gate.expect(qpn, (rep) => {
      try {
        const path: RcQpPath = {
          destQpn: rep.localQpn,
          dlid,
          pathMtuCode,
          sqPsn: rep.startingPsn,
          rqPsn: receivePsn,
          retryCount,
          rnrRetry: rep.rnrRetryCount,
          timeoutExp: ackTimeoutExp,
        };
        qp.modify('RTR', path);
        qp.modify('RTS', path);
        ready = { rep };
      } catch (error) {
        ready = { error };
        throw error;
      }
    });
    let conn: CmConnection;
    try {
      qp.modify('INIT', { destQpn: 0, dlid: 0, pathMtuCode, sqPsn: 0, rqPsn: 0 });
      rc.postRecv(qpn, RC_RECV_DEPTH);
      conn = await cm.connect({
        serviceId: o.serviceId,
        dest: { lid: dlid, gid: dgid, qpn: QPN_GSI, pkeyIndex },
        remoteGid: dgid,
        localQpn: qpn,
        startingPsn: receivePsn,
        pkey,
        pathMtu: pathMtuCode,
        privateData,
        retryCount,
        rnrRetryCount: rnrRetry,
        ...(o.cmTimeoutMs !== undefined ? { timeoutMs: o.cmTimeoutMs } : {}),
        ...(cmRetries !== undefined ? { retries: cmRetries } : {}),
        ...(checkReply ? { checkRep: (rep: CmRep) => refusalOf(checkReply, rep) } : {}),
      });
    } catch (e) {
      qp.abandon();
      throw connectFailure(e, o.serviceId);
    } finally {
      forget();
    }
    const outcome = ready as { rep: CmRep } | { error: unknown } | undefined;
    if (outcome === undefined || 'error' in outcome || qp.state !== 'RTS') {
      // Not ready (a failed transition), or freed meanwhile by the port closing.
      void conn.disconnect().catch(() => {});
      qp.abandon();
      const why =
        outcome === undefined ? 'the RTU went out before the QP saw the REP' : 'error' in outcome ? String(outcome.error) : `the QP is in ${qp.state}`;
      throw connectFailure(new RcConnectError(`the QP could not be made ready: ${why}`), o.serviceId);
    }
    const rep = outcome.rep;
    qp.bind(conn, {
      ...attrs,
      remoteQpn: rep.localQpn,
      sendPsn: rep.startingPsn,
      rnrRetry: rep.rnrRetryCount,
      remotePrivateData: Buffer.from(rep.privateData),
    });
    return qp;
  }

  /** Frees every QP (a DREQ goes to each connected peer) and stops answering. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const qp of [...this.qps.values()]) await qp.close();
    await this.deps.rc.close();
  }

  // ---- passive side

  private async answer(incoming: CmIncomingRequest, listener: SimRcListener): Promise<void> {
    const req = incoming.req;
    const port = this.deps.attributes();
    const refuse = (reason: number, privateData?: Buffer): void => {
      try {
        incoming.reject(reason, privateData ? { privateData } : {});
      } catch {
        // the peer gave up first, or the private data did not fit: nothing more to say
      }
    };
    const pkeyIndex = pkeyIndexOf(port.pkeys, req.pkey);
    if (pkeyIndex < 0) return refuse(CM_REJ_REASONS.consumerDefined);
    if (req.pathMtu < 1 || req.pathMtu > port.activeMtuCode) return refuse(CM_REJ_REASONS.invalidMtu);
    const request: RcConnectRequest = {
      serviceId: req.serviceId,
      privateData: Buffer.from(incoming.privateData),
      remoteLid: req.primaryPath.localLid,
      remoteGid: Buffer.from(req.primaryPath.localGid),
      remoteQpn: req.localQpn,
      pkey: req.pkey,
      pathMtuCode: req.pathMtu,
    };
    let d: RcAcceptDecision;
    try {
      d = await listener.accept(request);
    } catch {
      return refuse(CM_REJ_REASONS.consumerDefined);
    }
    if (this.closed) return;
    if (typeof d !== 'object' || d === null || d.accept !== true) {
      const no = (typeof d === 'object' && d !== null ? d : { accept: false }) as Extract<RcAcceptDecision, { accept: false }>;
      return refuse(no.rejectReason ?? CM_REJ_REASONS.consumerDefined, no.privateData);
    }
    let localPrivateData: Buffer;
    let ackTimeoutExp: number;
    let maxMessageBytes: number;
    try {
      const op = 'RcAcceptFn';
      localPrivateData = bytesOpt(op, 'decision.privateData', d.privateData, CM_REP_PRIVATE_DATA_LEN);
      ackTimeoutExp = uintOpt(op, 'decision.ackTimeoutExp', d.ackTimeoutExp, RC_DEFAULT_ACK_TIMEOUT_EXP, 0, 31);
      maxMessageBytes = uintOpt(op, 'decision.maxMessageBytes', d.maxMessageBytes, RC_DEFAULT_MAX_MESSAGE_BYTES, 0, 2 ** 31);
    } catch {
      return refuse(CM_REJ_REASONS.consumerDefined);
    }

    const rc = this.deps.rc;
    const receivePsn = randomInt(0, 0x1000000); // goes in the REP: the peer sends from it
    const path: RcQpPath = {
      destQpn: req.localQpn,
      dlid: req.primaryPath.localLid,
      pathMtuCode: req.pathMtu,
      sqPsn: req.startingPsn,
      rqPsn: receivePsn,
      retryCount: req.retryCount,
      rnrRetry: req.rnrRetryCount,
      timeoutExp: ackTimeoutExp,
    };
    let qpn: number;
    try {
      qpn = rc.createQp({ pkeyIndex, maxRecvBytes: maxMessageBytes, recvQueueDepth: RC_RECV_DEPTH });
    } catch {
      return refuse(CM_REJ_REASONS.noQp);
    }
    const attrs: RcConnectionAttributes = {
      serviceId: req.serviceId,
      role: 'passive',
      remoteLid: req.primaryPath.localLid,
      remoteGid: Buffer.from(req.primaryPath.localGid),
      remoteQpn: req.localQpn,
      sendPsn: req.startingPsn,
      receivePsn,
      pkey: port.pkeys[pkeyIndex] ?? req.pkey,
      pkeyIndex,
      pathMtuCode: req.pathMtu,
      retryCount: req.retryCount,
      rnrRetry: req.rnrRetryCount,
      ackTimeoutExp,
      maxMessageBytes,
      remotePrivateData: Buffer.from(incoming.privateData),
      localPrivateData,
    };
    const qp = new SimRcQp(rc, qpn, attrs, 'RESET', () => this.qps.delete(qpn));
    this.qps.set(qpn, qp);
    try {
      qp.modify('INIT', path);
      rc.postRecv(qpn, RC_RECV_DEPTH);
      qp.modify('RTR', path);
    } catch {
      qp.abandon();
      return refuse(CM_REJ_REASONS.noResources);
    }
    let conn: CmConnection;
    try {
      conn = await incoming.accept({ localQpn: qpn, startingPsn: receivePsn, privateData: localPrivateData });
    } catch {
      qp.abandon(); // no RTU, a REJ, or the port closing: the CM has told the peer what it could
      return;
    }
    try {
      qp.modify('RTS', path);
    } catch {
      void conn.disconnect().catch(() => {});
      qp.abandon();
      return;
    }
    qp.bind(conn, attrs);
    listener.emit(qp);
  }
}
