/**
 * The DUT adapter for the reference IPoIB stack: each method runs `ipoibctl --json <command>`
 * against the node's ipoibd through the node's transport (argv arrays, a deadline on every
 * call) and checks the answer with a schema. The daemon answers a refused request with the
 * errno name Linux ib_ipoib gives in the same situation, so refusals surface exactly as the
 * kernel adapter raises them (IpoibControlError with the same op names), and a suite test runs
 * unchanged against both kinds.
 *
 * What the node's kernel owns is read from it: the TUN device of an interface is a real netdev
 * in the node's namespace, so addresses come from `ip -j addr` there (and an address added is
 * also given to the stack, which answers ARP and ND itself: the TUN device is NOARP).
 * Neighbours come from the stack (`ipoibctl neigh`), since the kernel's table stays empty.
 */
import { z } from 'zod';
import { ArgumentError, CommandFailedError, IpoibControlError, type IpoibErrno, ParseError, Unsupported } from '../../errors.js';
import { parseCommand } from '../../ipoib/daemon/command-line.js';
import { hasRc, type IpoibHwAddr, parseHwAddr } from '../../wire/ipoib-hwaddr.js';
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
import { parseMcgDump, parsePathDump } from './debugfs-parsers.js';
import { IPOIB_ETHTOOL_COUNTERS } from './ethtool-parsers.js';
import { checkErrno } from './kernel-errno.js';
import { legacyChildName } from './kernel-ipoib.js';
import { NodeStackTraffic, checkPkeyArg } from './node-traffic.js';

/** Deadline of one ipoibctl or ip call when the caller gives none. */
const DEFAULT_CALL_TIMEOUT_MS = 15_000;

export interface ReferenceIpoibOptions {
  /** The interface the lab file names for this node (e.g. `ib0`). */
  ifname: string;
  /**
   * How to reach the daemon. `{ ipoibctl: argv }`: run ipoibctl with this argv prefix per call,
   * e.g. `[node, '<deployed>/bin/ipoibctl.js', '--socket', SOCK]`. `{ socket: path }`: write the
   * request ipoibctl would send (same command syntax, src/ipoib/daemon/command-line.ts) to the
   * daemon's control socket with socat on the node: the same protocol without starting Node.js
   * and the TypeScript loader for every call (~5 ms instead of 0.4-1 s), which is what keeps a
   * certification within its time budget.
   */
  ipoibctl?: readonly string[];
  socket?: string;
  /** Deadline of each call on the node (default 15 s). */
  callTimeoutMs?: number;
  /** The daemon's log file as the node sees it (the sim lab keeps it in the fabric's run directory); without it logMark() is Unsupported. */
  logFile?: string;
}

/** The one debug level ipoibd has (per interface): it shows everything the interface logs, not only state changes and failures. */
const REFERENCE_DEBUG_LEVEL: DebugLevelName = 'debug_level';
/** The kernel's limit for an int module parameter written as decimal. */
const MAX_DEBUG_LEVEL = 0x7fffffff;

// ---- what ipoibd answers (src/ipoib/daemon/handlers.ts), as far as the adapter reads it ----

const u32 = z.number().int().min(0).max(0xffffffff);
const u16 = z.number().int().min(0).max(0xffff);
const modeSchema = z.enum(['datagram', 'connected']);
const umcastSchema = z.union([z.literal(0), z.literal(1)]);
/** Octet counters outgrow 32 bits. */
const counterValue = z.number().int().nonnegative();

const showEntrySchema = z.object({
  name: z.string().min(1),
  parent: z.string().min(1).nullable(),
  childType: z.enum(['parent', 'legacy', 'rtnl']),
  address: z.string(),
  broadcast: z.string(),
  pkey: u16,
  mtu: u32,
  carrier: z.boolean(),
  mode: modeSchema,
  umcast: umcastSchema,
  qpn: u32.nullable(),
  adminUp: z.boolean(),
  operstate: z.string().min(1),
});
type ShowEntry = z.infer<typeof showEntrySchema>;

