/**
 * One IPoIB interface (RFC 4391 datagram mode, RFC 4755 connected mode) on one HcaPort and
 * one P_Key: a parent (`ib0`, P_Key from index 0 of the port table) or a child (`ib0.8001`, a
 * fixed P_Key). It behaves like Linux ib_ipoib where the project's research says how:
 *
 * Bring-up (open): find the P_Key in the port table (absent: up without carrier until a
 * pkey-change brings it), create the UD QP with Q_Key 0, join the broadcast group as a full
 * member, set the QP's Q_Key from the group record, attach, take MTU = group MTU - 4 (within
 * the admin MTU) and only then turn the carrier on. Joins are retried with the kernel's
 * backoff, and only while the port is active.
 *
 * Port events, each a kernel flush level: client-reregister → light (paths marked invalid,
 * every group left and joined again); port-down, port-active, lid-change → normal (carrier
 * off, groups and paths flushed, then up again); pkey-change → heavy (the P_Key read again;
 * the QP replaced when its table index moved; nothing happens when nothing changed).
 *
 * Host side: `transmit(packet, etherType)` takes IPv4/IPv6 packets from the host, the stack
 * resolves the destination (ARP, ND, multicast mapping and joins) and sends; `onDeliver`
 * hands received IP packets to the host. ARP and ND are answered by the stack itself. The
 * receive callback never throws: malformed frames are counted and dropped.
 *
 * Connected mode (cm/cm-manager.ts has the connections): when the port has RC and it is not
 * turned off (`cm.enabled`), the address carries the RC flag 0x80 in both modes and the
 * interface accepts connections while up, in either mode. `mode connected` (EINVAL without
 * the flag; the same mode again changes nothing) sets the MTU to 65520, `mode datagram` to
 * min(group MTU - 4, the MTU it had); both flush the paths and the sending connections. In
 * connected mode unicast IP to a peer whose address has 0x80 goes over an RC connection to
 * it; ARP, ND and multicast, and peers without 0x80 (or with only UC 0x40), stay on UD. A
 * host packet longer than its path takes (the group's MTU over UD, the peer's REP MTU over
 * RC) is dropped and answered with a locally delivered ICMP carrying the UD MTU (pmtu.ts).
 *
 * Deliberate differences from Linux, each because the fabric API or the stack's job differs:
 * the QP is created when the P_Key is first found, and replaced (new QPN) when its P_Key index
 * moves, since UdQp cannot change its P_Key index; after a parent's P_Key change the host's
 * multicast groups are mapped again with the new P_Key (Linux keeps the old MGIDs, a known
 * problem); DAD is not run; in connected mode ND goes over UD even to a peer with a connection
 * up (RFC 4755 §7 wants address-resolution replies on UD; Linux sends a unicast NA through the
 * connection).
 */
import type { HcaPort, PortEvent, UdCompletion, UdDestination, UdQp } from '../fabric/hca.js';
import { IpoibControlError, StateError } from '../errors.js';
import { WireError } from '../wire/codec.js';
import {
  ETH_P_IP,
  ETH_P_IPV6,
  ICMPV6_NA,
  ICMPV6_RS,
  IPOIB_CM_MTU,
  IPOIB_FLAG_RC,
  IPOIB_HEADER_LEN,
  IPOIB_HWADDR_LEN,
  IPPROTO_ICMPV6,
  MCAST_QPN,
  MGID_SCOPE_LINK,
  QPN_MASK,
} from '../wire/constants.js';
import { broadcastHwAddr, formatHwAddr, hasRc, type IpoibHwAddr, parseHwAddr } from '../wire/ipoib-hwaddr.js';
import { formatIpv6 } from '../wire/ip-text.js';
import type { IidProfile } from '../wire/ipv6-iid.js';
import { ipv4Header } from '../wire/ipv4.js';
import { ipv6Packet } from '../wire/ipv6.js';
import type { McMemberRecord } from '../wire/mcmember-record.js';
import { broadcastMgid, mgidForIpv6Group, parseGid } from '../wire/mgid.js';
import { InterfaceAddresses, linkLocalAddress } from './addresses.js';
import { type IpoibClock, OneShot, systemClock } from './clock.js';
import { cmConfig, type IpoibCmOptions } from './cm/cm-config.js';
import { type CmConnectionInfo, type CmStatus, connectedModeUnsupported, IpoibCm } from './cm/cm-manager.js';
import type { RcDataPath } from './cm/rc-data-path.js';
import { type EthtoolStatName, IpoibCounters, type IpoibStatName } from './counters.js';
import { formatMcgDump, formatPathDump } from './debugfs.js';
import { Defects } from './defects.js';
import { classifyFrame, classifyReceived, frame, isNonBroadcastMulticast, type RxVerdict, withHeaderReserved } from './frames.js';
import { HostGroups } from './host-groups.js';
import { strtoulBase0 } from './kernel-text.js';
import { type McastGroupInfo, McastManager, mgidAsSent } from './mcast-manager.js';
import { checkConnectedMtu, DatagramMtu } from './mtu.js';
import { allNodesAddress, parseNd, solicitedNodeAddress } from './nd-messages.js';
import { type IpFamily, NEIGH_GC_INTERVAL_MS, NEIGH_IDLE_LIMIT_MS, type NeighbourInfo, NeighbourTable, type NeighbourTimers } from './neighbours.js';
import { PATH_QUERY_TIMEOUT_MS, PathTable } from './paths.js';
import { findPkeyIndex, withFullBit } from './pkey-table.js';
import { IcmpRateLimit, tooBigIcmp } from './pmtu.js';
import { PortMcastDb } from './port-mcast-db.js';
import { Resolver } from './resolver.js';
import { txDestination } from './tx-destination.js';

