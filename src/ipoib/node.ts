/**
 * An IPoIB node: one IpoibInterface (the control plane) bound to a native TUN data plane in a
 * network namespace, so that the kernel's own IP traffic crosses the simulated fabric.
 *
 *   kernel ──TUN── TunDataPlane (C++, per packet) ──UD QP── fabric
 *                      │ punts ▲ tables
 *                      ▼       │
 *                  IpoibInterface (ARP, ND, joins, paths)
 *
 * - Punts from the host: `no-neighbour` and `no-group` go to the interface's transmit(), which
 *   resolves (ARP/ND, with the kernel's 3-packet queue) or joins (send-only) and sends; once
 *   resolved, the tables sync installs the entry so later packets take the fast path.
 *   `rc-pending` (connected mode, the peer's connection not up yet) goes the same way: the
 *   interface makes the connection and sends up to 3 waiting packets on it (sendRc) once it
 *   is up. `too-big` (longer than the UD MTU or the connection's) is answered with PMTU
 *   emulation: an ICMP error for the host, injected. ND messages the kernel sends and
 *   not-IP/malformed packets are dropped and counted: the stack runs ARP and ND itself.
 * - Punts from the fabric (ARP, ND, other EtherTypes, over UD or RC) go to the interface's
 *   receive path; an RC QP the data plane saw fail ends its connection (rcFailed).
 * - Connected mode: every connection in RTS, sending or receiving, is handed to the data plane
 *   (attachRc), which then carries its frames; what the JS QP received before the hand-over
 *   is run through the plane's RC receive path (injectRcFrame). The TUN device gets the
 *   interface MTU (65520 in connected mode), the data plane's UD limit the group's.
 * - IP packets the interface delivers (none in practice: the fast path writes IP itself) are
 *   injected to the host.
 * - Link: Q_Key, MTU and carrier follow the interface (broadcast group record, join); the TUN
 *   device's carrier follows too.
 * - Tables: neighbours and groups are synced after every punt batch and every SYNC_INTERVAL_MS.
 *
 * - Ageing: the control plane ages neighbours (and send-only groups) by their last transmit;
 *   every FAST_PATH_USE_POLL_MS the node asks the data plane which entries it sent to and
 *   reports them (noteFastPathUse), so an entry in steady use on the fast path stays, and one
 *   idle for the kernel's 60 s goes.
 *
 * Known limits: a QP replaced by the interface (its
 * P_Key index moved) is followed by making the TUN device again on the new QP (its addresses
 * with it; sockets bound to the old device see it go). The host's own multicast memberships
 * (/proc/net/igmp, igmp6 in the namespace, read in-process by a native thread that enters it:
 * proc-net.ts) are polled (observeHostGroups, every 500 ms by default) and become full-member joins, so a join or leave takes up to one poll interval to
 * reach the fabric; joinGroup() remains for groups the kernel does not hold. A child whose P_Key
 * is absent from the port's table at open() comes up as Linux's does: the TUN device exists and
 * is up, without carrier. Its data plane sits on a placeholder UD QP of the node's own (P_Key
 * index 0, a random Q_Key nobody is told, no groups attached, no neighbours), which only keeps
 * the TUN device; when the P_Key appears the interface makes its real QP and the data plane
 * is rebound to it, as after any QP change.
 *
 * Sim provider only: the data plane needs the port's native SimEndpoint.
 */
