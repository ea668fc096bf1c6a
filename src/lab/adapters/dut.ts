/**
 * The device-under-test adapter: what a suite may do to and observe on an IPoIB implementation,
 * the same for Linux ib_ipoib (kernel-ipoib.ts) and the reference stack (through ipoibctl).
 *
 * Mutators return their own Undo, so a test queues it at once (`t.defer(await dut.setMtu(…))`).
 * Observers return typed data and never judge it. What the DUT lacks raises
 * Unsupported(capability); a refusal the kernel documents raises IpoibControlError with the
 * errno name (EINVAL, ENOTUNIQ, EEXIST, ENODEV, EBUSY, …).
 */
import type { IpoibHwAddr } from '../../wire/ipoib-hwaddr.js';

/** Restores what a mutator changed. Safe to call once; the cleanup stack calls it. */
export type Undo = () => Promise<void>;

/** For a mutator that found nothing to change. */
export const NO_UNDO: Undo = async () => {};

export type IpoibMode = 'datagram' | 'connected';

/** How a child interface is made and removed: `create_child`/`delete_child` or `ip link … type ipoib`. */
export type ChildPath = 'sysfs' | 'netlink';

export interface DutInterface {
  ifname: string;
  /** The parent of a child interface; null for a parent (one per IB port). */
  parent: string | null;
  mtu: number;
  /** Admin state (IFF_UP). */
  up: boolean;
  /** Carrier (IFF_LOWER_UP): on only after the broadcast group join completed. */
  carrier: boolean;
  operstate: string;
  hwaddr: IpoibHwAddr;
  broadcast: IpoibHwAddr;
  /** Null when the DUT does not report it for this interface (old kernels: parents have no netlink info). */
  pkey: number | null;
  mode: IpoibMode | null;
  umcast: boolean | null;
}

export interface IpAddress {
  family: 'inet' | 'inet6';
  address: string;
  prefixLength: number;
  scope: string;
  tentative: boolean;
  dadFailed: boolean;
}

export interface Neighbour {
  ip: string;
  /** Null while unresolved (INCOMPLETE, FAILED). */
  hwaddr: IpoibHwAddr | null;
  state: string[];
}

/** Rows of the `<if>_mcg` and `<if>_path` dumps, as debugfs-parsers reads them. */
export type { McgDumpRow as McgRow, PathDumpRow as PathRow } from './debugfs-parsers.js';
import type { McgDumpRow as McgRow, PathDumpRow as PathRow } from './debugfs-parsers.js';

export interface PingOptions {
  count?: number;
  /** ICMP payload size in octets (ping -s). */
  size?: number;
  /** Seconds to wait for each reply (ping -W). */
  waitSeconds?: number;
  /** Seconds between echo requests (ping -i; below 0.2 needs root); ping's default is 1. */
  intervalSeconds?: number;
  /** Forbid fragmentation (ping -M do), for MTU probing. */
  dontFragment?: boolean;
}

export interface PingResult {
  transmitted: number;
  received: number;
  rttMinMs: number | null;
  rttAvgMs: number | null;
  rttMaxMs: number | null;
}

export interface FileDigest {
  path: string;
  bytes: number;
  /** Lower-case hex SHA-256 of the content. */
  sha256: string;
}

/** A receiver started by receiveFile(): resolves once the sender closed the connection. */
export interface FileReceiver {
  received: Promise<FileDigest>;
  /** Stops the listener if still running and removes the file. */
  undo: Undo;
}

export interface CreatedChild {
  ifname: string;
  /** Deletes the child through the same path that made it. */
  undo: Undo;
}

export interface NetlinkChildSpec {
  /** New interface name; the kernel picks `ipoib%d` when absent. */
  name?: string;
  /** Sent raw; absent means "the parent's P_Key". */
  pkey?: number;
  mode?: IpoibMode;
  umcast?: boolean;
}

/**
 * The run-time debug levels of Linux ib_ipoib (module parameters, writable while the module is
 * loaded; present only when it is built with CONFIG_INFINIBAND_IPOIB_DEBUG, and the data ones
 * only with CONFIG_INFINIBAND_IPOIB_DEBUG_DATA). The kernel's are module-wide; the reference
 * stack has one level per interface (`ipoibctl debug IF LEVEL`), which it offers as debug_level.
 */