/** Where the interface is in its bring-up. */
export type LinkState =
  /** Admin down. */
  | 'down'
  /** Up, but the P_Key is not in the port's table (or is invalid): no carrier. */
  | 'no-pkey'
  /** Up, but the port is not active: joins are suspended, no carrier. */
  | 'port-down'
  /** Up, the broadcast join is in flight or waiting for its retry: no carrier. */
  | 'joining'
  /** Broadcast group joined and attached: carrier on. */
  | 'up';

export type ChildType = 'parent' | 'legacy' | 'rtnl';
export type IpoibMode = 'datagram' | 'connected';

/** The host side of an interface: what the TUN data plane plugs into. */
export interface IpoibHostSide {
  /** An IP packet (IPv4 0x0800 or IPv6 0x86dd) from the host; the stack picks its destination. */
  transmit(packet: Buffer, etherType: number): void;
  /** Subscribes to IP packets for the host; returns the unsubscribe function. */
  onDeliver(cb: (packet: Buffer, etherType: number) => void): () => void;
}

export interface IpoibInterfaceOptions {
  name: string;
  port: HcaPort;
  /** A child's P_Key as requested (0x8000 is ORed in); absent for a parent, which follows index 0 of the table. */
  pkey?: number;
  /** A child's parent interface name. */
  parent?: string;
  /** How a child was made: sysfs create_child (`legacy`) or netlink (`rtnl`). Default `parent`, or `legacy` with `parent`. */
  childType?: ChildType;
  clock?: IpoibClock;
  log?: (line: string) => void;
  /** IPv6 interface identifier from the GUID: `linux` (default) or `rfc` (RFC 4391 §8). */
  iidProfile?: IidProfile;
  /** Scope of the broadcast group and every mapped MGID; default 2 (link-local). */
  scope?: number;
  /** The port's multicast database, shared by the port's interfaces (IpoibHost passes one). */
  mcastDb?: PortMcastDb;
  /** Join 224.0.0.1 and ff02::1 as every Linux host does on an interface; default true. */
  defaultGroups?: boolean;
  /** SA timeout for joins and leaves; default the SA client's. */
  joinTimeoutMs?: number;
  /** SA timeout for path queries; default 1000 ms, the kernel's. */
  pathTimeoutMs?: number;
  /** Neighbour revalidation timers (reachable time, delay, retransmit); default the kernel's 30 s, 5 s, 1 s (neighbours.ts). */
  neighbourTimers?: Partial<NeighbourTimers>;
  /** Connected mode (RFC 4755): offered or not, Service-ID profile, passive cap, idle reaping (cm/cm-config.ts). */
  cm?: IpoibCmOptions;
  /** TEST ONLY: known non-conformances to commit (src/ipoib/defects.ts); default none. */
  defects?: Defects;
}

/** What `ipoibctl show` prints: the interface as `ip -d link` and sysfs describe it. */
export interface InterfaceInfo {
  name: string;
  parent: string | null;
  childType: ChildType;
  /** ARPHRD_INFINIBAND. */
  type: 32;
  addrLen: typeof IPOIB_HWADDR_LEN;
  address: string;
  broadcast: string;
  pkey: number;
  mtu: number;
  adminMtu: number;
  mcastMtu: number;
  carrier: boolean;
  state: LinkState;
  mode: IpoibMode;
  /** The largest IP packet sent over UD: the group's MTU - 4 in connected mode, the MTU in datagram mode. */
  udMtu: number;
  /** Connected mode: offered or not, the Service ID listened on, connections each way. */
  cm: CmStatus;
  umcast: 0 | 1;
  qpn: number | null;
  qkey: number;
  ipv4: string[];
  ipv6: string[];
}

/** A neighbour as a native fast path needs it (fastPathNeighbours()). */
export interface FastPathNeighbour {
  ip: string;
  family: IpFamily;
  /** The peer interface's QPN and flags octet, from its link-layer address. */
  qpn: number;
  flags: number;
  /** From the PathRecord of the peer's GID. */
  dlid: number;
  sl: number;
  /** Connected mode, a peer with the RC flag: its connection is up (QPN, the peer's receive MTU with the header) … */
  rc?: { qpn: number; mtu: number };
  /** … or is not (yet): unicast IP waits for it. */
  connecting?: boolean;
}

type FlushLevel = 'light' | 'normal' | 'heavy';

/** Seeded defects: the reserved header value, the address flags octet and the P_Key index they use instead of the right ones. */
const DEFECT_HEADER_RESERVED = 0x0001;
const DEFECT_HWADDR_FLAGS = 0x20;

/** ICMPv6 types 133-137 (RS, RA, NS, NA, redirect): Neighbor Discovery, which stays on UD. */
const ICMPV6_ND_LAST = ICMPV6_NA + 1;
const IPV6_NEXT_HEADER_AT = IPOIB_HEADER_LEN + 6;
const ICMPV6_TYPE_AT = IPOIB_HEADER_LEN + 40;

/** An IPoIB frame carrying IPv4, or IPv6 that is not ND: what may go over an RC connection. */
function isRcPayload(f: Buffer): boolean {
  const type = f.length >= 2 ? f.readUInt16BE(0) : 0;
  if (type === ETH_P_IP) return true;
  if (type !== ETH_P_IPV6) return false;
  const icmpType = f[ICMPV6_TYPE_AT] ?? 0;
  return !(f[IPV6_NEXT_HEADER_AT] === IPPROTO_ICMPV6 && icmpType >= ICMPV6_RS && icmpType <= ICMPV6_ND_LAST);
}
const DEFECT_PKEY_INDEX = 0;