import { randomInt } from 'node:crypto';
import { ArgumentError, RcSendQueueFullError } from '../errors.js';
import type { HcaPort, RcQp, UdCompletion } from '../fabric/hca.js';
import { SimEndpoint } from '../fabric/sim/native-endpoint.js';
import { ETH_P_IP, ETH_P_IPV6, IPOIB_HEADER_LEN, IPV4_MIN_MTU, LID_MULTICAST_BASE } from '../wire/constants.js';
import { formatIpv4, formatIpv6 } from '../wire/ip-text.js';
import type { RcDataPath } from './cm/rc-data-path.js';
import { IpoibInterface, type IpoibInterfaceOptions, type LinkState } from './interface.js';
import { TunDataPlane, type RxPunt, type TunCounters, type TunPunt, type TxPunt } from './native/tun-data-plane.js';
import { NetnsLinkConfig } from './node-netns.js';
import { FastPathTables } from './node-tables.js';
import { findPkeyIndex } from './pkey-table.js';
import { HostMembershipObserver, type MembershipSource } from './host-memberships.js';
import { nativeMembershipSource } from './native/proc-net.js';

/** How often the tables are synced besides after punts. */
export const SYNC_INTERVAL_MS = 20;
/**
 * How often the fast path's use of its entries reaches the control plane's ageing: far below
 * the 30 s GC interval and 60 s idle limit, so a busy entry is never seen idle; each poll walks
 * the native tables once.
 */
export const FAST_PATH_USE_POLL_MS = 1000;

export interface IpoibNodeOptions {
  /** A port of the sim provider (the data plane binds its native endpoint). */
  port: HcaPort;
  /** The TUN device's name, also the interface's (e.g. `ib0`, `ib0.8001`). */
  ifname: string;
  /** The `ip netns` name (or an absolute namespace path) the TUN device is created in. */
  netns: string;
  /** A child's P_Key (0x8000 ORed in); absent: the parent, on index 0 of the port's table. */
  pkey?: number;
  /** Addresses for both the kernel and the stack, e.g. `192.0.2.1/24`, `2001:db8::1/64`. */
  addresses?: readonly string[];
  /**
   * An interface made elsewhere (e.g. IpoibHost.createChild) to bind instead of making one;
   * then `pkey` is ignored, and close() takes it admin down and removes the addresses it added;
   * the owner destroys it.
   */
  interface?: IpoibInterface;
  /** More interface options when the node makes the interface (clock, log, IID profile …). */
  interfaceOptions?: Omit<IpoibInterfaceOptions, 'name' | 'port' | 'pkey'>;
  /**
   * Observe the kernel's IPv4/IPv6 group memberships on the TUN device and join/leave their
   * MGIDs as a full member (default true); false: only joinGroup() joins.
   */
  observeHostGroups?: boolean;
  /** The observer's poll interval in ms (default HOST_GROUP_POLL_MS, 500). */
  hostGroupPollMs?: number;
  /** Where the memberships are read from (default /proc/net/igmp{,6} in `netns`, nativeMembershipSource); for tests. */
  hostGroupSource?: MembershipSource;
  log?: (line: string) => void;
}

/** What the node did with punts, by kind (the data plane's own counters are in `plane`). */
export interface NodePuntCounts {
  /** Host packets handed to the interface's transmit (no neighbour, no group). */
  txToStack: number;
  /** Host packets longer than their path (UD MTU, connection MTU): dropped, answered with PMTU emulation. */
  txTooBig: number;
  /** Host packets to a peer whose connection was not up yet, handed to the interface (it queues 3). */
  txRcPending: number;
  /** RC QPs the data plane saw fail (each ends its connection). */
  rcFailures: number;
  /** ND the kernel sent, not-IP and malformed host packets: dropped. */
  txDropped: number;
  /** Fabric frames handed to the interface's receive path (ARP, ND, other EtherTypes). */
  rxToStack: number;
  /** Packets the interface delivered and the node injected to the host. */
  injected: number;
  /** Injections that failed (e.g. larger than the MTU). */
  injectFailed: number;
}

export interface IpoibNodeStats {
  punts: NodePuntCounts;
  plane: TunCounters;
  tables: { neighbours: number; groups: number };
}

