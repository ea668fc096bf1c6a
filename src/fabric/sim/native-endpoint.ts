/**
 * A port of the simulated fabric, backed by the C++ endpoint in the addon
 * (native/src/sim/endpoint.h): one UDP socket on 127.0.0.1 carrying whole InfiniBand packets
 * (LRH .. VCRC, byte-identical to src/wire/ib-packet.ts), UD QPs, multicast attachments, the
 * receive checks an HCA applies (each drop counted in `counters()`), and run-time faults (loss,
 * delay, link down) plus a tap that mirrors every packet sent or accepted to a UDP port.
 *
 * This class validates every argument (ArgumentError names the argument and the value,
 * MtuExceededError refuses an oversize send, StateError a call after close()) and then makes
 * one thin native call. The per-packet work (building, CRCs, checks, batching with
 * sendmmsg/recvmmsg) happens in C++; completions arrive in batches through one callback.
 *
 * The fabric manager calls setLid/setPkeyTable/setRoutes; the routes say which UDP port each
 * unicast LID lives at and which member ports each MLID reaches (the sender's own included
 * when it is a member, as on an IB switch).
 *
 * RC QPs run inside the endpoint too: `openRc()` gives their side (native-rc.ts).
 *
 * An endpoint keeps the process alive only while a receive callback is set (like a socket with
 * a 'message' listener); `unref()` lets the process exit anyway. Always `await close()`.
 */
import { gidArg, hex, multicastLid, objectArg, uint, unicastLid } from '../../native/arg-checks.js';
import { ArgumentError, MtuExceededError, NativeError, StateError } from '../../errors.js';
import { callNative, loadNative, type NativeBinding, type NativeSimEndpoint } from '../../native/addon.js';
import {
  IB_MTU_CODE_TO_BYTES,
  LID_PERMISSIVE,
  MCAST_QPN,
  QPN_GSI,
  QPN_MASK,
} from '../../wire/constants.js';
import { GID_LEN } from '../../wire/grh.js';
import { type RcPortEvent, SimRcPort } from './native-rc.js';

export type MtuCode = 1 | 2 | 3 | 4 | 5;
export type LinkState = 'active' | 'down';
export type TapDirection = 'both' | 'send' | 'receive';

export interface SimEndpointOptions {
  /** Unicast LID, 1..0xBFFF. */
  lid: number;
  /** The port's GID (index 0), the SGID of every GRH it sends. */
  gid: Buffer;
  /** Port (path) MTU code: 1 = 256 .. 5 = 4096 octets of payload. */
  mtuCode: MtuCode;
  /** P_Key table; index 0 is the default partition. */
  pkeys: readonly number[];
  /** Default 'active'. */
  state?: LinkState;
}

export interface UdSendGrh {
  dgid: Buffer;
  /** Default 0. */
  hopLimit?: number;
  /** Default 0. */
  tclass?: number;
  /** Default 0. */
  flowLabel?: number;
}

export interface UdSend {
  /** Destination LID: unicast (1..0xBFFF) or multicast (0xC000..0xFFFE, with `grh`). */
  dlid: number;
  /** Destination QPN; 0xFFFFFF for multicast. */
  dqpn: number;
  /** Q_Key; with the high-order bit set the QP's own Q_Key is sent instead (controlled Q_Key). */
  qkey: number;
  payload: Buffer;
  /** Service level, default 0. */
  sl?: number;
  grh?: UdSendGrh;
  /** P_Key index to send with; default the QP's. */
  pkeyIndex?: number;
  /** Sends UD SEND ONLY with Immediate carrying this value. */
  immData?: number;
  /** BTH SE bit, default false. */
  solicited?: boolean;
}

export interface UdCompletionGrh {
  sgid: Buffer;
  dgid: Buffer;
  hopLimit: number;
  tclass: number;
  flowLabel: number;
}

/** One received UD message. Buffers of one batch share a backing store; they never alias socket memory. */
export interface UdCompletion {
  /** The receiving QP. */
  qpn: number;
  srcQp: number;
  slid: number;
  dlid: number;
  sl: number;
  pkey: number;
  /** Index of the P_Key table entry the packet matched (the QP's own, or any for QP1). */
  pkeyIndex: number;
  qkey: number;
  psn: number;
  grh?: UdCompletionGrh;
  immData?: number;
  payload: Buffer;
  /** The whole packet, LRH..VCRC, only when onReceive asked for `raw`. */
  raw?: Buffer;
}