const answers = {
  show: z.object({ kind: z.literal('show'), interfaces: z.array(showEntrySchema) }),
  mode: z.object({ kind: z.literal('mode'), ifname: z.string(), mode: modeSchema }),
  umcast: z.object({ kind: z.literal('umcast'), ifname: z.string(), umcast: umcastSchema }),
  mtu: z.object({ kind: z.literal('mtu'), ifname: z.string(), mtu: u32, adminMtu: u32, mcastMtu: u32 }),
  stats: z.object({
    kind: z.literal('stats'),
    ifname: z.string(),
    stats: z.object({ ethtool: z.array(z.tuple([z.string(), counterValue])), all: z.record(z.string(), counterValue) }),
  }),
  dump: z.object({ kind: z.enum(['mcg', 'path']), ifname: z.string(), text: z.string() }),
  neigh: z.object({
    kind: z.literal('neigh'),
    ifname: z.string(),
    neighbours: z.array(z.object({ ip: z.string().min(1), state: z.enum(['incomplete', 'reachable', 'stale', 'delay', 'probe']), lladdr: z.string().nullable() })),
  }),
  neighFlushed: z.object({ kind: z.literal('neigh-flushed'), ifname: z.string(), neighbours: u32, paths: u32 }),
  addresses: z.object({ kind: z.literal('addresses'), ifname: z.string(), ipv4: z.array(z.string()), ipv6: z.array(z.string()) }),
  created: z.object({ kind: z.literal('created'), ifname: z.string().min(1) }),
  deleted: z.object({ kind: z.literal('deleted'), ifname: z.string() }),
  link: z.object({ kind: z.literal('link'), ifname: z.string(), adminUp: z.boolean() }),
  debug: z.object({ kind: z.literal('debug'), ifname: z.string(), level: u32 }),
} as const;

/** ipoibctl --json's refusal: `{"error": {command, code, op, message}}` on stdout. */
const refusalSchema = z.object({ error: z.object({ code: z.string(), op: z.string(), message: z.string() }) });
/** The same refusal as text, the last line on stderr: `ipoibctl: <command>: <ERRNO>: <why>`. */
const REFUSAL_LINE = /^ipoibctl: (.+?): (E[A-Z0-9]+): (.*)$/;

/** Every errno name the kernel's ipoib control paths return (errors.ts IpoibErrno), for narrowing. */
const IPOIB_ERRNOS: Readonly<Record<IpoibErrno, true>> = {
  EINVAL: true,
  ENOTUNIQ: true,
  EEXIST: true,
  ENODEV: true,
  ENOENT: true,
  EBUSY: true,
  EOPNOTSUPP: true,
  EADDRNOTAVAIL: true,
};

function isIpoibErrno(code: string): code is IpoibErrno {
  return Object.hasOwn(IPOIB_ERRNOS, code);
}

/** The errno and reason of a refused ipoibctl call, from its JSON answer or else its stderr line. */
/** The daemon's answer on its socket (src/ipoib/daemon/protocol.ts daemonResponseSchema). */
const socketAnswer = z.union([
  z.object({ id: z.number(), ok: z.literal(true), result: z.unknown() }),
  z.object({ id: z.number().nullable(), ok: z.literal(false), error: z.object({ code: z.string(), op: z.string(), message: z.string() }) }),
]);

function refusalOf(r: RunResult): { code: string; message: string } | null {
  try {
    const j = refusalSchema.safeParse(JSON.parse(r.stdout));
    if (j.success) return j.data.error;
  } catch {
    // not JSON (an older ipoibctl, or a failure before the daemon answered): read stderr
  }
  const last = r.stderr.trim().split('\n').slice(-1)[0] ?? '';
  const m = REFUSAL_LINE.exec(last);
  return m && m[2] !== undefined ? { code: m[2], message: m[3] ?? '' } : null;
}

function parseAddress(command: string, where: string, text: string): IpoibHwAddr {
  try {
    return parseHwAddr(text);
  } catch {
    throw new ParseError(command, where, 'a 20-octet address as 20 colon-separated hex pairs', text);
  }
}

