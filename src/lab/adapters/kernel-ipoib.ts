/**
 * The DUT adapter for Linux ib_ipoib: each method does one observable thing through sysfs,
 * `ip`, ethtool or debugfs on the node, with argv arrays (sysfs writes go through `tee` with
 * stdin, so no shell is involved). Behaviour and errno values follow research kernel-ipoib.md.
 */
import { ArgumentError, IpoibControlError, ParseError, Unsupported } from '../../errors.js';
import { formatHwAddr, hasRc, type IpoibHwAddr } from '../../wire/ipoib-hwaddr.js';
import { formatPkey, linuxPkey } from '../../wire/pkey.js';
import type { RunResult, Transport } from '../transport.js';
import type {
  ChildPath,
  CreatedChild,
  DebugLevelName,
  DutAdapter,
  DutInterface,
  IpoibMode,
  LogMark,
  McgRow,
  Neighbour,
  NetlinkChildSpec,
  PathRow,
  Undo,
} from './dut.js';
import { NO_UNDO } from './dut.js';
import { checkErrno } from './kernel-errno.js';
import { NodeStackTraffic, checkPkeyArg } from './node-traffic.js';
import {
  type EthtoolCoalesce,
  type EthtoolDriverInfo,
  type EthtoolFeature,
  type IpLink,
  type KernelRelease,
  kernelAtLeast,
  parseEthtoolCoalesce,
  parseEthtoolDriverInfo,
  parseEthtoolFeatures,
  parseEthtoolStats,
  parseIpLinkJson,
  parseIpNeighJson,
  parseKernelRelease,
  parseMcgDump,
  parsePathDump,
  parseSysfsDecimal,
  parseSysfsHwAddr,
  parseSysfsMode,
  parseSysfsPkey,
  parseSysfsUmcast,
} from './kernel-parsers.js';

/** Parents got rtnl_link_ops (netlink mode/umcast, `ip -d` info) in 5.10 ("Set rtnl_link_ops for ipoib interfaces"). */
const NETLINK_PARENT_SINCE = { major: 5, minor: 10 } as const;
/** The kernel cuts the parent name to 10 characters when naming a legacy child ("%.10s.%04x"). */
const CHILD_PARENT_NAME_MAX = 10;
const DEBUGFS_DIR = '/sys/kernel/debug/ipoib';
/** ib_ipoib's module parameters; the debug levels among them are writable (0644) while it is loaded. */
const MODULE_PARAMS_DIR = '/sys/module/ib_ipoib/parameters';
/** The largest value an int module parameter takes. */
const MAX_DEBUG_LEVEL = 0x7fffffff;
/** What builds a level in (kernel-ipoib.md §5), for the Unsupported reason. */
const DEBUG_LEVEL_CONFIG: Readonly<Record<DebugLevelName, string>> = {
  debug_level: 'CONFIG_INFINIBAND_IPOIB_DEBUG',
  mcast_debug_level: 'CONFIG_INFINIBAND_IPOIB_DEBUG',
  data_debug_level: 'CONFIG_INFINIBAND_IPOIB_DEBUG_DATA',
  cm_data_debug_level: 'CONFIG_INFINIBAND_IPOIB_DEBUG_DATA',
};

/** A kernel log line as `dmesg` prints it: `[seconds.micros] text`. */
const DMESG_LINE = /^\[\s*(\d+\.\d+)\]\s?(.*)$/;

/**
 * Where a `dmesg` listing ends, as a mark: the last timestamp and how many lines carry it (lines
 * logged in the same microsecond share one).
 */
export function dmesgMark(text: string): LogMark {
  let last = '';
  let count = 0;
  for (const line of text.split('\n')) {
    const m = DMESG_LINE.exec(line);
    if (!m || m[1] === undefined) continue;
    if (m[1] === last) count++;
    else {
      last = m[1];
      count = 1;
    }
  }
  return { where: `${last}#${count}` };
}

