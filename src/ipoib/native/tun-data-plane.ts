/**
 * The IPoIB fast path (native/src/tun/data_plane.h): a Linux TUN device on one side, one UD QP
 * of a simulated-fabric port on the other (and in connected mode the RC QPs the control plane
 * attaches), C++ threads in between, no JavaScript per packet.
 *
 * - TX: the host's IP packets are read in batches, looked up in the neighbour table this class
 *   fills (`setNeighbour`, `setMulticast`), given the 4-octet IPoIB header and posted on the
 *   QP with the interface's Q_Key and P_Key index.
 * - RX: frames on the QP are checked (our own multicast coming back is dropped unless
 *   `deliverOwnMulticast`), and IPv4/IPv6 packets written to the TUN device.
 * - Connected mode (RFC 4755, native/src/tun/rc_path.h): `attachRc(qpn)` hands an RC QP the
 *   control plane connected to the data plane, which then keeps its receive buffers posted and
 *   handles what arrives like UD frames; a neighbour entry with `rc` sends its unicast IP
 *   packets as RC SENDs on that QP, one with `connecting` punts them as 'rc-pending'. `udMtu`
 *   bounds what goes over UD (connected mode: the group's MTU, under a host MTU of 65520).
 *   A QP that fails (a send error, ERROR) is punted once as `{ direction: 'rc' }`.
 * - Anything else is punted to `onPunt` in batches with a reason: unresolved neighbours,
 *   groups not joined, too-big packets, Neighbor Discovery both ways, ARP and unknown
 *   EtherTypes from the fabric. The control plane decides, and may finish the job with
 *   `sendUd()` / `sendRc()` (a frame it built) or `injectToHost()` (a packet for the host).
 *
 * The TUN device is created (in `netns` when given), gets `mtu` and is brought up by open();
 * addresses and routes are the caller's (`ip addr add`). close() stops the threads and removes
 * the device.
 *
 * Like SimEndpoint, an instance keeps the process alive only while a punt callback is set;
 * always `await close()`.
 */
import { boolArg, gidArg, hex, multicastLid, objectArg, optionalUint, uint, unicastLid } from '../../native/arg-checks.js';
import { isIPv4, isIPv6 } from 'node:net';
import { ArgumentError, MtuExceededError, NativeError, RcSendQueueFullError, StateError } from '../../errors.js';
import type { RcSendStatus, UdDestination } from '../../fabric/hca.js';
import type { SimEndpoint } from '../../fabric/sim/native-endpoint.js';
import {
  callNative,
  loadNative,
  type NativeBinding,
  type NativeTunDataPlane,
  type NativeTunGrh,
} from '../../native/addon.js';
import {
  ETH_P_ARP,
  ETH_P_IP,
  ETH_P_IPV6,
  GID_LEN,
  IPOIB_CM_MTU,
  IPOIB_HEADER_LEN,
  IPV4_MIN_MTU,
  LID_MULTICAST_BASE,
  LID_PERMISSIVE,
  MCAST_QPN,
  QPN_MASK,
} from '../../wire/constants.js';
import { formatIpv4, formatIpv6, parseIpv4, parseIpv6 } from '../../wire/ip-text.js';
import { Defects } from '../defects.js';

/** Counter names, in native order (native/src/tun/data_plane_counters.h says what each counts). */
export const TUN_COUNTER_NAMES = [
  'rx_packets',
  'tx_packets',
  'rx_bytes',
  'tx_bytes',
  'tx_errors',
  'rx_dropped',
  'tx_dropped',
  'multicast',
  'tx_punt_no_neighbour',
  'tx_punt_no_group',
  'tx_punt_too_big',
  'tx_punt_not_ip',
  'tx_punt_malformed',
  'tx_punt_nd',
  'tx_drop_punt_queue_full',
  'tx_batches',
  'rx_punt_arp',
  'rx_punt_nd',
  'rx_punt_other_type',
  'rx_drop_short',
  'rx_drop_bad_ip',
  'rx_drop_own_echo',
  'rx_drop_punt_queue_full',
  'rx_drop_host_write',
  'rx_reserved_nonzero',
  'host_read_errors',
  'host_injected_packets',
  'host_injected_bytes',
  'rc_tx_packets',
  'rc_tx_bytes',
  'rc_rx_packets',
  'rc_rx_bytes',
  'rc_tx_errors',
  'rc_tx_punt_pending',
  'rc_tx_queue_full',
] as const;
export type TunCounterName = (typeof TUN_COUNTER_NAMES)[number];
/**
 * The first eight are the kernel ib_ipoib's `ethtool -S` names and count UD and RC traffic
 * alike (rc_* the RC part); octet counters count IPoIB frames (4-octet header + IP packet). A
 * packet punted 'too-big' against the UD MTU or an RC connection's also counts in tx_dropped
 * and tx_errors, as the kernel's PMTU emulation counts it.
 */
export type TunCounters = Record<TunCounterName, number>;

/**
 * Why a packet from the host was punted. 'too-big': longer than the host MTU, the UD MTU (UD
 * neighbours, groups) or the RC connection's (`limit` says which); 'rc-pending': the
 * neighbour's RC connection is not ready (`connecting`).
 */
export type TxPuntReason = 'no-neighbour' | 'no-group' | 'too-big' | 'not-ip' | 'malformed' | 'nd' | 'rc-pending';
/** Why a frame from the fabric was punted. */
export type RxPuntReason = 'arp' | 'nd' | 'other-type';

