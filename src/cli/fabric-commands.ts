/** The `ipoib-lab fabric ...` subcommands: options parsed here, work done in commands/fabric.ts. */
import { Command, InvalidArgumentError, Option } from 'commander';
import type { Io } from './run-command.js';
import { UsageError } from '../errors.js';

function intArg(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer ${min}..${max}`);
    return n;
  };
}

function rateArg(v: string): number {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('a rate between 0 and 1 (0.01 = 1 %)');
  return n;
}

const nameOption = () => new Option('--name <name>', 'fabric name (several fabrics can run side by side)').default('default');

/** Adds `fabric` with its subcommands; each action stores its exit code on the root program. */
export function registerFabric(program: Command, io: Io): void {
  const done = (code: number) => program.setOptionValue('exit', code);
  const fabric = program.command('fabric').description('start, inspect, disturb and stop the simulated InfiniBand fabric');

  fabric
    .command('up')
    .description('start a simulated fabric (SM, SA and routing) in the background')
    .addOption(nameOption())
    .option('--nodes <n>', 'number of nodes (node1..nodeN), one port each', intArg('--nodes', 1, 64), 2)
    .option('--partitions <file>', 'partitions in OpenSM partitions.conf syntax (default: Default=0x7fff, ipoib, full members)')
    .option('--ipoib', 'also start one ipoibd per node, each in its own network namespace with 192.0.2.<i>/24 and 2001:db8::<i>/64 (root)')
    .option('--lab <file>', 'lay the fabric out as a sim lab file says (its nodes, addresses, partitions, plus a probe port) and start its ipoibd nodes (root); replaces --nodes, --partitions and --ipoib')
    .option('--defect <name>', 'TEST ONLY, with --lab: seed this non-conformance into the DUT node\'s stack (repeatable; `ipoibd --list-defects`)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .action(async (o: { name: string; nodes: number; partitions?: string; ipoib?: boolean; lab?: string; defect: string[] }) => {
      const { fabricUp } = await import('./commands/fabric.js');
      if (o.lab !== undefined) {
        const { fabricUpOptionsForLab } = await import('./commands/fabric-lab.js');
        done(await fabricUp(await fabricUpOptionsForLab(o.name, o.lab, o.defect), io));
        return;
      }
      if (o.defect.length > 0) throw new UsageError('--defect needs --lab (defects go to the lab\'s DUT node)');
      done(await fabricUp({ name: o.name, nodes: o.nodes, ...(o.partitions !== undefined ? { partitions: o.partitions } : {}), ipoib: o.ipoib === true }, io));
    });

  fabric
    .command('status')
    .description('ports, LIDs, P_Keys, multicast groups and members; --counters adds each port\'s counters')
    .addOption(nameOption())
    .option('--json', 'print JSON')
    .option('--counters', 'ask every attached port for its counters')
    .action(async (o: { name: string; json?: boolean; counters?: boolean }) => {
      const { fabricStatus } = await import('./commands/fabric.js');
      done(await fabricStatus({ name: o.name, json: o.json === true, counters: o.counters === true }, io));
    });

  fabric
    .command('down')
    .description('stop a fabric (or clean up after one that crashed)')
    .addOption(nameOption())
    .action(async (o: { name: string }) => {
      const { fabricDown } = await import('./commands/fabric.js');
      done(await fabricDown(o, io));
    });

  fabric
    .command('fault')
    .description('set egress loss and delay on a node\'s port')
    .addOption(nameOption())
    .requiredOption('--node <node>', 'node name, e.g. node1')
    .option('--loss <rate>', 'packet loss rate 0..1', rateArg)
    .option('--delay <ms>', 'added delay in milliseconds', intArg('--delay', 0, 10_000))
    .option('--seed <n>', 'seed of the loss generator', intArg('--seed', 0, 0xffffffff))
    .action(async (o: { name: string; node: string; loss?: number; delay?: number; seed?: number }) => {
      const { fabricFault } = await import('./commands/fabric.js');
      done(await fabricFault({ name: o.name, node: o.node, ...(o.loss !== undefined ? { loss: o.loss } : {}), ...(o.delay !== undefined ? { delayMs: o.delay } : {}), ...(o.seed !== undefined ? { seed: o.seed } : {}) }, io));
    });

  fabric
    .command('link')
    .description('take a node\'s link down or bring it back up')
    .addOption(nameOption())
    .argument('<node>', 'node name')
    .addArgument(new Command().createArgument('<state>', 'up or down').choices(['up', 'down']))
    .action(async (node: string, state: string, o: { name: string }) => {
      const { fabricLink } = await import('./commands/fabric.js');
      done(await fabricLink({ name: o.name, node, up: state === 'up' }, io));
    });

  fabric
    .command('sm')
    .description('stop or (re)start the subnet manager; a restart makes every port re-register')
    .addOption(nameOption())
    .addArgument(new Command().createArgument('<action>', 'stop or start').choices(['stop', 'start']))
    .action(async (action: string, o: { name: string }) => {
      const { fabricSm } = await import('./commands/fabric.js');
      done(await fabricSm({ name: o.name, running: action === 'start' }, io));
    });

  fabric
    .command('tap')
    .description('capture every packet crossing the fabric (or the given nodes) to a pcap; --off stops')
    .addOption(nameOption())
    .option('--out <file>', 'pcap file to write (ERF type 21 records, readable by tshark)')
    .option('--nodes <list>', 'comma-separated node names (default: all, the SM included)')
    .option('--off', 'stop capturing')
    .action(async (o: { name: string; out?: string; nodes?: string; off?: boolean }) => {
      const { fabricTap } = await import('./commands/fabric.js');
      if (!o.off && !o.out) throw new UsageError('fabric tap: give --out FILE, or --off');
      done(await fabricTap({ name: o.name, file: o.off ? null : o.out!, ...(o.nodes ? { nodes: o.nodes.split(',') } : {}) }, io));
    });

  fabric
    .command('serve', { hidden: true })
    .description('the manager process itself (started by `fabric up`)')
    .addOption(nameOption())
    .option('--nodes <n>', 'number of nodes', intArg('--nodes', 1, 64), 2)
    .option('--partitions <file>', 'partitions file')
    .option('--node-names <names>', 'comma-separated node names instead of node1..nodeN', (v: string) => v.split(','))
    .option('--port-guids <list>', 'NODE=0xGUID,… port GUIDs instead of the by-order ones')
    .action(async (o: { name: string; nodes: number; partitions?: string; nodeNames?: string[]; portGuids?: string }) => {
      const { fabricServe, parsePortGuids } = await import('./commands/fabric.js');
      const { portGuids, ...rest } = o;
      done(await fabricServe({ ...rest, ...(portGuids !== undefined ? { portGuids: parsePortGuids(portGuids) } : {}) }, io));
    });
}