export class IpoibInterface implements IpoibHostSide {
  readonly name: string;
  readonly parent: string | undefined;
  readonly childType: ChildType;
  readonly counters = new IpoibCounters();
  /** The seeded defects this interface commits (none on a conforming stack). */
  readonly defects: Defects;
  private readonly port: HcaPort;
  private readonly clock: IpoibClock;
  private readonly log: (line: string) => void;
  private readonly scope: number;
  private readonly fixedPkey: number | undefined;
  private readonly addresses: InterfaceAddresses;
  private readonly mtuState: DatagramMtu;
  private readonly mcast: McastManager;
  private readonly paths: PathTable;
  private readonly neigh: NeighbourTable;
  private readonly gcTimer: OneShot;
  private readonly resolver: Resolver;
  private readonly hostGroups: HostGroups;
  private readonly cm: IpoibCm;
  private readonly pmtuLimit: IcmpRateLimit;
  private readonly deliverListeners = new Set<(packet: Buffer, etherType: number) => void>();
  private readonly stateListeners = new Set<(state: LinkState) => void>();
  private readonly configListeners = new Set<() => void>();
  private readonly unsubscribePort: () => void;
  private qp: UdQp | undefined;
  private unsubscribeQp: (() => void) | undefined;
  private pkeyValue: number;
  private pkeyIndex: number | undefined;
  private lid: number;
  private gid: Buffer;
  private qkeyValue = 0;
  private adminUp = false;
  private carrierOn = false;
  private linkState: LinkState = 'down';
  private umcastFlag = false;
  private modeNow: IpoibMode = 'datagram';
  /** The MTU in connected mode (65520 on the switch, then whatever `mtu` set). */
  private cmMtu: number = IPOIB_CM_MTU;
  private destroyed = false;
  /** Lifecycle operations run one at a time, in order. */
  private serial: Promise<void> = Promise.resolve();

  constructor(o: IpoibInterfaceOptions) {
    this.name = o.name;
    this.parent = o.parent;
    this.childType = o.childType ?? (o.parent !== undefined ? 'legacy' : 'parent');
    this.port = o.port;
    this.clock = o.clock ?? systemClock;
    this.log = o.log ?? (() => undefined);
    this.scope = o.scope ?? MGID_SCOPE_LINK;
    this.fixedPkey = o.pkey === undefined ? undefined : withFullBit(o.pkey);
    this.defects = o.defects ?? Defects.NONE;
    const attrs = o.port.attributes();
    this.lid = attrs.lid;
    this.gid = Buffer.from(attrs.gid);
    this.pkeyValue = this.fixedPkey ?? withFullBit(attrs.pkeys[0] ?? 0);
    this.mtuState = new DatagramMtu(attrs.activeMtuCode, this.defects);
    this.addresses = new InterfaceAddresses(linkLocalAddress(this.gid.subarray(8, 16), o.iidProfile ?? 'linux', this.defects));
    this.gcTimer = new OneShot(this.clock);
    const say = (line: string): void => this.log(`${this.name}: ${line}`);
    this.mcast = new McastManager({
      clock: this.clock,
      counters: this.counters,
      sa: o.port.sa,
      db: o.mcastDb ?? new PortMcastDb(),
      holder: this,
      log: say,
      pkey: () => this.pkeyValue,
      broadcastMgid: () => this.broadcastMgid(),
      qp: () => this.qp,
      umcast: () => this.umcastFlag,
      joinTimeoutMs: o.joinTimeoutMs,
      setQkey: (qkey) => this.setQkey(qkey),
      broadcastReady: (rec) => this.broadcastReady(rec),
      qkey: () => this.qkeyValue,
      post: (dest, f) => this.post(dest, f),
      defects: this.defects,
    });
    this.paths = new PathTable({
      counters: this.counters,
      sa: o.port.sa,
      queryTimeoutMs: o.pathTimeoutMs ?? PATH_QUERY_TIMEOUT_MS,
      log: say,
      pkey: () => this.pkeyValue,
      qkey: () => this.qkeyValue,
      post: (dest, f) => this.post(dest, f),
      pathFailed: (dgid) => this.neigh.removeByGid(dgid),
    });
    this.neigh = new NeighbourTable(
      {
        clock: this.clock,
        counters: this.counters,
        log: say,
        solicit: (ip, family, to) => this.resolver.solicit(ip, family, to),
        sendTo: (hw, f) => this.sendTo(hw, f),
        addressChanged: () => this.neighbourMoved(),
      },
      o.neighbourTimers,
    );
    this.resolver = new Resolver({
      counters: this.counters,
      addresses: this.addresses,
      neigh: this.neigh,
      log: say,
      hwAddr: () => this.hwAddr(),
      broadcastMgid: () => this.broadcastMgid(),
      ipv6Mgid: (group) => mgidForIpv6Group(formatIpv6(group), this.pkeyValue, this.scope),
      sendMulticast: (mgid, f) => this.mcast.send(mgid, f),
      sendReply: (hw, f) => this.sendReply(hw, f),
      sendProbe: (hw, f) => this.paths.send(hw.gid, hw.qpn, f),
      defects: this.defects,
    });
    this.cm = new IpoibCm({
      port: o.port,
      clock: this.clock,
      counters: this.counters,
      defects: this.defects,
      config: cmConfig(o.cm, o.port.capabilities.connectedMode, `IpoibInterface(${o.name})`),
      log: say,
      udQpn: () => (this.adminUp ? this.qp?.qpn : undefined),
      pkeyIndex: () => this.qp?.pkeyIndex,
      deliver: (f) => this.receiveRcFrame(f),
      tooBig: (f) => this.hostPacketTooBig(f.subarray(IPOIB_HEADER_LEN)),
      changed: () => this.configChanged(),
    });
    this.pmtuLimit = new IcmpRateLimit(this.clock);
    this.hostGroups = new HostGroups(this.mcast, () => ({ pkey: this.pkeyValue, scope: this.scope }));
    this.hostGroups.join(formatIpv6(solicitedNodeAddress(this.addresses.linkLocal.bytes)));
    if (o.defaultGroups !== false) {
      this.hostGroups.join('224.0.0.1');
      this.hostGroups.join(formatIpv6(allNodesAddress()));
    }
    this.unsubscribePort = o.port.onEvent((e) => this.onPortEvent(e));
  }

