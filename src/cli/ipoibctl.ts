/**
 * `ipoibctl [--fabric NAME --node N | --socket PATH] [--json] COMMAND ...`: the control surface
 * of a running ipoibd. Commands mirror the kernel's interfaces to ib_ipoib (sysfs files,
 * `ip link`, ethtool, debugfs); a refused request prints `ipoibctl: <command>: <ERRNO>: <why>`
 * (with --json also `{"error": …}` on stdout) and exits 1; a bad command line exits 2.
 */
import { ExitError, UsageError } from '../errors.js';
import { fabricPaths } from '../fabric/sim/run-dir.js';
import { DaemonClient, DaemonRequestError } from '../ipoib/daemon/client.js';
import { daemonPaths } from '../ipoib/daemon/daemon-paths.js';
import { formatResult } from '../ipoib/daemon/format.js';
import type { HandlerResult } from '../ipoib/daemon/handlers.js';
import type { DaemonCall } from '../ipoib/daemon/protocol.js';
import { EXIT_FAILURE } from './exit-codes.js';
import { type Io, processIo, runCommand } from './run-command.js';

export const IPOIBCTL_USAGE = `Usage: ipoibctl [--fabric NAME --node NODE | --socket PATH] [--json] COMMAND

Commands:
  show [IF]                      interface(s) as ip -d link shows them
  mode IF [datagram|connected]   read or set the mode (sysfs mode)
  umcast IF [0|1]                read or set umcast
  mtu IF [N]                     read or set the MTU (datagram-mode rules)
  stats IF                       ethtool -S counters
  mcg IF | path IF               the debugfs <if>_mcg / <if>_path dumps
  neigh IF [flush]               the neighbour table; flush drops every neighbour and path
  create_child IF PKEY           sysfs create_child (the text as written)
  delete_child IF PKEY           sysfs delete_child
  pkey IF | parent IF            sysfs pkey / parent
  up IF [CIDR ...] | down IF     admin state (up adds the addresses first; a child gets
                                 its own TUN device when the daemon has a namespace)
  addr add|del CIDR dev IF       the stack's copy of an address (it answers ARP/ND for it);
                                 the host's own (ip addr) is configured separately
  link add link IF [name NAME] type ipoib [pkey P] [mode datagram|connected] [umcast 0|1]
  link del NAME
  debug IF [LEVEL]               read or set the interface's debug level

With --json, a result is one JSON document on stdout; a failure is {"error": {"command",
"code", "op", "message"}} on stdout as well as the usual line on stderr (exit 1), with the
daemon's errno name, or EIO when the daemon could not be asked.`;

interface Global {
  fabric?: string;
  node?: string;
  socket?: string;
  json: boolean;
  help: boolean;
  rest: string[];
}

function parseGlobal(argv: readonly string[]): Global {
  const g: Global = { json: false, help: false, rest: [] };
  let i = 0;
  const value = (opt: string): string => {
    const v = argv[++i];
    if (v === undefined || v.startsWith('--')) throw new UsageError(`${opt} needs a value`);
    return v;
  };
  for (; i < argv.length; i++) {
    const a = argv[i] ?? '';
    if (a === '--fabric') g.fabric = value(a);
    else if (a === '--node') g.node = value(a);
    else if (a === '--socket') g.socket = value(a);
    else if (a === '--json') g.json = true;
    else if (a === '--help' || a === '-h') g.help = true;
    else if (a.startsWith('--')) throw new UsageError(`unknown option ${a}`);
    else break;
  }
  g.rest = argv.slice(i);
  return g;
}