/** The lines of a `dmesg` listing logged after `mark` (dmesgMark), without their timestamps. */
export function dmesgSince(text: string, mark: LogMark): string[] {
  const [ts = '', n = '0'] = mark.where.split('#');
  const markUs = ts === '' ? -1 : microseconds(ts);
  let sameSeen = 0;
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const m = DMESG_LINE.exec(line);
    if (!m || m[1] === undefined) continue;
    const us = microseconds(m[1]);
    if (us < markUs) continue;
    if (us === markUs && ++sameSeen <= Number(n)) continue;
    out.push(m[2] ?? '');
  }
  return out;
}

function microseconds(ts: string): number {
  const [s = '0', frac = '0'] = ts.split('.');
  return Number(s) * 1_000_000 + Number(frac.padEnd(6, '0').slice(0, 6));
}

export interface KernelIpoibOptions {
  /** How often to look for a deleted child to be gone (the kernel unregisters it from a work queue). */
  pollTries?: number;
  pollIntervalMs?: number;
  /** Waits between polls; tests pass one that returns at once. */
  sleep?: (ms: number) => Promise<void>;
}

const realSleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

function sysfs(ifname: string, file: string): string {
  return `/sys/class/net/${ifname}/${file}`;
}

/** A missing file, as cat or tee report it. */
function isMissingFile(r: RunResult): boolean {
  return r.code !== 0 && /No such file or directory/.test(r.stderr);
}

/** The command itself is not installed (exec failure: 127, or the shell/sudo's "not found"). */
function isMissingTool(r: RunResult): boolean {
  return r.code === 127 || (r.code !== 0 && /command not found|: not found|executable file not found/.test(r.stderr));
}

/** A legacy child's name for a value written to create_child. */
export function legacyChildName(parent: string, written: number): string {
  return `${parent.slice(0, CHILD_PARENT_NAME_MAX)}.${written.toString(16).padStart(4, '0')}`;
}

export class KernelIpoibAdapter extends NodeStackTraffic implements DutAdapter {
  readonly kind = 'kernel' as const;
  private release: Promise<KernelRelease> | null = null;
  private readonly pollTries: number;
  private readonly pollIntervalMs: number;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(
    node: Transport,
    readonly ifname: string,
    o: KernelIpoibOptions = {},
  ) {
    super(node);
    this.pollTries = o.pollTries ?? 50;
    this.pollIntervalMs = o.pollIntervalMs ?? 100;
    this.sleep = o.sleep ?? realSleep;
  }

  /** `uname -r`, read once per adapter. */
  kernelRelease(): Promise<KernelRelease> {
    this.release ??= this.node.check(['uname', '-r']).then((r) => parseKernelRelease(r.stdout));
    return this.release;
  }

  // ---- reading and writing the node ----

  /** A sysfs file's content, or null when the file does not exist. */
  private async readSysfs(ifname: string, file: string): Promise<string | null> {
    const r = await this.node.run(['cat', sysfs(ifname, file)]);
    if (isMissingFile(r)) return null;
    return checkErrno(`${ifname}.${file}`, r).stdout;
  }

  private async requireSysfs(ifname: string, file: string): Promise<string> {
    const v = await this.readSysfs(ifname, file);
    if (v === null) throw new IpoibControlError(`${ifname}.${file}`, 'ENOENT', `${sysfs(ifname, file)} does not exist`);
    return v;
  }

  /** Writes through `tee`; the text carries its own newline where the kernel wants one (mode does). */
  private async writeSysfs(op: string, path: string, text: string): Promise<void> {
    checkErrno(op, await this.node.run(['tee', path], { stdin: text }));
  }

  private async ipLinks(ifname?: string): Promise<IpLink[]> {
    const argv = ['ip', '-d', '-j', 'link', 'show', ...(ifname === undefined ? [] : ['dev', ifname])];
    const r = checkErrno(ifname === undefined ? 'ip link' : `${ifname}.link`, await this.node.run(argv));
    return parseIpLinkJson(r.stdout);
  }