/** Counter names, in native order (native/src/sim/endpoint_counters.h says what each counts). */
export const PORT_COUNTER_NAMES = [
  'portXmitPkts',
  'portXmitData',
  'portRcvPkts',
  'portRcvData',
  'portRcvErrors',
  'portRcvSwitchRelayErrors',
  'portXmitDiscards',
  'pKeyViolations',
  'qKeyViolations',
  'malformed',
  'icrcErrors',
  'vcrcErrors',
  'mtuDrops',
  'unknownQpnDrops',
  'linkDownDrops',
  'linkDownXmitDiscards',
  'noRouteXmitDiscards',
  'lossFaultDrops',
  'socketOverflowDrops',
  'rcvQueueOverflows',
  'sendErrors',
] as const;
export type PortCounterName = (typeof PORT_COUNTER_NAMES)[number];
/** Per-port counters: IB PortCounters/PortInfo names where one exists, detail counters beside them. Data counters are in 4-octet words. */
export type PortCounters = Record<PortCounterName, number>;

export interface FaultOptions {
  /** Fraction of sent packets dropped, 0..1 (a multicast packet's copies share one fate). */
  lossRate?: number;
  /** Fixed extra latency of every sent packet, 0..600000 ms; order is kept. */
  delayMs?: number;
  /** Seed of the loss PRNG (uint32); setting it restarts the sequence. Endpoints start with seed 1. */
  seed?: number;
}

export interface TapFilter {
  /** Which packets to mirror: sent, accepted, or both (default). */
  direction?: TapDirection;
}

export interface ReceiveOptions {
  /** Also deliver each completion's whole packet (for a tap or probe); default false. */
  raw?: boolean;
}

export type ReceiveCallback = (batch: UdCompletion[]) => void;

/** Word layout of the flat arrays crossing the boundary (native/src/sim/endpoint_binding.h). */
const COMPLETION_WORDS = 16;
const SEND_WORDS = 16;
const SEND_DGID_OCTET = 40;
const enum Cw {
  qpn,
  srcQp,
  slid,
  dlid,
  sl,
  pkey,
  pkeyIndex,
  qkey,
  flags,
  immData,
  hopLimitTclass,
  flowLabel,
  dataOffset,
  payloadLen,
  rawLen,
  psn,
}
const enum Sw {
  dlid,
  dqpn,
  qkey,
  sl,
  pkeyIndex,
  flags,
  hopLimit,
  tclass,
  flowLabel,
  immData,
}
const DEFAULT_PKEY_INDEX = 0xffffffff;
const MAX_DELAY_MS = 600_000;
const MAX_QPN = QPN_MASK - 1; // 0xFFFFFF is the multicast QPN
const TAP_DIRECTIONS: Readonly<Record<TapDirection, number>> = { both: 0, send: 1, receive: 2 };

let checkedBinding: NativeBinding | undefined;

/** The binding, once checked to agree with this file on counters and layouts (a stale binary would not). */
function binding(): NativeBinding {
  if (checkedBinding) return checkedBinding;
  const native = loadNative();
  if (typeof native.openSimEndpoint !== 'function') {
    throw new NativeError('the native addon has no openSimEndpoint: rebuild it (npm run build:native)', 'load');
  }
  const names = native.simEndpointCounterNames.join(',');
  const layout = native.simEndpointLayout;
  if (
    names !== PORT_COUNTER_NAMES.join(',') ||
    layout.completionWords !== COMPLETION_WORDS ||
    layout.sendWords !== SEND_WORDS ||
    layout.sendDgidOctet !== SEND_DGID_OCTET
  ) {
    throw new NativeError('the native endpoint disagrees with native-endpoint.ts on counters or layouts: rebuild it', 'load');
  }
  checkedBinding = native;
  return native;
}

// ---- validation helpers (each throws ArgumentError naming the argument; shared ones in src/native/arg-checks.ts)