  // ---- observation ---------------------------------------------------------------------------

  /** The P_Key with the full-membership bit, as sysfs `pkey` shows it. */
  get pkey(): number {
    return this.pkeyValue;
  }

  get state(): LinkState {
    return this.linkState;
  }

  get carrier(): boolean {
    return this.carrierOn;
  }

  get mtu(): number {
    return this.modeNow === 'connected' ? this.cmMtu : this.mtuState.mtu;
  }

  /** The largest IP packet sent over UD (unicast to peers without RC, multicast): the group's in connected mode. */
  get udMtu(): number {
    return this.modeNow === 'connected' ? this.mtuState.mcastMtu : this.mtuState.mtu;
  }

  get qkey(): number {
    return this.qkeyValue;
  }

  get qpn(): number | undefined {
    return this.qp?.qpn;
  }

  get umcast(): 0 | 1 {
    return this.umcastFlag ? 1 : 0;
  }

  get mode(): IpoibMode {
    return this.modeNow;
  }

  /** The 20-octet link-layer address: flags 0x80 with connected mode offered (else 0x00), the UD QPN, the port GID. */
  hwAddr(): IpoibHwAddr {
    const qpn = this.qp?.qpn ?? 0;
    const flags = this.cm.supported ? IPOIB_FLAG_RC : 0;
    return {
      flags: this.defects.has('hwaddr-flags-reserved') ? flags | DEFECT_HWADDR_FLAGS : flags,
      qpn: this.defects.has('hwaddr-qpn-off') ? (qpn + 1) & QPN_MASK : qpn,
      gid: Buffer.from(this.gid),
    };
  }

  /** The broadcast address: 00:ff:ff:ff then the broadcast MGID with this interface's P_Key. */
  broadcastAddr(): IpoibHwAddr {
    return { ...broadcastHwAddr(this.pkeyValue, this.scope), gid: this.broadcastMgid() };
  }

  broadcastMgid(): Buffer {
    return mgidAsSent(broadcastMgid(this.pkeyValue, this.scope), this.defects);
  }

  /** The IPv6 link-local address from the port GUID. */
  linkLocal(): string {
    return this.addresses.linkLocal.ip;
  }

  addressList(family?: IpFamily): string[] {
    return this.addresses.list(family).map((a) => `${a.ip}/${a.prefixLen}`);
  }

  info(): InterfaceInfo {
    return {
      name: this.name,
      parent: this.parent ?? null,
      childType: this.childType,
      type: 32,
      addrLen: IPOIB_HWADDR_LEN,
      address: formatHwAddr(this.hwAddr()),
      broadcast: formatHwAddr(this.broadcastAddr()),
      pkey: this.pkeyValue,
      mtu: this.mtu,
      adminMtu: this.mtuState.adminMtu,
      mcastMtu: this.mtuState.mcastMtu,
      carrier: this.carrierOn,
      state: this.linkState,
      mode: this.modeNow,
      udMtu: this.udMtu,
      cm: this.cm.status(),
      umcast: this.umcast,
      qpn: this.qp?.qpn ?? null,
      qkey: this.qkeyValue,
      ipv4: this.addressList(4),
      ipv6: this.addressList(6),
    };
  }

  /** Every counter by name (the eight ethtool ones first). */
  stats(): Record<IpoibStatName, number> {
    return this.counters.snapshot();
  }

  /** `ethtool -S`: the kernel's eight counters in its order. */
  ethtoolStats(): Array<[EthtoolStatName, number]> {
    return this.counters.ethtool();
  }

  neighbours(): NeighbourInfo[] {
    return this.neigh.list();
  }

  /** The RC connections, both ways (`ipoibctl cm`). */
  connections(): CmConnectionInfo[] {
    return this.cm.connections();
  }

  multicastGroups(): McastGroupInfo[] {
    return this.mcast.info();
  }

  /** `<if>_mcg` in the kernel's debugfs layout. */
  mcgDump(): string {
    return formatMcgDump(this.mcast.rows());
  }

  /** `<if>_path` in the kernel's debugfs layout. */
  pathDump(): string {
    return formatPathDump(this.paths.rows());
  }

  /**
   * The resolved neighbours whose path is known, with what a native fast path needs to send to
   * them (LID, QPN, SL, and in connected mode their connection); entries still resolving or
   * waiting for their PathRecord are left out.
   */
  fastPathNeighbours(): FastPathNeighbour[] {
    const byGid = new Map(this.paths.rows().filter((r) => r.dlid !== 0).map((r) => [r.dgid.toString('hex'), r] as const));
    const out: FastPathNeighbour[] = [];
    for (const n of this.neigh.list()) {
      // Stale, delayed and probed entries are still used, as the host keeps sending to them.
      if (n.lladdr === null) continue;
      const hw = parseHwAddr(n.lladdr);
      const path = byGid.get(hw.gid.toString('hex'));
      if (!path) continue;
      const entry: FastPathNeighbour = { ip: n.ip, family: n.family, qpn: hw.qpn, flags: hw.flags, dlid: path.dlid, sl: path.sl };
      if (this.usesRc(hw)) {
        const tx = this.cm.txView(hw);
        if (tx?.state === 'connected') entry.rc = { qpn: tx.qpn, mtu: tx.mtu };
        else entry.connecting = true;
      }
      out.push(entry);
    }
    return out;
  }