/** A packet the host sent that the fast path left to JS. */
export interface TxPunt {
  direction: 'tx';
  reason: TxPuntReason;
  /** The IP packet as the host sent it. */
  packet: Buffer;
  /** 'too-big': the largest IP packet the path takes (host MTU, UD MTU, or the connection's MTU − 4). */
  limit?: number;
}

/** A frame from the fabric that the fast path left to JS, with where it came from. */
export interface RxPunt {
  direction: 'rx';
  reason: RxPuntReason;
  /** The whole IPoIB frame: the 4-octet header (EtherType, reserved) and its payload. */
  frame: Buffer;
  etherType: number;
  slid: number;
  dlid: number;
  srcQpn: number;
  sl: number;
  pkey: number;
  /** 0 for frames that came over RC. */
  qkey: number;
  /** Present when the frame came with a GRH (always for multicast; over RC when the QP's path has one). */
  grh?: { sgid: Buffer; dgid: Buffer };
  /** 'rc': it came over the attached RC QP `rcQpn` (slid, srcQpn, sl, pkey are the connection's). */
  via: 'ud' | 'rc';
  rcQpn?: number;
}

/**
 * An attached RC QP failed: a send completed with an error (`status`) and/or the QP went to
 * ERROR. Punted once per attachment; the QP stays attached until detachRc().
 */
export interface RcPunt {
  direction: 'rc';
  qpn: number;
  event: 'error';
  /** The failed send's status, when a send failed (not for a QP moved to ERROR by a modify). */
  status?: RcSendStatus;
  /** The transition's reason as the fabric spells it: 'retry-exceeded', 'modify', ... ('error-before-attach' when attachRc found it in ERROR). */
  reason: string;
  /** What happened, in words (may be empty). */
  detail: string;
}

export type TunPunt = TxPunt | RxPunt | RcPunt;
/** Gets every punt, in batches; Buffers of one batch share one backing store owned by JS. */
export type PuntCallback = (batch: TunPunt[]) => void;

/** The GRH a send carries. */
export interface TunGrh {
  dgid: Buffer;
  /** Default 0. */
  hopLimit?: number;
  /** Default 0. */
  trafficClass?: number;
  /** Default 0. */
  flowLabel?: number;
}

/** Where a unicast IP address lives on the fabric: its peer's link-layer address, resolved. */
export interface NeighbourEntry {
  /** The peer port's LID, 1..0xbfff. */
  dlid: number;
  /** The peer interface's QPN (octets 1-3 of its link-layer address). */
  dqpn: number;
  /** The flags octet of its link-layer address (default 0); datagram mode sends UD whatever it says. */
  flags?: number;
  /** Service level, default 0. */
  sl?: number;
  /** Send with a GRH to this DGID (e.g. another subnet); default none. */
  grh?: TunGrh;
  /**
   * Connected mode: send unicast IP packets as one RC SEND each on the attached RC QP `qpn`,
   * while 4 + length <= `mtu` (the connection's limit, IPoIB header included: the peer's
   * private-data MTU, normally 65524); longer ones punt 'too-big' with limit mtu − 4.
   */
  rc?: { qpn: number; mtu: number };
  /** The RC connection is not ready: unicast IP packets punt 'rc-pending' (whatever `rc` says). Default false. */
  connecting?: boolean;
}

/** The multicast group an IP group address (or a broadcast address) maps to. */
export interface MulticastEntry {
  /** 0xc000..0xfffe. */
  mlid: number;
  /** The group's MGID (first octet 0xff). */
  mgid: Buffer;
  /** Service level, default 0. */
  sl?: number;
  /** GRH fields, default 0. */
  hopLimit?: number;
  trafficClass?: number;
  flowLabel?: number;
}

/** A destination for sendUd: the fabric API's UdDestination with the Q_Key defaulting to the interface's. */
export type TunUdDestination = Omit<UdDestination, 'qkey'> & { qkey?: number };

export interface TunDataPlaneOptions {
  /** The TUN interface's name: 1 to 15 of A-Z a-z 0-9 _ . - (e.g. "ib0"), not "." or "..". */
  ifname: string;
  /** The port; its LID and GID recognise our own frames coming back. */
  endpoint: SimEndpoint;
  /** The interface's UD QP on `endpoint` (created by the control plane); its receive handler becomes the data plane. */
  qpn: number;
  /** Q_Key of every send (the broadcast group's); setQkey() changes it. */
  qkey: number;
  /** P_Key index of every send. */
  pkeyIndex: number;
  /**
   * Interface MTU, the TUN device's: 68 to the port MTU - 4 while the UD MTU follows it
   * (datagram mode), up to 65520 when `udMtu` is given (connected mode). Longer host packets
   * are punted as 'too-big'.
   */
  mtu: number;
  /**
   * The largest IP packet sent over UD (UD neighbours, multicast, broadcast): 68 to the port
   * MTU - 4 (2044 on a 2048 port). Default: follows `mtu` (datagram mode), which then must fit;
   * once given (here or with setUdMtu()) it no longer follows.
   */
  udMtu?: number;
  /** An `ip netns` name, or a namespace file path (absolute): the device is created there. Default: ours. */
  netns?: string;
  /** Bring the link up after setting the MTU; default true. */
  up?: boolean;
  /** Frames to this MGID do not count in `multicast` (like the kernel's counter). Default: every multicast counts. */
  broadcastMgid?: Buffer;
  /** Deliver our own frames that come back (multicast echo) instead of dropping them; default false. */
  deliverOwnMulticast?: boolean;
  /**
   * TEST ONLY: the interface's seeded defects the fast path commits too (src/ipoib/defects.ts):
   * `mcast-echo` delivers our own frames, `header-reserved-set` sends 0x0001 in the header's
   * reserved field. Default none.
   */
  defects?: Defects;
}

