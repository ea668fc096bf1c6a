/** `ipoib-lab report`: builds the allure HTML report from the results a test run wrote. */
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { ExitError } from '../../errors.js';
import { EXIT_FAILURE } from '../exit-codes.js';
import type { Io } from '../run-command.js';
import { runTool } from '../../util/run-tool.js';

export interface ReportOptions {
  resultsDir: string;
  outDir: string;
}

const GENERATE_TIMEOUT_MS = 5 * 60_000;

function allureBinary(): string {
  const pkg = createRequire(import.meta.url).resolve('allure-commandline/package.json');
  return path.join(path.dirname(pkg), 'dist', 'bin', 'allure');
}

export async function report(o: ReportOptions, io: Io): Promise<number> {
  if (!existsSync(o.resultsDir) || readdirSync(o.resultsDir).length === 0) {
    throw new ExitError(EXIT_FAILURE, `no allure results in ${o.resultsDir}: run the tests first (npm test)`);
  }
  const java = await runTool('java', ['-version'], { timeoutMs: 30_000 });
  if (java.code !== 0) {
    throw new ExitError(
      EXIT_FAILURE,
      `the allure report generator needs Java (8 or newer), and 'java -version' failed: ${java.error ?? java.stderr.trim()}. ` +
        'On Debian: apt-get install default-jre-headless',
    );
  }
  io.out(`generating ${o.outDir} from ${o.resultsDir} ...`);
  const r = await runTool(allureBinary(), ['generate', o.resultsDir, '-o', o.outDir, '--clean'], {
    timeoutMs: GENERATE_TIMEOUT_MS,
  });
  if (r.code !== 0) {
    throw new ExitError(EXIT_FAILURE, `allure generate failed (exit ${r.code}): ${r.error ?? r.stderr.trim()}`);
  }
  io.out(`report written: ${path.join(o.outDir, 'index.html')} (open it with: npx allure open ${o.outDir})`);
  return 0;
}
