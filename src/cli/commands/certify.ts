/**
 * `ipoib-lab certify` (and `run`, its quicker sibling without the matrix and HTML): brings the
 * lab up, runs the suites in a child process (suites/harness/certify-run.ts) with the lab's
 * name in its environment, takes the lab down whatever happens (also on Ctrl-C), then builds the
 * allure HTML report. The child writes reports/allure-results, junit.xml and the conformance
 * matrix (conformance.json/.md) and decides the exit code: 1 when a MUST failed or a case broke.
 */
import { spawn } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ExitError } from '../../errors.js';
import { loadLabFile, resolveLabFile } from '../../lab/lab-file-load.js';
import { trackOpenStack, untrackOpenStack } from '../../lab/open-stacks.js';
import { installSignalCleanup } from '../../lab/signal-cleanup.js';
import { bringUpSimLab, simLabUnavailable, takeDownSimLab } from '../../lab/sim-lab.js';
import { fabricPaths, inspectRunDir } from '../../fabric/sim/run-dir.js';
import { EXIT_FAILURE, EXIT_NOT_IMPLEMENTED } from '../exit-codes.js';
import type { Io } from '../run-command.js';
import { report } from './report.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const RUNNER = path.join(ROOT, 'suites/harness/certify-run.ts');

export interface CertifyOptions {
  lab?: string;
  out: string;
  grep?: string;
  /** false for `run`: no matrix, no HTML. */
  matrix: boolean;
  html: boolean;
  /** TEST ONLY: seeded defects for the DUT's stack (suite power). */
  defects: readonly string[];
  /** The fabric's name (namespaces are ipl-<name>-<node>). */
  fabricName: string;
  /** Kill the suites after this long. */
  timeoutMs: number;
}

function elapsed(t0: number): string {
  return `${((performance.now() - t0) / 1000).toFixed(1)} s`;
}

/** Runs the suite child; resolves with its exit code (inheriting stdio, so its progress shows live). */
function runSuites(o: CertifyOptions, labFile: string, io: Io): Promise<number> {
  const args = ['--import', 'tsx/esm', RUNNER, '--out', o.out];
  if (o.grep) args.push('--grep', o.grep);
  if (!o.matrix) args.push('--no-matrix');
  const env = { ...process.env, IPOIB_LAB_FILE: labFile, IPOIB_LAB_FABRIC: o.fabricName, IPOIB_LAB_DEFECTS: o.defects.join(',') };
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, env, stdio: ['ignore', 'inherit', 'inherit'] });
    const timer = setTimeout(() => {
      io.err(`ipoib-lab: the suites did not finish within ${o.timeoutMs / 60_000} min; stopping them`);
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
    }, o.timeoutMs);
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? (signal ? 128 + 15 : 1));
    });
  });
}

export async function certify(o: CertifyOptions, io: Io): Promise<number> {
  const t0 = performance.now();
  const choice = resolveLabFile({ lab: o.lab });
  const lab = await loadLabFile(choice.file).catch((e: Error) => {
    throw new ExitError(EXIT_FAILURE, e.message);
  });
  if (lab.fabric.kind !== 'sim') {
    throw new ExitError(EXIT_NOT_IMPLEMENTED, `lab ${lab.name} runs on fabric ${lab.fabric.kind}: certifying on rxe and ib labs needs deploying the stack to the nodes and the verbs probe, which have not landed yet. Certify on a sim lab (the default, lab/sim.json).`);
  }
  const why = simLabUnavailable();
  if (why) throw new ExitError(EXIT_FAILURE, why);
  const state = inspectRunDir(fabricPaths(o.fabricName));
  if (state.kind === 'running') throw new ExitError(EXIT_FAILURE, `a lab named ${o.fabricName} is already up (manager pid ${state.pid}): another certification running? 'ipoib-lab fabric down --name ${o.fabricName}' stops it`);

  const out = path.resolve(o.out);
  for (const d of ['allure-results', 'captures']) rmSync(path.join(out, d), { recursive: true, force: true });
  for (const f of ['conformance.json', 'conformance.md', 'junit.xml']) rmSync(path.join(out, f), { force: true });

  io.out(`ipoib-lab ${o.matrix ? 'certify' : 'run'}: lab ${lab.name} (${path.relative(process.cwd(), choice.file) || choice.file}, fabric ${lab.fabric.kind})${o.defects.length ? `, SEEDED DEFECTS ${o.defects.join(', ')}` : ''}`);
  io.out(`[${elapsed(t0)}] bringing the lab up ...`);
  const down = { label: 'certification lab', run: () => takeDownSimLab({ fabricName: o.fabricName, log: (l) => io.out(`  ${l}`) }) };
  let code: number;
  trackOpenStack(down);
  const uninstall = installSignalCleanup();
  try {
    await bringUpSimLab({ labPath: choice.file, fabricName: o.fabricName, defects: o.defects, log: (l) => io.out(`  ${l}`) });
    io.out(`[${elapsed(t0)}] lab up; running the suites`);
    code = await runSuites(o, choice.file, io);
    io.out(`[${elapsed(t0)}] suites done (exit ${code}); taking the lab down`);
  } finally {
    untrackOpenStack(down);
    try {
      await down.run();
    } finally {
      uninstall();
    }
  }
  if (o.html) {
    const results = path.join(out, 'allure-results');
    if (existsSync(results)) await report({ resultsDir: results, outDir: path.join(out, 'allure-report') }, io);
  }
  io.out(`[${elapsed(t0)}] ${code === 0 ? 'done' : code === 1 ? 'done: FAILED (see conformance.md)' : `done: the suite run ended abnormally (exit ${code})`}`);
  return code === 0 ? 0 : code === 1 ? EXIT_FAILURE : code;
}