  /**
   * Transmits a native fast path made on the interface's behalf since the last report: to these
   * neighbours (IP text, as fastPathNeighbours() names them) and groups (MGID text, as
   * multicastGroups() names them). They count against idleness as send() would, as the kernel
   * refreshes a neighbour's `alive` on every transmit, so entries in steady use do not age out.
   */
  noteFastPathUse(neighbours: readonly string[], mgids: readonly string[]): void {
    for (const ip of neighbours) this.neigh.touch(ip);
    for (const mgid of mgids) this.mcast.touch(parseGid(mgid));
  }

  onStateChange(cb: (state: LinkState) => void): () => void {
    this.stateListeners.add(cb);
    return () => this.stateListeners.delete(cb);
  }

  /**
   * Called after a change a data plane copies without a state change: the MTU was set, the
   * neighbours were flushed. Lets a native fast path follow at once instead of on its next poll.
   */
  onConfigChange(cb: () => void): () => void {
    this.configListeners.add(cb);
    return () => this.configListeners.delete(cb);
  }

  onDeliver(cb: (packet: Buffer, etherType: number) => void): () => void {
    this.deliverListeners.add(cb);
    return () => this.deliverListeners.delete(cb);
  }

  // ---- control -------------------------------------------------------------------------------

  /** Admin up (`ip link set up`): resolves once bring-up has started; carrier follows the join. */
  open(): Promise<void> {
    return this.run(async () => {
      if (this.destroyed) throw new StateError(`${this.name}.open`, 'destroyed');
      if (this.adminUp) return;
      this.adminUp = true;
      this.armGc();
      await this.bringUp();
    });
  }

  /**
   * Admin down: carrier off, every group left, paths and neighbours dropped (as the host flushes
   * a device's ARP and ND entries when it goes down), connections ended; the QP (and its QPN) stays.
   */
  close(): Promise<void> {
    return this.run(async () => {
      if (!this.adminUp) return;
      this.adminUp = false;
      this.gcTimer.cancel();
      this.cm.stop();
      this.goDown();
      this.neigh.clear();
      this.setState('down');
    });
  }

  /** Closes and releases everything (the interface is being deleted). */
  destroy(): Promise<void> {
    return this.run(async () => {
      if (this.destroyed) return;
      this.destroyed = true;
      this.adminUp = false;
      this.gcTimer.cancel();
      this.unsubscribePort();
      this.cm.stop();
      this.goDown();
      this.neigh.clear();
      this.setState('down');
      await this.dropQp();
    });
  }

  /**
   * `ip link set mtu N`. Datagram mode: EINVAL outside [72, port max - 4]; applied as min(mcast
   * MTU, N). Connected mode: anything up to 65520, as it is (a warning above the group's MTU).
   */
  setMtu(mtu: number): void {
    const op = `${this.name}.mtu`;
    if (this.modeNow === 'connected') {
      this.cmMtu = checkConnectedMtu(mtu, op);
      if (mtu > this.mtuState.mcastMtu) this.log(`${this.name}: mtu > ${this.mtuState.mcastMtu} will cause multicast packet drops`);
    } else {
      this.mtuState.change(mtu, op);
    }
    this.configChanged();
  }

  /**
   * `ip neigh flush dev IF` plus a path flush: every neighbour and path goes, and what waited on
   * them is dropped and counted; the next packet to each peer resolves again. Returns how many
   * of each went.
   */
  flushNeighbours(): { neighbours: number; paths: number } {
    const counts = { neighbours: this.neigh.list().length, paths: this.paths.rows().length };
    this.neigh.clear();
    this.paths.flush();
    this.cm.flushTx();
    this.configChanged();
    return counts;
  }

  private configChanged(): void {
    for (const l of this.configListeners) l();
  }

  /**
   * A neighbour's address changed (revalidation found it moved, or dropped it to resolve it
   * again): a sending connection to the old address ends at once, since its peer QP is gone
   * with it, and a fast path takes the new address now rather than at its next poll.
   */
  private neighbourMoved(): void {
    this.cm.retainTx(this.neigh.list().flatMap((n) => (n.lladdr === null ? [] : [parseHwAddr(n.lladdr)])));
    this.configChanged();
  }

  /**
   * `mode` (sysfs, or netlink's changelink), with ipoib_set_mode's rules: the current mode again
   * changes nothing (not even the MTU); connected needs the RC flag in our own address (EINVAL
   * without) and sets the MTU to 65520; datagram sets it to min(group MTU - 4, the MTU it had).
   * Either switch flushes the paths and ends the sending connections (the kernel's path flush
   * frees every neighbour, and the connections with them); the neighbours (the host's ARP and ND
   * cache) stay, so the next packet only asks for the path again. Receiving connections stay, as
   * a datagram-mode kernel still accepts them. The stack reports no checksum or TSO offload, so
   * there is no feature to drop on the way to connected mode.
   */
  setMode(mode: IpoibMode): void {
    const op = `${this.name}.mode`;
    if (mode === this.modeNow) return;
    if (mode === 'connected') {
      if (!hasRc(this.hwAddr())) throw connectedModeUnsupported(op);
      this.log(`${this.name}: enabling connected mode will cause multicast packet drops`);
      this.modeNow = 'connected';
      // Seeded defect cm-mode-mtu-unchanged: the datagram MTU carried over.
      this.cmMtu = this.defects.has('cm-mode-mtu-unchanged') ? this.mtuState.mtu : IPOIB_CM_MTU;
    } else {
      this.modeNow = 'datagram';
      try {
        this.mtuState.change(Math.min(this.mtuState.mcastMtu, this.cmMtu), op);
      } catch (e) {
        // The kernel ignores dev_set_mtu()'s refusal here too: the datagram MTU stays what it was.
        if (!(e instanceof IpoibControlError)) throw e;
      }
    }
    this.paths.flush();
    this.cm.flushTx();
    this.configChanged();
  }

