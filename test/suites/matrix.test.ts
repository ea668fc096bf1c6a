import { expect } from 'chai';
import { buildMatrix, matrixMarkdown, matrixSummary } from '../../suites/harness/matrix.js';
import type { CaseRecord } from '../../suites/harness/record.js';
import { LINUX_REQUIREMENTS, REQUIREMENTS } from '../../suites/requirements.js';
import { grepForIds, outcomeOf } from '../../src/cli/commands/power.js';

function rec(title: string, covers: string[], state: CaseRecord['state'], reason?: string): CaseRecord {
  return { title, file: 'suites/x.spec.ts', covers, probes: [], tags: ['conformance'], state, ...(reason ? { reason } : {}), durationMs: 1, dut: 'reference', defects: [] };
}

const input = (records: CaseRecord[], implementation = 'reference') => ({
  records,
  lab: { name: 'sim', file: 'lab/sim.json', fabric: 'sim' },
  dut: { node: 'dut', implementation },
  defects: [],
  environment: { fabric: 'sim' },
  now: new Date('2026-01-01T00:00:00Z'),
});

describe('conformance matrix @catalogue @conformance', function () {
  it('gives a requirement the verdict of its cases: fail beats error beats pass beats skipped @catalogue @conformance', function () {
    const m = buildMatrix(
      input([
        rec('a', ['RFC4391-6-b'], 'passed'),
        rec('b', ['RFC4391-6-b', 'RFC4391-6-c'], 'failed', 'reserved field was 0x0001'),
        rec('c', ['RFC4391-6-d'], 'broken', 'LabError: lab did not come up'),
        rec('d', ['RFC4391-6-d'], 'passed'),
        rec('e', ['RFC4391-7-c'], 'skipped', 'the lab lacks probe'),
        rec('f', ['RFC4391-7-e'], 'passed'),
        rec('g', ['RFC4391-7-e'], 'skipped', 'no IPv6'),
      ]),
    );
    const v = (id: string) => m.requirements.find((r) => r.id === id)!;
    expect(v('RFC4391-6-b').verdict).to.equal('fail');
    expect(v('RFC4391-6-c').verdict).to.equal('fail');
    expect(v('RFC4391-6-c').notes[0]).to.include('reserved field was 0x0001');
    expect(v('RFC4391-6-d').verdict).to.equal('error');
    expect(v('RFC4391-7-c').verdict).to.equal('skipped');
    expect(v('RFC4391-7-c').notes).to.deep.equal(['e: the lab lacks probe']);
    expect(v('RFC4391-7-e').verdict).to.equal('pass');
    expect(m.cases).to.deep.equal({ passed: 3, failed: 1, broken: 1, skipped: 2 });
    expect(m.mustFailures).to.include('RFC4391-6-b');
  });

  it('tells rows nobody covered apart from rows this kind of setup cannot exercise, with the reason @catalogue @conformance', function () {
    const m = buildMatrix(input([]));
    const notSim = REQUIREMENTS.find((r) => r.notCoverableOnSim !== undefined)!;
    const row = m.requirements.find((r) => r.id === notSim.id)!;
    expect(row.verdict).to.equal('not coverable');
    expect(row.notes).to.deep.equal([notSim.notCoverableOnSim]);
    const simRow = REQUIREMENTS.find((r) => r.fabrics.includes('sim') && !r.definitional)!;
    expect(m.requirements.find((r) => r.id === simRow.id)!.verdict).to.equal('not covered');
    const definition = REQUIREMENTS.find((r) => r.definitional)!;
    expect(m.requirements.find((r) => r.id === definition.id)!.verdict, 'a definitional row').to.equal('not coverable');
    expect(m.requirements).to.have.length(REQUIREMENTS.length + LINUX_REQUIREMENTS.length);
    const total = m.totals.reduce((n, t) => n + Object.values(t.counts).reduce((a, b) => a + b, 0), 0);
    expect(total, 'every row counted once in the totals').to.equal(REQUIREMENTS.length + LINUX_REQUIREMENTS.length);
    expect(m.requirements.find((r) => r.id === 'LINUX-CHILD-a')!.verdict, 'an uncovered Linux row').to.equal('not covered');
    expect(m.totals.at(-1)!.source, 'the Linux rows total last').to.equal('linux');
  });

  it('renders Markdown with the result line, the failures and one table per RFC @catalogue @conformance', function () {
    const m = buildMatrix(input([rec('b', ['RFC4391-6-b'], 'failed', 'bad header')]));
    const md = matrixMarkdown(m);
    expect(md).to.match(/\*\*Result: FAIL \(1 MUST requirement\(s\) failed\)\*\*/);
    expect(md).to.include('- **RFC4391-6-b** (MUST, fail)');
    expect(md).to.include('## RFC 4391');
    expect(md).to.include('## RFC 4755');
    expect(md).to.include('## Linux ib_ipoib interface (LINUX rows)');
    expect(md).to.match(/\| LINUX-CHILD-a \| MUST \| not covered \|/);
    expect(md).to.include('| Linux ib_ipoib | MUST |');
    expect(matrixSummary(m).at(-1)).to.equal('MUST failures: RFC4391-6-b');
  });

  it('fails the certification on a LINUX MUST row when the DUT claims the Linux interface, and only then @catalogue @conformance', function () {
    const records = [
      rec('up refused', ['LINUX-PKEY-a'], 'failed', 'EIO'),
      rec('dump order', ['LINUX-DEBUGFS-a'], 'failed', 'not sorted'),
      rec('names', ['LINUX-CHILD-a', 'RFC4391-4.1-a'], 'passed'),
    ];
    for (const implementation of ['reference', 'kernel']) {
      const m = buildMatrix(input(records, implementation));
      expect(m.linuxInterface.claimed, `${implementation} claims the Linux interface`).to.equal(true);
      expect(m.mustFailures, `${implementation}: a LINUX MUST counts, a LINUX SHOULD does not`).to.deep.equal(['LINUX-PKEY-a']);
      expect(m.linuxInterface.mustFailures).to.deep.equal(['LINUX-PKEY-a']);
      expect(matrixMarkdown(m)).to.match(/\*\*Result: FAIL \(1 MUST requirement\(s\) failed\)\*\*/);
    }
    const other = buildMatrix(input(records, 'vendor-x'));
    expect(other.linuxInterface.claimed).to.equal(false);
    expect(other.mustFailures, 'a DUT that does not claim the interface: LINUX rows are information').to.deep.equal([]);
    expect(other.linuxInterface.mustFailures).to.deep.equal(['LINUX-PKEY-a']);
    expect(other.requirements.find((r) => r.id === 'LINUX-PKEY-a')!.verdict, 'the row still shows its verdict').to.equal('fail');
    const md = matrixMarkdown(other);
    expect(md).to.match(/\*\*Result: PASS/);
    expect(md).to.include('- **LINUX-PKEY-a** (MUST, fail, not counted)');
    expect(md).to.include('Linux interface rows do not count towards the result');
    expect(matrixSummary(other).at(-1)).to.equal('Linux interface MUST failures (not counted, the DUT does not claim the interface): LINUX-PKEY-a');
  });
});