/** Seeded defect header-reserved-set: the reserved field the fast path writes. */
const DEFECT_HEADER_RESERVED = 0x0001;

/** TEST ONLY: what a loopback data plane's host side offers (the test plays the kernel). */
export interface LoopbackHost {
  /** As if the host sent `packet` out of the interface. */
  send(packet: Buffer): void;
  /** The packets the data plane wrote to the host since the last call. */
  receive(): Buffer[];
  /** The MTU and carrier the data plane set on its host side. */
  state(): { mtu: number; carrier: boolean };
}

const PUNT_WORDS = 13;
const enum Pw {
  reason,
  dataOffset,
  len,
  slid,
  dlid,
  srcQp,
  sl,
  pkey,
  qkey,
  /** bit 0: GRH octets first; bit 1: came over RC. */
  flags,
  limit,
  rcQpn,
  /** 1 + the index in RC_SEND_STATUSES; 0 for none. */
  rcStatus,
}
const REASONS: ReadonlyArray<{ name: string; direction: 'tx' | 'rx' | 'rc' }> = [
  { name: 'no-neighbour', direction: 'tx' },
  { name: 'no-group', direction: 'tx' },
  { name: 'too-big', direction: 'tx' },
  { name: 'not-ip', direction: 'tx' },
  { name: 'malformed', direction: 'tx' },
  { name: 'nd', direction: 'tx' },
  { name: 'arp', direction: 'rx' },
  { name: 'nd', direction: 'rx' },
  { name: 'other-type', direction: 'rx' },
  { name: 'rc-pending', direction: 'tx' },
  { name: 'error', direction: 'rc' },
];
/** RC send statuses in native order (native/src/sim/rc_qp.h RcSendStatus). */
const RC_SEND_STATUSES: readonly RcSendStatus[] = [
  'success',
  'retry-exceeded',
  'rnr-retry-exceeded',
  'remote-invalid-request',
  'remote-access-error',
  'remote-operational-error',
  'flushed',
];
/** The work request IDs of the data plane's RC sends carry bit 52 (native/src/tun/rc_path.h). */
const RC_WR_ID_TAG = 2 ** 52;
/** Receive buffers attachRc keeps posted on a QP by default. */
export const TUN_RC_RECV_DEPTH = 64;
const IFNAME_RE = /^[A-Za-z0-9_.-]{1,15}$/;
const NETNS_NAME_RE = /^[A-Za-z0-9_.-]{1,64}$/;
const NETNS_DIR = '/run/netns';

let checkedBinding: NativeBinding | undefined;

/** The binding, once checked to agree with this file on counters, reasons, layout and constants. */
function binding(): NativeBinding {
  if (checkedBinding) return checkedBinding;
  const native = loadNative();
  if (typeof native.openTunDataPlane !== 'function') {
    throw new NativeError('the native addon has no openTunDataPlane: rebuild it (npm run build:native)', 'load');
  }
  const l = native.tunDataPlaneLayout;
  const agrees =
    native.tunDataPlaneCounterNames.join(',') === TUN_COUNTER_NAMES.join(',') &&
    JSON.stringify(native.tunPuntReasons) === JSON.stringify(REASONS) &&
    l.puntWords === PUNT_WORDS &&
    l.ethPIp === ETH_P_IP &&
    l.ethPArp === ETH_P_ARP &&
    l.ethPIpv6 === ETH_P_IPV6 &&
    l.ipoibHeaderLen === IPOIB_HEADER_LEN &&
    l.rcWrIdTag === RC_WR_ID_TAG &&
    JSON.stringify(l.rcSendStatuses) === JSON.stringify(RC_SEND_STATUSES);
  if (!agrees) throw new NativeError('the native TUN data plane disagrees with tun-data-plane.ts on counters, reasons or layout: rebuild it', 'load');
  checkedBinding = native;
  return native;
}

// ---- validation helpers (each throws ArgumentError naming the argument; shared ones in src/native/arg-checks.ts)

function grhArg(op: string, arg: string, v: unknown, multicast: boolean): NativeTunGrh {
  const g = objectArg(op, arg, v);
  return {
    dgid: Buffer.from(gidArg(op, `${arg}.dgid`, g.dgid, multicast)),
    hopLimit: optionalUint(op, `${arg}.hopLimit`, g.hopLimit, 0xff, 'an integer from 0 to 255'),
    tclass: optionalUint(op, `${arg}.trafficClass`, g.trafficClass, 0xff, 'an integer from 0 to 255'),
    flowLabel: optionalUint(op, `${arg}.flowLabel`, g.flowLabel, 0xfffff, 'a 20-bit flow label'),
  };
}

/** IPv4 dotted-quad or IPv6 text to its 4 or 16 octets. */
function ipArg(op: string, arg: string, v: unknown): Buffer {
  if (typeof v === 'string' && isIPv4(v)) return parseIpv4(v);
  if (typeof v === 'string' && isIPv6(v) && !v.includes('%')) return parseIpv6(v);
  throw new ArgumentError(op, arg, v, 'an IPv4 or IPv6 address in text form (no zone)');
}

