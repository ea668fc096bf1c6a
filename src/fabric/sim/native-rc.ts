/**
 * The RC QPs of a simulated port, run inside the C++ endpoint (native/src/sim/endpoint_rc.h):
 * segmentation, PSNs, ACK/NAK, retransmission and timers happen on the endpoint's own threads,
 * with no JavaScript per packet. This class validates every argument (ArgumentError naming it,
 * StateError for a call the QP's state or a closed port does not allow) and makes one thin
 * native call; completions and state changes arrive in batches through one callback.
 *
 * Receive buffers: `postRecv(qpn, n)` posts n buffers of the QP's maxRecvBytes. After each
 * batch handed to the callback, the native side posts one buffer per message delivered, so
 * a consumer posts only the initial ones; a JS thread that falls behind makes the QP refuse
 * new messages with RNR NAKs until it catches up.
 *
 * One per endpoint (SimEndpoint.openRc). While it has QPs it keeps the process alive;
 * close() destroys them all.
 */
import { ArgumentError, NativeError, StateError } from '../../errors.js';
import {
  callNative,
  loadNative,
  type NativeRcEvent,
  type NativeRcQpAttrs,
  type NativeSimEndpoint,
  type NativeSimRcPort,
} from '../../native/addon.js';
import { LID_MULTICAST_BASE, QPN_MASK } from '../../wire/constants.js';
import { GID_LEN } from '../../wire/grh.js';
import type { RcQpState, RcSendStatus } from '../hca.js';

export type { RcQpState, RcSendStatus };
export type RcRecvStatus = 'success' | 'local-length-error' | 'flushed';

/** Fixed when the QP is created. */
export interface RcQpCreateOptions {
  /** Default: allocate one (RC and UD QPs share the port's QPN space). */
  qpn?: number;
  /** Default 0. */
  pkeyIndex?: number;
  /** Capacity of every receive buffer, octets (default 65536). */
  maxRecvBytes?: number;
  /** Default 128. */
  recvQueueDepth?: number;
  /** Default 1024. */
  sendQueueDepth?: number;
  /** Unacknowledged packets a sender may have in flight (default 64). */
  sendWindowPackets?: number;
  /** Ask for an ACK at least every this many packets (default 8). */
  ackReqEveryPackets?: number;
}

/** Where a connected QP sends and how; the whole set is taken at INIT, RTR and RTS. */
export interface RcQpPath {
  destQpn: number;
  /** The peer port's unicast LID. */
  dlid: number;
  /** IB MTU code, 1 (256) .. the port's own. */
  pathMtuCode: number;
  /** First PSN this QP sends, and the first it expects (24 bits each). */
  sqPsn: number;
  rqPsn: number;
  /** Default 0. */
  sl?: number;
  /** Sends a GRH with this DGID (the port's GID as SGID). */
  grh?: { dgid: Buffer; hopLimit?: number; tclass?: number; flowLabel?: number };
  /** Default 7. */
  retryCount?: number;
  /** Default 7 (forever). */
  rnrRetry?: number;
  /** Local ACK timeout 4.096 µs × 2^timeoutExp; default 14 (67 ms); 0 disables it. */
  timeoutExp?: number;
  /** RNR timer code put in this QP's RNR NAKs; default 12 (0.64 ms). */
  minRnrTimer?: number;
}

export type RcPortEvent =
  | { type: 'send'; qpn: number; wrId: number; status: RcSendStatus }
  | { type: 'recv'; qpn: number; status: RcRecvStatus; message: Buffer; srcQp: number }
  | { type: 'state'; qpn: number; from: RcQpState; to: RcQpState; reason: string; detail: string };

/** A snapshot of one QP: its state, path and the engine's counters. */
export interface RcQpSnapshot {
  qpn: number;
  state: RcQpState;
  pkeyIndex: number;
  pkey: number;
  maxRecvBytes: number;
  path: Required<Omit<RcQpPath, 'grh'>> & { grh?: Required<NonNullable<RcQpPath['grh']>> };
  /** The engine's counters (native/src/sim/rc_qp.h RcQpStats), over the QP's life. */
  stats: Record<string, number>;
  errorDetail: string;
  /** Receive buffers posted and not yet used. */
  recvsPosted: number;
}

export const RC_QP_CREATE_DEFAULTS: Readonly<Required<Omit<RcQpCreateOptions, 'qpn'>>> = {
  pkeyIndex: 0,
  maxRecvBytes: 65536,
  recvQueueDepth: 128,
  sendQueueDepth: 1024,
  sendWindowPackets: 64,
  ackReqEveryPackets: 8,
};