export class IpoibNode {
  private readonly punts: NodePuntCounts = { txToStack: 0, txTooBig: 0, txRcPending: 0, rcFailures: 0, txDropped: 0, rxToStack: 0, injected: 0, injectFailed: 0 };
  private readonly unsubscribe: Array<() => void> = [];
  private timer: NodeJS.Timeout | undefined;
  private useTimer: NodeJS.Timeout | undefined;
  /** The LID the data plane's own-echo filter knows. */
  private lid: number;
  private closing: Promise<void> | undefined;
  /** A data plane being replaced because the interface's QP changed (rebind()). */
  private rebinding: Promise<void> | undefined;
  /** The host's memberships turned into joins (observeHostGroups). */
  private hostGroups: HostMembershipObserver | undefined;
  /** Gives the connections' frames back to the interface's JS path (undoes useRcDataPath). */
  private releaseRcPath: (() => void) | undefined;

  private constructor(
    /** The control plane: neighbours(), stats(), info(), joinGroup() … */
    readonly iface: IpoibInterface,
    private planeNow: TunDataPlane,
    readonly netns: string,
    private readonly link: NetnsLinkConfig,
    private readonly tables: FastPathTables,
    private readonly endpoint: SimEndpoint,
    private readonly port: HcaPort,
    private readonly ownsInterface: boolean,
    /** The addresses open() gave the interface, taken back from one handed in. */
    private readonly addedAddresses: readonly string[],
    /** What the TUN device gets: the addresses and the link-local one. */
    private readonly kernelAddresses: readonly string[],
    private readonly log: (line: string) => void,
    /** The QP the data plane was opened on while the P_Key was absent; destroyed once unused. */
    private placeholderQpn: number | undefined,
  ) {
    this.lid = endpoint.lid;
  }

  /**
   * Makes (or takes) the interface and brings it up, creates the TUN device in `netns` on the
   * interface's UD QP, assigns the addresses (and the GUID-derived link-local one) and sets the
   * link up. On any failure everything done so far is undone before the error is thrown.
   */
  static async open(o: IpoibNodeOptions): Promise<IpoibNode> {
    const log = o.log ?? (() => undefined);
    const owns = o.interface === undefined;
    const iface =
      o.interface ??
      new IpoibInterface({ ...o.interfaceOptions, name: o.ifname, port: o.port, ...(o.pkey !== undefined ? { pkey: o.pkey } : {}) });
    const link = new NetnsLinkConfig(o.netns, o.ifname);
    const added: string[] = [];
    let plane: TunDataPlane | undefined;
    let node: IpoibNode | undefined;
    let placeholder: number | undefined;
    try {
      for (const cidr of o.addresses ?? []) {
        iface.addAddress(cidr);
        added.push(cidr);
      }
      await iface.open();
      const endpoint = endpointOf(o.port);
      let qpn = iface.qpn;
      let pkeyIndex = findPkeyIndex(o.port.attributes().pkeys, iface.pkey);
      if (qpn === undefined || pkeyIndex === undefined) {
        // No UD QP yet: the interface waits for its P_Key to appear (state 'no-pkey'). The TUN
        // device still has to exist (up, no carrier, as Linux's child): see the file comment.
        placeholder = endpoint.createUdQp({ qkey: randomInt(1, 0x80000000), pkeyIndex: 0 });
        qpn = placeholder;
        pkeyIndex = 0;
      }
      plane = openPlane(o.ifname, o.netns, endpoint, iface, qpn, pkeyIndex);
      const kernelAddresses = [...(o.addresses ?? []), `${iface.linkLocal()}/64`];
      node = new IpoibNode(iface, plane, o.netns, link, new FastPathTables(iface, plane), endpoint, o.port, owns, added, kernelAddresses, log, placeholder);
      node.wire();
      await node.configureLink();
      if (o.observeHostGroups !== false) node.observeHostGroups(o.hostGroupSource ?? nativeMembershipSource(o.netns), o.hostGroupPollMs);
      return node;
    } catch (e) {
      try {
        if (node) {
          await node.close();
        } else {
          await plane?.close();
          if (placeholder !== undefined) endpointOf(o.port).destroyQp(placeholder);
          if (owns) await iface.destroy();
          else await takeBack(iface, added);
        }
      } catch (undoFailure) {
        log(`${o.ifname}: undo after a failed open: ${(undoFailure as Error).message}`);
      }
      throw e;
    }
  }

