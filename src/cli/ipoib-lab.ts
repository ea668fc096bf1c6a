/**
 * `ipoib-lab`: the command registry. Each command lives in commands/<name>.ts, is imported
 * lazily, takes typed options and returns an exit code; printing goes through Io.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { UsageError } from '../errors.js';
import { type Io, processIo, runCommand } from './run-command.js';
import { PRODUCT_VERSION } from '../version.js';
import { registerFabric } from './fabric-commands.js';

function minutesArg(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 24 * 60) throw new InvalidArgumentError('minutes must be an integer 1..1440');
  return n;
}

function secondsArg(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 1 || n > 3600) throw new InvalidArgumentError('a whole number of seconds, 1..3600');
  return n;
}

export function buildProgram(io: Io): Command {
  const program = new Command('ipoib-lab')
    .description('IP over InfiniBand conformance suite and lab framework')
    .version(PRODUCT_VERSION)
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) })
    .showHelpAfterError();

  program
    .command('info')
    .description('show this installation: version, native addon, verbs support, RDMA devices, tools')
    .option('--json', 'print JSON instead of a table')
    .action(async (o: { json?: boolean }) => {
      const { info } = await import('./commands/info.js');
      program.setOptionValue('exit', await info({ json: o.json === true }, io));
    });

  program
    .command('report')
    .description('turn reports/allure-results into the HTML report reports/allure-report (needs Java)')
    .option('--results <dir>', 'allure results directory', 'reports/allure-results')
    .option('--out <dir>', 'where to write the HTML report', 'reports/allure-report')
    .action(async (o: { results: string; out: string }) => {
      const { report } = await import('./commands/report.js');
      program.setOptionValue('exit', await report({ resultsDir: o.results, outDir: o.out }, io));
    });

  registerFabric(program, io);

  program
    .command('doctor')
    .description('check every node of a lab and say how to fix what is missing (exit 1 when a node lacks what its role needs)')
    .option('--lab <file>', 'lab file (default: $IPOIB_LAB_FILE, else lab/sim.json)')
    .option('--json', 'print the report as JSON instead of a table')
    .option('--timeout <seconds>', 'time each node gets for connecting and all checks', secondsArg, 60)
    .action(async (o: { lab?: string; json?: boolean; timeout: number }) => {
      const { doctor } = await import('./commands/doctor.js');
      program.setOptionValue('exit', await doctor({ lab: o.lab, json: o.json === true, nodeTimeoutMs: o.timeout * 1000 }, io));
    });

  program
    .command('cleanup')
    .description('undo what interrupted runs left on the lab nodes, from the journal on each node')
    .option('--lab <file>', 'lab file (default: $IPOIB_LAB_FILE, else lab/sim.json)')
    .option('--run-id <id>', 'undo only the journal of this run')
    .option('--journal-dir <dir>', 'journal directory on the nodes (default /var/tmp/ipoib-lab-journal)')
    .action(async (o: { lab?: string; runId?: string; journalDir?: string }) => {
      const { cleanup } = await import('./commands/cleanup.js');
      program.setOptionValue('exit', await cleanup({ lab: o.lab, runId: o.runId, journalDir: o.journalDir }, io));
    });

  program
    .command('deploy')
    .description('install the reference stack on the lab\'s ssh nodes with implementation reference; --start/--stop/--status their ipoibd')
    .option('--lab <file>', 'lab file (default: $IPOIB_LAB_FILE, else lab/sim.json)')
    .option('--node <name>', 'only this node (repeatable; default: every ssh node with implementation reference)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--build', 'build the addon on the node (cmake-js, offline)')
    .option('--ship', 'ship this machine\'s addon build (refused when the node cannot load it)')
    .option('--dir <dir>', 'deploy directory on the nodes (default: the node\'s deploy.dir, else ~/.ipoib-lab)')
    .option('--start', 'start ipoibd on each node from its deployed release (needs --fabric)')
    .option('--stop', 'stop the ipoibd daemons --start left on each node')
    .option('--status', 'show what is deployed and running; exit 1 when it is not this tree\'s version')
    .option('--fabric <name>', 'with --start: the simulated fabric the daemons join (fabric node = lab node name); with --stop: only its daemons')
    .option('--run-dir <dir>', 'with --start: $IPOIB_LAB_RUN_DIR for ipoibd on the nodes')
    .option('--journal-dir <dir>', 'journal directory on the nodes (default /var/tmp/ipoib-lab-journal)')
    .option('--json', 'print JSON')
    .addOption(new Option('--print-version', 'print this tree\'s version and whether its addon loads, as JSON (deploy runs it on nodes)').hideHelp())
    .action(async (o: import('./commands/deploy.js').RawDeployOptions) => {
      const { deploy, parseDeployOptions } = await import('./commands/deploy.js');
      program.setOptionValue('exit', await deploy(parseDeployOptions(o), io));
    });

  const certifyCommand = (name: 'certify' | 'run', description: string, matrix: boolean) =>
    program
      .command(name)
      .description(description)
      .option('--lab <file>', 'lab file (default: $IPOIB_LAB_FILE, else lab/sim.json)')
      .option('--out <dir>', 'where results and reports go', 'reports')
      .option('--grep <pattern>', 'run only the cases whose title matches (a tag like @pkey, or a requirement ID)')
      .option('--timeout <minutes>', 'stop the suites after this long', minutesArg, 20)
      .addOption(new Option('--defect <name>', 'TEST ONLY: seed a non-conformance into the DUT (suite power)').argParser((v: string, prev: string[] = []) => [...prev, v]).hideHelp())
      .action(async (o: { lab?: string; out: string; grep?: string; timeout: number; defect?: string[]; html?: boolean }) => {
        const { certify } = await import('./commands/certify.js');
        const code = await certify(
          {
            ...(o.lab !== undefined ? { lab: o.lab } : {}),
            out: o.out,
            ...(o.grep !== undefined ? { grep: o.grep } : {}),
            matrix,
            html: matrix && o.html !== false,
            defects: o.defect ?? [],
            fabricName: name,
            timeoutMs: o.timeout * 60_000,
          },
          io,
        );
        program.setOptionValue('exit', code);
      });
  certifyCommand('certify', 'bring the lab up, run every suite, write the conformance matrix (reports/conformance.{json,md}), JUnit and the allure HTML report; exit 1 when a MUST fails', true).option('--no-html', 'skip the allure HTML report');
  certifyCommand('run', 'bring the lab up and run the suites (or --grep a slice), without the matrix and HTML report', false);

  program
    .command('power')
    .description('suite power: run the suites against each seeded defect of the reference stack and report which cases catch it (exit 1 when one is missed)')
    .option('--lab <file>', 'a sim lab file (default: $IPOIB_LAB_FILE, else lab/sim.json)')
    .option('--out <dir>', 'where the per-defect results and power.{json,md} go', 'reports/power')
    .option('--defect <name>', 'only this defect (repeatable; default: every one, see ipoibd --list-defects)', (v: string, prev: string[]) => [...prev, v], [] as string[])
    .option('--full', 'run every suite against each defect, not only the cases that name its IDs')
    .option('--timeout <minutes>', 'stop one defect\'s run after this long', minutesArg, 20)
    .action(async (o: { lab?: string; out: string; defect: string[]; full?: boolean; timeout: number }) => {
      const { power } = await import('./commands/power.js');
      program.setOptionValue('exit', await power({ ...(o.lab !== undefined ? { lab: o.lab } : {}), out: o.out, defects: o.defect, full: o.full === true, timeoutMs: o.timeout * 60_000 }, io));
    });
  return program;
}

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  return runCommand('ipoib-lab', async () => {
    const program = buildProgram(io);
    if (argv.length === 0) {
      program.outputHelp();
      throw new UsageError('a command is required');
    }
    await program.parseAsync([...argv], { from: 'user' });
    const exit: unknown = program.getOptionValue('exit');
    return typeof exit === 'number' ? exit : 0;
  }, io);
}