export const RC_PATH_DEFAULTS = { sl: 0, retryCount: 7, rnrRetry: 7, timeoutExp: 14, minRnrTimer: 12 } as const;

/** What the port tells the RC side about itself, read at each call. */
export interface RcPortContext {
  /** The port's MTU code: no path MTU may exceed it. */
  mtuCode(): number;
  /** Entries in the P_Key table. */
  pkeyCount(): number;
}

const MAX_MESSAGE_BYTES = 2 ** 31;
const STATES: readonly RcQpState[] = ['RESET', 'INIT', 'RTR', 'RTS', 'ERROR'];
const ZERO_GID = Buffer.alloc(GID_LEN);
const hex = (v: number): string => `0x${v.toString(16)}`;

function uint(op: string, arg: string, v: unknown, min: number, max: number, what?: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    throw new ArgumentError(op, arg, v, what ?? `an integer from ${hex(min)} to ${hex(max)}`);
  }
  return v;
}

function opt(op: string, arg: string, v: unknown, dflt: number, min: number, max: number, what?: string): number {
  return v === undefined ? dflt : uint(op, arg, v, min, max, what);
}

function objectArg(op: string, arg: string, v: unknown): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ArgumentError(op, arg, v, 'an object');
  return v as Record<string, unknown>;
}

function qpnArg(op: string, v: unknown): number {
  return uint(op, 'qpn', v, 1, QPN_MASK - 1, 'a QPN from 1 to 0xfffffe');
}

function stateOf(s: string): RcQpState {
  const state = STATES.find((x) => x === s);
  if (state === undefined) throw new NativeError(`the native RC port reported an unknown state ${s}`, 'rc');
  return state;
}

/** Native events as typed ones (the statuses are the engine's names, which hca.ts spells the same way). */
function typed(e: NativeRcEvent): RcPortEvent {
  switch (e.type) {
    case 'send':
      return { type: 'send', qpn: e.qpn, wrId: e.wrId, status: e.status as RcSendStatus };
    case 'recv':
      return { type: 'recv', qpn: e.qpn, status: e.status as RcRecvStatus, message: e.message, srcQp: e.srcQp };
    case 'state':
      return { type: 'state', qpn: e.qpn, from: stateOf(e.from), to: stateOf(e.to), reason: e.reason, detail: e.detail };
  }
}

export class SimRcPort {
  private closing: Promise<void> | null = null;
  private qpCount = 0;

  private constructor(
    private readonly native: NativeSimRcPort,
    private readonly ctx: RcPortContext,
  ) {}

  /** Opens the RC side of `endpoint` (SimEndpoint.openRc calls this). */
  static open(endpoint: NativeSimEndpoint, ctx: RcPortContext, onEvents: (events: RcPortEvent[]) => void): SimRcPort {
    const native = loadNative();
    if (typeof native.openSimRcPort !== 'function') {
      throw new NativeError('the native addon has no openSimRcPort: rebuild it (npm run build:native)', 'load');
    }
    let self: SimRcPort | undefined;
    const handle = callNative('openSimRcPort', () =>
      native.openSimRcPort(endpoint, (events) => {
        if (self && !self.closed) onEvents(events.map(typed));
      }),
    );
    self = new SimRcPort(handle, ctx);
    return self;
  }

  get closed(): boolean {
    return this.closing !== null;
  }

  /** Creates an RC QP in RESET and returns its QPN. */
  createQp(o: RcQpCreateOptions = {}): number {
    const op = 'SimRcPort.createQp';
    const opts = objectArg(op, 'o', o);
    const d = RC_QP_CREATE_DEFAULTS;
    const pkeys = this.ctx.pkeyCount();
    const create = {
      qpn: opts.qpn === undefined ? 0 : qpnArg(op, opts.qpn),
      pkeyIndex: opt(op, 'o.pkeyIndex', opts.pkeyIndex, d.pkeyIndex, 0, pkeys - 1, `an index into the ${pkeys}-entry P_Key table`),
      maxRecvBytes: opt(op, 'o.maxRecvBytes', opts.maxRecvBytes, d.maxRecvBytes, 0, MAX_MESSAGE_BYTES, 'a size from 0 to 2^31'),
      recvQueueDepth: opt(op, 'o.recvQueueDepth', opts.recvQueueDepth, d.recvQueueDepth, 1, 0xffff),
      sendQueueDepth: opt(op, 'o.sendQueueDepth', opts.sendQueueDepth, d.sendQueueDepth, 1, 0xffff),
      sendWindowPackets: opt(op, 'o.sendWindowPackets', opts.sendWindowPackets, d.sendWindowPackets, 1, 0x3fffff),
      ackReqEveryPackets: opt(op, 'o.ackReqEveryPackets', opts.ackReqEveryPackets, d.ackReqEveryPackets, 1, 0xffff),
    };
    const qpn = this.call('createQp', () => this.native.createQp(create), {
      EEXIST: () => new ArgumentError(op, 'o.qpn', create.qpn, 'a QPN no QP of this port has'),
    });
    if (this.qpCount++ === 0) this.native.ref();
    return qpn;
  }