function udpPort(op: string, arg: string, v: unknown): number {
  return uint(op, arg, v, 1, 0xffff, 'a UDP port (1..65535)');
}

function mtuCode(op: string, arg: string, v: unknown): MtuCode {
  return uint(op, arg, v, 1, 5, 'an MTU code from 1 (256) to 5 (4096)') as MtuCode;
}

function pkeyTable(op: string, arg: string, v: unknown): number[] {
  if (!Array.isArray(v) || v.length === 0 || v.length > 0x10000) {
    throw new ArgumentError(op, arg, v, 'an array of 1 to 65536 P_Keys');
  }
  return v.map((p: unknown, i) => uint(op, `${arg}[${i}]`, p, 0, 0xffff, 'a 16-bit P_Key'));
}

function linkState(op: string, arg: string, v: unknown): LinkState {
  if (v !== 'active' && v !== 'down') throw new ArgumentError(op, arg, v, '"active" or "down"');
  return v;
}

function qpnArg(op: string, arg: string, v: unknown): number {
  return uint(op, arg, v, QPN_GSI, MAX_QPN, 'a QPN from 1 to 0xfffffe');
}

/** The completions of one native batch as objects; payloads are views of the batch's one Buffer. */
function decodeBatch(meta: Uint32Array, data: Buffer): UdCompletion[] {
  const n = meta.length / COMPLETION_WORDS;
  const out: UdCompletion[] = new Array<UdCompletion>(n);
  const w = (i: number): number => meta[i] ?? 0;
  for (let i = 0; i < n; i++) {
    const b = i * COMPLETION_WORDS;
    const flags = w(b + Cw.flags);
    let at = w(b + Cw.dataOffset);
    const c: UdCompletion = {
      qpn: w(b + Cw.qpn),
      srcQp: w(b + Cw.srcQp),
      slid: w(b + Cw.slid),
      dlid: w(b + Cw.dlid),
      sl: w(b + Cw.sl),
      pkey: w(b + Cw.pkey),
      pkeyIndex: w(b + Cw.pkeyIndex),
      qkey: w(b + Cw.qkey),
      psn: w(b + Cw.psn),
      payload: data,
    };
    if (flags & 1) {
      const ht = w(b + Cw.hopLimitTclass);
      c.grh = {
        sgid: data.subarray(at, at + GID_LEN),
        dgid: data.subarray(at + GID_LEN, at + 2 * GID_LEN),
        hopLimit: ht & 0xff,
        tclass: ht >>> 8,
        flowLabel: w(b + Cw.flowLabel),
      };
      at += 2 * GID_LEN;
    }
    if (flags & 2) c.immData = w(b + Cw.immData);
    const payloadLen = w(b + Cw.payloadLen);
    c.payload = data.subarray(at, at + payloadLen);
    const rawLen = w(b + Cw.rawLen);
    if (rawLen > 0) c.raw = data.subarray(at + payloadLen, at + payloadLen + rawLen);
    out[i] = c;
  }
  return out;
}

export class SimEndpoint {
  private receiver: ReceiveCallback | null = null;
  private closing: Promise<void> | null = null;
  private rcPort: SimRcPort | null = null;
  private lidNow: number;
  private pkeysNow: number[];
  private mtuCodeNow: MtuCode;
  private stateNow: LinkState;

  private constructor(
    private readonly native: NativeSimEndpoint,
    opts: { lid: number; pkeys: number[]; mtuCode: MtuCode; state: LinkState },
    /** The port's GID (a copy of the one given). */
    readonly gid: Buffer,
  ) {
    this.lidNow = opts.lid;
    this.pkeysNow = opts.pkeys;
    this.mtuCodeNow = opts.mtuCode;
    this.stateNow = opts.state;
  }