  private async ipLink(ifname: string): Promise<IpLink> {
    const links = await this.ipLinks(ifname);
    const l = links[0];
    if (links.length !== 1 || l === undefined) throw new ParseError('ip -d -j link show dev', '$', `exactly one entry for ${ifname}`, links.length);
    return l;
  }

  private async names(): Promise<Set<string>> {
    return new Set((await this.ipLinks()).map((l) => l.ifname));
  }

  private async ipSet(op: string, ifname: string, args: readonly string[]): Promise<void> {
    checkErrno(op, await this.node.run(['ip', 'link', 'set', 'dev', ifname, ...args]));
  }

  private async waitGone(ifname: string): Promise<void> {
    for (let i = 0; i < this.pollTries; i++) {
      const r = await this.node.run(['ip', '-j', 'link', 'show', 'dev', ifname]);
      if (r.code !== 0 && /does not exist|Cannot find device/.test(r.stderr)) return;
      await this.sleep(this.pollIntervalMs);
    }
    throw new Error(`${this.node.name}: ${ifname} still exists ${this.pollTries * this.pollIntervalMs} ms after its deletion was accepted`);
  }

  private toInterface(l: IpLink): DutInterface {
    if (l.address === null || l.broadcast === null) {
      throw new ParseError('ip -d -j link show', l.ifname, 'an infiniband link with address and broadcast', l.linkType);
    }
    return {
      ifname: l.ifname,
      parent: l.parent,
      mtu: l.mtu,
      up: l.flags.includes('UP'),
      carrier: l.flags.includes('LOWER_UP'),
      operstate: l.operstate,
      hwaddr: l.address,
      broadcast: l.broadcast,
      pkey: l.ipoib?.pkey ?? null,
      mode: l.ipoib === null || l.ipoib.mode === 'unknown' ? null : l.ipoib.mode,
      umcast: l.ipoib?.umcast ?? null,
    };
  }

  /** Connected mode needs the RC flag in the interface's own address; EINVAL without it means "not available". */
  private async connectedUnsupported(ifname: string, e: unknown): Promise<never> {
    if (e instanceof IpoibControlError && e.code === 'EINVAL' && !hasRc(await this.hwaddr(ifname))) {
      throw new Unsupported('connected-mode', `${ifname}'s address has no RC flag (CM not built, or mlx5 enhanced IPoIB)`);
    }
    throw e;
  }

  private async netlinkAllowed(ifname: string): Promise<void> {
    const l = await this.ipLink(ifname);
    if (l.parent === null && !kernelAtLeast(await this.kernelRelease(), NETLINK_PARENT_SINCE.major, NETLINK_PARENT_SINCE.minor)) {
      throw new Unsupported('netlink-parent', `parents have ipoib rtnl_link_ops only since Linux 5.10 (${ifname})`);
    }
  }

  // ---- interfaces ----

  async interfaces(): Promise<DutInterface[]> {
    return (await this.ipLinks()).filter((l) => l.linkType === 'infiniband').map((l) => this.toInterface(l));
  }

  async link(ifname = this.ifname): Promise<DutInterface> {
    return this.toInterface(await this.ipLink(ifname));
  }

  // ---- child interfaces ----

  async createChildSysfs(pkey: number, parent = this.ifname): Promise<CreatedChild> {
    checkPkeyArg('createChildSysfs', pkey);
    const before = await this.names();
    await this.writeSysfs(`${parent}.create_child`, sysfs(parent, 'create_child'), `${formatPkey(pkey)}\n`);
    // Current kernels name the child after the value as written (1 → ib0.0001); older ones
    // ORed 0x8000 in first (1 → ib0.8001). Look for whichever appeared rather than guess.
    const candidates = [legacyChildName(parent, pkey), legacyChildName(parent, linuxPkey(pkey))];
    const after = await this.names();
    const ifname = candidates.find((c) => after.has(c) && !before.has(c));
    if (ifname === undefined) {
      throw new ParseError('ip -j link show', 'interfaces', `a new interface named ${[...new Set(candidates)].join(' or ')}`, [...after].join(','));
    }
    return {
      ifname,
      // delete_child matches the stored P_Key, which always has 0x8000 set.
      undo: async () => {
        await this.deleteChildSysfs(linuxPkey(pkey), parent);
      },
    };
  }

