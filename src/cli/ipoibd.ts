/**
 * `ipoibd --fabric NAME --node NODE [--netns NS] [--ifname ib0] [--address CIDR ...] [--socket PATH]`:
 * the reference IPoIB stack's daemon for one node of a simulated fabric. Runs in the foreground,
 * logs to stderr with timestamps, and on SIGTERM/SIGINT leaves its groups, removes its data
 * plane and exits 0.
 */
import { Command } from 'commander';
import { ExitError, UsageError } from '../errors.js';
import { fabricPaths } from '../fabric/sim/run-dir.js';
import { startDaemonProcess } from '../ipoib/daemon/daemon-process.js';
import { EXIT_FAILURE } from './exit-codes.js';
import { type Io, processIo, runCommand } from './run-command.js';

interface IpoibdArgs {
  fabric: string;
  node: string;
  netns?: string;
  ifname: string;
  address: string[];
  socket?: string;
}

function parseArgs(argv: readonly string[], io: Io): IpoibdArgs | undefined {
  let parsed: IpoibdArgs | undefined;
  const program = new Command('ipoibd')
    .description('the reference IPoIB (datagram mode) daemon for one node of a simulated fabric')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .requiredOption('--fabric <name>', 'fabric name (as given to ipoib-lab fabric up --name)')
    .requiredOption('--node <node>', 'node whose port to take, e.g. node1')
    .option('--netns <ns>', 'network namespace of the TUN device (when the TUN data plane is available)')
    .option('--ifname <name>', 'parent interface name', 'ib0')
    .option('--address <cidr>', 'an address for the parent (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--socket <path>', 'control socket (default <run dir>/fabric-NAME/ipoibd-NODE.sock)')
    .action((o: IpoibdArgs) => {
      parsed = o;
    });
  program.parse([...argv], { from: 'user' });
  return parsed;
}

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  return runCommand('ipoibd', async () => {
    const a = parseArgs(argv, io);
    if (!a) return 0;
    let paths;
    try {
      paths = fabricPaths(a.fabric);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (!/^[a-z][a-z0-9-]{0,31}$/.test(a.node)) throw new UsageError(`node name ${JSON.stringify(a.node)} is not valid`);
    try {
      return await startDaemonProcess({ fabric: paths, node: a.node, ifname: a.ifname, addresses: a.address, ...(a.netns ? { netns: a.netns } : {}), ...(a.socket ? { socket: a.socket } : {}) }, (l) => io.err(l));
    } catch (e) {
      if (e instanceof ExitError || e instanceof UsageError) throw e;
      throw new ExitError(EXIT_FAILURE, (e as Error).message);
    }
  }, io);
}
