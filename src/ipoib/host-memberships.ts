/**
 * The kernel's own IP multicast memberships on a node's TUN device, observed and turned into the
 * stack's joins (issue 4 item 5): a group the host joined (IP_ADD_MEMBERSHIP, IPV6_JOIN_GROUP …)
 * becomes a full-member join of the mapped MGID; a group it left is left.
 *
 * Where the memberships come from: /proc/net/igmp and /proc/net/igmp6, read inside the node's
 * namespace. /proc/net resolves through the *reading* process's network namespace, so entering
 * only the network namespace is enough: `nsenter --net=PATH cat FILE` (argv, no shell, bounded
 * by a timeout). nsenter rather than `ip netns exec` because it also takes an absolute
 * namespace path (as IpoibNode does) and does not remount /sys for every poll.
 *
 * Groups the stack manages itself are left alone: 224.0.0.1, ff02::1, the solicited-node groups
 * (the interface joins them for its addresses) and IPv6 groups of scope below link-local, which
 * Linux never hands to a device (they never leave the host).
 */
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { endianness } from 'node:os';
import { ArgumentError, ParseError, ProcReadError } from '../errors.js';
import { formatIpv4, formatIpv6, parseIpv6 } from '../wire/ip-text.js';

/** One row of /proc/net/igmp or /proc/net/igmp6: a group held on a device. */
export interface HostMembership {
  ifindex: number;
  ifname: string;
  family: 4 | 6;
  /** Canonical text (e.g. `239.1.2.3`, `ff05::1:3`). */
  group: string;
  /** Sockets and kernel users holding the group. */
  users: number;
}

export const PROC_IGMP = '/proc/net/igmp';
export const PROC_IGMP6 = '/proc/net/igmp6';

/** Default poll interval of the observer. */
export const HOST_GROUP_POLL_MS = 500;
/** Bound on one read of a /proc file in the namespace. */
export const PROC_READ_TIMEOUT_MS = 5000;

// A device line: ifindex, name (padded), ':', the group count, the querier version (V1..V3; NONE
// without IP multicast support). A group line: tab-indented, the address as the kernel's 32-bit
// word printed in host byte order, users, timer running:expiry, reporter flag.
const IGMP_HEADER_RE = /^Idx\s+Device\s*:/;
const IGMP_DEVICE_RE = /^(\d+)\s+(\S+?)\s*:\s*(\d+)\s+(\S+)\s*$/;
const IGMP_GROUP_RE = /^\t+([0-9A-Fa-f]{8})\s+(\d+)\s+([01]):([0-9A-Fa-f]+)\s+(\d+)\s*$/;
// ifindex, name, the address as 32 hex digits, users, flags (8 hex digits), timer.
const IGMP6_LINE_RE = /^(\d+)\s+(\S+)\s+([0-9a-fA-F]{32})\s+(\d+)\s+([0-9A-Fa-f]{8})\s+(-?\d+)\s*$/;

function toIfindex(file: string, where: string, text: string): number {
  const n = Number(text);
  if (!Number.isSafeInteger(n) || n < 1) throw new ParseError(file, where, 'an ifindex of 1 or more', text);
  return n;
}

/**
 * Parses /proc/net/igmp. The group word is printed as the host reads the network-order address
 * from memory, so `byteOrder` is the kernel's (this machine's by default): 224.0.0.1 is
 * `010000E0` on a little-endian host.
 */
