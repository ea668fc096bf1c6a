/** The text form of a doctor report: one row per node and check (NODE / CHECK / RESULT / FIX) and a summary line. */
import type { DoctorCheck, DoctorReport } from './doctor.js';

const HEADER = ['NODE', 'CHECK', 'RESULT', 'FIX'] as const;

function resultText(c: DoctorCheck): string {
  const word = c.result === 'ok' ? 'ok' : c.result === 'fail' ? 'FAIL' : 'missing (not needed)';
  return `${word}: ${c.detail}`;
}

export function renderDoctorTable(r: DoctorReport): string[] {
  const rows: string[][] = r.nodes.flatMap((n) => n.checks.map((c) => [n.node, c.check, resultText(c), c.result === 'ok' ? '' : c.fix]));
  // FIX is last and left unpadded, so long fixes do not widen every row.
  const width = [0, 1, 2].map((i) => Math.max(HEADER[i]?.length ?? 0, ...rows.map((row) => row[i]?.length ?? 0)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => (i < 3 ? cell.padEnd(width[i] ?? 0) : cell))
      .join('  ')
      .trimEnd();
  const s = r.summary;
  const bad = r.nodes.filter((n) => !n.ok).map((n) => n.node);
  return [
    `lab ${r.lab} (${r.fabric}) from ${r.labFile}`,
    line(HEADER),
    ...rows.map(line),
    `${s.nodes} node${s.nodes === 1 ? '' : 's'}, ${s.checks} checks: ${s.ok} ok, ${s.failed} failed, ${s.missing} missing but not needed; ` +
      (r.ok ? 'every node has what its role needs' : `not ready: ${bad.join(', ')}`),
  ];
}