export class ReferenceIpoibAdapter extends NodeStackTraffic implements DutAdapter {
  readonly kind = 'reference' as const;
  readonly ifname: string;
  private readonly ipoibctl: readonly string[] | null;
  private readonly socket: string | null;
  private readonly callTimeoutMs: number;
  private readonly logFile: string | null;

  constructor(
    node: Transport,
    o: ReferenceIpoibOptions,
  ) {
    super(node);
    if ((o.ipoibctl === undefined) === (o.socket === undefined)) throw new ArgumentError('ReferenceIpoibAdapter', 'ipoibctl/socket', o, 'exactly one of ipoibctl (an argv prefix) and socket (a path)');
    if (o.ipoibctl !== undefined && o.ipoibctl.length === 0) throw new ArgumentError('ReferenceIpoibAdapter', 'ipoibctl', o.ipoibctl, 'the argv prefix that runs ipoibctl');
    this.ifname = o.ifname;
    this.ipoibctl = o.ipoibctl ? [...o.ipoibctl] : null;
    this.socket = o.socket ?? null;
    this.callTimeoutMs = o.callTimeoutMs ?? DEFAULT_CALL_TIMEOUT_MS;
    this.logFile = o.logFile ?? null;
  }

  // ---- talking to ipoibd ----

  /**
   * Runs `ipoibctl --json ARGS` and checks its answer with `schema`. A refusal with an errno
   * the kernel's ipoib gives is IpoibControlError(op, errno); any other failure is
   * CommandFailedError; an answer that does not fit is ParseError naming the command.
   */
  private async ctl<T>(op: string, schema: z.ZodType<T>, args: readonly string[]): Promise<T> {
    const command = `ipoibctl --json ${args.join(' ')}`;
    const json = this.socket !== null ? await this.viaSocket(op, command, args, this.socket) : await this.viaIpoibctl(op, command, args, this.ipoibctl ?? []);
    const checked = schema.safeParse(json);
    if (!checked.success) {
      const issue = checked.error.issues[0];
      const where = `$${(issue?.path ?? []).map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('')}`;
      throw new ParseError(command, where, issue?.message ?? 'the documented answer', JSON.stringify(json).slice(0, 120));
    }
    return checked.data;
  }

  private async viaIpoibctl(op: string, command: string, args: readonly string[], prefix: readonly string[]): Promise<unknown> {
    const r = await this.node.run([...prefix, '--json', ...args], { timeoutMs: this.callTimeoutMs });
    if (r.code !== 0) {
      const refused = refusalOf(r);
      if (refused !== null && isIpoibErrno(refused.code)) throw new IpoibControlError(op, refused.code, refused.message);
      throw new CommandFailedError(r.host, r.argv, r.code, r.stdout, r.stderr);
    }
    try {
      return JSON.parse(r.stdout);
    } catch {
      throw new ParseError(command, '$', 'one JSON document on stdout', r.stdout.slice(0, 120));
    }
  }

  /** One request line to the control socket through socat; the daemon answers and closes. */
  private async viaSocket(op: string, command: string, args: readonly string[], socket: string): Promise<unknown> {
    const request = { id: 1, ...parseCommand(args) };
    const seconds = Math.max(1, Math.ceil(this.callTimeoutMs / 1000));
    const r = await this.node.run(['socat', '-t', String(seconds), '-T', String(seconds), '-', `UNIX-CONNECT:${socket}`], { timeoutMs: this.callTimeoutMs + 2_000, stdin: `${JSON.stringify(request)}\n` });
    if (r.code !== 0) throw new CommandFailedError(r.host, r.argv, r.code, r.stdout, r.stderr);
    const line = r.stdout.trim().split('\n')[0] ?? '';
    const answer = socketAnswer.safeParse((() => {
      try {
        return JSON.parse(line);
      } catch {
        return undefined;
      }
    })());
    if (!answer.success) throw new ParseError(`${command} (over ${socket})`, '$', 'one control-protocol answer line', line.slice(0, 120));
    if (!answer.data.ok) {
      const e = answer.data.error;
      if (isIpoibErrno(e.code)) throw new IpoibControlError(op, e.code, e.message);
      throw new CommandFailedError(r.host, r.argv, 1, r.stdout, `${e.code}: ${e.message}`);
    }
    return answer.data.result;
  }

