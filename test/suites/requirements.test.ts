import { expect } from 'chai';
import {
  FINDINGS,
  LINUX_AREAS,
  LINUX_REQUIREMENTS,
  REQUIREMENTS,
  RFC_UPDATES,
  ROBUSTNESS_PROBES,
  coverableOn,
  requirement,
  requirementsFor,
  sourceName,
  sourceOf,
  type Level,
  type Rfc,
} from '../../suites/requirements.js';

const ID_FORM = /^RFC(4390|4391|4392|4755)-(\d+(?:\.\d+)*)-([a-z])$/;
const RFCS: readonly Rfc[] = [4391, 4392, 4755, 4390];

/**
 * The research's §0.3 count table, typed in by hand (not derived from the data), so a lost, doubled
 * or mis-levelled row changes a number here. MUST includes MUST NOT; SHOULD includes SHOULD NOT.
 */
const EXPECTED_COUNTS: Record<Rfc, { MUST: number; SHOULD: number; MAY: number; FACT: number; total: number }> = {
  4391: { MUST: 41, SHOULD: 12, MAY: 5, FACT: 57, total: 115 },
  4392: { MUST: 18, SHOULD: 4, MAY: 4, FACT: 55, total: 81 },
  4755: { MUST: 30, SHOULD: 2, MAY: 11, FACT: 30, total: 73 },
  4390: { MUST: 11, SHOULD: 1, MAY: 0, FACT: 5, total: 17 },
};
/** §0.3 split of the requirement levels by keyword kind: [BCP14, lc], and the NOT rows among the MUSTs. */
const EXPECTED_KEYWORDS: Record<Rfc, { must: [number, number]; mustNot: number; should: [number, number]; may: [number, number] }> = {
  4391: { must: [25, 16], mustNot: 1, should: [10, 2], may: [1, 4] },
  4392: { must: [0, 18], mustNot: 2, should: [0, 4], may: [0, 4] },
  4755: { must: [25, 5], mustNot: 0, should: [1, 1], may: [9, 2] },
  4390: { must: [9, 2], mustNot: 1, should: [0, 1], may: [0, 0] },
};

const BCP14_CAPS = /\b(MUST|SHALL|SHOULD|REQUIRED|RECOMMENDED|MAY|OPTIONAL)\b/;

function countKw(rfc: Rfc, levels: readonly Level[]): [number, number] {
  const rows = REQUIREMENTS.filter((r) => r.rfc === rfc && levels.includes(r.level));
  return [rows.filter((r) => r.keyword === 'BCP14').length, rows.filter((r) => r.keyword === 'lc').length];
}