  async deleteChildSysfs(pkey: number, parent = this.ifname): Promise<Undo> {
    checkPkeyArg('deleteChildSysfs', pkey);
    // The child the kernel will remove: a legacy child of this parent holding exactly this P_Key.
    const victim = await this.legacyChildWithPkey(parent, pkey);
    await this.writeSysfs(`${parent}.delete_child`, sysfs(parent, 'delete_child'), `${formatPkey(pkey)}\n`);
    if (victim === undefined) return NO_UNDO;
    await this.waitGone(victim.ifname);
    // Recreate under the same name: the name's suffix is the value that was written to create_child.
    const written = parseInt(victim.ifname.slice(-4), 16);
    return async () => {
      await this.createChildSysfs(written, parent);
    };
  }

  /** A child of `parent` with a legacy name whose P_Key is `pkey` (netlink info, or sysfs `pkey` before 5.10). */
  private async legacyChildWithPkey(parent: string, pkey: number): Promise<DutInterface | undefined> {
    const prefix = `${parent.slice(0, CHILD_PARENT_NAME_MAX)}.`;
    for (const i of await this.interfaces()) {
      if (i.parent !== parent || !i.ifname.startsWith(prefix) || !/^[0-9a-f]{4}$/.test(i.ifname.slice(prefix.length))) continue;
      const p = i.pkey ?? parseSysfsPkey(await this.requireSysfs(i.ifname, 'pkey'));
      if (p === pkey) return i;
    }
    return undefined;
  }

  async createChildNetlink(spec: NetlinkChildSpec, parent = this.ifname): Promise<CreatedChild> {
    if (spec.pkey !== undefined) checkPkeyArg('createChildNetlink', spec.pkey);
    const argv = ['ip', 'link', 'add', 'link', parent];
    if (spec.name !== undefined) argv.push('name', spec.name);
    argv.push('type', 'ipoib');
    // Hex with 0x: iproute2 reads the number with base detection and sends it raw.
    if (spec.pkey !== undefined) argv.push('pkey', formatPkey(spec.pkey));
    if (spec.mode !== undefined) argv.push('mode', spec.mode);
    if (spec.umcast !== undefined) argv.push('umcast', spec.umcast ? '1' : '0');
    const before = spec.name === undefined ? await this.names() : null;
    try {
      checkErrno(`${parent}.newlink`, await this.node.run(argv));
    } catch (e) {
      if (spec.mode === 'connected') await this.connectedUnsupported(parent, e);
      throw e;
    }
    let ifname = spec.name;
    if (ifname === undefined) {
      const after = (await this.ipLinks()).filter((l) => l.parent === parent && !before?.has(l.ifname));
      const made = after[0];
      if (after.length !== 1 || made === undefined) throw new ParseError('ip -d -j link show', 'interfaces', `one new child of ${parent}`, after.length);
      ifname = made.ifname;
    }
    const name = ifname;
    return { ifname: name, undo: async () => void (await this.deleteChildNetlink(name)) };
  }

  async deleteChildNetlink(ifname: string): Promise<Undo> {
    const l = await this.ipLink(ifname);
    checkErrno(`${ifname}.dellink`, await this.node.run(['ip', 'link', 'del', 'dev', ifname]));
    // dellink on a parent is a silent no-op: nothing went away, so nothing to put back.
    if (l.parent === null) return NO_UNDO;
    const parent = l.parent;
    const spec: NetlinkChildSpec = { name: ifname };
    if (l.ipoib !== null) {
      spec.pkey = l.ipoib.pkey;
      spec.umcast = l.ipoib.umcast;
      if (l.ipoib.mode !== 'unknown') spec.mode = l.ipoib.mode;
    }
    return async () => {
      await this.createChildNetlink(spec, parent);
    };
  }

  // ---- mode, MTU, umcast ----