  private async show(ifname?: string): Promise<ShowEntry[]> {
    const op = ifname === undefined ? 'ip link' : `${ifname}.link`;
    return (await this.ctl(op, answers.show, ifname === undefined ? ['show'] : ['show', ifname])).interfaces;
  }

  private async showOne(ifname: string): Promise<ShowEntry> {
    const list = await this.show(ifname);
    const e = list[0];
    if (list.length !== 1 || e === undefined || e.name !== ifname) throw new ParseError(`ipoibctl --json show ${ifname}`, '$.interfaces', `exactly one entry for ${ifname}`, list.length);
    return e;
  }

  private toInterface(e: ShowEntry): DutInterface {
    const cmd = `ipoibctl --json show ${e.name}`;
    return {
      ifname: e.name,
      parent: e.parent,
      mtu: e.mtu,
      up: e.adminUp,
      carrier: e.carrier,
      operstate: e.operstate,
      hwaddr: parseAddress(cmd, `${e.name}.address`, e.address),
      broadcast: parseAddress(cmd, `${e.name}.broadcast`, e.broadcast),
      pkey: e.pkey,
      mode: e.mode,
      umcast: e.umcast === 1,
    };
  }

  /** As the kernel adapter: connected mode needs the RC flag in the address; EINVAL without it means "not available". */
  private async connectedUnsupported(ifname: string, e: unknown): Promise<never> {
    if (e instanceof IpoibControlError && e.code === 'EINVAL' && !hasRc(await this.hwaddr(ifname))) {
      throw new Unsupported('connected-mode', `${ifname}'s address has no RC flag (the reference stack has no connected mode)`);
    }
    throw e;
  }

  // ---- interfaces ----

  async interfaces(): Promise<DutInterface[]> {
    return (await this.show()).map((e) => this.toInterface(e));
  }

  async link(ifname = this.ifname): Promise<DutInterface> {
    return this.toInterface(await this.showOne(ifname));
  }

  // ---- child interfaces ----

  async createChildSysfs(pkey: number, parent = this.ifname): Promise<CreatedChild> {
    checkPkeyArg('createChildSysfs', pkey);
    const made = await this.ctl(`${parent}.create_child`, answers.created, ['create_child', parent, formatPkey(pkey)]);
    // The daemon says which it made; it must be a name the kernel would give: after the value
    // as written (current kernels) or with 0x8000 ORed in first (older ones).
    const candidates = [legacyChildName(parent, pkey), legacyChildName(parent, linuxPkey(pkey))];
    if (!candidates.includes(made.ifname)) {
      throw new ParseError(`ipoibctl --json create_child ${parent}`, '$.ifname', `a kernel child name (${[...new Set(candidates)].join(' or ')})`, made.ifname);
    }
    return {
      ifname: made.ifname,
      // delete_child matches the stored P_Key, which always has 0x8000 set.
      undo: async () => void (await this.deleteChildSysfs(linuxPkey(pkey), parent)),
    };
  }

  async deleteChildSysfs(pkey: number, parent = this.ifname): Promise<Undo> {
    checkPkeyArg('deleteChildSysfs', pkey);
    const gone = await this.ctl(`${parent}.delete_child`, answers.deleted, ['delete_child', parent, formatPkey(pkey)]);
    if (gone.ifname === '') return NO_UNDO;
    // Recreate under the same name: the name's suffix is the value that was written to create_child.
    const written = parseInt(gone.ifname.slice(-4), 16);
    return async () => void (await this.createChildSysfs(written, parent));
  }