function socketOf(g: Global): string {
  if (g.socket !== undefined) {
    if (g.fabric !== undefined || g.node !== undefined) throw new UsageError('give --socket or --fabric/--node, not both');
    return g.socket;
  }
  if (g.node === undefined) throw new UsageError('say which daemon: --node NODE [--fabric NAME] or --socket PATH');
  try {
    return daemonPaths(fabricPaths(g.fabric ?? 'default'), g.node).socket;
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

/** iproute2's get_u16(…, 0): the whole text is a number in base 0 (0x hex, 0 octal, decimal) ≤ 0xffff. */
function u16Arg(text: string, what: string): number {
  if (!/^(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)$/.test(text)) throw new UsageError(`invalid ${what} "${text}"`);
  const n = text.length > 1 && text[0] === '0' && /[xX]/.test(text[1] ?? '') ? parseInt(text.slice(2), 16) : text[0] === '0' ? parseInt(text, 8) : parseInt(text, 10);
  if (n > 0xffff) throw new UsageError(`invalid ${what} "${text}": more than 16 bits`);
  return n;
}

function nonNegativeInt(text: string, what: string): number {
  if (!/^\d{1,10}$/.test(text) || Number(text) > 0x7fffffff) throw new UsageError(`invalid ${what} "${text}"`);
  return Number(text);
}

function parseLinkAdd(args: readonly string[]): DaemonCall {
  const call: { cmd: 'link_add'; link?: string; name?: string; pkey?: number; mode?: 'datagram' | 'connected'; umcast?: number } = { cmd: 'link_add' };
  let type: string | undefined;
  for (let i = 0; i < args.length; i += 2) {
    const key = args[i] ?? '';
    const v = args[i + 1];
    if (v === undefined) throw new UsageError(`link add: "${key}" needs a value`);
    if (key === 'link') call.link = v;
    else if (key === 'name') call.name = v;
    else if (key === 'type') type = v;
    else if (key === 'pkey') call.pkey = u16Arg(v, 'pkey');
    else if (key === 'mode') {
      if (v !== 'datagram' && v !== 'connected') throw new UsageError(`link add: mode is datagram or connected, not "${v}"`);
      call.mode = v;
    } else if (key === 'umcast') call.umcast = u16Arg(v, 'umcast');
    else throw new UsageError(`link add: unknown argument "${key}"`);
  }
  if (type !== 'ipoib') throw new UsageError('link add: "type ipoib" is required');
  if (call.link === undefined) throw new UsageError('link add: "link IF" is required');
  return call as DaemonCall;
}

const IF_ONLY = new Set(['stats', 'mcg', 'path', 'pkey', 'parent', 'down']);

/** The command line after the global options → one protocol request. */
export function parseCommand(rest: readonly string[]): DaemonCall {
  const [cmd, ...args] = rest;
  if (cmd === undefined) throw new UsageError('a command is required');
  const want = (min: number, max: number): void => {
    if (args.length < min || args.length > max) throw new UsageError(`${cmd}: expected ${min === max ? min : `${min} to ${max}`} argument(s), got ${args.length}`);
  };
  const ifname = (): string => args[0] ?? '';
  if (IF_ONLY.has(cmd)) {
    want(1, 1);
    return { cmd, ifname: ifname() } as DaemonCall;
  }
  switch (cmd) {
    case 'up':
      want(1, 17);
      return args.length > 1 ? { cmd, ifname: ifname(), addresses: args.slice(1) } : { cmd, ifname: ifname() };
    case 'neigh':
      want(1, 2);
      if (args[1] === undefined) return { cmd, ifname: ifname() };
      if (args[1] !== 'flush') throw new UsageError(`neigh: "${args[1]}" is not "flush"`);
      return { cmd: 'neigh_flush', ifname: ifname() };
    case 'addr': {
      // iproute2's order: addr add CIDR dev IF.
      const [sub, address, dev, name] = args;
      if ((sub !== 'add' && sub !== 'del') || address === undefined || dev !== 'dev' || name === undefined || args.length !== 4) {
        throw new UsageError('addr add|del CIDR dev IF');
      }
      return { cmd: sub === 'add' ? 'addr_add' : 'addr_del', ifname: name, address };
    }
    case 'show':
      want(0, 1);
      return args[0] === undefined ? { cmd: 'show' } : { cmd: 'show', ifname: ifname() };
    case 'mode':
    case 'umcast':
      want(1, 2);
      return args[1] === undefined ? { cmd, ifname: ifname() } : { cmd, ifname: ifname(), value: args[1] };
    case 'mtu':
      want(1, 2);
      return args[1] === undefined ? { cmd, ifname: ifname() } : { cmd, ifname: ifname(), value: nonNegativeInt(args[1], 'MTU') };
    case 'debug':
      want(1, 2);
      return args[1] === undefined ? { cmd, ifname: ifname() } : { cmd, ifname: ifname(), level: nonNegativeInt(args[1], 'debug level') };
    case 'create_child':
    case 'delete_child':
      want(2, 2);
      return { cmd, ifname: ifname(), pkey: args[1] ?? '' };
    case 'link': {
      const [sub, ...more] = args;
      if (sub === 'add') return parseLinkAdd(more);
      if (sub === 'del' || sub === 'delete') {
        const name = more[0] === 'dev' ? more[1] : more[0];
        if (name === undefined || more.length > (more[0] === 'dev' ? 2 : 1)) throw new UsageError('link del NAME');
        return { cmd: 'link_del', name };
      }
      throw new UsageError('link add ... | link del NAME');
    }
    default:
      throw new UsageError(`unknown command "${cmd}"`);
  }
}

/** How an error names the command: its first word, two for `link add` / `link del`. */
function commandLabel(rest: readonly string[]): string {
  const [first, second] = rest;
  if ((first === 'link' || first === 'addr') && second !== undefined) return `${first} ${second === 'delete' ? 'del' : second}`;
  return first ?? '';
}

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  return runCommand('ipoibctl', async () => {
    const g = parseGlobal(argv);
    if (g.help) {
      io.out(IPOIBCTL_USAGE);
      return 0;
    }
    const call = parseCommand(g.rest);
    const socket = socketOf(g);
    const command = commandLabel(g.rest);
    /** A failure that is not the daemon's refusal (unreachable, no answer): EIO, as the daemon names its own. */
    const failed = (e: unknown): ExitError => {
      const message = (e as Error).message;
      if (g.json) io.out(JSON.stringify({ error: { command, code: 'EIO', op: command, message } }, null, 2));
      return new ExitError(EXIT_FAILURE, message);
    };
    let client: DaemonClient;
    try {
      client = await DaemonClient.connect(socket);
    } catch (e) {
      throw failed(e);
    }
    try {
      const result = await client.request<HandlerResult>(call);
      if (g.json) io.out(JSON.stringify(result, null, 2));
      else for (const l of formatResult(result)) io.out(l);
      return 0;
    } catch (e) {
      if (e instanceof DaemonRequestError) {
        if (g.json) io.out(JSON.stringify({ error: { command, ...e.body } }, null, 2));
        throw new ExitError(EXIT_FAILURE, `${command}: ${e.body.code}: ${e.body.message}`);
      }
      throw failed(e);
    } finally {
      client.close();
    }
  }, io);
}
