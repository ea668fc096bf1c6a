/**
 * `ipoibd --fabric NAME --node NODE [--netns NS] [--ifname ib0] [--address CIDR ...] [--socket PATH]
 * [--cm-profile linux|rfc] [--no-connected-mode] [--cm-max-passive N] [--cm-idle-ms MS]
 * [--cm-reap-interval-ms MS] [--defect NAME ...]`: the reference IPoIB stack's daemon for one
 * node of a simulated fabric. Connected mode (RFC 4755) is offered by default, with Linux's
 * Service-ID prefix; `--no-connected-mode` makes a UD-only node (address flags 0x00).
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
import { IPOIB_CM_MAX_CONN_QP, type IpoibCmOptions } from '../ipoib/cm/cm-config.js';
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
  cmProfile: string;
  connectedMode: boolean;
  cmMaxPassive?: string;
  cmIdleMs?: string;
  cmReapIntervalMs?: string;
}

/** A whole number from `min` to `max` given as text, else a UsageError naming the option. */
function intOption(name: string, text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined) return undefined;
  if (!/^\d{1,10}$/.test(text) || Number(text) < min || Number(text) > max) throw new UsageError(`${name} must be a whole number from ${min} to ${max}, not ${JSON.stringify(text)}`);
  return Number(text);
}

function cmOptions(a: IpoibdArgs): IpoibCmOptions {
  if (a.cmProfile !== 'linux' && a.cmProfile !== 'rfc') throw new UsageError(`--cm-profile is linux or rfc, not ${JSON.stringify(a.cmProfile)}`);
  const maxPassive = intOption('--cm-max-passive', a.cmMaxPassive, 0, IPOIB_CM_MAX_CONN_QP);
  const idle = intOption('--cm-idle-ms', a.cmIdleMs, 1, 86_400_000);
  const reap = intOption('--cm-reap-interval-ms', a.cmReapIntervalMs, 1, 86_400_000);
  return {
    enabled: a.connectedMode,
    profile: a.cmProfile,
    ...(maxPassive !== undefined ? { maxPassive } : {}),
    ...(idle !== undefined ? { rxIdleTimeoutMs: idle } : {}),
    ...(reap !== undefined ? { rxReapIntervalMs: reap } : {}),
  };
}

function parseArgs(argv: readonly string[], io: Io): IpoibdArgs | undefined {
  let parsed: IpoibdArgs | undefined;
  const program = new Command('ipoibd')
    .description('the reference IPoIB (datagram and connected mode) daemon for one node of a simulated fabric')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .requiredOption('--fabric <name>', 'fabric name (as given to ipoib-lab fabric up --name)')
    .requiredOption('--node <node>', 'node whose port to take, e.g. node1')
    .option('--netns <ns>', 'network namespace of the TUN device (when the TUN data plane is available)')
    .option('--ifname <name>', 'parent interface name', 'ib0')
    .option('--address <cidr>', 'an address for the parent (repeatable)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--socket <path>', 'control socket (default <run dir>/fabric-NAME/ipoibd-NODE.sock)')
    .option('--cm-profile <profile>', 'connected-mode Service-ID prefix: linux (0x10..., the kernel\'s) or rfc (0x01..., RFC 4755\'s figure)', 'linux')
    .option('--no-connected-mode', 'offer no connected mode: address flags 0x00, no listener, mode connected is EINVAL (a UD-only node)')
    .option('--cm-max-passive <n>', 'passive connections at once before REJ "no QP" (the kernel\'s max_nonsrq_conn_qp, default 128)')
    .option('--cm-idle-ms <ms>', 'reap a passive connection idle this long (kernel: 512000)')
    .option('--cm-reap-interval-ms <ms>', 'look for idle passive connections this often (kernel: 768000)')
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
    const cm = cmOptions(a);
    let paths;
    try {
      paths = fabricPaths(a.fabric);
    } catch (e) {
      throw new UsageError((e as Error).message);
    }
    if (!/^[a-z][a-z0-9-]{0,31}$/.test(a.node)) throw new UsageError(`node name ${JSON.stringify(a.node)} is not valid`);
    try {
      return await startDaemonProcess(
        { fabric: paths, node: a.node, ifname: a.ifname, addresses: a.address, defects, cm, ...(a.netns ? { netns: a.netns } : {}), ...(a.socket ? { socket: a.socket } : {}) },
        (l) => io.err(l),
      );
    } catch (e) {
      if (e instanceof ExitError || e instanceof UsageError) throw e;
      throw new ExitError(EXIT_FAILURE, (e as Error).message);
    }
  }, io);
}
