/**
 * The conformance matrix: every requirement of the catalogue (the RFC rows, then the Linux
 * ib_ipoib interface rows) joined to the cases that cover it and how they ended, for one DUT on
 * one lab. A requirement's verdict is `fail` when any covering case failed, `error` when a case
 * broke (lab or test problem, no verdict), `pass` when at least one covering case passed and none
 * failed, `skipped` when every covering case was skipped (with their reasons), and otherwise `not
 * covered` — or `not coverable` when the catalogue says this fabric cannot exercise it or that the
 * row is a definition with nothing to observe, with the reason.
 *
 * The certification verdict: it fails when an RFC MUST or MUST NOT row failed, and when a LINUX
 * MUST row failed on a DUT that claims the Linux interface (claimsLinuxInterface). LINUX rows of a
 * DUT that does not claim it are reported with their verdicts but do not decide the result.
 */
import {
  FINDINGS,
  LINUX_REQUIREMENTS,
  REQUIREMENTS,
  type Fabric,
  type Finding,
  type Level,
  type LinuxRequirement,
  type Requirement,
  type RowSource,
  sourceName,
} from '../requirements.js';
import type { CaseRecord, CaseState } from './record.js';

export type Verdict = 'pass' | 'fail' | 'error' | 'skipped' | 'not covered' | 'not coverable';

export interface MatrixRow {
  id: string;
  /** The RFC's number, or `linux` for a Linux ib_ipoib interface row. */
  source: RowSource;
  section: string;
  level: Level;
  summary: string;
  verdict: Verdict;
  /** Skip reasons, failure messages, or why the fabric cannot exercise it. */
  notes: string[];
  cases: Array<{ title: string; file: string; state: CaseState; reason?: string }>;
  findings: string[];
}

export interface ConformanceMatrix {
  generatedAt: string;
  lab: { name: string; file: string; fabric: string };
  dut: { node: string; implementation: string };
  defects: string[];
  environment: Record<string, string>;
  cases: Record<CaseState, number>;
  /** Per source (RFC, then linux) and level: how many rows got each verdict. */
  totals: Array<{ source: RowSource; level: Level; counts: Record<Verdict, number> }>;
  /**
   * The rows that fail the certification when this is not empty: RFC MUST / MUST NOT rows that
   * failed, and LINUX MUST rows that failed when the DUT claims the Linux interface.
   */
  mustFailures: string[];
  /** Whether the LINUX rows decide the result for this DUT, why, and which of their MUST rows failed. */
  linuxInterface: { claimed: boolean; reason: string; mustFailures: string[] };
  requirements: MatrixRow[];
  findings: Finding[];
}

const VERDICTS: readonly Verdict[] = ['pass', 'fail', 'error', 'skipped', 'not covered', 'not coverable'];

type AnyRow = Requirement | LinuxRequirement;

/**
 * The DUT implementations that present the Linux ib_ipoib interface, so that a failed LINUX MUST
 * row fails their certification: the kernel driver itself, and the reference stack, whose control
 * surface (ipoibctl) mirrors the kernel's sysfs, netlink, debugfs and ethtool by design. Anything
 * else is judged on the RFCs alone, its LINUX rows kept as information.
 */
const LINUX_INTERFACE_IMPLEMENTATIONS: Readonly<Record<string, string>> = {
  kernel: 'the DUT is Linux ib_ipoib itself',
  reference: 'the reference stack is built to present the Linux ib_ipoib interface (ipoibctl mirrors its sysfs, netlink, debugfs and ethtool)',
};

export function claimsLinuxInterface(implementation: string): { claimed: boolean; reason: string } {
  const why = LINUX_INTERFACE_IMPLEMENTATIONS[implementation];
  return why !== undefined
    ? { claimed: true, reason: why }
    : { claimed: false, reason: `a ${implementation} DUT does not claim the Linux ib_ipoib interface: its LINUX rows are information, not part of the result` };
}

function verdictOf(r: AnyRow, cases: MatrixRow['cases'], fabric: Fabric): { verdict: Verdict; notes: string[] } {
  if (cases.length === 0) {
    if ('definitional' in r && r.definitional) return { verdict: 'not coverable', notes: [`a definition or process rule with no observation of its own (${r.check})`] };
    const coverable = r.fabrics.includes(fabric) || r.fabrics.includes('offline');
    if (!coverable) return { verdict: 'not coverable', notes: [r.notCoverableOnSim ?? `needs ${r.fabrics.join(' or ')}`] };
    return { verdict: 'not covered', notes: [] };
  }
  const reasons = (s: CaseState) => cases.filter((c) => c.state === s).map((c) => `${c.title}: ${c.reason ?? s}`);
  if (cases.some((c) => c.state === 'failed')) return { verdict: 'fail', notes: reasons('failed') };
  if (cases.some((c) => c.state === 'broken')) return { verdict: 'error', notes: reasons('broken') };
  if (cases.some((c) => c.state === 'passed')) return { verdict: 'pass', notes: reasons('skipped') };
  return { verdict: 'skipped', notes: reasons('skipped') };
}