/** Largest RC message the sim's engine takes (2^31 octets). */
const RC_MAX_MESSAGE_BYTES = 2 ** 31;

function mtuRange(udMtuSet: boolean, udMax: number): string {
  return udMtuSet
    ? `an MTU from ${IPV4_MIN_MTU} to ${IPOIB_CM_MTU}`
    : `an MTU from ${IPV4_MIN_MTU} to ${udMax} (the port MTU - 4; up to ${IPOIB_CM_MTU} once a UD MTU is set)`;
}

function rcArg(op: string, v: unknown): { qpn: number; mtu: number } {
  const rc = objectArg(op, 'entry.rc', v);
  return {
    qpn: uint(op, 'entry.rc.qpn', rc.qpn, 1, QPN_MASK - 1, 'a QPN from 1 to 0xfffffe'),
    mtu: uint(op, 'entry.rc.mtu', rc.mtu, IPOIB_HEADER_LEN + 1, 0xffffffff, `the connection's MTU, ${IPOIB_HEADER_LEN + 1} or more (IPoIB header included)`),
  };
}

function netnsPath(op: string, v: unknown): string {
  if (v === undefined) return '';
  if (typeof v === 'string' && v.startsWith('/') && !v.includes('\0')) return v;
  if (typeof v === 'string' && NETNS_NAME_RE.test(v) && v !== '.' && v !== '..') return `${NETNS_DIR}/${v}`;
  throw new ArgumentError(op, 'o.netns', v, 'an `ip netns` name or an absolute namespace file path');
}

/** The punts of one native batch as objects; Buffers are views of the batch's one Buffer. */
function decodePunts(meta: Uint32Array, data: Buffer): TunPunt[] {
  const n = meta.length / PUNT_WORDS;
  const out: TunPunt[] = [];
  const w = (i: number): number => meta[i] ?? 0;
  for (let i = 0; i < n; i++) {
    const b = i * PUNT_WORDS;
    const reason = REASONS[w(b + Pw.reason)];
    if (reason === undefined) continue; // cannot happen with a binding that passed binding()
    let at = w(b + Pw.dataOffset);
    let grh: { sgid: Buffer; dgid: Buffer } | undefined;
    if (w(b + Pw.flags) & 1) {
      grh = { sgid: data.subarray(at, at + GID_LEN), dgid: data.subarray(at + GID_LEN, at + 2 * GID_LEN) };
      at += 2 * GID_LEN;
    }
    const octets = data.subarray(at, at + w(b + Pw.len));
    if (reason.direction === 'tx') {
      const tx: TxPunt = { direction: 'tx', reason: reason.name as TxPuntReason, packet: octets };
      if (tx.reason === 'too-big') tx.limit = w(b + Pw.limit);
      out.push(tx);
      continue;
    }
    if (reason.direction === 'rc') {
      const text = octets.toString('utf8');
      const nul = text.indexOf('\0');
      const rc: RcPunt = {
        direction: 'rc',
        qpn: w(b + Pw.rcQpn),
        event: 'error',
        reason: nul < 0 ? text : text.slice(0, nul),
        detail: nul < 0 ? '' : text.slice(nul + 1),
      };
      const status = RC_SEND_STATUSES[w(b + Pw.rcStatus) - 1];
      if (status !== undefined) rc.status = status;
      out.push(rc);
      continue;
    }
    const p: RxPunt = {
      direction: 'rx',
      reason: reason.name as RxPuntReason,
      frame: octets,
      etherType: octets.length >= 2 ? octets.readUInt16BE(0) : 0,
      slid: w(b + Pw.slid),
      dlid: w(b + Pw.dlid),
      srcQpn: w(b + Pw.srcQp),
      sl: w(b + Pw.sl),
      pkey: w(b + Pw.pkey),
      qkey: w(b + Pw.qkey),
      via: w(b + Pw.flags) & 2 ? 'rc' : 'ud',
    };
    if (p.via === 'rc') p.rcQpn = w(b + Pw.rcQpn);
    if (grh) p.grh = grh;
    out.push(p);
  }
  return out;
}

export class TunDataPlane {
  private callback: PuntCallback | null = null;
  private closing: Promise<void> | null = null;
  private qkeyNow: number;
  private mtuNow: number;
  private udMtuNow: number;
  /** Datagram mode: the UD MTU is the interface MTU, and setMtu() moves both. */
  private udMtuFollows: boolean;

  private constructor(
    private readonly native: NativeTunDataPlane,
    private readonly endpoint: SimEndpoint,
    opts: { qkey: number; mtu: number; udMtu: number; udMtuFollows: boolean },
    /** The interface name the kernel gave the device ("" for a loopback host). */
    readonly ifname: string,
    /** The interface's QPN. */
    readonly qpn: number,
  ) {
    this.qkeyNow = opts.qkey;
    this.mtuNow = opts.mtu;
    this.udMtuNow = opts.udMtu;
    this.udMtuFollows = opts.udMtuFollows;
  }