  async createChildNetlink(spec: NetlinkChildSpec, parent = this.ifname): Promise<CreatedChild> {
    if (spec.pkey !== undefined) checkPkeyArg('createChildNetlink', spec.pkey);
    const args = ['link', 'add', 'link', parent];
    if (spec.name !== undefined) args.push('name', spec.name);
    args.push('type', 'ipoib');
    if (spec.pkey !== undefined) args.push('pkey', formatPkey(spec.pkey));
    if (spec.mode !== undefined) args.push('mode', spec.mode);
    if (spec.umcast !== undefined) args.push('umcast', spec.umcast ? '1' : '0');
    let made: { ifname: string };
    try {
      made = await this.ctl(`${parent}.newlink`, answers.created, args);
    } catch (e) {
      if (spec.mode === 'connected') await this.connectedUnsupported(parent, e);
      throw e;
    }
    const name = made.ifname;
    return { ifname: name, undo: async () => void (await this.deleteChildNetlink(name)) };
  }

  async deleteChildNetlink(ifname: string): Promise<Undo> {
    const before = await this.showOne(ifname);
    await this.ctl(`${ifname}.dellink`, answers.deleted, ['link', 'del', ifname]);
    // dellink on a parent is a silent no-op: nothing went away, so nothing to put back.
    if (before.parent === null) return NO_UNDO;
    const parent = before.parent;
    const spec: NetlinkChildSpec = { name: ifname, pkey: before.pkey, mode: before.mode, umcast: before.umcast === 1 };
    return async () => void (await this.createChildNetlink(spec, parent));
  }

  // ---- mode, MTU, umcast ----

  async mode(ifname = this.ifname): Promise<IpoibMode> {
    return (await this.ctl(`${ifname}.mode`, answers.mode, ['mode', ifname])).mode;
  }

  /** sysfs `mode` and netlink's changelink reach the same daemon command; `via` changes nothing here. */
  async setMode(mode: IpoibMode, o: { ifname?: string; via?: ChildPath } = {}): Promise<Undo> {
    const ifname = o.ifname ?? this.ifname;
    const before = await this.mode(ifname);
    if (before === mode) return NO_UNDO;
    const mtuBefore = await this.mtu(ifname);
    try {
      await this.ctl(`${ifname}.mode`, answers.mode, ['mode', ifname, mode]);
    } catch (e) {
      if (mode === 'connected') await this.connectedUnsupported(ifname, e);
      throw e;
    }
    return async () => {
      await this.setMode(before, o.via === undefined ? { ifname } : { ifname, via: o.via });
      if ((await this.mtu(ifname)) !== mtuBefore) await this.setMtu(mtuBefore, ifname);
    };
  }

  async mtu(ifname = this.ifname): Promise<number> {
    return (await this.ctl(`${ifname}.mtu`, answers.mtu, ['mtu', ifname])).mtu;
  }

  async setMtu(mtu: number, ifname = this.ifname): Promise<Undo> {
    if (!Number.isSafeInteger(mtu) || mtu < 0) throw new ArgumentError('setMtu', 'mtu', mtu, 'a non-negative integer');
    const before = await this.mtu(ifname);
    if (before === mtu) return NO_UNDO;
    await this.ctl(`${ifname}.mtu`, answers.mtu, ['mtu', ifname, String(mtu)]);
    return async () => void (await this.setMtu(before, ifname));
  }

  async umcast(ifname = this.ifname): Promise<boolean> {
    return (await this.ctl(`${ifname}.umcast`, answers.umcast, ['umcast', ifname])).umcast === 1;
  }

  async setUmcast(on: boolean, o: { ifname?: string; via?: ChildPath } = {}): Promise<Undo> {
    const ifname = o.ifname ?? this.ifname;
    const before = await this.umcast(ifname);
    if (before === on) return NO_UNDO;
    await this.ctl(`${ifname}.umcast`, answers.umcast, ['umcast', ifname, on ? '1' : '0']);
    return async () => void (await this.setUmcast(before, o.via === undefined ? { ifname } : { ifname, via: o.via }));
  }