export interface MatrixInput {
  records: readonly CaseRecord[];
  lab: ConformanceMatrix['lab'];
  dut: ConformanceMatrix['dut'];
  defects: readonly string[];
  environment: Record<string, string>;
  now?: Date;
}

export function buildMatrix(i: MatrixInput): ConformanceMatrix {
  const fabric = i.lab.fabric as Fabric;
  const byId = new Map<string, MatrixRow['cases']>();
  for (const rec of i.records) {
    for (const id of rec.covers) {
      const list = byId.get(id) ?? [];
      list.push({ title: rec.title, file: rec.file, state: rec.state, ...(rec.reason !== undefined ? { reason: rec.reason } : {}) });
      byId.set(id, list);
    }
  }
  const catalogue: readonly AnyRow[] = [...REQUIREMENTS, ...LINUX_REQUIREMENTS];
  const rows: MatrixRow[] = catalogue.map((r) => {
    const cases = byId.get(r.id) ?? [];
    const { verdict, notes } = verdictOf(r, cases, fabric);
    return {
      id: r.id,
      source: 'source' in r ? r.source : r.rfc,
      section: r.section,
      level: r.level,
      summary: r.summary,
      verdict,
      notes,
      cases,
      findings: FINDINGS.filter((f) => f.relatedIds.includes(r.id)).map((f) => f.id),
    };
  });
  const cases: Record<CaseState, number> = { passed: 0, failed: 0, broken: 0, skipped: 0 };
  for (const rec of i.records) cases[rec.state]++;
  const totals: ConformanceMatrix['totals'] = [];
  for (const row of rows) {
    let t = totals.find((x) => x.source === row.source && x.level === row.level);
    if (!t) {
      t = { source: row.source, level: row.level, counts: Object.fromEntries(VERDICTS.map((v) => [v, 0])) as Record<Verdict, number> };
      totals.push(t);
    }
    t.counts[row.verdict]++;
  }
  totals.sort((a, b) => sourceRank(a.source) - sourceRank(b.source) || LEVEL_ORDER.indexOf(a.level) - LEVEL_ORDER.indexOf(b.level));
  const failed = (r: MatrixRow): boolean => r.verdict === 'fail' && (r.level === 'MUST' || r.level === 'MUST NOT');
  const rfcMustFailures = rows.filter((r) => r.source !== 'linux' && failed(r)).map((r) => r.id);
  const linuxMustFailures = rows.filter((r) => r.source === 'linux' && failed(r)).map((r) => r.id);
  const claim = claimsLinuxInterface(i.dut.implementation);
  return {
    generatedAt: (i.now ?? new Date()).toISOString(),
    lab: i.lab,
    dut: i.dut,
    defects: [...i.defects],
    environment: i.environment,
    cases,
    totals,
    mustFailures: claim.claimed ? [...rfcMustFailures, ...linuxMustFailures] : rfcMustFailures,
    linuxInterface: { ...claim, mustFailures: linuxMustFailures },
    requirements: rows,
    findings: [...FINDINGS],
  };
}

const LEVEL_ORDER: readonly Level[] = ['MUST', 'MUST NOT', 'SHOULD', 'SHOULD NOT', 'MAY', 'FACT'];

/** RFCs in number order, the Linux rows after them. */
const sourceRank = (s: RowSource): number => (s === 'linux' ? Number.MAX_SAFE_INTEGER : s);