  /**
   * Moves the QP to `to`. INIT, RTR and RTS take `path` (RTR and RTS need it; INIT ignores
   * its peer fields); RESET and ERROR take none. A transition IBA does not allow is a StateError.
   */
  modifyQp(qpn: number, to: RcQpState, path?: RcQpPath): void {
    const op = 'SimRcPort.modifyQp';
    const q = qpnArg(op, qpn);
    if (!STATES.includes(to)) throw new ArgumentError(op, 'to', to, 'RESET, INIT, RTR, RTS or ERROR');
    const needsPath = to === 'RTR' || to === 'RTS';
    if (needsPath && path === undefined) throw new ArgumentError(op, 'path', path, `the path (needed for ${to})`);
    const attrs = path === undefined ? this.blankAttrs() : this.attrsOf(op, path, to !== 'INIT');
    this.call('modifyQp', () => this.native.modifyQp(q, to, attrs), {
      ...this.noSuchQp(op, q),
      EINVAL: (e) => Object.assign(new StateError(op, this.stateOrUnknown(q)), { cause: e }),
    });
  }

  /** Queues one message; false when the send queue is full (nothing was queued). Needs RTS (or ERROR, where it completes flushed). */
  postSend(qpn: number, wrId: number, message: Buffer): boolean {
    const op = 'SimRcPort.postSend';
    const q = qpnArg(op, qpn);
    uint(op, 'wrId', wrId, 0, Number.MAX_SAFE_INTEGER, 'a safe non-negative integer');
    if (!Buffer.isBuffer(message)) throw new ArgumentError(op, 'message', message, 'a Buffer');
    if (message.length > MAX_MESSAGE_BYTES) throw new ArgumentError(op, 'message', message, 'at most 2^31 octets');
    return this.call('postSend', () => this.native.postSend(q, wrId, message), {
      ...this.noSuchQp(op, q),
      EINVAL: (e) => Object.assign(new StateError(op, this.stateOrUnknown(q)), { cause: e }),
    });
  }

  /** Posts up to `count` receive buffers; returns how many fitted in the receive queue. */
  postRecv(qpn: number, count: number): number {
    const op = 'SimRcPort.postRecv';
    const q = qpnArg(op, qpn);
    const n = uint(op, 'count', count, 0, 0xffffffff, 'a count');
    return this.call('postRecv', () => this.native.postRecv(q, n), this.noSuchQp(op, q));
  }

  /** Frees the QP at once; nothing pending completes. */
  destroyQp(qpn: number): void {
    const op = 'SimRcPort.destroyQp';
    const q = qpnArg(op, qpn);
    this.call('destroyQp', () => this.native.destroyQp(q), this.noSuchQp(op, q));
    if (--this.qpCount === 0) this.native.unref();
  }

  qpInfo(qpn: number): RcQpSnapshot {
    const op = 'SimRcPort.qpInfo';
    const q = qpnArg(op, qpn);
    const i = this.call('qpInfo', () => this.native.qpInfo(q), this.noSuchQp(op, q));
    const a = i.attrs;
    return {
      qpn: i.qpn,
      state: stateOf(i.state),
      pkeyIndex: i.pkeyIndex,
      pkey: i.pkey,
      maxRecvBytes: i.maxRecvBytes,
      path: {
        destQpn: a.destQpn,
        dlid: a.dlid,
        pathMtuCode: a.pathMtuCode,
        sqPsn: a.sqPsn,
        rqPsn: a.rqPsn,
        sl: a.sl,
        retryCount: a.retryCount,
        rnrRetry: a.rnrRetry,
        timeoutExp: a.timeoutExp,
        minRnrTimer: a.minRnrTimer,
        ...(a.hasGrh ? { grh: { dgid: a.dgid, hopLimit: a.hopLimit, tclass: a.tclass, flowLabel: a.flowLabel } } : {}),
      },
      stats: i.stats,
      errorDetail: i.errorDetail,
      recvsPosted: i.recvsPosted,
    };
  }

