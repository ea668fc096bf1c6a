/**
 * The suite half of `ipoib-lab certify` / `ipoib-lab run`, in its own process (tsx loads the
 * specs): runs the suites with mocha against the lab named in the environment (see session.ts),
 * writes allure results, JUnit XML and the conformance matrix, prints the summary, and exits 1
 * when a MUST failed or a case broke. "A MUST failed" is the matrix's rule (matrix.ts): an RFC
 * MUST or MUST NOT row, or a LINUX MUST row when the DUT claims the Linux ib_ipoib interface.
 *
 *   node --import tsx/esm suites/harness/certify-run.ts --out DIR [--grep PATTERN] [--no-matrix]
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Mocha from 'mocha';
import { mochaHooks } from './hooks.js';
import { buildMatrix, matrixMarkdown, matrixSummary } from './matrix.js';
import { type CaseRecord, LAB_RECORD_ENV } from './record.js';
import { defectsFromEnv, openedLab } from './session.js';

const SUITES_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

interface Args {
  out: string;
  grep?: string;
  matrix: boolean;
}

function parseArgs(argv: readonly string[]): Args {
  const a: Args = { out: 'reports', matrix: true };
  for (let i = 0; i < argv.length; i++) {
    const k = argv[i];
    if (k === '--out') a.out = argv[++i] ?? a.out;
    else if (k === '--grep') a.grep = argv[++i] ?? '';
    else if (k === '--no-matrix') a.matrix = false;
    else throw new Error(`certify-run: unknown argument ${k}`);
  }
  return a;
}

/** Every spec file under suites/, in a stable order. */
export function specFiles(dir = SUITES_DIR): string[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .filter((f) => f.endsWith('.spec.ts'))
    .sort()
    .map((f) => path.join(dir, f));
}

/** Allure categories: product defects (assertions) apart from lab and test failures. */
const CATEGORIES = [
  { name: 'Product defects (the DUT did not behave as required)', matchedStatuses: ['failed'] },
  { name: 'Lab or infrastructure failures (no verdict on the DUT)', matchedStatuses: ['broken'], traceRegex: '.*(LabError|TransportError|CommandTimeout|FabricRunError|CleanupError|the lab did not come up).*' },
  { name: 'Test errors (no verdict on the DUT)', matchedStatuses: ['broken'] },
  { name: 'Skipped, with reason', matchedStatuses: ['skipped'] },
];

function readRecords(file: string): CaseRecord[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as CaseRecord);
  } catch {
    return [];
  }
}

async function main(): Promise<number> {
  const args = parseArgs(process.argv.slice(2));
  const out = path.resolve(args.out);
  const results = path.join(out, 'allure-results');
  mkdirSync(results, { recursive: true });
  const recordsFile = path.join(out, 'case-records.jsonl');
  rmSync(recordsFile, { force: true });
  process.env[LAB_RECORD_ENV] = recordsFile;
  writeFileSync(path.join(results, 'categories.json'), `${JSON.stringify(CATEGORIES, null, 2)}\n`);

  const mocha = new Mocha({
    reporter: 'allure-mocha',
    reporterOptions: { resultsDir: results, extraReporters: [['spec', {}], ['xunit', { output: path.join(out, 'junit.xml') }]] },
    timeout: 60_000,
    rootHooks: mochaHooks,
    ...(args.grep ? { grep: args.grep } : {}),
  });
  for (const f of specFiles()) mocha.addFile(f);
  await mocha.loadFilesAsync();
  const failures = await new Promise<number>((resolve) => mocha.run(resolve));

  const records = readRecords(recordsFile);
  let env: Record<string, string> = {};
  let labInfo = { name: 'unknown', file: process.env.IPOIB_LAB_FILE ?? 'lab/sim.json', fabric: 'sim' };
  let dut = { node: 'unknown', implementation: 'unknown' };
  try {
    const opened = openedLab();
    if (!opened) throw new Error('no case ran, so the lab was never opened');
    const s = await opened;
    env = { ...s.environment };
    labInfo = { name: s.lab.name, file: path.relative(process.cwd(), s.labPath), fabric: s.fabric };
    dut = { node: s.dut.node.name, implementation: s.dut.node.implementation };
  } catch (e) {
    env = { lab: `did not come up: ${(e as Error).message}` };
  }
  writeFileSync(path.join(results, 'environment.properties'), Object.entries(env).map(([k, v]) => `${k}=${v.replace(/\n/g, ' ')}`).join('\n') + '\n');

  if (!args.matrix) return failures > 0 ? 1 : 0;
  const m = buildMatrix({ records, lab: labInfo, dut, defects: defectsFromEnv(), environment: env });
  writeFileSync(path.join(out, 'conformance.json'), `${JSON.stringify(m, null, 2)}\n`);
  writeFileSync(path.join(out, 'conformance.md'), matrixMarkdown(m));
  process.stdout.write(`\n${matrixSummary(m).join('\n')}\n`);
  process.stdout.write(`wrote ${path.join(args.out, 'conformance.json')}, ${path.join(args.out, 'conformance.md')}, ${path.join(args.out, 'junit.xml')}\n`);
  return m.mustFailures.length > 0 || m.cases.broken > 0 ? 1 : 0;
}

// Exit explicitly, as mocha's own CLI does: a handle a case leaked must not keep the run alive.
main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`certify-run: ${(e as Error).stack ?? String(e)}\n`);
    process.exit(70);
  },
);