  /**
   * Creates the TUN device, sets its MTU, brings it up and starts the data plane. Needs
   * CAP_NET_ADMIN (and CAP_SYS_ADMIN with `netns`); failures are NativeError with the system
   * call (`op`) and errno `code` (e.g. EPERM, EBUSY for a name in use).
   */
  static open(o: TunDataPlaneOptions): TunDataPlane {
    const op = 'TunDataPlane.open';
    const opts = objectArg(op, 'o', o);
    const ifname = opts.ifname;
    if (typeof ifname !== 'string' || !IFNAME_RE.test(ifname) || ifname === '.' || ifname === '..') {
      throw new ArgumentError(op, 'o.ifname', ifname, 'an interface name of 1 to 15 of A-Z a-z 0-9 _ . - (not "." or "..")');
    }
    return TunDataPlane.start(op, 'tun', opts, ifname, netnsPath(op, opts.netns), boolArg(op, 'o.up', opts.up, true));
  }

  /**
   * TEST ONLY: the same data plane over a socket pair instead of a TUN device, so it runs
   * without privileges; `host` plays the kernel's side.
   */
  static openLoopback(o: Omit<TunDataPlaneOptions, 'ifname' | 'netns' | 'up'>): { plane: TunDataPlane; host: LoopbackHost } {
    const op = 'TunDataPlane.openLoopback';
    const plane = TunDataPlane.start(op, 'loopback', objectArg(op, 'o', o), '', '', true);
    const host: LoopbackHost = {
      send: (packet) => {
        if (!Buffer.isBuffer(packet)) throw new ArgumentError('LoopbackHost.send', 'packet', packet, 'a Buffer');
        plane.call('loopbackWrite', () => plane.native.loopbackWrite(packet));
      },
      receive: () => plane.call('loopbackRead', () => plane.native.loopbackRead()),
      state: () => plane.call('loopbackState', () => plane.native.loopbackState()),
    };
    return { plane, host };
  }

  private static start(op: string, host: 'tun' | 'loopback', opts: Record<string, unknown>, ifname: string, netns: string, up: boolean): TunDataPlane {
    const endpoint = opts.endpoint as SimEndpoint | undefined;
    if (typeof endpoint !== 'object' || endpoint === null || typeof (endpoint as { nativeHandle?: unknown }).nativeHandle !== 'object') {
      throw new ArgumentError(op, 'o.endpoint', endpoint, 'a SimEndpoint');
    }
    if (endpoint.closed) throw new StateError(`${op} (endpoint)`, 'closed');
    const qpn = uint(op, 'o.qpn', opts.qpn, 2, QPN_MASK - 1, 'a UD QPN from 2 to 0xfffffe');
    if (!endpoint.qps().some((q) => q.qpn === qpn)) throw new ArgumentError(op, 'o.qpn', qpn, 'the QPN of a UD QP of the endpoint');
    const qkey = uint(op, 'o.qkey', opts.qkey, 0, 0xffffffff, 'a 32-bit Q_Key');
    const pkeyCount = endpoint.pkeys.length;
    const pkeyIndex = uint(op, 'o.pkeyIndex', opts.pkeyIndex, 0, pkeyCount - 1, `an index into the ${pkeyCount}-entry P_Key table`);
    const udMax = endpoint.mtuBytes - IPOIB_HEADER_LEN;
    const udGiven = opts.udMtu !== undefined;
    const udMtuArg = udGiven ? uint(op, 'o.udMtu', opts.udMtu, IPV4_MIN_MTU, udMax, `an MTU from ${IPV4_MIN_MTU} to ${udMax} (the port MTU - 4)`) : undefined;
    const mtu = uint(op, 'o.mtu', opts.mtu, IPV4_MIN_MTU, udGiven ? IPOIB_CM_MTU : udMax, mtuRange(udGiven, udMax));
    const udMtu = udMtuArg ?? mtu;
    const broadcastMgid = opts.broadcastMgid === undefined ? null : gidArg(op, 'o.broadcastMgid', opts.broadcastMgid, true);
    const defects = opts.defects === undefined ? Defects.NONE : opts.defects;
    if (!(defects instanceof Defects)) throw new ArgumentError(op, 'o.defects', defects, 'a Defects value');
    const deliverOwnMulticast = boolArg(op, 'o.deliverOwnMulticast', opts.deliverOwnMulticast, false) || defects.has('mcast-echo');
    const txHeaderReserved = defects.has('header-reserved-set') ? DEFECT_HEADER_RESERVED : 0;
    const native = binding();
    // The deliver callback must reach the instance, which exists only after the native call.
    let self: TunDataPlane | undefined;
    let handle: NativeTunDataPlane;
    try {
      handle = callNative('openTunDataPlane', () =>
        native.openTunDataPlane(
          {
            host,
            ifname,
            netns,
            up,
            endpoint: endpoint.nativeHandle,
            qpn,
            qkey,
            pkeyIndex,
            mtu,
            udMtu,
            localLid: endpoint.lid,
            localGid: endpoint.gid,
            broadcastMgid,
            deliverOwnMulticast,
            txHeaderReserved,
          },
          (meta, data) => self?.dispatch(meta, data),
        ),
      );
    } catch (e) {
      // The QP went away between the check above and the native call.
      if (e instanceof NativeError && e.code === 'ENOENT' && e.op === 'openTunDataPlane') {
        throw new ArgumentError(op, 'o.qpn', qpn, 'the QPN of a UD QP of the endpoint');
      }
      throw e;
    }
    self = new TunDataPlane(handle, endpoint, { qkey, mtu, udMtu, udMtuFollows: !udGiven }, handle.ifname, qpn);
    return self;
  }