  async mode(ifname = this.ifname): Promise<IpoibMode> {
    return (await this.modeWithSource(ifname)).mode;
  }

  /**
   * sysfs `mode` when it exists; RTNL children and kernels without CM have none, and then the
   * netlink info answers. With neither (a pre-5.10 parent without CM) only datagram is possible.
   */
  private async modeWithSource(ifname: string): Promise<{ mode: IpoibMode; via: ChildPath }> {
    const text = await this.readSysfs(ifname, 'mode');
    if (text !== null) return { mode: parseSysfsMode(text), via: 'sysfs' };
    const info = (await this.ipLink(ifname)).ipoib;
    if (info === null || info.mode === 'unknown') return { mode: 'datagram', via: 'netlink' };
    return { mode: info.mode, via: 'netlink' };
  }

  async setMode(mode: IpoibMode, o: { ifname?: string; via?: ChildPath } = {}): Promise<Undo> {
    const ifname = o.ifname ?? this.ifname;
    const before = await this.modeWithSource(ifname);
    const via = o.via ?? before.via;
    const mtuBefore = await this.mtu(ifname);
    if (before.mode === mode) return NO_UNDO;
    try {
      if (via === 'sysfs') {
        // mode_store compares with the newline included: "connected\n" works, "connected" is EINVAL.
        await this.writeSysfs(`${ifname}.mode`, sysfs(ifname, 'mode'), `${mode}\n`);
      } else {
        await this.netlinkAllowed(ifname);
        await this.ipSet(`${ifname}.mode`, ifname, ['type', 'ipoib', 'mode', mode]);
      }
    } catch (e) {
      if (mode === 'connected') await this.connectedUnsupported(ifname, e);
      throw e;
    }
    return async () => {
      await this.setMode(before.mode, { ifname, via });
      // A switch forces the MTU (65520 in connected, min(mcast_mtu, mtu) in datagram): put it back.
      if ((await this.mtu(ifname)) !== mtuBefore) await this.setMtu(mtuBefore, ifname);
    };
  }

  async mtu(ifname = this.ifname): Promise<number> {
    return parseSysfsDecimal('mtu', await this.requireSysfs(ifname, 'mtu'));
  }

  async setMtu(mtu: number, ifname = this.ifname): Promise<Undo> {
    if (!Number.isSafeInteger(mtu) || mtu < 0) throw new ArgumentError('setMtu', 'mtu', mtu, 'a non-negative integer');
    const before = await this.mtu(ifname);
    if (before === mtu) return NO_UNDO;
    await this.ipSet(`${ifname}.mtu`, ifname, ['mtu', String(mtu)]);
    return async () => void (await this.setMtu(before, ifname));
  }

  async umcast(ifname = this.ifname): Promise<boolean> {
    return (await this.umcastWithSource(ifname)).on;
  }

  private async umcastWithSource(ifname: string): Promise<{ on: boolean; via: ChildPath }> {
    const text = await this.readSysfs(ifname, 'umcast');
    if (text !== null) return { on: parseSysfsUmcast(text), via: 'sysfs' };
    const info = (await this.ipLink(ifname)).ipoib;
    if (info === null) throw new Unsupported('umcast', `${ifname} has neither sysfs umcast nor netlink ipoib info`);
    return { on: info.umcast, via: 'netlink' };
  }

  async setUmcast(on: boolean, o: { ifname?: string; via?: ChildPath } = {}): Promise<Undo> {
    const ifname = o.ifname ?? this.ifname;
    const before = await this.umcastWithSource(ifname);
    const via = o.via ?? before.via;
    if (before.on === on) return NO_UNDO;
    if (via === 'sysfs') {
      await this.writeSysfs(`${ifname}.umcast`, sysfs(ifname, 'umcast'), on ? '1\n' : '0\n');
    } else {
      await this.netlinkAllowed(ifname);
      await this.ipSet(`${ifname}.umcast`, ifname, ['type', 'ipoib', 'umcast', on ? '1' : '0']);
    }
    return async () => void (await this.setUmcast(before.on, { ifname, via }));
  }