describe('suite power bookkeeping @power @conformance', function () {
  it('greps titles for whole requirement IDs only @power @conformance', function () {
    const re = new RegExp(grepForIds(['RFC4391-9.2-a', 'P-MC-4']));
    expect(re.test('answers ARP [RFC4391-9.2-a RFC4391-9.2-b] @arp')).to.equal(true);
    expect(re.test('loops [P-MC-4] @robustness')).to.equal(true);
    expect(re.test('other [RFC4391-9.2-ab] @arp'), 'a longer ID is not a match').to.equal(false);
    expect(re.test('other [RFC4391-9x2-a] @arp'), 'dots are literal').to.equal(false);
  });

  it('counts a defect caught only by a failed case that names one of its IDs @power @conformance', function () {
    const records = [
      { title: 'unrelated failure', file: 'f', covers: ['RFC4391-6-b'], state: 'failed' },
      { title: 'passes', file: 'f', covers: ['RFC4391-9.2-a'], state: 'passed' },
    ];
    const missed = outcomeOf('arp-htype-1', records, 1);
    expect(missed.caught).to.equal(false);
    expect(missed.alsoFailed).to.deep.equal(['unrelated failure']);
    const caught = outcomeOf('arp-htype-1', [...records, { title: 'htype', file: 'f', covers: ['RFC4391-9.2-a'], state: 'failed', reason: 'htype 1\nmore' }], 1);
    expect(caught.caught).to.equal(true);
    expect(caught.caughtBy).to.deep.equal([{ title: 'htype', file: 'f', reason: 'htype 1' }]);
  });
});