  /** Opens the port: binds its UDP socket on 127.0.0.1 and starts its receive thread. */
  static open(o: SimEndpointOptions): SimEndpoint {
    const op = 'SimEndpoint.open';
    const opts = objectArg(op, 'o', o);
    const lid = unicastLid(op, 'o.lid', opts.lid);
    const g = Buffer.from(gidArg(op, 'o.gid', opts.gid));
    const code = mtuCode(op, 'o.mtuCode', opts.mtuCode);
    const pkeys = pkeyTable(op, 'o.pkeys', opts.pkeys);
    const state = opts.state === undefined ? 'active' : linkState(op, 'o.state', opts.state);
    const native = binding();
    // The deliver callback must reach the instance, which exists only after the native call.
    let self: SimEndpoint | undefined;
    const handle = callNative('openSimEndpoint', () =>
      native.openSimEndpoint({ lid, gid: g, mtuCode: code, pkeys, active: state === 'active' }, (meta, data) =>
        self?.dispatch(meta, data),
      ),
    );
    self = new SimEndpoint(handle, { lid, pkeys, mtuCode: code, state }, g);
    return self;
  }

  /**
   * The addon's handle of this endpoint, for native code that works on it directly (C++
   * EndpointOfHandle): the benchmark, and later the TUN data plane. Not for per-call use from TS.
   */
  get nativeHandle(): NativeSimEndpoint {
    return this.native;
  }

  /** The UDP port on 127.0.0.1 that receives this port's packets (what routes point at). */
  get udpPort(): number {
    return this.native.udpPort;
  }
  get lid(): number {
    return this.lidNow;
  }
  get pkeys(): readonly number[] {
    return [...this.pkeysNow];
  }
  get mtuCode(): MtuCode {
    return this.mtuCodeNow;
  }
  /** Largest UD payload this port sends or accepts. */
  get mtuBytes(): number {
    return IB_MTU_CODE_TO_BYTES[this.mtuCodeNow] ?? 0;
  }
  get state(): LinkState {
    return this.stateNow;
  }
  get closed(): boolean {
    return this.closing !== null;
  }

  setLid(lid: number): void {
    const v = unicastLid('SimEndpoint.setLid', 'lid', lid);
    this.call('setLid', () => this.native.setLid(v));
    this.lidNow = v;
  }

  setPkeyTable(pkeys: readonly number[]): void {
    const v = pkeyTable('SimEndpoint.setPkeyTable', 'pkeys', pkeys);
    this.call('setPkeyTable', () => this.native.setPkeyTable(v));
    this.pkeysNow = v;
  }

  /** 'down': nothing is sent (portXmitDiscards) or received (linkDownDrops) until 'active' again. */
  setState(state: LinkState): void {
    const v = linkState('SimEndpoint.setState', 'state', state);
    this.call('setState', () => this.native.setActive(v === 'active'));
    this.stateNow = v;
  }

  setMtuCode(code: MtuCode): void {
    const v = mtuCode('SimEndpoint.setMtuCode', 'code', code);
    this.call('setMtuCode', () => this.native.setMtuCode(v));
    this.mtuCodeNow = v;
  }

  /** Replaces the routing: where each unicast LID lives, and which ports each MLID reaches. */
  setRoutes(
    unicast: ReadonlyArray<{ lid: number; udpPort: number }>,
    multicast: ReadonlyArray<{ mlid: number; udpPorts: readonly number[] }>,
  ): void {
    const op = 'SimEndpoint.setRoutes';
    if (!Array.isArray(unicast)) throw new ArgumentError(op, 'unicast', unicast, 'an array');
    if (!Array.isArray(multicast)) throw new ArgumentError(op, 'multicast', multicast, 'an array');
    const u = unicast.map((r, i) => {
      const o = objectArg(op, `unicast[${i}]`, r);
      return { lid: unicastLid(op, `unicast[${i}].lid`, o.lid), udpPort: udpPort(op, `unicast[${i}].udpPort`, o.udpPort) };
    });
    const m = multicast.map((r, i) => {
      const o = objectArg(op, `multicast[${i}]`, r);
      if (!Array.isArray(o.udpPorts)) throw new ArgumentError(op, `multicast[${i}].udpPorts`, o.udpPorts, 'an array of UDP ports');
      return {
        mlid: multicastLid(op, `multicast[${i}].mlid`, o.mlid),
        udpPorts: o.udpPorts.map((p: unknown, j) => udpPort(op, `multicast[${i}].udpPorts[${j}]`, p)),
      };
    });
    this.call('setRoutes', () => this.native.setRoutes(u, m));
  }

