/**
 * The qemu Soft-RoCE lab's command line (npm run lab:qemu:build | lab:qemu:up | lab:qemu:down |
 * lab:qemu:status, run through tsx):
 *
 *   build [--force]                      the VM image (cached by its inputs)
 *   up [--ssh-ports A,B] [--memory MIB] [--no-smoke] [--deploy]
 *                                        image, two VMs, rxe0 on each, pingpong; leaves them running
 *   down                                 stops the VMs, restores the sysctl, removes the run directory
 *   status                               what runs, from the run directory
 *
 * Progress on stderr; the summary (and with --json one JSON document) on stdout. Exit 1 when
 * something failed (an `up` that fails tears down what it started), 2 for a bad command line.
 */
import { pathToFileURL } from 'node:url';
import { Command, InvalidArgumentError } from 'commander';
import { DeployError, ExitError, QemuLabError, TransportError } from '../../errors.js';
import { EXIT_FAILURE } from '../../cli/exit-codes.js';
import { type Io, processIo, runCommand } from '../../cli/run-command.js';
import { DeferStack } from '../defer-stack.js';
import { untrackOpenStack } from '../open-stacks.js';
import { installSignalCleanup } from '../signal-cleanup.js';
import { type QemuLabRun, runQemuLab } from './bring-up.js';
import { ensureImage } from './image.js';
import { handOverQemuLab, readQemuLabState, runningVms, teardownQemuLab, vmMemory } from './lab.js';
import { qemuLabPaths } from './paths.js';

const s = (ms: number | null): string => (ms === null ? '-' : `${(ms / 1000).toFixed(1)} s`);
const mib = (bytes: number): string => `${Math.round(bytes / 2 ** 20)} MiB`;

/** Failures the user can act on become exit 1 with their message, not "internal error". */
async function asExit<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof QemuLabError || e instanceof DeployError || e instanceof TransportError) throw new ExitError(EXIT_FAILURE, e.message);
    throw e;
  }
}

function portsArg(v: string): [number, number] {
  const m = /^(\d+),(\d+)$/.exec(v);
  const ports = m ? [Number(m[1]), Number(m[2])] : [];
  if (!m || ports.some((p) => p < 1024 || p > 65535) || ports[0] === ports[1]) throw new InvalidArgumentError('two different TCP ports 1024..65535, as A,B');
  return ports as [number, number];
}

function memoryArg(v: string): number {
  const n = Number(v);
  if (!/^\d+$/.test(v) || n < 192 || n > 8192) throw new InvalidArgumentError('MiB of guest memory, 192..8192');
  return n;
}

export function summary(run: QemuLabRun): string[] {
  const t = run.timings;
  const lines = [
    `lab file: ${run.paths.labFile}`,
    `image ${run.image.manifest.key}: ${t.imageCached ? 'cached' : 'built'} in ${s(t.imageMs)} (qcow2 ${mib(run.image.manifest.qcow2Bytes)}, ${run.image.manifest.rootUsedMiB} MiB used)`,
    `boot to SSH (two VMs): ${s(t.bootToSshMs)}; rxe0 up: ${s(t.rxeMs)}; pingpong: ${s(t.smokeMs)}; deploy: ${s(t.deployMs)}; total: ${s(t.totalMs)}`,
  ];
  for (const r of run.smoke) lines.push(`ibv_${r.kind}_pingpong ${r.client} → ${r.server}: pass (${r.iterations} iterations, ${r.usecPerIter} µs each)`);
  for (const d of run.deployed) lines.push(`${d.node}: reference stack ${d.result.outcome} (${d.result.addon} addon), version there matches this tree`);
  for (const m of run.memory) lines.push(`${m.name}: qemu resident ${mib(m.rssBytes)} (peak ${mib(m.peakRssBytes)})`);
  return lines;
}