  // ---- addresses and carrier ----

  async hwaddr(ifname = this.ifname): Promise<IpoibHwAddr> {
    return (await this.link(ifname)).hwaddr;
  }

  /** The stack's address is its QPN and port GID; nothing can set it. */
  async setHwaddr(_addr: IpoibHwAddr, ifname = this.ifname): Promise<Undo> {
    throw new Unsupported('set-hwaddr', `the reference stack derives ${ifname}'s address from its QPN and port GID`);
  }

  async broadcast(ifname = this.ifname): Promise<IpoibHwAddr> {
    return (await this.link(ifname)).broadcast;
  }

  /** The broadcast address follows the P_Key and scope; ipoibd has no command to change it. */
  async setBroadcast(_addr: IpoibHwAddr, ifname = this.ifname): Promise<Undo> {
    throw new Unsupported('set-broadcast', `the reference stack derives ${ifname}'s broadcast address from its P_Key`);
  }

  async carrier(ifname = this.ifname): Promise<boolean> {
    return (await this.link(ifname)).carrier;
  }

  /** `up` on a child also gives it its TUN device in the node's namespace; `down` removes it again. */
  async setUp(up: boolean, ifname = this.ifname): Promise<Undo> {
    const before = (await this.link(ifname)).up;
    if (before === up) return NO_UNDO;
    await this.ctl(`${ifname}.up`, answers.link, [up ? 'up' : 'down', ifname]);
    return async () => void (await this.setUp(before, ifname));
  }


  /**
   * The address goes on the TUN device (the node's IP stack) and into the reference stack,
   * which answers ARP and ND for it; a failure of the second takes the first back.
   */
  async addAddress(cidr: string, ifname = this.ifname): Promise<Undo> {
    checkErrno(`${ifname}.addr`, await this.node.run(['ip', 'addr', 'add', cidr, 'dev', ifname], { timeoutMs: this.callTimeoutMs }));
    try {
      await this.ctl(`${ifname}.addr`, answers.addresses, ['addr', 'add', cidr, 'dev', ifname]);
    } catch (e) {
      // The stack may still hold an address the host dropped (IPv6 drops every address when the
      // MTU goes under 1280): the host had it missing, the stack answers for it; nothing to undo there.
      const stackHadIt = e instanceof IpoibControlError && e.code === 'EEXIST';
      if (!stackHadIt) {
        await this.node.run(['ip', 'addr', 'del', cidr, 'dev', ifname], { timeoutMs: this.callTimeoutMs });
        throw e;
      }
    }
    return async () => {
      await this.ctl(`${ifname}.addr`, answers.addresses, ['addr', 'del', cidr, 'dev', ifname]);
      checkErrno(`${ifname}.addr`, await this.node.run(['ip', 'addr', 'del', cidr, 'dev', ifname], { timeoutMs: this.callTimeoutMs }));
    };
  }

  async neighbours(ifname = this.ifname): Promise<Neighbour[]> {
    const answer = await this.ctl(`${ifname}.neigh`, answers.neigh, ['neigh', ifname]);
    return answer.neighbours.map((n, i) => ({
      ip: n.ip,
      hwaddr: n.lladdr === null ? null : parseAddress(`ipoibctl --json neigh ${ifname}`, `$.neighbours[${i}].lladdr`, n.lladdr),
      state: [n.state.toUpperCase()],
    }));
  }

  /** Drops the stack's neighbours and paths (and the fast path's copies); dynamic entries have no undo. */
  async flushNeighbours(ifname = this.ifname): Promise<Undo> {
    await this.ctl(`${ifname}.neigh`, answers.neighFlushed, ['neigh', ifname, 'flush']);
    return NO_UNDO;
  }