  /** `umcast`: a number > 0 sets the flag; text is read as simple_strtoul(…, 0), so garbage clears it. */
  setUmcast(value: number | string): void {
    const n = typeof value === 'number' ? value : strtoulBase0(value);
    const on = n > 0;
    if (on && !this.umcastFlag) this.log(`${this.name}: ignoring multicast groups joined directly by userspace`);
    this.umcastFlag = on;
  }

  /** `ip addr add`: IPv4 or IPv6 with an optional prefix length; an IPv6 address also joins its solicited-node group. */
  addAddress(cidr: string): void {
    const a = this.addresses.add(cidr, `${this.name}.addAddress`);
    if (a.family === 6) this.hostGroups.join(formatIpv6(solicitedNodeAddress(a.bytes)));
  }

  removeAddress(cidr: string): void {
    const a = this.addresses.remove(cidr, `${this.name}.removeAddress`);
    if (a.family === 6) this.hostGroups.leave(formatIpv6(solicitedNodeAddress(a.bytes)));
  }

  /**
   * A native data plane takes over the frames of established connections (a TUN data plane's
   * attachRc/sendRc); returns the undo, which gives them back to the JS path.
   */
  useRcDataPath(path: RcDataPath): () => void {
    return this.cm.useDataPath(path);
  }

  /** A data plane saw the RC QP `qpn` fail: its connection ends (a sending one is made again by the next packet). */
  rcFailed(qpn: number, detail: string): void {
    this.cm.rcFailed(qpn, detail);
  }

  /** The host joins an IP multicast group (IPv4 224/4 or IPv6 ff00::/8): a full-member IB join. */
  joinGroup(ip: string): void {
    this.hostGroups.join(HostGroups.groupText(ip, `${this.name}.joinGroup`));
  }

  /** The host leaves an IP multicast group; EADDRNOTAVAIL when it was not joined. */
  leaveGroup(ip: string): void {
    const text = HostGroups.groupText(ip, `${this.name}.leaveGroup`);
    if (!this.hostGroups.has(text)) throw new IpoibControlError(`${this.name}.leaveGroup`, 'EADDRNOTAVAIL', `${text} is not joined`);
    this.hostGroups.leave(text);
  }

  // ---- host side -----------------------------------------------------------------------------

  transmit(packet: Buffer, etherType: number): void {
    try {
      this.transmitOne(packet, etherType);
    } catch (e) {
      this.counters.inc('tx_errors');
      this.log(`${this.name}: transmit failed: ${(e as Error).message}`);
    }
  }

  private transmitOne(packet: Buffer, etherType: number): void {
    if (!this.carrierOn) return this.txDrop('tx_dropped_no_carrier');
    if (!Buffer.isBuffer(packet)) return this.txDrop('tx_dropped_bad_packet');
    const d = txDestination(packet, etherType, { pkey: this.pkeyValue, scope: this.scope, ipv4Broadcasts: this.addresses.ipv4Broadcasts() });
    if (d.kind === 'invalid') return this.txDrop('tx_dropped_bad_packet');
    if (d.kind === 'multicast') {
      // Multicast is UD only: the group's MTU bounds it in either mode.
      if (packet.length > this.mtuState.mcastMtu) return this.hostPacketTooBig(packet);
      return this.mcast.send(d.mgid, frame(etherType, packet));
    }
    this.neigh.send(d.ip, d.family, frame(etherType, packet));
  }

  /**
   * A resolved unicast frame: over the peer's RC connection in connected mode when its address
   * has the RC flag and the frame is IP (not ND), else over UD within the group's MTU.
   */
  private sendTo(hw: IpoibHwAddr, f: Buffer): void {
    if (this.usesRc(hw) && (isRcPayload(f) || this.replyOverRc(hw))) {
      this.paths.whenKnown(hw.gid, (rec) => this.cm.send(hw, rec, f));
      return;
    }
    if (f.length - IPOIB_HEADER_LEN > this.mtuState.mcastMtu) return this.hostPacketTooBig(f.subarray(IPOIB_HEADER_LEN));
    this.paths.send(hw.gid, hw.qpn, f);
  }

  /** An ARP reply or NA: over UD, through the path table. */
  private sendReply(hw: IpoibHwAddr, f: Buffer): void {
    if (this.usesRc(hw) && this.replyOverRc(hw)) {
      this.paths.whenKnown(hw.gid, (rec) => this.cm.send(hw, rec, f));
      return;
    }
    this.paths.send(hw.gid, hw.qpn, f);
  }

  /** Seeded defect cm-arp-over-rc: resolution replies take the peer's connection when it is up. */
  private replyOverRc(hw: IpoibHwAddr): boolean {
    return this.defects.has('cm-arp-over-rc') && this.cm.txView(hw)?.state === 'connected';
  }

  /** Connected mode and a peer advertising RC: its unicast IP goes over a connection (UC alone does not count). */
  private usesRc(hw: IpoibHwAddr): boolean {
    return this.modeNow === 'connected' && hasRc(hw);
  }