  get closed(): boolean {
    return this.closing !== null;
  }
  get qkey(): number {
    return this.qkeyNow;
  }
  get mtu(): number {
    return this.mtuNow;
  }
  /** The largest IP packet sent over UD. */
  get udMtu(): number {
    return this.udMtuNow;
  }

  /** Adds or replaces the neighbour entry of a unicast IP address. */
  setNeighbour(ip: string, entry: NeighbourEntry): void {
    const op = 'TunDataPlane.setNeighbour';
    const key = ipArg(op, 'ip', ip);
    const e = objectArg(op, 'entry', entry);
    const n = {
      dlid: unicastLid(op, 'entry.dlid', e.dlid),
      dqpn: uint(op, 'entry.dqpn', e.dqpn, 1, QPN_MASK - 1, 'a QPN from 1 to 0xfffffe'),
      flags: optionalUint(op, 'entry.flags', e.flags, 0xff, 'an octet'),
      sl: optionalUint(op, 'entry.sl', e.sl, 15, 'a service level from 0 to 15'),
      grh: e.grh === undefined ? null : grhArg(op, 'entry.grh', e.grh, false),
      rc: e.rc === undefined ? null : rcArg(op, e.rc),
      connecting: boolArg(op, 'entry.connecting', e.connecting, false),
    };
    this.call('setNeighbour', () => this.native.setNeighbour(key, n));
  }

  /** Removes a neighbour entry; false when there was none. */
  deleteNeighbour(ip: string): boolean {
    const key = ipArg('TunDataPlane.deleteNeighbour', 'ip', ip);
    return this.call('deleteNeighbour', () => this.native.deleteNeighbour(key));
  }

  /**
   * Maps a multicast IP group to its IB group. A broadcast address (255.255.255.255, or a
   * subnet's) mapped here is sent to the group too.
   */
  setMulticast(ip: string, entry: MulticastEntry): void {
    const op = 'TunDataPlane.setMulticast';
    const key = ipArg(op, 'ip', ip);
    const e = objectArg(op, 'entry', entry);
    const g = {
      mlid: multicastLid(op, 'entry.mlid', e.mlid),
      sl: optionalUint(op, 'entry.sl', e.sl, 15, 'a service level from 0 to 15'),
      grh: {
        dgid: gidArg(op, 'entry.mgid', e.mgid, true),
        hopLimit: optionalUint(op, 'entry.hopLimit', e.hopLimit, 0xff, 'an integer from 0 to 255'),
        tclass: optionalUint(op, 'entry.trafficClass', e.trafficClass, 0xff, 'an integer from 0 to 255'),
        flowLabel: optionalUint(op, 'entry.flowLabel', e.flowLabel, 0xfffff, 'a 20-bit flow label'),
      },
    };
    this.call('setMulticast', () => this.native.setMulticast(key, g));
  }

  /** Removes a group entry; false when there was none. */
  deleteMulticast(ip: string): boolean {
    const key = ipArg('TunDataPlane.deleteMulticast', 'ip', ip);
    return this.call('deleteMulticast', () => this.native.deleteMulticast(key));
  }

  /** How many neighbour and group entries the table holds. */
  tableSizes(): { neighbours: number; groups: number } {
    return this.call('tableSizes', () => this.native.tableSizes());
  }

  /**
   * The IP addresses (text) of the neighbour and group entries the fast path sent to since the
   * last call; each entry's mark is cleared. The control plane refreshes their age from it.
   */
  takeUsed(): { neighbours: string[]; groups: string[] } {
    const used = this.call('takeUsed', () => this.native.takeUsed());
    const text = (b: Buffer): string => (b.length === 4 ? formatIpv4(b) : formatIpv6(b));
    return { neighbours: used.neighbours.map(text), groups: used.groups.map(text) };
  }

  /**
   * Sets (or with null removes) the one punt callback. While one is set the data plane keeps
   * the process alive; punts with no callback set are dropped when they arrive in JS.
   */
  onPunt(cb: PuntCallback | null): void {
    if (cb !== null && typeof cb !== 'function') throw new ArgumentError('TunDataPlane.onPunt', 'cb', cb, 'a function or null');
    this.requireOpen('onPunt');
    if (cb !== null && this.callback === null) this.native.ref();
    if (cb === null && this.callback !== null) this.native.unref();
    this.callback = cb;
  }

  /** Writes one IP packet to the host (e.g. an ICMP error JS built, or a punted packet it accepts). */
  injectToHost(packet: Buffer): void {
    const op = 'TunDataPlane.injectToHost';
    if (!Buffer.isBuffer(packet) || packet.length === 0) throw new ArgumentError(op, 'packet', packet, 'a non-empty Buffer');
    const version = (packet[0] ?? 0) >> 4;
    if (version !== 4 && version !== 6) throw new ArgumentError(op, 'packet', packet, 'an IPv4 or IPv6 packet (version nibble 4 or 6)');
    if (packet.length > this.mtuNow) throw new MtuExceededError(op, packet.length, this.mtuNow);
    this.call('injectToHost', () => this.native.injectToHost(packet));
  }

