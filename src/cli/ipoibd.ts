/**
 * `ipoibd --fabric NAME --node NODE [--netns NS] [--ifname ib0] [--address CIDR ...] [--socket PATH]
 * [--defect NAME ...]`: the reference IPoIB stack's daemon for one node of a simulated fabric.
 * Runs in the foreground, logs to stderr with timestamps, and on SIGTERM/SIGINT leaves its
 * groups, removes its data plane and exits 0.
 *
 * `--defect NAME` (TEST ONLY, repeatable) makes the stack commit a known non-conformance
 * (src/ipoib/defects.ts) so the suites' power can be measured; `--list-defects` prints them.
 * Defects are taken from flags only, never from the environment, so a run cannot inherit one.
 */
import { Command } from 'commander';
import { ExitError, UsageError } from '../errors.js';
import { fabricPaths } from '../fabric/sim/run-dir.js';
import { startDaemonProcess } from '../ipoib/daemon/daemon-process.js';
import { Defects, formatDefectTable, parseDefects } from '../ipoib/defects.js';
import { EXIT_FAILURE } from './exit-codes.js';
import { type Io, processIo, runCommand } from './run-command.js';

interface IpoibdArgs {
  fabric: string;
  node: string;
  netns?: string;
  ifname: string;
  address: string[];
  socket?: string;
  defect: string[];
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
    .option('--defect <name>', 'TEST ONLY: commit this seeded non-conformance (repeatable; see --list-defects)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--list-defects', 'print the seeded defects --defect accepts, and exit')
    .action((o: IpoibdArgs) => {
      parsed = o;
    });
  program.parse([...argv], { from: 'user' });
  return parsed;
}

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  return runCommand('ipoibd', async () => {
    // Before parsing: listing needs none of the options a daemon requires.
    if (argv.includes('--list-defects')) {
      for (const line of formatDefectTable()) io.out(line);
      return 0;
    }
    const a = parseArgs(argv, io);
    if (!a) return 0;
    const defects = Defects.of(parseDefects(a.defect));
    let paths;
    try {
      paths = fabricPaths(a.fabric);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (!/^[a-z][a-z0-9-]{0,31}$/.test(a.node)) throw new UsageError(`node name ${JSON.stringify(a.node)} is not valid`);
    try {
      return await startDaemonProcess(
        { fabric: paths, node: a.node, ifname: a.ifname, addresses: a.address, defects, ...(a.netns ? { netns: a.netns } : {}), ...(a.socket ? { socket: a.socket } : {}) },
        (l) => io.err(l),
      );
    } catch (e) {
      if (e instanceof ExitError || e instanceof UsageError) throw e;
      throw new ExitError(EXIT_FAILURE, (e as Error).message);
    }
  }, io);
}
