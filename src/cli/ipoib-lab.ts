/**
 * `ipoib-lab`: the command registry. Each command lives in commands/<name>.ts, is imported
 * lazily, takes typed options and returns an exit code; printing goes through Io.
 */
import { Command, InvalidArgumentError } from 'commander';
import { UsageError } from '../errors.js';
import { type Io, processIo, runCommand } from './run-command.js';
import { notImplemented } from './not-implemented.js';
import { PRODUCT_VERSION } from '../version.js';
import { registerFabric } from './fabric-commands.js';

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

  const later: Array<[string, string, string]> = [
    ['run', 'run conformance suites against a lab', 'the conformance suites issue'],
    ['certify', 'run a full certification and write the conformance matrix', 'the conformance suites issue'],
  ];
  for (const [name, description, landsWith] of later) {
    program
      .command(name)
      .description(`${description} (not implemented yet)`)
      .allowUnknownOption()
      .allowExcessArguments()
      .action(() => notImplemented(`'ipoib-lab ${name}'`, `arrives with ${landsWith}`));
  }
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