export function parseProcIgmp(text: string, byteOrder: 'LE' | 'BE' = endianness()): HostMembership[] {
  const rows: HostMembership[] = [];
  const lines = text.split('\n');
  let device: { ifindex: number; ifname: string } | undefined;
  let sawHeader = false;
  lines.forEach((line, i) => {
    const where = `line ${i + 1}`;
    if (line.trim() === '') return;
    if (!sawHeader) {
      if (!IGMP_HEADER_RE.test(line)) throw new ParseError(PROC_IGMP, where, 'the header line "Idx Device : Count Querier Group Users Timer Reporter"', line);
      sawHeader = true;
      return;
    }
    const d = IGMP_DEVICE_RE.exec(line);
    if (d) {
      device = { ifindex: toIfindex(PROC_IGMP, where, d[1] ?? ''), ifname: d[2] ?? '' };
      return;
    }
    const g = IGMP_GROUP_RE.exec(line);
    if (!g) throw new ParseError(PROC_IGMP, where, 'a device line "IDX NAME : COUNT QUERIER" or a tab-indented group line "HEX8 USERS R:TIMER REPORTER"', line);
    if (!device) throw new ParseError(PROC_IGMP, where, 'a device line before its group lines', line);
    const word = Buffer.alloc(4);
    const value = Number.parseInt(g[1] ?? '', 16);
    if (byteOrder === 'LE') word.writeUInt32LE(value);
    else word.writeUInt32BE(value);
    const first = word[0] ?? 0;
    if (first < 224 || first > 239) throw new ParseError(PROC_IGMP, where, `an IPv4 multicast group (224/4) in ${byteOrder} host order`, g[1]);
    rows.push({ ...device, family: 4, group: formatIpv4(word), users: Number(g[2]) });
  });
  if (!sawHeader) throw new ParseError(PROC_IGMP, 'line 1', 'the header line', text.slice(0, 40));
  return rows;
}

/** Parses /proc/net/igmp6 (no header; one group per line). */
export function parseProcIgmp6(text: string): HostMembership[] {
  const rows: HostMembership[] = [];
  text.split('\n').forEach((line, i) => {
    const where = `line ${i + 1}`;
    if (line.trim() === '') return;
    const m = IGMP6_LINE_RE.exec(line);
    if (!m) throw new ParseError(PROC_IGMP6, where, 'IDX NAME HEX32 USERS FLAGS8 TIMER', line);
    const bytes = Buffer.from(m[3] ?? '', 'hex');
    if (bytes[0] !== 0xff) throw new ParseError(PROC_IGMP6, where, 'an IPv6 multicast group (ff00::/8)', m[3]);
    rows.push({ ifindex: toIfindex(PROC_IGMP6, where, m[1] ?? ''), ifname: m[2] ?? '', family: 6, group: formatIpv6(bytes), users: Number(m[4]) });
  });
  return rows;
}

/**
 * True for a group the stack joins by itself (or one that never reaches a device): all-hosts
 * 224.0.0.1, all-nodes ff02::1, solicited-node ff02::1:ffXX:XXXX, and IPv6 scopes 0 and 1.
 */
export function isStackManagedGroup(group: string): boolean {
  if (!group.includes(':')) return group === '224.0.0.1';
  let b: Buffer;
  try {
    b = parseIpv6(group);
  } catch {
    return false;
  }
  if (((b[1] ?? 0) & 0x0f) < 2) return true; // interface-local and reserved scopes
  const allNodes = parseIpv6('ff02::1');
  if (b.equals(allNodes)) return true;
  const solicitedPrefix = parseIpv6('ff02::1:ff00:0').subarray(0, 13);
  return b.subarray(0, 13).equals(solicitedPrefix);
}

/** Where memberships come from: every row the kernel holds (all devices), both families. */
export type MembershipSource = () => Promise<HostMembership[]>;

export { ProcReadError } from '../errors.js';

/** The namespace file of an `ip netns` name, or the absolute path itself; '' for our own namespace. */
export function netnsFile(netns: string): string {
  if (netns === '' || netns.startsWith('/')) return netns;
  return `/run/netns/${netns}`;
}

/** A file's text in the namespace; '' when the file is missing (IPv6 disabled: no igmp6). */
function readProcIn(nsFile: string, file: string, timeoutMs: number): Promise<string> {
  if (nsFile === '') {
    return readFile(file, 'utf8').catch((e: NodeJS.ErrnoException) => {
      if (e.code === 'ENOENT') return '';
      throw new ProcReadError(['read', file], e.message);
    });
  }
  const argv = ['nsenter', `--net=${nsFile}`, 'cat', file];
  return new Promise((resolve, reject) => {
    execFile(argv[0] ?? 'nsenter', argv.slice(1), { timeout: timeoutMs, encoding: 'utf8', maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err === null) resolve(stdout);
      else if (/No such file or directory/.test(stderr) && stderr.includes(file)) resolve('');
      else reject(new ProcReadError(argv, stderr === '' ? err.message : stderr));
    });
  });
}