describe('requirement catalogue @catalogue', function () {
  it('has unique, well-formed IDs whose RFC and section match the row @catalogue', function () {
    const ids = REQUIREMENTS.map((r) => r.id);
    expect(new Set(ids).size, 'distinct IDs').to.equal(ids.length);
    const bad: string[] = [];
    for (const r of REQUIREMENTS) {
      const m = ID_FORM.exec(r.id);
      if (!m) bad.push(`${r.id}: malformed`);
      else if (Number(m[1]) !== r.rfc || m[2] !== r.section) bad.push(`${r.id}: rfc ${r.rfc} section ${r.section}`);
    }
    expect(bad).to.deep.equal([]);
  });

  it('keeps each section\'s letters in order without gaps @catalogue', function () {
    const letters = new Map<string, string[]>();
    for (const r of REQUIREMENTS) {
      const key = `RFC${r.rfc}-${r.section}`;
      letters.set(key, [...(letters.get(key) ?? []), r.id.slice(key.length + 1)]);
    }
    const gaps: string[] = [];
    for (const [key, ls] of letters) {
      const want = ls.map((_, i) => String.fromCharCode(97 + i));
      if (ls.join() !== want.join()) gaps.push(`${key}: ${ls.join('')}`);
    }
    expect(gaps).to.deep.equal([]);
  });

  for (const rfc of RFCS) {
    it(`matches the research count table for RFC ${rfc} @catalogue`, function () {
      const want = EXPECTED_COUNTS[rfc];
      const got = {
        MUST: requirementsFor(rfc, 'MUST').length + requirementsFor(rfc, 'MUST NOT').length,
        SHOULD: requirementsFor(rfc, 'SHOULD').length + requirementsFor(rfc, 'SHOULD NOT').length,
        MAY: requirementsFor(rfc, 'MAY').length,
        FACT: requirementsFor(rfc, 'FACT').length,
        total: requirementsFor(rfc).length,
      };
      expect(got).to.deep.equal(want);
    });

    it(`matches the research keyword split for RFC ${rfc} @catalogue`, function () {
      const want = EXPECTED_KEYWORDS[rfc];
      expect({
        must: countKw(rfc, ['MUST', 'MUST NOT']),
        mustNot: requirementsFor(rfc, 'MUST NOT').length,
        should: countKw(rfc, ['SHOULD', 'SHOULD NOT']),
        may: countKw(rfc, ['MAY']),
      }).to.deep.equal(want);
    });
  }

  it('holds 286 rows in all, with every fact marked keyword none or lc @catalogue', function () {
    expect(REQUIREMENTS.length).to.equal(286);
    expect(REQUIREMENTS.filter((r) => r.level === 'FACT' && r.keyword === 'BCP14').map((r) => r.id)).to.deep.equal([]);
    expect(REQUIREMENTS.filter((r) => r.level !== 'FACT' && r.keyword === 'none').map((r) => r.id)).to.deep.equal([]);
    // RFC 4392 is Informational: no upper-case keywords at all.
    expect(REQUIREMENTS.filter((r) => r.rfc === 4392 && r.keyword === 'BCP14').map((r) => r.id)).to.deep.equal([]);
  });

  it('gives every row at least one environment, and partial ones a subset of them @catalogue', function () {
    const bad: string[] = [];
    for (const r of [...REQUIREMENTS, ...RFC_UPDATES]) {
      if (r.fabrics.length === 0) bad.push(`${r.id}: none`);
      if (new Set(r.fabrics).size !== r.fabrics.length) bad.push(`${r.id}: duplicate`);
      for (const p of r.partialOn ?? []) if (!r.fabrics.includes(p)) bad.push(`${r.id}: partial ${p} not listed`);
    }
    expect(bad).to.deep.equal([]);
  });

  it('says why, exactly for the rows the sim environment cannot exercise @catalogue', function () {
    const bad: string[] = [];
    for (const r of REQUIREMENTS) {
      const simOk = r.fabrics.includes('sim') || r.fabrics.includes('offline');
      if (simOk === (r.notCoverableOnSim !== undefined)) bad.push(r.id);
      if (r.notCoverableOnSim !== undefined && r.notCoverableOnSim.length < 20) bad.push(`${r.id}: reason too short`);
    }
    expect(bad).to.deep.equal([]);
    // The research lists four such rows (host-only or hardware-only); a parser slip would change this.
    expect(REQUIREMENTS.filter((r) => r.notCoverableOnSim !== undefined).map((r) => r.id)).to.have.length(4);
  });

  it('keeps summaries and checks short and free of upper-case BCP 14 keywords @catalogue', function () {
    const bad: string[] = [];
    for (const r of [...REQUIREMENTS, ...RFC_UPDATES]) {
      if (r.summary.length < 5 || r.summary.length > 260) bad.push(`${r.id}: summary length ${r.summary.length}`);
      if (r.check.length < 5 || r.check.length > 320) bad.push(`${r.id}: check length ${r.check.length}`);
      if (BCP14_CAPS.test(r.summary)) bad.push(`${r.id}: summary "${r.summary}"`);
      // One or two sentences: at most two sentence breaks before a capital ("e.g." does not count).
      const breaks = r.summary.replace(/\b(e\.g|i\.e|vs)\./g, '').match(/\.\s+[A-Z(]/g) ?? [];
      if (breaks.length > 2) bad.push(`${r.id}: ${breaks.length + 1} sentences`);
    }
    expect(bad).to.deep.equal([]);
  });

  it('lists findings D1 to D8 whose related IDs all exist @catalogue', function () {
    expect(FINDINGS.map((f) => f.id)).to.deep.equal(['D1', 'D2', 'D3', 'D4', 'D5', 'D6', 'D7', 'D8']);
    const missing: string[] = [];
    for (const f of FINDINGS) {
      expect(f.relatedIds.length, `${f.id} related IDs`).to.be.greaterThan(0);
      for (const id of f.relatedIds) {
        try {
          requirement(id);
        } catch {
          missing.push(`${f.id} → ${id}`);
        }
      }
    }
    expect(missing).to.deep.equal([]);
  });

  it('lists the 29 robustness probes with unique, well-formed IDs @catalogue @robustness', function () {
    const ids = ROBUSTNESS_PROBES.map((p) => p.id);
    expect(ids).to.have.length(29);
    expect(new Set(ids).size).to.equal(ids.length);
    expect(ids.filter((id) => !/^P-[A-Z]+-\d+$/.test(id))).to.deep.equal([]);
    expect(ids).to.include.members(['P-ENC-1', 'P-ENC-2', 'P-KEY-1', 'P-KEY-2', 'P-DHCP-1']);
    expect(ROBUSTNESS_PROBES.filter((p) => p.fabrics.length === 0 || p.expected.length === 0).map((p) => p.id)).to.deep.equal([]);
  });

  it('finds a row by ID and throws for an unknown one @catalogue', function () {
    const row = requirement('RFC4391-4-d');
    expect(sourceOf(row)).to.equal(4391);
    expect(row.section).to.equal('4');
    expect(row.level).to.equal('MUST');
    expect(sourceOf(requirement('RFC8064-upd-a'))).to.equal(8064);
    expect(sourceOf(requirement('LINUX-CHILD-a'))).to.equal('linux');
    expect(sourceName(sourceOf(requirement('LINUX-CHILD-a')))).to.equal('Linux ib_ipoib');
    expect(sourceName(4391)).to.equal('RFC 4391');
    expect(() => requirement('RFC4391-99-z')).to.throw(/unknown requirement ID "RFC4391-99-z"/);
    expect(() => requirement('')).to.throw(/unknown requirement ID/);
  });

  it('filters by RFC and level, and by environment @catalogue', function () {
    const musts = requirementsFor(4755, 'MUST');
    expect(musts).to.have.length(30);
    expect(musts.every((r) => r.rfc === 4755 && r.level === 'MUST')).to.equal(true);
    const offline = coverableOn('offline');
    expect(offline.every((r) => r.fabrics.includes('offline'))).to.equal(true);
    expect(offline.map((r) => r.id)).to.include('RFC4391-4-g');
    const onSim = coverableOn('sim');
    expect(onSim.map((r) => r.id)).to.include('RFC4391-4-c');
    expect(onSim.map((r) => r.id)).to.not.include('RFC4391-5-h');
    expect(coverableOn('host').map((r) => r.id)).to.include('RFC4391-5-h');
  });
});

const LINUX_ID_FORM = /^LINUX-([A-Z]+)-([a-z])$/;

describe('requirement catalogue: the Linux ib_ipoib interface rows @catalogue', function () {
  it('has unique LINUX-<area>-<letter> IDs whose area and section match the row, letters in order @catalogue', function () {
    const ids = LINUX_REQUIREMENTS.map((r) => r.id);
    expect(new Set(ids).size, 'distinct IDs').to.equal(ids.length);
    const bad: string[] = [];
    const letters = new Map<string, string[]>();
    for (const r of LINUX_REQUIREMENTS) {
      const m = LINUX_ID_FORM.exec(r.id);
      if (!m) bad.push(`${r.id}: malformed`);
      else if (m[1] !== r.area) bad.push(`${r.id}: area ${r.area}`);
      if (r.section !== LINUX_AREAS[r.area].section) bad.push(`${r.id}: section ${r.section}, the area's is ${LINUX_AREAS[r.area].section}`);
      if (r.source !== 'linux') bad.push(`${r.id}: source ${String(r.source)}`);
      letters.set(r.area, [...(letters.get(r.area) ?? []), r.id.slice(-1)]);
    }
    for (const [area, ls] of letters) {
      const want = ls.map((_, i) => String.fromCharCode(97 + i));
      if (ls.join() !== want.join()) bad.push(`${area}: ${ls.join('')}`);
    }
    expect(bad).to.deep.equal([]);
    // No ID is both an RFC row and a Linux row.
    expect(ids.filter((id) => REQUIREMENTS.some((r) => r.id === id))).to.deep.equal([]);
  });

  it('covers every area, with the issue\'s interface behaviours among the rows @catalogue', function () {
    expect([...new Set(LINUX_REQUIREMENTS.map((r) => r.area))].sort()).to.deep.equal(Object.keys(LINUX_AREAS).sort());
    const text = LINUX_REQUIREMENTS.map((r) => r.summary).join(' ');
    for (const word of ['create_child', 'delete_child', 'ENOTUNIQ', 'EEXIST', 'ENODEV', 'EINVAL', 'netlink', 'pkey', 'parent', 'mode', 'umcast', '_mcg', '_path', 'tx_bytes', 'carrier', 'debug_level']) {
      expect(text, `a Linux row mentions ${word}`).to.include(word);
    }
  });

  it('keeps levels MUST or SHOULD, summaries and checks short, and the RFC counts untouched @catalogue', function () {
    const bad: string[] = [];
    for (const r of LINUX_REQUIREMENTS) {
      if (r.level !== 'MUST' && r.level !== 'SHOULD') bad.push(`${r.id}: level ${String(r.level)}`);
      if (r.summary.length < 5 || r.summary.length > 260) bad.push(`${r.id}: summary length ${r.summary.length}`);
      if (r.check.length < 5 || r.check.length > 320) bad.push(`${r.id}: check length ${r.check.length}`);
      if (BCP14_CAPS.test(r.summary)) bad.push(`${r.id}: summary "${r.summary}"`);
      if (r.fabrics.length === 0 || r.fabrics.includes('rxe')) bad.push(`${r.id}: fabrics ${r.fabrics.join(',')} (ib_ipoib never binds rxe)`);
      if ((r.fabrics.includes('sim') || r.fabrics.includes('offline')) === (r.notCoverableOnSim !== undefined)) bad.push(`${r.id}: notCoverableOnSim`);
    }
    expect(bad).to.deep.equal([]);
    // The Linux rows live apart from the RFC rows: the research's counts above stay as they are.
    expect(REQUIREMENTS.some((r) => r.id.startsWith('LINUX-'))).to.equal(false);
    expect(coverableOn('sim').some((r) => r.id.startsWith('LINUX-'))).to.equal(false);
  });
});