export type DebugLevelName = 'debug_level' | 'mcast_debug_level' | 'data_debug_level' | 'cm_data_debug_level';
export const DEBUG_LEVEL_NAMES: readonly DebugLevelName[] = ['debug_level', 'mcast_debug_level', 'data_debug_level', 'cm_data_debug_level'];

/** A place in the DUT's log (opaque to callers): logSince() returns what was logged after it. */
export interface LogMark {
  readonly where: string;
}

export interface DutAdapter {
  readonly kind: 'kernel' | 'reference';
  /** The interface the lab file names for this node; methods default to it. */
  readonly ifname: string;

  /** Every IPoIB interface on the node, parents and children. */
  interfaces(): Promise<DutInterface[]>;
  /** One interface's state. */
  link(ifname?: string): Promise<DutInterface>;

  /** Writes `pkey` to the parent's create_child; resolves to the new interface and its undo. */
  createChildSysfs(pkey: number, parent?: string): Promise<CreatedChild>;
  /** Writes `pkey` to the parent's delete_child as given (the kernel matches the stored, 0x8000-ORed value). */
  deleteChildSysfs(pkey: number, parent?: string): Promise<Undo>;
  createChildNetlink(spec: NetlinkChildSpec, parent?: string): Promise<CreatedChild>;
  deleteChildNetlink(ifname: string): Promise<Undo>;

  mode(ifname?: string): Promise<IpoibMode>;
  /** The undo also puts back the MTU, which a mode switch changes. */
  setMode(mode: IpoibMode, o?: { ifname?: string; via?: ChildPath }): Promise<Undo>;
  mtu(ifname?: string): Promise<number>;
  setMtu(mtu: number, ifname?: string): Promise<Undo>;
  umcast(ifname?: string): Promise<boolean>;
  setUmcast(on: boolean, o?: { ifname?: string; via?: ChildPath }): Promise<Undo>;
  hwaddr(ifname?: string): Promise<IpoibHwAddr>;
  setHwaddr(addr: IpoibHwAddr, ifname?: string): Promise<Undo>;
  broadcast(ifname?: string): Promise<IpoibHwAddr>;
  setBroadcast(addr: IpoibHwAddr, ifname?: string): Promise<Undo>;
  carrier(ifname?: string): Promise<boolean>;
  setUp(up: boolean, ifname?: string): Promise<Undo>;

  addresses(ifname?: string): Promise<IpAddress[]>;
  /** `cidr` like "10.0.0.1/24" or "fd00::1/64". */
  addAddress(cidr: string, ifname?: string): Promise<Undo>;
  neighbours(ifname?: string): Promise<Neighbour[]>;
  /** Dynamic entries cannot be put back, so the undo does nothing. */
  flushNeighbours(ifname?: string): Promise<Undo>;
  /** Counters by name (ipoib's: rx_packets … multicast). */
  counters(ifname?: string): Promise<Record<string, number>>;
  mcgDump(ifname?: string): Promise<McgRow[]>;
  pathDump(ifname?: string): Promise<PathRow[]>;

  /** A debug level; `ifname` matters only where levels are per interface. Unsupported when the DUT lacks that level. */
  debugLevel(name: DebugLevelName, ifname?: string): Promise<number>;
  /** Sets a debug level at run time; the undo puts back the level read before. Unsupported when the DUT lacks it. */
  setDebugLevel(name: DebugLevelName, level: number, ifname?: string): Promise<Undo>;
  /** The end of the DUT's log now (the kernel's ring buffer; the reference daemon's log file). Unsupported when it cannot be read. */
  logMark(): Promise<LogMark>;
  /** Lines the DUT logged after `mark`, oldest first. */
  logSince(mark: LogMark): Promise<string[]>;

  /** Pings from the node's IP stack through the interface; lost replies are a result, not an error. */
  ping(target: string, o?: PingOptions & { ifname?: string }): Promise<PingResult>;
  /** Makes a file of random content on the node. */
  makeFile(bytes: number): Promise<FileDigest & { undo: Undo }>;
  /** Listens on a TCP port (IPv4 or IPv6) and stores what one sender sends. */
  receiveFile(port: number, family?: 'inet' | 'inet6'): Promise<FileReceiver>;
  /** Sends a file made with makeFile() to a receiver at address:port. */
  sendFile(path: string, address: string, port: number): Promise<void>;
}