const cell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The matrix as Markdown: summary, failures, then one table per RFC. */
export function matrixMarkdown(m: ConformanceMatrix): string {
  const out: string[] = [];
  out.push(`# IPoIB conformance: ${m.dut.node} (${m.dut.implementation}) on lab ${m.lab.name}`);
  out.push('');
  out.push(`Generated ${m.generatedAt} from ${m.lab.file} (fabric ${m.lab.fabric}).`);
  if (m.defects.length > 0) out.push(`\n**TEST RUN WITH SEEDED DEFECTS: ${m.defects.join(', ')}. Not a certification.**`);
  out.push('');
  out.push(`**Result: ${m.mustFailures.length === 0 ? (m.cases.broken > 0 ? 'INCOMPLETE (lab or test errors, see below)' : 'PASS (no MUST failed)') : `FAIL (${m.mustFailures.length} MUST requirement(s) failed)`}**`);
  out.push('');
  out.push(`Cases: ${m.cases.passed} passed, ${m.cases.failed} failed, ${m.cases.broken} broken, ${m.cases.skipped} skipped.`);
  out.push('');
  out.push(linuxRuleLine(m));
  out.push('');
  out.push('| source | level | pass | fail | error | skipped | not covered | not coverable |');
  out.push('|---|---|---|---|---|---|---|---|');
  for (const t of m.totals) {
    const c = t.counts;
    out.push(`| ${sourceName(t.source)} | ${t.level} | ${c.pass} | ${c.fail} | ${c.error} | ${c.skipped} | ${c['not covered']} | ${c['not coverable']} |`);
  }
  out.push('');
  out.push('## Environment');
  out.push('');
  for (const [k, v] of Object.entries(m.environment)) out.push(`- ${k}: ${v}`);
  const bad = m.requirements.filter((r) => r.verdict === 'fail' || r.verdict === 'error');
  if (bad.length > 0) {
    out.push('');
    out.push('## Failures and errors');
    out.push('');
    for (const r of bad) {
      const uncounted = r.source === 'linux' && !m.linuxInterface.claimed && r.verdict === 'fail' ? ', not counted' : '';
      out.push(`- **${r.id}** (${r.level}, ${r.verdict}${uncounted}): ${r.summary}`);
      for (const n of r.notes) out.push(`  - ${n}`);
    }
  }
  for (const source of [...new Set(m.requirements.map((r) => r.source))]) {
    out.push('');
    if (source === 'linux') {
      out.push('## Linux ib_ipoib interface (LINUX rows)');
      out.push('');
      out.push('What the kernel driver does at its sysfs, netlink, debugfs, ethtool and module-parameter interface and on the fabric, which tools and peers written against Linux rely on. MUST: an implementation interchangeable with ib_ipoib must match it; SHOULD: a difference breaks diagnostics, not operation.');
      out.push('');
      out.push(linuxRuleLine(m));
    } else {
      out.push(`## ${sourceName(source)}`);
    }
    out.push('');
    out.push('| ID | level | verdict | cases | notes | findings |');
    out.push('|---|---|---|---|---|---|');
    for (const r of m.requirements.filter((x) => x.source === source)) {
      const cases = r.cases.map((c) => `${c.title} (${c.state})`).join('; ');
      out.push(`| ${r.id} | ${r.level} | ${r.verdict} | ${cell(cases)} | ${cell(r.notes.join('; '))} | ${r.findings.join(' ')} |`);
    }
  }
  out.push('');
  out.push('## Findings: where deployed stacks differ from the RFCs');
  out.push('');
  for (const f of m.findings) {
    out.push(`- **${f.id} ${f.topic}** (${f.relatedIds.join(', ')}): the RFC: ${f.rfcSays} Deployed: ${f.deployedDoes} This suite: ${f.suiteAction}`);
  }
  out.push('');
  return out.join('\n');
}

/** Whether the LINUX rows count for this DUT, as one report line. */
function linuxRuleLine(m: ConformanceMatrix): string {
  const l = m.linuxInterface;
  const failed = l.mustFailures.length === 0 ? 'none of its MUST rows failed' : `MUST rows failed: ${l.mustFailures.join(', ')}`;
  return l.claimed
    ? `Linux interface rows count towards the result: ${l.reason}; ${failed}.`
    : `Linux interface rows do not count towards the result: ${l.reason}; ${failed}.`;
}

/** A few lines for the terminal. */
export function matrixSummary(m: ConformanceMatrix): string[] {
  const lines: string[] = [];
  lines.push('SOURCE  LEVEL       PASS  FAIL  ERROR  SKIP  NOT-COVERED  NOT-COVERABLE');
  for (const t of m.totals) {
    const c = t.counts;
    lines.push(
      `${String(t.source).padEnd(8)}${t.level.padEnd(12)}${String(c.pass).padStart(4)}  ${String(c.fail).padStart(4)}  ${String(c.error).padStart(5)}  ${String(c.skipped).padStart(4)}  ${String(c['not covered']).padStart(11)}  ${String(c['not coverable']).padStart(13)}`,
    );
  }
  lines.push(`cases: ${m.cases.passed} passed, ${m.cases.failed} failed, ${m.cases.broken} broken, ${m.cases.skipped} skipped`);
  if (m.mustFailures.length > 0) lines.push(`MUST failures: ${m.mustFailures.join(', ')}`);
  const uncounted = m.linuxInterface.claimed ? [] : m.linuxInterface.mustFailures;
  if (uncounted.length > 0) lines.push(`Linux interface MUST failures (not counted, the DUT does not claim the interface): ${uncounted.join(', ')}`);
  return lines;
}