  /** QPNs of the port's RC QPs. */
  qpns(): number[] {
    return this.call('qpns', () => this.native.qpns());
  }

  /** Destroys every RC QP and closes the delivery channel; idempotent. */
  close(): Promise<void> {
    this.closing ??= this.native.close();
    return this.closing;
  }

  private attrsOf(op: string, path: RcQpPath, connected: boolean): NativeRcQpAttrs {
    const p = objectArg(op, 'path', path);
    const d = RC_PATH_DEFAULTS;
    const portMtu = this.ctx.mtuCode();
    const attrs: NativeRcQpAttrs = {
      destQpn: uint(op, 'path.destQpn', p.destQpn, 0, QPN_MASK - 1, 'a QPN from 0 to 0xfffffe'),
      dlid: connected
        ? uint(op, 'path.dlid', p.dlid, 1, LID_MULTICAST_BASE - 1, 'a unicast LID (1..0xbfff)')
        : uint(op, 'path.dlid', p.dlid, 0, LID_MULTICAST_BASE - 1, 'a unicast LID (0..0xbfff)'),
      pathMtuCode: uint(op, 'path.pathMtuCode', p.pathMtuCode, 1, portMtu, `an MTU code from 1 to the port's ${portMtu}`),
      sqPsn: uint(op, 'path.sqPsn', p.sqPsn, 0, 0xffffff, 'a 24-bit PSN'),
      rqPsn: uint(op, 'path.rqPsn', p.rqPsn, 0, 0xffffff, 'a 24-bit PSN'),
      sl: opt(op, 'path.sl', p.sl, d.sl, 0, 15),
      retryCount: opt(op, 'path.retryCount', p.retryCount, d.retryCount, 0, 7),
      rnrRetry: opt(op, 'path.rnrRetry', p.rnrRetry, d.rnrRetry, 0, 7),
      timeoutExp: opt(op, 'path.timeoutExp', p.timeoutExp, d.timeoutExp, 0, 31),
      minRnrTimer: opt(op, 'path.minRnrTimer', p.minRnrTimer, d.minRnrTimer, 0, 31),
      hasGrh: false,
      dgid: ZERO_GID,
      hopLimit: 0,
      tclass: 0,
      flowLabel: 0,
    };
    if (p.grh !== undefined) {
      const g = objectArg(op, 'path.grh', p.grh);
      if (!Buffer.isBuffer(g.dgid) || g.dgid.length !== GID_LEN) throw new ArgumentError(op, 'path.grh.dgid', g.dgid, 'a 16-octet Buffer');
      attrs.hasGrh = true;
      attrs.dgid = g.dgid;
      attrs.hopLimit = opt(op, 'path.grh.hopLimit', g.hopLimit, 0, 0, 0xff);
      attrs.tclass = opt(op, 'path.grh.tclass', g.tclass, 0, 0, 0xff);
      attrs.flowLabel = opt(op, 'path.grh.flowLabel', g.flowLabel, 0, 0, 0xfffff);
    }
    return attrs;
  }

  private blankAttrs(): NativeRcQpAttrs {
    const d = RC_PATH_DEFAULTS;
    return {
      destQpn: 0,
      dlid: 0,
      pathMtuCode: this.ctx.mtuCode(),
      sqPsn: 0,
      rqPsn: 0,
      sl: d.sl,
      retryCount: d.retryCount,
      rnrRetry: d.rnrRetry,
      timeoutExp: d.timeoutExp,
      minRnrTimer: d.minRnrTimer,
      hasGrh: false,
      dgid: ZERO_GID,
      hopLimit: 0,
      tclass: 0,
      flowLabel: 0,
    };
  }

  private stateOrUnknown(qpn: number): string {
    try {
      return this.native.qpInfo(qpn).state;
    } catch {
      return 'unknown';
    }
  }

  private noSuchQp(op: string, qpn: number): Record<string, (e: NativeError) => Error> {
    return { ENOENT: () => new ArgumentError(op, 'qpn', qpn, 'the QPN of an RC QP of this port') };
  }

  /** One native call; native failures with a known code become the typed error `typed` names. */
  private call<T>(op: string, fn: () => T, typedErrors: Record<string, (e: NativeError) => Error> = {}): T {
    if (this.closed) throw new StateError(`SimRcPort.${op}`, 'closed');
    try {
      return callNative(op, fn);
    } catch (e) {
      if (e instanceof NativeError && e.code !== undefined) {
        const make = typedErrors[e.code];
        if (make) throw make(e);
        if (e.code === 'EBADF') throw new StateError(`SimRcPort.${op}`, 'closed');
      }
      throw e;
    }
  }
}