  /** The native data plane (counters(), tableSizes()); a new one after a rebind. */
  get plane(): TunDataPlane {
    return this.planeNow;
  }

  get ifname(): string {
    return this.planeNow.ifname;
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /** The host joins an IP multicast group: the interface joins its IB group, the fast path maps it. */
  joinGroup(ip: string): void {
    this.iface.joinGroup(ip);
    this.tables.track(ip);
    this.tables.sync();
  }

  leaveGroup(ip: string): void {
    this.iface.leaveGroup(ip);
    this.tables.untrack(ip);
    this.tables.sync();
  }

  /** The groups joined because the host holds them (empty when not observing). */
  hostJoinedGroups(): string[] {
    return this.hostGroups?.joined() ?? [];
  }

  stats(): IpoibNodeStats {
    return { punts: { ...this.punts }, plane: this.plane.counters(), tables: this.tables.sizes() };
  }

  /**
   * Undoes everything: the sync stops, the addresses go, the data plane closes (removing the
   * TUN device), and the interface is destroyed (or only taken down when it was handed in).
   * Idempotent; the first failure is thrown after every step ran.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.timer) clearInterval(this.timer);
      if (this.useTimer) clearInterval(this.useTimer);
      // First: no join may start once the tables are cleared; the host's groups are left.
      const observerStopped = this.hostGroups?.stop().then(
        () => undefined,
        (e: unknown) => e as Error,
      );
      const observerFailure = await observerStopped;
      for (const u of this.unsubscribe.splice(0)) u();
      await this.rebinding;
      // The connections' QPs go back to the JS path before the data plane holding them closes.
      this.releaseRcPath?.();
      const failures = await this.link.undo();
      if (observerFailure) failures.unshift(observerFailure);
      this.tables.clear();
      try {
        await this.plane.close();
      } catch (e) {
        failures.push(e as Error);
      }
      try {
        this.dropPlaceholder();
      } catch (e) {
        failures.push(e as Error);
      }
      try {
        if (this.ownsInterface) await this.iface.destroy();
        else await takeBack(this.iface, this.addedAddresses);
      } catch (e) {
        failures.push(e as Error);
      }
      const first = failures[0];
      if (first) throw first;
    })();
    return this.closing;
  }

  private observeHostGroups(source: MembershipSource, intervalMs: number | undefined): void {
    this.hostGroups = new HostMembershipObserver({
      source,
      ifname: this.ifname,
      sink: { joinGroup: (ip) => this.joinGroup(ip), leaveGroup: (ip) => this.leaveGroup(ip) },
      ...(intervalMs !== undefined ? { intervalMs } : {}),
      log: this.log,
    });
    this.hostGroups.start();
  }

  private wire(): void {
    this.plane.onPunt((batch) => this.onPunts(batch));
    this.releaseRcPath = this.iface.useRcDataPath(new PlaneRcPath(() => this.planeNow, this.port, this.iface, this.log));
    this.unsubscribe.push(
      () => this.plane.closed || this.plane.onPunt(null), // the current plane's, at close time
      this.iface.onDeliver((packet) => this.inject(packet)),
      this.iface.onStateChange((s) => this.onState(s)),
      // An MTU change or a neighbour flush reaches the TUN device and the fast path at once.
      this.iface.onConfigChange(() => this.syncLink()),
    );
    this.timer = setInterval(() => this.safeSync(), SYNC_INTERVAL_MS);
    this.timer.unref();
    this.useTimer = setInterval(() => this.reportFastPathUse(), FAST_PATH_USE_POLL_MS);
    this.useTimer.unref();
  }

  /** Tells the control plane's ageing which entries the fast path sent to since the last poll. */
  reportFastPathUse(): void {
    if (this.closing || this.rebinding) return;
    try {
      const used = this.tables.takeUsed();
      if (used.neighbours.length > 0 || used.mgids.length > 0) this.iface.noteFastPathUse(used.neighbours, used.mgids);
    } catch (e) {
      this.log(`${this.ifname}: reading the fast path's use failed: ${(e as Error).message}`);
    }
  }

  private onPunts(batch: TunPunt[]): void {
    const rx: UdCompletion[] = [];
    for (const p of batch) {
      if (p.direction === 'tx') {
        this.onTxPunt(p);
      } else if (p.direction === 'rc') {
        this.punts.rcFailures++;
        this.iface.rcFailed(p.qpn, [p.status, p.reason, p.detail].filter(Boolean).join(': '));
      } else if (p.via === 'rc') {
        this.punts.rxToStack++;
        this.iface.receiveRcFrame(Buffer.from(p.frame));
      } else {
        rx.push(this.completionOf(p));
      }
    }
    if (rx.length > 0) {
      this.punts.rxToStack += rx.length;
      this.iface.receiveFrames(rx);
    }
    this.safeSync();
  }

  private onTxPunt(p: TxPunt): void {
    switch (p.reason) {
      case 'no-neighbour':
      case 'no-group': {
        const packet = Buffer.from(p.packet); // the batch's buffer is reused by the binding
        const v6 = packet[0] !== undefined && packet[0] >> 4 === 6;
        if (p.reason === 'no-group') this.trackDestination(packet, v6);
        this.punts.txToStack++;
        this.iface.transmit(packet, v6 ? ETH_P_IPV6 : ETH_P_IP);
        return;
      }
      case 'rc-pending':
        this.punts.txRcPending++;
        this.iface.transmit(Buffer.from(p.packet), p.packet[0] !== undefined && p.packet[0] >> 4 === 6 ? ETH_P_IPV6 : ETH_P_IP);
        return;
      case 'too-big':
        // The data plane counted the drop (tx_dropped, tx_errors); the host hears of the UD MTU.
        this.punts.txTooBig++;
        this.iface.hostPacketTooBig(Buffer.from(p.packet), false);
        return;
      default:
        this.punts.txDropped++;
    }
  }

  /** A group the host sends to: map it in the fast path once the (send-only) join is done. */
  private trackDestination(packet: Buffer, v6: boolean): void {
    if (v6 && packet.length >= 40) this.tables.track(formatIpv6(packet.subarray(24, 40)));
    else if (!v6 && packet.length >= 20) this.tables.track(formatIpv4(packet.subarray(16, 20)));
  }

  private completionOf(p: RxPunt): UdCompletion {
    return {
      qpn: this.plane.qpn,
      srcQpn: p.srcQpn,
      slid: p.slid,
      sl: p.sl,
      pkey: p.pkey,
      qkey: p.qkey,
      payload: Buffer.from(p.frame),
      ...(p.grh ? { grh: { sgid: Buffer.from(p.grh.sgid), dgid: Buffer.from(p.grh.dgid), hopLimit: 0, trafficClass: 0, flowLabel: 0 } } : {}),
    };
  }

  private inject(packet: Buffer): void {
    if (this.plane.closed) return;
    try {
      this.plane.injectToHost(packet);
      this.punts.injected++;
    } catch (e) {
      this.punts.injectFailed++;
      this.log(`${this.ifname}: inject to host failed: ${(e as Error).message}`);
    }
  }

  private onState(s: LinkState): void {
    this.log(`${this.ifname}: link ${s}`);
    this.syncLink();
  }

  /** The TUN device's configuration: the kernel's link-local address off, addresses, link up. */
  private async configureLink(): Promise<void> {
    await this.link.noKernelLinkLocal();
    for (const cidr of this.kernelAddresses) await this.link.addAddress(cidr);
    await this.link.up();
    this.syncLink();
  }

  /** Q_Key, MTU, our LID and carrier from the interface to the data plane and the TUN device. */
  private syncLink(): void {
    if (this.plane.closed) return;
    try {
      if (this.iface.qpn !== this.plane.qpn) return this.qpMoved();
      const lid = this.port.attributes().lid;
      if (lid !== this.lid && lid > 0 && lid < LID_MULTICAST_BASE) {
        this.plane.setLocalLid(lid);
        this.lid = lid;
      }
      if (this.iface.carrier) {
        if (this.plane.qkey !== this.iface.qkey) this.plane.setQkey(this.iface.qkey);
        // The UD limit first: the host MTU may exceed the port's only once the UD MTU is its own.
        const udMtu = clampMtu(this.iface.udMtu, this.endpoint);
        if (this.plane.udMtu !== udMtu) this.plane.setUdMtu(udMtu);
        const mtu = hostMtu(this.iface, this.endpoint);
        if (this.plane.mtu !== mtu) this.plane.setMtu(mtu);
      }
      this.plane.setCarrier(this.iface.carrier);
      this.tables.sync();
    } catch (e) {
      this.log(`${this.ifname}: link sync failed: ${(e as Error).message}`);
    }
  }

  private safeSync(): void {
    if (this.iface.qpn !== this.plane.qpn) return this.qpMoved();
    try {
      this.tables.sync();
    } catch (e) {
      this.log(`${this.ifname}: table sync failed: ${(e as Error).message}`);
    }
  }

  /**
   * The interface replaced its UD QP (its P_Key index moved, or the P_Key went and came back):
   * the data plane still sits on the old one. Carrier off and tables emptied at once; once the
   * new QP exists, the TUN device is made again on it (rebind()).
   */
  private qpMoved(): void {
    if (this.rebinding || this.closing || this.plane.closed) return;
    try {
      this.plane.setCarrier(false);
      this.tables.clear();
    } catch (e) {
      this.log(`${this.ifname}: emptying the data plane failed: ${(e as Error).message}`);
    }
    if (this.iface.qpn === undefined) return; // no QP yet: the next state change brings one
    this.rebinding = this.rebind()
      .catch((e: unknown) => this.log(`${this.ifname}: rebinding the data plane failed: ${(e as Error).message}`))
      .finally(() => {
        this.rebinding = undefined;
      });
  }

  /** Destroys the placeholder QP once no data plane sits on it. */
  private dropPlaceholder(): void {
    const qpn = this.placeholderQpn;
    if (qpn === undefined) return;
    this.placeholderQpn = undefined;
    if (!this.endpoint.closed) this.endpoint.destroyQp(qpn);
  }

  /** Closes the data plane (its TUN device goes, with its addresses) and opens one on the interface's QP. */
  private async rebind(): Promise<void> {
    const old = this.planeNow;
    await this.link.undo();
    old.onPunt(null);
    await old.close();
    this.dropPlaceholder();
    const qpn = this.iface.qpn;
    const pkeyIndex = findPkeyIndex(this.port.attributes().pkeys, this.iface.pkey);
    if (this.closing || qpn === undefined || pkeyIndex === undefined) return;
    this.log(`${this.ifname}: rebinding the data plane from QPN ${old.qpn} to ${qpn}`);
    const plane = openPlane(old.ifname, this.netns, this.endpoint, this.iface, qpn, pkeyIndex);
    this.planeNow = plane;
    this.tables.retarget(plane);
    this.lid = this.endpoint.lid;
    plane.onPunt((batch) => this.onPunts(batch));
    await this.configureLink();
  }
}

/** A data plane on `qpn`, its TUN device down and without carrier until configureLink() and the join. */
function openPlane(ifname: string, netns: string, endpoint: SimEndpoint, iface: IpoibInterface, qpn: number, pkeyIndex: number): TunDataPlane {
  const plane = TunDataPlane.open({
    ifname,
    netns,
    endpoint,
    qpn,
    qkey: iface.qkey,
    pkeyIndex,
    mtu: hostMtu(iface, endpoint),
    udMtu: clampMtu(iface.udMtu, endpoint),
    broadcastMgid: iface.broadcastMgid(),
    up: false,
    defects: iface.defects,
  });
  try {
    plane.setCarrier(false);
  } catch (e) {
    void plane.close();
    throw e;
  }
  return plane;
}

/** Leaves a handed-in interface as it came: admin down, without the addresses open() added. */
async function takeBack(iface: IpoibInterface, added: readonly string[]): Promise<void> {
  await iface.close();
  for (const cidr of added) iface.removeAddress(cidr);
}

function endpointOf(port: HcaPort): SimEndpoint {
  const withEndpoint = port as HcaPort & { endpointForDataPlane?: () => unknown };
  const ep = typeof withEndpoint.endpointForDataPlane === 'function' ? withEndpoint.endpointForDataPlane() : undefined;
  if (!(ep instanceof SimEndpoint)) throw new ArgumentError('IpoibNode.open', 'o.port', port.provider, 'a sim-provider port with a native endpoint');
  return ep;
}

/** A UD MTU within what the data plane accepts (IPv4's minimum to the port MTU - 4). */
function clampMtu(mtu: number, ep: { mtuBytes: number }): number {
  return Math.max(IPV4_MIN_MTU, Math.min(mtu, ep.mtuBytes - IPOIB_HEADER_LEN));
}

/** The TUN device's MTU: the interface's, which only connected mode lets exceed the port's. */
function hostMtu(iface: IpoibInterface, ep: { mtuBytes: number }): number {
  return iface.mode === 'connected' ? Math.max(IPV4_MIN_MTU, iface.mtu) : clampMtu(iface.mtu, ep);
}

/**
 * The connections' frames through the data plane (attachRc, sendRc), so no frame of an
 * established connection crosses into JavaScript. Idle reaping reads how many messages a QP
 * delivered from the sim port's engine counters.
 */
class PlaneRcPath implements RcDataPath {
  /** The JS RcQp's own message subscription, kept to pass on what it took before the hand-over. */
  private readonly drains = new Map<number, () => void>();

