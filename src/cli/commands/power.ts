/**
 * `ipoib-lab power`: suite power, measured. For each seeded defect of the reference stack
 * (src/ipoib/defects.ts) it brings the lab up with that defect in the DUT, runs the cases whose
 * title names one of the defect's requirement or probe IDs (the only ones whose failure counts
 * as catching it; `--full` runs every suite instead), and records which cases failed. A defect
 * is caught when at least one failed case names one of its IDs. Writes reports/power/power.json
 * and power.md; exits 1 when a defect went uncaught or a run broke.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../../errors.js';
import { DEFECTS, DEFECT_NAMES, type DefectName, isDefectName } from '../../ipoib/defects.js';
import { EXIT_FAILURE } from '../exit-codes.js';
import type { Io } from '../run-command.js';
import { certify } from './certify.js';

export interface PowerOptions {
  lab?: string;
  out: string;
  defects: readonly string[];
  full: boolean;
  timeoutMs: number;
}

interface Rec {
  title: string;
  file: string;
  covers: string[];
  probes?: string[];
  state: string;
  reason?: string;
}

export interface DefectOutcome {
  defect: DefectName;
  summary: string;
  ids: string[];
  casesRun: number;
  /** Failed cases that name one of the defect's IDs. */
  caughtBy: Array<{ title: string; file: string; reason?: string }>;
  /** Other failed cases (collateral: they fail too, but name none of its IDs). */
  alsoFailed: string[];
  broken: string[];
  caught: boolean;
  seconds: number;
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** A mocha grep matching titles that name any of `ids` (as whole IDs inside the title's brackets). */
export function grepForIds(ids: readonly string[]): string {
  return `(${ids.map(escape).join('|')})[\\] ]`;
}

function readRecords(file: string): Rec[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Rec);
  } catch {
    return [];
  }
}

export function outcomeOf(defect: DefectName, records: readonly Rec[], seconds: number): DefectOutcome {
  const info = DEFECTS[defect];
  const ids: string[] = [...info.requirements, ...info.probes];
  const names = (r: Rec) => [...r.covers, ...(r.probes ?? [])].some((id) => ids.includes(id));
  const failed = records.filter((r) => r.state === 'failed');
  const caughtBy = failed.filter(names).map((r) => ({ title: r.title, file: r.file, ...(r.reason ? { reason: r.reason.split('\n')[0] } : {}) }));
  return {
    defect,
    summary: info.summary,
    ids,
    casesRun: records.filter((r) => r.state !== 'skipped').length,
    caughtBy,
    alsoFailed: failed.filter((r) => !names(r)).map((r) => r.title),
    broken: records.filter((r) => r.state === 'broken').map((r) => `${r.title}: ${(r.reason ?? '').split('\n')[0]}`),
    caught: caughtBy.length > 0,
    seconds,
  };
}

function markdown(outcomes: readonly DefectOutcome[], full: boolean): string {
  const caught = outcomes.filter((o) => o.caught).length;
  const lines = [
    '# Suite power: seeded defects and the cases that caught them',
    '',
    `${caught} of ${outcomes.length} defects caught. ${full ? 'Every suite ran against each defect.' : 'Against each defect ran the cases that name one of its requirement or probe IDs.'}`,
    '',
    '| defect | what is wrong | IDs | cases run | caught by |',
    '|---|---|---|---|---|',
  ];
  for (const o of outcomes) {
    const by = o.caught ? o.caughtBy.map((c) => c.title).join('; ') : '**NOT CAUGHT**';
    lines.push(`| ${o.defect} | ${o.summary.replace(/\|/g, '\\|')} | ${o.ids.join(' ')} | ${o.casesRun} | ${by.replace(/\|/g, '\\|')} |`);
  }
  lines.push('');
  return lines.join('\n');
}

export async function power(o: PowerOptions, io: Io): Promise<number> {
  for (const d of o.defects) if (!isDefectName(d)) throw new UsageError(`unknown defect ${d}; known: ${DEFECT_NAMES.join(', ')}`);
  const defects = (o.defects.length > 0 ? o.defects : DEFECT_NAMES) as DefectName[];
  const out = path.resolve(o.out);
  mkdirSync(out, { recursive: true });
  const outcomes: DefectOutcome[] = [];
  for (const [i, defect] of defects.entries()) {
    const info = DEFECTS[defect];
    const ids: string[] = [...info.requirements, ...info.probes];
    io.out(`\n=== [${i + 1}/${defects.length}] defect ${defect}: ${info.summary}`);
    const dir = path.join(out, defect);
    const t0 = performance.now();
    await certify(
      {
        ...(o.lab !== undefined ? { lab: o.lab } : {}),
        out: dir,
        ...(o.full ? {} : { grep: grepForIds(ids) }),
        matrix: true,
        html: false,
        defects: [defect],
        fabricName: 'power',
        timeoutMs: o.timeoutMs,
      },
      io,
    );
    const outcome = outcomeOf(defect, readRecords(path.join(dir, 'case-records.jsonl')), Math.round((performance.now() - t0) / 1000));
    outcomes.push(outcome);
    io.out(`=== ${defect}: ${outcome.caught ? `CAUGHT by ${outcome.caughtBy.length} case(s)` : 'NOT CAUGHT'} (${outcome.casesRun} cases ran, ${outcome.seconds} s)`);
  }
  writeFileSync(path.join(out, 'power.json'), `${JSON.stringify({ generatedAt: new Date().toISOString(), full: o.full, outcomes }, null, 2)}\n`);
  writeFileSync(path.join(out, 'power.md'), markdown(outcomes, o.full));
  io.out('');
  io.out('DEFECT                    CAUGHT  CASES  CAUGHT BY');
  for (const r of outcomes) io.out(`${r.defect.padEnd(26)}${(r.caught ? 'yes' : 'NO').padEnd(8)}${String(r.casesRun).padStart(5)}  ${r.caughtBy.map((c) => c.title).join('; ').slice(0, 100)}`);
  const missed = outcomes.filter((r) => !r.caught);
  io.out(`\n${outcomes.length - missed.length} of ${outcomes.length} seeded defects caught; wrote ${path.join(o.out, 'power.md')} and power.json`);
  return missed.length > 0 || outcomes.some((r) => r.broken.length > 0) ? EXIT_FAILURE : 0;
}