  /**
   * Sends one IPoIB frame JS built (header included: an ARP reply, a resolved punted packet)
   * on the interface's QP with its P_Key index; the Q_Key defaults to the interface's.
   * Counted in tx_packets/tx_bytes like the fast path's frames.
   */
  sendUd(dest: TunUdDestination, ipoibFrame: Buffer): void {
    const op = 'TunDataPlane.sendUd';
    const d = objectArg(op, 'dest', dest);
    const dlid = uint(op, 'dest.dlid', d.dlid, 1, LID_PERMISSIVE - 1, 'a unicast or multicast LID (1..0xfffe)');
    const multicast = dlid >= LID_MULTICAST_BASE;
    const dqpn = uint(op, 'dest.dqpn', d.dqpn, 0, MCAST_QPN, 'a 24-bit QPN');
    if (multicast && dqpn !== MCAST_QPN) throw new ArgumentError(op, 'dest.dqpn', dqpn, `${hex(MCAST_QPN)} for a multicast LID`);
    if (multicast && d.grh === undefined) throw new ArgumentError(op, 'dest.grh', d.grh, 'a GRH with the MGID for a multicast LID');
    const native = {
      dlid,
      dqpn,
      qkey: d.qkey === undefined ? this.qkeyNow : uint(op, 'dest.qkey', d.qkey, 0, 0xffffffff, 'a 32-bit Q_Key'),
      sl: optionalUint(op, 'dest.sl', d.sl, 15, 'a service level from 0 to 15'),
      grh: d.grh === undefined ? null : grhArg(op, 'dest.grh', d.grh, multicast),
    };
    if (!Buffer.isBuffer(ipoibFrame) || ipoibFrame.length < IPOIB_HEADER_LEN) {
      throw new ArgumentError(op, 'ipoibFrame', ipoibFrame, `a Buffer of at least ${IPOIB_HEADER_LEN} octets (the IPoIB header)`);
    }
    const portMtu = this.endpoint.mtuBytes;
    if (ipoibFrame.length > portMtu) throw new MtuExceededError(op, ipoibFrame.length, portMtu);
    this.call('sendUd', () => this.native.sendUd(native, ipoibFrame), {
      EMSGSIZE: () => new MtuExceededError(op, ipoibFrame.length, this.endpoint.mtuBytes),
      ENOENT: () => new StateError(`${op} (QP ${hex(this.qpn)} is gone)`, 'no-qp'),
    });
  }

  /** A snapshot of the counters (still readable after close()). */
  counters(): TunCounters {
    const raw = this.native.counters();
    const out = {} as TunCounters;
    for (const name of TUN_COUNTER_NAMES) out[name] = raw[name] ?? 0;
    return out;
  }

  /** The Q_Key of every later send (e.g. after a rejoin with a new group record). The QP's own Q_Key is the control plane's. */
  setQkey(qkey: number): void {
    const v = uint('TunDataPlane.setQkey', 'qkey', qkey, 0, 0xffffffff, 'a 32-bit Q_Key');
    this.call('setQkey', () => this.native.setQkey(v));
    this.qkeyNow = v;
  }

  /**
   * The interface MTU: the TUN device's and the limit of the TX fast path. While the UD MTU
   * follows it (datagram mode: no `udMtu` at open, no setUdMtu() since) it sets that too and
   * must fit the port; otherwise it may go up to 65520 (connected mode).
   */
  setMtu(mtu: number): void {
    const udMax = this.endpoint.mtuBytes - IPOIB_HEADER_LEN;
    const follows = this.udMtuFollows;
    const v = uint('TunDataPlane.setMtu', 'mtu', mtu, IPV4_MIN_MTU, follows ? udMax : IPOIB_CM_MTU, mtuRange(!follows, udMax));
    this.call('setMtu', () => this.native.setMtu(v));
    this.mtuNow = v;
    if (follows) {
      this.call('setUdMtu', () => this.native.setUdMtu(v));
      this.udMtuNow = v;
    }
  }

  /**
   * The largest IP packet sent over UD (UD neighbours, multicast, broadcast), 68 to the port
   * MTU - 4; longer ones punt 'too-big' with this limit. From now on it no longer follows setMtu().
   */
  setUdMtu(mtu: number): void {
    const max = this.endpoint.mtuBytes - IPOIB_HEADER_LEN;
    const v = uint('TunDataPlane.setUdMtu', 'mtu', mtu, IPV4_MIN_MTU, max, `an MTU from ${IPV4_MIN_MTU} to ${max} (the port MTU - 4)`);
    this.call('setUdMtu', () => this.native.setUdMtu(v));
    this.udMtuNow = v;
    this.udMtuFollows = false;
  }

  /**
   * Hands the RC QP `qpn` of the endpoint (connected by the control plane, e.g. through
   * HcaPort.connectRc/listenRc) to the data plane: its events no longer reach the JS RcQp.
   * The data plane keeps `recvDepth` (default 64) receive buffers posted, writes what arrives
   * to the host (or punts it, `via: 'rc'`), and punts one `{ direction: 'rc' }` when the QP
   * fails. Messages the JS RcQp received before this call are the caller's: pass them to
   * injectRcFrame(). Works for both ends of a connection.
   */
  attachRc(qpn: number, o: { recvDepth?: number } = {}): void {
    const op = 'TunDataPlane.attachRc';
    const q = uint(op, 'qpn', qpn, 1, QPN_MASK - 1, 'a QPN from 1 to 0xfffffe');
    const opts = objectArg(op, 'o', o);
    const depth = opts.recvDepth === undefined ? TUN_RC_RECV_DEPTH : uint(op, 'o.recvDepth', opts.recvDepth, 1, 0xffff, 'a count from 1 to 65535');
    this.call('attachRc', () => this.native.attachRc(q, depth), {
      ENOENT: () => new ArgumentError(op, 'qpn', q, 'the QPN of an RC QP of the endpoint'),
      EEXIST: () => new StateError(`${op} (QP ${hex(q)})`, 'attached'),
    });
  }