  // ---- addresses and carrier ----

  async hwaddr(ifname = this.ifname): Promise<IpoibHwAddr> {
    return parseSysfsHwAddr('address', await this.requireSysfs(ifname, 'address'));
  }

  async setHwaddr(addr: IpoibHwAddr, ifname = this.ifname): Promise<Undo> {
    const before = await this.hwaddr(ifname);
    await this.ipSet(`${ifname}.address`, ifname, ['address', formatHwAddr(addr)]);
    return async () => void (await this.setHwaddr(before, ifname));
  }

  async broadcast(ifname = this.ifname): Promise<IpoibHwAddr> {
    return parseSysfsHwAddr('broadcast', await this.requireSysfs(ifname, 'broadcast'));
  }

  async setBroadcast(addr: IpoibHwAddr, ifname = this.ifname): Promise<Undo> {
    const before = await this.broadcast(ifname);
    await this.ipSet(`${ifname}.broadcast`, ifname, ['broadcast', formatHwAddr(addr)]);
    return async () => void (await this.setBroadcast(before, ifname));
  }

  /** IFF_LOWER_UP; sysfs `carrier` is unreadable (EINVAL) while the interface is down, so ip is asked. */
  async carrier(ifname = this.ifname): Promise<boolean> {
    return (await this.link(ifname)).carrier;
  }

  async setUp(up: boolean, ifname = this.ifname): Promise<Undo> {
    const before = (await this.link(ifname)).up;
    if (before === up) return NO_UNDO;
    await this.ipSet(`${ifname}.up`, ifname, [up ? 'up' : 'down']);
    return async () => void (await this.setUp(before, ifname));
  }


  async addAddress(cidr: string, ifname = this.ifname): Promise<Undo> {
    checkErrno(`${ifname}.addr`, await this.node.run(['ip', 'addr', 'add', cidr, 'dev', ifname]));
    return async () => void checkErrno(`${ifname}.addr`, await this.node.run(['ip', 'addr', 'del', cidr, 'dev', ifname]));
  }

  async neighbours(ifname = this.ifname): Promise<Neighbour[]> {
    const r = checkErrno(`${ifname}.neigh`, await this.node.run(['ip', '-j', 'neigh', 'show', 'dev', ifname]));
    return parseIpNeighJson(r.stdout).map((n) => ({ ip: n.dst, hwaddr: n.lladdr, state: n.state }));
  }

  async flushNeighbours(ifname = this.ifname): Promise<Undo> {
    checkErrno(`${ifname}.neigh`, await this.node.run(['ip', 'neigh', 'flush', 'dev', ifname]));
    return NO_UNDO;
  }

  // ---- ethtool ----

  private async ethtool(args: readonly string[], ifname: string): Promise<string> {
    const r = await this.node.run(['ethtool', ...args, ifname]);
    if (isMissingTool(r)) throw new Unsupported('ethtool', 'ethtool is not installed on the node');
    if (r.code !== 0 && /Operation not supported|no stats available/i.test(r.stderr)) {
      throw new Unsupported(`ethtool${args[0] ?? ''}`, `${ifname}: ${r.stderr.trim()}`);
    }
    return checkErrno(`${ifname}.ethtool${args[0] ?? ''}`, r).stdout;
  }

  async counters(ifname = this.ifname): Promise<Record<string, number>> {
    return parseEthtoolStats(await this.ethtool(['-S'], ifname));
  }

  async driverInfo(ifname = this.ifname): Promise<EthtoolDriverInfo> {
    return parseEthtoolDriverInfo(await this.ethtool(['-i'], ifname));
  }

  async features(ifname = this.ifname): Promise<Record<string, EthtoolFeature>> {
    return parseEthtoolFeatures(await this.ethtool(['-k'], ifname));
  }

  async coalesce(ifname = this.ifname): Promise<EthtoolCoalesce> {
    return parseEthtoolCoalesce(await this.ethtool(['-c'], ifname));
  }

