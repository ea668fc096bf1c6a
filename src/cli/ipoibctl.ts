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
import { parseCommand } from '../ipoib/daemon/command-line.js';
import { EXIT_FAILURE } from './exit-codes.js';
import { type Io, processIo, runCommand } from './run-command.js';

export const IPOIBCTL_USAGE = `Usage: ipoibctl [--fabric NAME --node NODE | --socket PATH] [--json] COMMAND

Commands:
  show [IF]                      interface(s) as ip -d link shows them
  mode IF [datagram|connected]   read or set the mode (sysfs mode, written as echo writes it)
  umcast IF [0|1]                read or set umcast
  mtu IF [N]                     read or set the MTU (the rules of the interface's mode)
  cm IF                          connected mode: Service ID listened on, RC connections
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

/** How an error names the command: its first word, two for `link add` / `link del`. */
function commandLabel(rest: readonly string[]): string {
  const [first, second] = rest;
  if ((first === 'link' || first === 'addr') && second !== undefined) return `${first} ${second === 'delete' ? 'del' : second}`;
  return first ?? '';
}

export { parseCommand };

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