export function buildQemuLabProgram(io: Io): Command {
  const program = new Command('qemu-lab')
    .description('the qemu Soft-RoCE lab: two Debian VMs with rxe0, reached over SSH on loopback')
    .exitOverride()
    .configureOutput({ writeOut: (x) => io.out(x.trimEnd()), writeErr: (x) => io.err(x.trimEnd()) })
    .showHelpAfterError();
  const paths = qemuLabPaths();

  program
    .command('build')
    .description('build the VM image, or find it in the cache')
    .option('--force', 'rebuild even when the cache has it')
    .action((o: { force?: boolean }) =>
      asExit(async () => {
        const image = await ensureImage({ cacheDir: paths.cacheDir, force: o.force === true, progress: io.err });
        io.out(`${image.cached ? 'cached' : 'built'} ${image.dir} in ${s(image.durationMs)} (kernel ${image.manifest.kernel}, qcow2 ${mib(image.manifest.qcow2Bytes)})`);
      }),
    );

  program
    .command('up')
    .description('build or reuse the image, boot two VMs, bring up rxe0, run the pingpong smoke test; the VMs stay up')
    .option('--ssh-ports <A,B>', 'loopback TCP ports of the dut and peer sshd', portsArg)
    .option('--memory <MiB>', 'guest memory per VM', memoryArg)
    .option('--no-smoke', 'skip the UD/RC pingpong')
    .option('--deploy', 'deploy the reference stack into both VMs and check its version there')
    .option('--json', 'print the run as JSON')
    .action((o: { sshPorts?: [number, number]; memory?: number; smoke: boolean; deploy?: boolean; json?: boolean }) =>
      asExit(async () => {
        installSignalCleanup();
        const stack = new DeferStack('qemu-lab up');
        const started = performance.now();
        const progress = (line: string) => io.err(`[${((performance.now() - started) / 1000).toFixed(1).padStart(6)} s] ${line}`);
        let run: QemuLabRun;
        try {
          run = await runQemuLab({ stack, paths, sshPorts: o.sshPorts, memoryMiB: o.memory, smoke: o.smoke, deploy: o.deploy === true, progress });
        } catch (e) {
          if (stack.size) io.err('qemu-lab: bring-up failed; tearing down what it started');
          await stack.run().catch((c: unknown) => io.err(`qemu-lab: ${c instanceof Error ? c.message : String(c)}`));
          throw e;
        }
        // The lab outlives this command: close the SSH connections, and leave the VMs' teardown
        // to the run directory's journal (`down`) instead of this stack.
        await Promise.all([...run.transports.values()].map((t) => t.close()));
        handOverQemuLab(paths);
        untrackOpenStack(stack);
        if (o.json) io.out(JSON.stringify({ ...run, transports: undefined }, null, 2));
        else for (const line of summary(run)) io.out(line);
        io.err('stop it with: npm run lab:qemu:down');
      }),
    );

  program
    .command('down')
    .description('stop the VMs, restore net.core.rmem_default, remove the run directory')
    .action(() =>
      asExit(async () => {
        const r = await teardownQemuLab(paths);
        if (!r.found) io.out(`nothing to tear down (${paths.runDir} does not exist)`);
        else {
          for (const u of r.undone) io.out(`undone: ${u.description}`);
          io.out(`torn down in ${s(r.durationMs)}`);
        }
      }),
    );

  program
    .command('status')
    .description('what the run directory says runs')
    .action(() =>
      asExit(async () => {
        const state = readQemuLabState(paths);
        if (!state) {
          io.out(`no qemu lab in ${paths.runDir}`);
          return;
        }
        const alive = new Set(await runningVms(paths));
        const memory = vmMemory(state);
        for (const v of state.vms) {
          const m = memory.find((x) => x.name === v.name);
          io.out(`${v.name}: ${alive.has(v.name) ? 'running' : 'gone'} (pid ${v.pid}, ssh 127.0.0.1:${v.sshPort}, eth1 ${v.eth1Cidr}${m && alive.has(v.name) ? `, resident ${mib(m.rssBytes)}` : ''})`);
        }
        io.out(`lab file: ${state.labFile}`);
        if (alive.size < state.vms.length) throw new ExitError(EXIT_FAILURE, 'not every VM runs: npm run lab:qemu:down, then up again');
      }),
    );
  return program;
}

export async function main(argv: readonly string[], io: Io = processIo): Promise<number> {
  return runCommand('qemu-lab', async () => {
    await buildQemuLabProgram(io).parseAsync([...argv], { from: 'user' });
  }, io);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) process.exitCode = await main(process.argv.slice(2));