  /** Creates a UD QP and returns its QPN; `qpn: 1` makes the GSI QP, any other free QPN may be asked for. */
  createUdQp(o: { qkey: number; pkeyIndex: number; qpn?: number }): number {
    const op = 'SimEndpoint.createUdQp';
    const opts = objectArg(op, 'o', o);
    const qkey = uint(op, 'o.qkey', opts.qkey, 0, 0xffffffff, 'a 32-bit Q_Key');
    const pkeyIndex = this.pkeyIndex(op, 'o.pkeyIndex', opts.pkeyIndex);
    const qpn = opts.qpn === undefined ? 0 : qpnArg(op, 'o.qpn', opts.qpn);
    return this.call('createUdQp', () => this.native.createUdQp(qkey, pkeyIndex, qpn), {
      EEXIST: () => new ArgumentError(op, 'o.qpn', qpn, 'a QPN no QP of this port has'),
    });
  }

  modifyUdQp(qpn: number, o: { qkey?: number; pkeyIndex?: number }): void {
    const op = 'SimEndpoint.modifyUdQp';
    const q = qpnArg(op, 'qpn', qpn);
    const opts = objectArg(op, 'o', o);
    const qkey = opts.qkey === undefined ? undefined : uint(op, 'o.qkey', opts.qkey, 0, 0xffffffff, 'a 32-bit Q_Key');
    const pkeyIndex = opts.pkeyIndex === undefined ? undefined : this.pkeyIndex(op, 'o.pkeyIndex', opts.pkeyIndex);
    this.call('modifyUdQp', () => this.native.modifyUdQp(q, qkey, pkeyIndex), this.noSuchQp(op, q));
  }

  /** Destroys the QP and detaches it from every multicast group. */
  destroyQp(qpn: number): void {
    const op = 'SimEndpoint.destroyQp';
    const q = qpnArg(op, 'qpn', qpn);
    this.call('destroyQp', () => this.native.destroyQp(q), this.noSuchQp(op, q));
  }

  /** The QPs of this port, by QPN. */
  qps(): Array<{ qpn: number; qkey: number; pkeyIndex: number }> {
    return this.call('qps', () => this.native.qps());
  }

  /** Attaches a UD QP to a multicast group: packets to (MLID, MGID) with DestQP 0xFFFFFF reach it. */
  attachMulticast(qpn: number, mgid: Buffer, mlid: number): void {
    const op = 'SimEndpoint.attachMulticast';
    const q = qpnArg(op, 'qpn', qpn);
    const g = gidArg(op, 'mgid', mgid, true);
    const l = multicastLid(op, 'mlid', mlid);
    this.call('attachMulticast', () => this.native.attachMulticast(q, g, l), this.noSuchQp(op, q));
  }

  detachMulticast(qpn: number, mgid: Buffer, mlid: number): void {
    const op = 'SimEndpoint.detachMulticast';
    const q = qpnArg(op, 'qpn', qpn);
    const g = gidArg(op, 'mgid', mgid, true);
    const l = multicastLid(op, 'mlid', mlid);
    this.call('detachMulticast', () => this.native.detachMulticast(q, g, l), {
      ENOENT: () => new ArgumentError(op, 'mgid', g, `a group QP ${hex(q)} is attached to on MLID ${hex(l)}`),
    });
  }