  /**
   * The kernel's eight `ethtool -S` counters in its order, then the stack's own (reasons of
   * drops, joins …). Known limit: ipoibd reports the control plane's counters, which do not see
   * the packets the native fast path carries (resolved unicast, joined groups).
   */
  async counters(ifname = this.ifname): Promise<Record<string, number>> {
    const { stats } = await this.ctl(`${ifname}.ethtool-S`, answers.stats, ['stats', ifname]);
    const out: Record<string, number> = {};
    for (const [name, value] of stats.ethtool) out[name] = value;
    for (const name of IPOIB_ETHTOOL_COUNTERS) {
      if (out[name] === undefined) throw new ParseError(`ipoibctl --json stats ${ifname}`, '$.stats.ethtool', `the ipoib counter "${name}"`, Object.keys(out).join(','));
    }
    for (const [name, value] of Object.entries(stats.all)) if (!Object.hasOwn(out, name)) out[name] = value;
    return out;
  }

  // ---- the debugfs-shaped dumps ----

  async mcgDump(ifname = this.ifname): Promise<McgRow[]> {
    return parseMcgDump((await this.ctl(`${ifname}_mcg`, answers.dump, ['mcg', ifname])).text, ifname);
  }

  async pathDump(ifname = this.ifname): Promise<PathRow[]> {
    return parsePathDump((await this.ctl(`${ifname}_path`, answers.dump, ['path', ifname])).text, ifname);
  }

  // ---- debug levels and the daemon's log ----

  private checkDebugLevelName(name: DebugLevelName, ifname: string): void {
    if (name !== REFERENCE_DEBUG_LEVEL) {
      throw new Unsupported(`debug-level ${name}`, `the reference stack has one debug level per interface (${REFERENCE_DEBUG_LEVEL}, ipoibctl debug ${ifname}); it has no ${name}`);
    }
  }

  async debugLevel(name: DebugLevelName, ifname = this.ifname): Promise<number> {
    this.checkDebugLevelName(name, ifname);
    return (await this.ctl(`${ifname}.debug`, answers.debug, ['debug', ifname])).level;
  }

  async setDebugLevel(name: DebugLevelName, level: number, ifname = this.ifname): Promise<Undo> {
    if (!Number.isSafeInteger(level) || level < 0 || level > MAX_DEBUG_LEVEL) throw new ArgumentError('setDebugLevel', 'level', level, `an integer 0..${MAX_DEBUG_LEVEL}`);
    const before = await this.debugLevel(name, ifname);
    if (before === level) return NO_UNDO;
    await this.ctl(`${ifname}.debug`, answers.debug, ['debug', ifname, String(level)]);
    return async () => void (await this.setDebugLevel(name, before, ifname));
  }

  private requireLogFile(): string {
    if (this.logFile === null) throw new Unsupported('dut-log', 'the adapter was not told where ipoibd logs');
    return this.logFile;
  }

  /** The log file's size in octets now. */
  async logMark(): Promise<LogMark> {
    const file = this.requireLogFile();
    const r = await this.node.run(['stat', '-c', '%s', file], { timeoutMs: this.callTimeoutMs });
    if (r.code !== 0) throw new Unsupported('dut-log', `cannot read ${file}: ${r.stderr.trim()}`);
    const size = Number(r.stdout.trim());
    if (!Number.isSafeInteger(size) || size < 0) throw new ParseError(`stat -c %s ${file}`, '$', 'a size in octets', r.stdout.trim());
    return { where: String(size) };
  }

  /** What the daemon appended after the mark (the whole file when it was cut shorter meanwhile). */
  async logSince(mark: LogMark): Promise<string[]> {
    const file = this.requireLogFile();
    const from = Number(mark.where);
    if (!Number.isSafeInteger(from) || from < 0) throw new ArgumentError('logSince', 'mark', mark, 'a mark from logMark() of this adapter');
    const size = Number((await this.logMark()).where);
    const start = size < from ? 0 : from;
    const r = await this.node.run(['tail', '-c', `+${start + 1}`, file], { timeoutMs: this.callTimeoutMs });
    if (r.code !== 0) throw new CommandFailedError(r.host, r.argv, r.code, r.stdout, r.stderr);
    return r.stdout.split('\n').filter((l) => l.length > 0);
  }
}