  /**
   * A host packet longer than its path takes (the group's MTU over UD, the connection's over
   * RC): dropped, and answered with a locally delivered ICMP error carrying the UD MTU (PMTU
   * emulation, pmtu.ts). `counted` false: a data plane counted the drop already.
   */
  hostPacketTooBig(packet: Buffer, counted = true): void {
    if (counted) {
      this.counters.inc('tx_errors');
      this.txDrop('tx_dropped_too_long');
    }
    // Seeded defect pmtu-icmp-cm-mtu: the interface MTU instead of the UD MTU.
    const mtu = this.defects.has('pmtu-icmp-cm-mtu') ? this.mtu : this.mtuState.mcastMtu;
    if (!this.pmtuLimit.allow()) return this.counters.inc('pmtu_icmp_suppressed');
    const icmp = tooBigIcmp(packet, mtu, this.addresses.list(4));
    if (!icmp.ok) {
      this.log(`${this.name}: no ICMP for a ${packet.length}-octet packet over the path MTU: ${icmp.reason}`);
      return;
    }
    this.counters.inc('pmtu_icmp_sent');
    this.deliver(icmp.packet, icmp.etherType);
  }

  private txDrop(why: IpoibStatName): void {
    this.counters.inc('tx_dropped');
    this.counters.inc(why);
  }

  /** Posts one frame on the UD QP and counts it. */
  private post(dest: UdDestination, f: Buffer): void {
    const qp = this.qp;
    if (!qp || !this.adminUp) return this.txDrop('tx_dropped_no_carrier');
    // Seeded defects at the one exit of the control plane's frames.
    if (this.defects.has('header-reserved-set')) f = withHeaderReserved(f, DEFECT_HEADER_RESERVED);
    if (this.defects.has('qkey-zero') && dest.dqpn !== MCAST_QPN) dest = { ...dest, qkey: 0 };
    try {
      qp.send(dest, f);
      this.counters.inc('tx_packets');
      this.counters.inc('tx_bytes', f.length);
    } catch (e) {
      this.counters.inc('tx_errors');
      this.log(`${this.name}: send failed: ${(e as Error).message}`);
    }
  }

  // ---- receive -------------------------------------------------------------------------------

  /**
   * Frames that reached the QP by another way than its onReceive: a native data plane that owns
   * the QP's receive side hands over what it does not handle itself (ARP, ND, other EtherTypes).
   */
  receiveFrames(batch: readonly UdCompletion[]): void {
    this.onReceive(batch);
  }

  private onReceive(batch: readonly UdCompletion[]): void {
    for (const c of batch) {
      try {
        this.receiveOne(c);
      } catch (e) {
        // A frame the checks let through but a handler choked on: still never out of the callback.
        this.counters.inc('rx_dropped');
        this.log(`${this.name}: receive handler failed: ${(e as Error).message}`);
      }
    }
  }

  /**
   * An IPoIB frame that arrived on an RC connection (the JS data path's, or one a native data
   * plane punted: ARP, ND, other EtherTypes). The same checks as UD but the self-loop filter
   * (a connection has one peer); counted in the same counters, as the kernel counts CM receives.
   */
  receiveRcFrame(f: Buffer): void {
    try {
      if (!this.adminUp) return;
      this.receiveClassified(classifyFrame(f), false);
    } catch (e) {
      this.counters.inc('rx_dropped');
      this.log(`${this.name}: receive handler failed: ${(e as Error).message}`);
    }
  }

  private receiveOne(c: UdCompletion): void {
    const qp = this.qp;
    if (!qp || !this.adminUp) return; // a QP of a down interface is not in RTS: nothing arrives
    this.receiveClassified(classifyReceived(c, { lid: this.lid, qpn: qp.qpn, gid: this.gid }, this.defects), isNonBroadcastMulticast(c, this.broadcastMgid()));
  }

  private receiveClassified(v: RxVerdict, multicast: boolean): void {
    if (v.action === 'drop') {
      if (v.reason === 'own-echo') return this.counters.inc('rx_own_echo');
      this.counters.inc('rx_dropped');
      this.counters.inc(v.reason === 'short' ? 'rx_dropped_short' : 'rx_dropped_ethertype');
      return;
    }
    this.counters.inc('rx_packets');
    this.counters.inc('rx_bytes', v.payload.length);
    if (multicast) this.counters.inc('multicast');
    if (v.reserved !== 0) this.counters.inc('rx_header_reserved_nonzero');
    switch (v.action) {
      case 'arp':
        if (!this.resolver.receiveArp(v.payload)) this.rxDrop('rx_dropped_arp');
        return;
      case 'ipv4':
        return this.receiveIpv4(v.payload);
      case 'ipv6':
        return this.receiveIpv6(v.payload);
    }
  }

  private rxDrop(why: IpoibStatName): void {
    this.counters.inc('rx_dropped');
    this.counters.inc(why);
  }

  private deliver(packet: Buffer, etherType: number): void {
    for (const l of this.deliverListeners) l(Buffer.from(packet), etherType);
  }

  private receiveIpv4(payload: Buffer): void {
    try {
      ipv4Header.decode(payload, 0);
    } catch (e) {
      if (e instanceof WireError) return this.rxDrop('rx_dropped_ip');
      throw e;
    }
    this.deliver(payload, ETH_P_IP);
  }

  private receiveIpv6(payload: Buffer): void {
    let p;
    try {
      p = ipv6Packet.decode(payload, 0).value;
    } catch (e) {
      if (e instanceof WireError) return this.rxDrop('rx_dropped_ip');
      throw e;
    }
    const nd = parseNd(p);
    switch (nd.kind) {
      case 'not-nd':
        return this.deliver(payload, ETH_P_IPV6);
      case 'bad':
        this.log(`${this.name}: dropping ND: ${nd.reason}`);
        return this.rxDrop('rx_dropped_nd');
      default:
        return this.resolver.receiveNd(nd);
    }
  }

  // ---- link state ----------------------------------------------------------------------------

  private run(op: () => Promise<void>): Promise<void> {
    const next = this.serial.then(op);
    this.serial = next.catch(() => undefined);
    return next;
  }