  constructor(
    private readonly plane: () => TunDataPlane,
    private readonly port: HcaPort,
    private readonly iface: IpoibInterface,
    private readonly log: (line: string) => void,
  ) {}

  attach(qp: RcQp): void {
    const plane = this.plane();
    plane.attachRc(qp.qpn);
    const qpn = qp.qpn;
    this.drains.set(
      qpn,
      qp.onMessage((m) => {
        try {
          if (!plane.closed) plane.injectRcFrame(qpn, m);
        } catch (e) {
          this.log(`${plane.ifname}: a frame QP 0x${qpn.toString(16)} received before the hand-over was lost: ${(e as Error).message}`);
        }
      }),
    );
  }

  detach(qp: RcQp): void {
    this.drains.get(qp.qpn)?.();
    this.drains.delete(qp.qpn);
    const plane = this.plane();
    if (!plane.closed) plane.detachRc(qp.qpn);
  }

  send(qp: RcQp, frame: Buffer): void {
    try {
      this.plane().sendRc(qp.qpn, frame);
    } catch (e) {
      // A full send queue drops the frame, as a full kernel TX ring would; the connection stays.
      if (!(e instanceof RcSendQueueFullError)) throw e;
      this.iface.counters.inc('tx_dropped');
    }
  }

  received(qp: RcQp): number {
    const withInfo = this.port as HcaPort & { rcQpInfo?: (qpn: number) => { stats: Record<string, number> } };
    try {
      return withInfo.rcQpInfo?.(qp.qpn).stats.messagesDelivered ?? 0;
    } catch {
      return 0; // the QP is gone: its connection is ending anyway
    }
  }
}