  /**
   * Sends one UD packet per entry, in order, batched into one native call. Every entry is
   * checked before anything is sent. A send while the link is down or without a route is
   * counted (portXmitDiscards) rather than thrown: the port did its part.
   */
  postSendUd(qpn: number, sends: UdSend | UdSend[]): void {
    const op = 'SimEndpoint.postSendUd';
    const q = qpnArg(op, 'qpn', qpn);
    const list = Array.isArray(sends) ? sends : [sends];
    const desc = new Uint32Array(list.length * SEND_WORDS);
    const octets = new Uint8Array(desc.buffer);
    const payloads: Buffer[] = new Array<Buffer>(list.length);
    const mtu = this.mtuBytes;
    for (let i = 0; i < list.length; i++) {
      const at = Array.isArray(sends) ? `sends[${i}]` : 'sends';
      const s = objectArg(op, at, list[i]);
      const b = i * SEND_WORDS;
      desc[b + Sw.dlid] = uint(op, `${at}.dlid`, s.dlid, 1, LID_PERMISSIVE - 1, 'a unicast or multicast LID (1..0xfffe)');
      desc[b + Sw.dqpn] = uint(op, `${at}.dqpn`, s.dqpn, 0, MCAST_QPN, 'a 24-bit QPN');
      desc[b + Sw.qkey] = uint(op, `${at}.qkey`, s.qkey, 0, 0xffffffff, 'a 32-bit Q_Key');
      const payload = s.payload;
      if (!Buffer.isBuffer(payload)) throw new ArgumentError(op, `${at}.payload`, payload, 'a Buffer');
      if (payload.length > mtu) throw new MtuExceededError(op, payload.length, mtu);
      payloads[i] = payload;
      desc[b + Sw.sl] = s.sl === undefined ? 0 : uint(op, `${at}.sl`, s.sl, 0, 15, 'a service level from 0 to 15');
      desc[b + Sw.pkeyIndex] = s.pkeyIndex === undefined ? DEFAULT_PKEY_INDEX : this.pkeyIndex(op, `${at}.pkeyIndex`, s.pkeyIndex);
      let flags = 0;
      if (s.grh !== undefined) {
        const g = objectArg(op, `${at}.grh`, s.grh);
        octets.set(gidArg(op, `${at}.grh.dgid`, g.dgid), b * 4 + SEND_DGID_OCTET);
        desc[b + Sw.hopLimit] = g.hopLimit === undefined ? 0 : uint(op, `${at}.grh.hopLimit`, g.hopLimit, 0, 0xff);
        desc[b + Sw.tclass] = g.tclass === undefined ? 0 : uint(op, `${at}.grh.tclass`, g.tclass, 0, 0xff);
        desc[b + Sw.flowLabel] = g.flowLabel === undefined ? 0 : uint(op, `${at}.grh.flowLabel`, g.flowLabel, 0, 0xfffff);
        flags |= 1;
      }
      if (s.solicited !== undefined) {
        if (typeof s.solicited !== 'boolean') throw new ArgumentError(op, `${at}.solicited`, s.solicited, 'a boolean');
        if (s.solicited) flags |= 2;
      }
      if (s.immData !== undefined) {
        desc[b + Sw.immData] = uint(op, `${at}.immData`, s.immData, 0, 0xffffffff, 'a 32-bit value');
        flags |= 4;
      }
      desc[b + Sw.flags] = flags;
    }
    this.call('postSendUd', () => this.native.postSendUd(q, desc, payloads), {
      ...this.noSuchQp(op, q),
      EMSGSIZE: (e) => new MtuExceededError(op, Number(/(\d+) octets/.exec(e.message)?.[1] ?? NaN), mtu),
    });
  }

  /**
   * Sets (or with null removes) the one receive callback; it gets every accepted completion,
   * in batches. While a callback is set the endpoint keeps the process alive.
   */
  onReceive(cb: ReceiveCallback | null, o: ReceiveOptions = {}): void {
    const op = 'SimEndpoint.onReceive';
    if (cb !== null && typeof cb !== 'function') throw new ArgumentError(op, 'cb', cb, 'a function or null');
    const opts = objectArg(op, 'o', o);
    if (opts.raw !== undefined && typeof opts.raw !== 'boolean') throw new ArgumentError(op, 'o.raw', opts.raw, 'a boolean');
    this.requireOpen('onReceive');
    this.native.setDeliverRaw(opts.raw === true);
    if (cb !== null && this.receiver === null) this.native.ref();
    if (cb === null && this.receiver !== null) this.native.unref();
    this.receiver = cb;
  }

  /** Lets the process exit even while a receive callback is set (like socket.unref()). */
  unref(): void {
    if (!this.closed) this.native.unref();
  }

  /** Undoes unref(). */
  ref(): void {
    if (!this.closed) this.native.ref();
  }

  /** A snapshot of the counters (still readable after close()). */
  counters(): PortCounters {
    const raw = this.native.counters();
    const out = {} as PortCounters;
    for (const name of PORT_COUNTER_NAMES) out[name] = raw[name] ?? 0;
    return out;
  }