  private setState(s: LinkState): void {
    if (s === this.linkState) return;
    this.linkState = s;
    this.log(`${this.name}: ${s}`);
    for (const l of this.stateListeners) l(s);
  }

  private armGc(): void {
    this.gcTimer.arm(NEIGH_GC_INTERVAL_MS, () => {
      this.neigh.collect();
      // A collected neighbour takes its sending connection with it, as in the kernel.
      this.cm.retainTx(this.neigh.list().flatMap((n) => (n.lladdr === null ? [] : [parseHwAddr(n.lladdr)])));
      this.mcast.collectIdle(NEIGH_IDLE_LIMIT_MS);
      if (this.adminUp) this.armGc();
    });
  }

  /** Finds the P_Key, makes sure the QP sits on its index, and starts the broadcast join. */
  private async bringUp(): Promise<void> {
    const attrs = this.port.attributes();
    this.lid = attrs.lid;
    this.gid = Buffer.from(attrs.gid);
    if (this.fixedPkey === undefined) this.pkeyValue = withFullBit(attrs.pkeys[0] ?? 0);
    const index = findPkeyIndex(attrs.pkeys, this.pkeyValue);
    this.pkeyIndex = index;
    // Seeded defect ignore-pkey-table: an absent P_Key is not a reason to wait.
    const qpIndex = index ?? (this.defects.has('ignore-pkey-table') ? DEFECT_PKEY_INDEX : undefined);
    if (qpIndex === undefined) {
      this.log(`${this.name}: P_Key 0x${this.pkeyValue.toString(16).padStart(4, '0')} is not found; no carrier until it appears`);
      this.setState('no-pkey');
      return;
    }
    if (!this.qp || this.qp.pkeyIndex !== qpIndex) await this.replaceQp(qpIndex);
    if (!this.adminUp) return;
    // Listening needs the QP only, not the port or the join (the kernel listens from ndo_open).
    this.cm.start();
    if (attrs.state !== 'active') {
      this.setState('port-down');
      return;
    }
    if (this.defects.has('carrier-before-join')) {
      // Seeded defect carrier-before-join: the link declared usable before the broadcast group is joined.
      this.mtuState.carrierOn();
      this.carrierOn = true;
    }
    this.setState('joining');
    this.mcast.start();
  }

  /** Carrier off, every group left, paths and sending connections forgotten. */
  private goDown(): void {
    this.carrierOn = false;
    this.mcast.flush();
    this.paths.flush();
    this.cm.flushTx();
  }

  private async replaceQp(pkeyIndex: number): Promise<void> {
    // A new UD QPN is a new Service ID, and the connections named the old one.
    this.cm.stop();
    await this.dropQp();
    const qp = await this.port.createUdQp({ qkey: 0, pkeyIndex });
    this.qp = qp;
    this.qkeyValue = 0;
    this.unsubscribeQp = qp.onReceive((batch) => this.onReceive(batch));
  }

  private async dropQp(): Promise<void> {
    const qp = this.qp;
    this.unsubscribeQp?.();
    this.unsubscribeQp = undefined;
    this.qp = undefined;
    await qp?.close();
  }

  private setQkey(qkey: number): void {
    this.qkeyValue = qkey;
    try {
      this.qp?.setQkey(qkey);
    } catch (e) {
      this.log(`${this.name}: setting Q_Key 0x${qkey.toString(16)} failed: ${(e as Error).message}`);
    }
  }

  /** The broadcast group is joined and attached: MTU from its record, then carrier (port active only). */
  private broadcastReady(rec: McMemberRecord): void {
    this.mtuState.groupJoined(rec.mtu);
    if (!this.adminUp) return;
    if (this.port.attributes().state !== 'active') {
      this.log(`${this.name}: keeping carrier off until the port is active`);
      return;
    }
    this.mtuState.carrierOn();
    this.carrierOn = true;
    this.setState('up');
  }

  private onPortEvent(e: PortEvent): void {
    const level: FlushLevel =
      e.type === 'client-reregister' ? 'light' : e.type === 'pkey-change' ? 'heavy' : 'normal';
    void this.run(() => this.flush(level)).catch((err: unknown) => this.log(`${this.name}: ${level} flush failed: ${(err as Error).message}`));
  }

  private async flush(level: FlushLevel): Promise<void> {
    if (this.destroyed) return;
    if (!this.adminUp) {
      // A down parent still tracks index 0 of the table, as its `pkey` file does.
      if (level === 'heavy' && this.fixedPkey === undefined) {
        this.pkeyValue = withFullBit(this.port.attributes().pkeys[0] ?? 0);
        this.hostGroups.remap();
      }
      return;
    }
    if (level === 'light') {
      this.paths.markInvalid();
      this.mcast.flush();
      if (this.linkState === 'joining' || this.linkState === 'up') this.mcast.start();
      return;
    }
    if (level === 'heavy' && !this.pkeyMoved()) return;
    this.goDown();
    if (this.fixedPkey === undefined) {
      const before = this.pkeyValue;
      this.pkeyValue = withFullBit(this.port.attributes().pkeys[0] ?? 0);
      if (before !== this.pkeyValue) this.hostGroups.remap();
    }
    this.setState('joining');
    await this.bringUp();
  }

  /** Heavy flush test: a parent restarts when the value at index 0 changed, a child when its index moved or it was missing. */
  private pkeyMoved(): boolean {
    const table = this.port.attributes().pkeys;
    const wanted = this.fixedPkey ?? withFullBit(table[0] ?? 0);
    const index = findPkeyIndex(table, wanted);
    if (this.linkState === 'no-pkey') return index !== undefined;
    if (this.fixedPkey === undefined) return wanted !== this.pkeyValue;
    return index !== this.pkeyIndex;
  }
}