  /** ipoib takes only rx-usecs and rx-frames; a value above 0xffff is the kernel's EINVAL. */
  async setCoalesce(v: { rxUsecs: number; rxFrames: number }, ifname = this.ifname): Promise<Undo> {
    const before = await this.coalesce(ifname);
    const args = ['-C', ifname, 'rx-usecs', String(v.rxUsecs), 'rx-frames', String(v.rxFrames)];
    const r = await this.node.run(['ethtool', ...args]);
    if (isMissingTool(r)) throw new Unsupported('ethtool', 'ethtool is not installed on the node');
    checkErrno(`${ifname}.coalesce`, r);
    if (before.rxUsecs === null || before.rxFrames === null) return NO_UNDO;
    const old = { rxUsecs: before.rxUsecs, rxFrames: before.rxFrames };
    return async () => void (await this.setCoalesce(old, ifname));
  }

  // ---- debugfs ----

  private async debugfs(ifname: string, suffix: '_mcg' | '_path'): Promise<string> {
    const r = await this.node.run(['cat', `${DEBUGFS_DIR}/${ifname}${suffix}`]);
    if (isMissingFile(r)) throw new Unsupported('debugfs', `${DEBUGFS_DIR}/${ifname}${suffix} is missing (debugfs not mounted or CONFIG_INFINIBAND_IPOIB_DEBUG off)`);
    return checkErrno(`${ifname}${suffix}`, r).stdout;
  }

  async mcgDump(ifname = this.ifname): Promise<McgRow[]> {
    return parseMcgDump(await this.debugfs(ifname, '_mcg'), ifname);
  }

  async pathDump(ifname = this.ifname): Promise<PathRow[]> {
    return parsePathDump(await this.debugfs(ifname, '_path'), ifname);
  }

  // ---- debug levels and the kernel log ----

  private debugLevelPath(name: DebugLevelName): string {
    return `${MODULE_PARAMS_DIR}/${name}`;
  }

  /** Module-wide: `ifname` is accepted for the interface's sake and not used. */
  async debugLevel(name: DebugLevelName, _ifname = this.ifname): Promise<number> {
    const path = this.debugLevelPath(name);
    const r = await this.node.run(['cat', path]);
    if (isMissingFile(r)) throw new Unsupported(`debug-level ${name}`, `${path} is missing (ib_ipoib not loaded, or built without ${DEBUG_LEVEL_CONFIG[name]})`);
    return parseSysfsDecimal(name, checkErrno(`ib_ipoib.${name}`, r).stdout);
  }

  async setDebugLevel(name: DebugLevelName, level: number, ifname = this.ifname): Promise<Undo> {
    if (!Number.isSafeInteger(level) || level < 0 || level > MAX_DEBUG_LEVEL) throw new ArgumentError('setDebugLevel', 'level', level, `an integer 0..${MAX_DEBUG_LEVEL}`);
    const before = await this.debugLevel(name, ifname);
    if (before === level) return NO_UNDO;
    await this.writeSysfs(`ib_ipoib.${name}`, this.debugLevelPath(name), `${level}\n`);
    return async () => void (await this.setDebugLevel(name, before, ifname));
  }

  /** The kernel's ring buffer through dmesg (root, or kernel.dmesg_restrict=0). */
  private async dmesg(): Promise<string> {
    const r = await this.node.run(['dmesg']);
    if (isMissingTool(r)) throw new Unsupported('dut-log', 'dmesg is not installed on the node');
    if (r.code !== 0) throw new Unsupported('dut-log', `dmesg failed: ${r.stderr.trim()} (reading the kernel log needs root or kernel.dmesg_restrict=0)`);
    return r.stdout;
  }

  async logMark(): Promise<LogMark> {
    return dmesgMark(await this.dmesg());
  }

  /** Lines logged after the mark; lines the ring buffer dropped meanwhile are gone. */
  async logSince(mark: LogMark): Promise<string[]> {
    return dmesgSince(await this.dmesg(), mark);
  }
}