  resetCounters(): void {
    this.call('resetCounters', () => this.native.resetCounters());
  }

  /** Changes the egress faults; fields left out keep their value. */
  setFaults(o: FaultOptions): void {
    const op = 'SimEndpoint.setFaults';
    const opts = objectArg(op, 'o', o);
    let loss: number | undefined;
    if (opts.lossRate !== undefined) {
      if (typeof opts.lossRate !== 'number' || !(opts.lossRate >= 0 && opts.lossRate <= 1)) {
        throw new ArgumentError(op, 'o.lossRate', opts.lossRate, 'a number from 0 to 1');
      }
      loss = opts.lossRate;
    }
    const delay = opts.delayMs === undefined ? undefined : uint(op, 'o.delayMs', opts.delayMs, 0, MAX_DELAY_MS, `an integer from 0 to ${MAX_DELAY_MS}`);
    const seed = opts.seed === undefined ? undefined : uint(op, 'o.seed', opts.seed, 0, 0xffffffff, 'a uint32');
    this.call('setFaults', () => this.native.setFaults(loss, delay, seed));
  }

  /**
   * Mirrors every packet this port sends (before the loss fault: the port did send it) and/or
   * accepts, unchanged, to `udpPort` on 127.0.0.1 (a TapReceiver); null stops mirroring.
   */
  setTap(port: number | null, filter: TapFilter = {}): void {
    const op = 'SimEndpoint.setTap';
    const p = port === null ? 0 : udpPort(op, 'udpPort', port);
    const f = objectArg(op, 'filter', filter);
    const direction = f.direction === undefined ? 'both' : f.direction;
    if (typeof direction !== 'string' || !(direction in TAP_DIRECTIONS)) {
      throw new ArgumentError(op, 'filter.direction', direction, '"both", "send" or "receive"');
    }
    this.call('setTap', () => this.native.setTap(p, TAP_DIRECTIONS[direction as TapDirection]));
  }

  /**
   * Opens the RC side of this port (native-rc.ts): RC QPs that run inside the endpoint, their
   * events delivered to `onEvents` in batches. Once per endpoint; close() closes it too.
   */
  openRc(onEvents: (events: RcPortEvent[]) => void): SimRcPort {
    const op = 'SimEndpoint.openRc';
    if (typeof onEvents !== 'function') throw new ArgumentError(op, 'onEvents', onEvents, 'a function');
    this.requireOpen('openRc');
    if (this.rcPort !== null) throw new StateError(op, 'RC port already open');
    this.rcPort = SimRcPort.open(this.native, { mtuCode: () => this.mtuCodeNow, pkeyCount: () => this.pkeysNow.length }, onEvents);
    return this.rcPort;
  }

  /** Stops the receive thread, closes the socket and the delivery channels; idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.receiver = null;
      await this.rcPort?.close();
      await this.native.close();
    })();
    return this.closing;
  }

  private dispatch(meta: Uint32Array, data: Buffer): void {
    const cb = this.receiver;
    if (cb === null || this.closed) return;
    cb(decodeBatch(meta, data));
  }

  private pkeyIndex(op: string, arg: string, v: unknown): number {
    return uint(op, arg, v, 0, this.pkeysNow.length - 1, `an index into the ${this.pkeysNow.length}-entry P_Key table`);
  }

  private noSuchQp(op: string, qpn: number): Record<string, (e: NativeError) => Error> {
    return { ENOENT: () => new ArgumentError(op, 'qpn', qpn, 'the QPN of a QP of this port') };
  }

  private requireOpen(op: string): void {
    if (this.closed) throw new StateError(`SimEndpoint.${op}`, 'closed');
  }

  /** One native call; native failures with a known code become the typed error `typed` names. */
  private call<T>(op: string, fn: () => T, typed: Record<string, (e: NativeError) => Error> = {}): T {
    this.requireOpen(op);
    try {
      return callNative(op, fn);
    } catch (e) {
      if (e instanceof NativeError && e.code !== undefined) {
        const make = typed[e.code];
        if (make) throw make(e);
        if (e.code === 'EBADF') throw new StateError(`SimEndpoint.${op}`, 'closed');
      }
      throw e;
    }
  }
}