  /**
   * Gives the QP's events back to its JS RcQp (destroy it through the fabric API next); frames
   * in flight are then not the data plane's. False when it was not attached.
   */
  detachRc(qpn: number): boolean {
    const q = uint('TunDataPlane.detachRc', 'qpn', qpn, 1, QPN_MASK - 1, 'a QPN from 1 to 0xfffffe');
    return this.call('detachRc', () => this.native.detachRc(q));
  }

  /** The attached RC QPNs, ascending. */
  attachedRcQpns(): number[] {
    return this.call('rcAttached', () => this.native.rcAttached()).sort((x, y) => x - y);
  }

  /**
   * Posts one IPoIB frame (header included) the control plane built, e.g. a packet it queued
   * while the connection was being made, on an attached RC QP; counted like the fast path's.
   * The connection's MTU is the caller's to respect. Throws RcSendQueueFullError (nothing
   * queued), ArgumentError (not attached), StateError (the QP is not in RTS).
   */
  sendRc(qpn: number, ipoibFrame: Buffer): void {
    const op = 'TunDataPlane.sendRc';
    const q = uint(op, 'qpn', qpn, 1, QPN_MASK - 1, 'a QPN from 1 to 0xfffffe');
    if (!Buffer.isBuffer(ipoibFrame) || ipoibFrame.length < IPOIB_HEADER_LEN) {
      throw new ArgumentError(op, 'ipoibFrame', ipoibFrame, `a Buffer of at least ${IPOIB_HEADER_LEN} octets (the IPoIB header)`);
    }
    const queued = this.call('sendRc', () => this.native.sendRc(q, ipoibFrame), {
      ENOENT: () => new ArgumentError(op, 'qpn', q, 'the QPN of an RC QP attached with attachRc'),
      EINVAL: (e) => Object.assign(new StateError(`${op} (QP ${hex(q)})`, 'not-rts'), { cause: e }),
      EMSGSIZE: () => new MtuExceededError(op, ipoibFrame.length, RC_MAX_MESSAGE_BYTES),
    });
    if (!queued) throw new RcSendQueueFullError(q);
  }

  /**
   * Runs one IPoIB frame through the RC receive path of an attached QP, as if it had just
   * arrived on it (for messages its JS RcQp got before attachRc).
   */
  injectRcFrame(qpn: number, ipoibFrame: Buffer): void {
    const op = 'TunDataPlane.injectRcFrame';
    const q = uint(op, 'qpn', qpn, 1, QPN_MASK - 1, 'a QPN from 1 to 0xfffffe');
    if (!Buffer.isBuffer(ipoibFrame)) throw new ArgumentError(op, 'ipoibFrame', ipoibFrame, 'a Buffer');
    this.call('injectRcFrame', () => this.native.injectRcFrame(q, ipoibFrame), {
      ENOENT: () => new ArgumentError(op, 'qpn', q, 'the QPN of an RC QP attached with attachRc'),
    });
  }

  /** Our LID after the SM changed it (the own-echo filter compares it). */
  setLocalLid(lid: number): void {
    const v = unicastLid('TunDataPlane.setLocalLid', 'lid', lid);
    this.call('setLocalLid', () => this.native.setLocalLid(v));
  }

  /** The TUN device's carrier (e.g. off until the broadcast group is joined). */
  setCarrier(on: boolean): void {
    if (typeof on !== 'boolean') throw new ArgumentError('TunDataPlane.setCarrier', 'on', on, 'a boolean');
    this.call('setCarrier', () => this.native.setCarrier(on));
  }

  /** Deliver (true) or drop (false, the default) our own frames coming back. */
  setDeliverOwnMulticast(on: boolean): void {
    if (typeof on !== 'boolean') throw new ArgumentError('TunDataPlane.setDeliverOwnMulticast', 'on', on, 'a boolean');
    this.call('setDeliverOwnMulticast', () => this.native.setDeliverOwnMulticast(on));
  }

  /** Lets the process exit even while a punt callback is set. */
  unref(): void {
    if (!this.closed) this.native.unref();
  }

  /** Undoes unref(). */
  ref(): void {
    if (!this.closed) this.native.ref();
  }

  /**
   * Stops the threads, removes the QP handlers (every RC QP is detached) and the TUN device,
   * and delivers the last punts; no callback after it resolves. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      await this.native.close();
      this.callback = null;
    })();
    return this.closing;
  }

  private dispatch(meta: Uint32Array, data: Buffer): void {
    const cb = this.callback;
    if (cb === null) return;
    cb(decodePunts(meta, data));
  }

  private requireOpen(op: string): void {
    if (this.closed) throw new StateError(`TunDataPlane.${op}`, 'closed');
  }

  /** One native call; a native failure with a code in `typed` becomes that error, EBADF a StateError. */
  private call<T>(op: string, fn: () => T, typed: Record<string, (e: NativeError) => Error> = {}): T {
    this.requireOpen(op);
    try {
      return callNative(op, fn);
    } catch (e) {
      if (e instanceof NativeError && e.code !== undefined) {
        const make = typed[e.code];
        if (make) throw make(e);
        if (e.code === 'EBADF' && e.op === op) throw new StateError(`TunDataPlane.${op}`, 'closed');
      }
      throw e;
    }
  }
}