/** Reads and parses /proc/net/igmp and /proc/net/igmp6 inside `netns` (a name, a path, or '' for ours). */
export function procMembershipSource(netns: string, timeoutMs = PROC_READ_TIMEOUT_MS): MembershipSource {
  const nsFile = netnsFile(netns);
  return async () => {
    const [v4, v6] = await Promise.all([readProcIn(nsFile, PROC_IGMP, timeoutMs), readProcIn(nsFile, PROC_IGMP6, timeoutMs)]);
    return [...(v4 === '' ? [] : parseProcIgmp(v4)), ...parseProcIgmp6(v6)];
  };
}

/** What the observer drives: the node's (or interface's) full-member join and leave. */
export interface GroupSink {
  joinGroup(ip: string): void;
  leaveGroup(ip: string): void;
}

export interface HostMembershipObserverOptions {
  source: MembershipSource;
  /** The device whose rows count (by name: a TUN device made again keeps it, not its ifindex). */
  ifname: string;
  sink: GroupSink;
  /** Poll interval; default HOST_GROUP_POLL_MS. */
  intervalMs?: number;
  log?: (line: string) => void;
}

/**
 * Polls the source and reconciles: each host group on `ifname` (not stack-managed) is joined once
 * through the sink, and left once it is gone. A failed read changes nothing (a transient failure
 * must not drop joins); failures are logged when their message changes.
 */
export class HostMembershipObserver {
  private readonly held = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private inFlight: Promise<void> | undefined;
  private stopped = false;
  private lastFailure = '';
  private readonly intervalMs: number;
  private readonly log: (line: string) => void;

  constructor(private readonly o: HostMembershipObserverOptions) {
    const ms = o.intervalMs ?? HOST_GROUP_POLL_MS;
    if (!Number.isFinite(ms) || ms < 1) throw new ArgumentError('HostMembershipObserver', 'o.intervalMs', ms, 'a number of milliseconds, 1 or more');
    this.intervalMs = ms;
    this.log = o.log ?? (() => undefined);
  }

  /** The groups this observer joined through the sink, sorted. */
  joined(): string[] {
    return [...this.held].sort();
  }

  /** Polls now and then every interval until stop(). */
  start(): void {
    if (this.stopped || this.timer || this.inFlight) return;
    this.schedule(0);
  }

  /** One read and reconcile; concurrent calls share the one in flight. */
  poll(): Promise<void> {
    this.inFlight ??= this.pollOnce().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  /** Stops polling, waits for a poll in flight, then (by default) leaves every group it joined. */
  async stop(leaveJoined = true): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.inFlight;
    if (leaveJoined) for (const g of [...this.held]) this.leave(g);
  }

  private schedule(ms: number): void {
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.poll().then(() => {
        if (!this.stopped) this.schedule(this.intervalMs);
      });
    }, ms);
    this.timer.unref();
  }

  private async pollOnce(): Promise<void> {
    let rows: HostMembership[];
    try {
      rows = await this.o.source();
    } catch (e) {
      const msg = (e as Error).message;
      if (msg !== this.lastFailure) this.log(`${this.o.ifname}: reading the host's multicast memberships failed: ${msg}`);
      this.lastFailure = msg;
      return;
    }
    this.lastFailure = '';
    if (this.stopped) return;
    this.reconcile(rows);
  }

  private reconcile(rows: readonly HostMembership[]): void {
    const wanted = new Set(rows.filter((r) => r.ifname === this.o.ifname && !isStackManagedGroup(r.group)).map((r) => r.group));
    for (const g of wanted) {
      if (this.held.has(g)) continue;
      try {
        this.o.sink.joinGroup(g);
        this.held.add(g);
        this.log(`${this.o.ifname}: the host joined ${g}`);
      } catch (e) {
        this.log(`${this.o.ifname}: joining ${g} for the host failed: ${(e as Error).message}`);
      }
    }
    for (const g of [...this.held]) if (!wanted.has(g)) this.leave(g);
  }

  private leave(g: string): void {
    this.held.delete(g);
    try {
      this.o.sink.leaveGroup(g);
      this.log(`${this.o.ifname}: the host left ${g}`);
    } catch (e) {
      this.log(`${this.o.ifname}: leaving ${g} for the host failed: ${(e as Error).message}`);
    }
  }
}
