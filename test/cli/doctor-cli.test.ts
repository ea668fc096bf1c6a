/**
 * `ipoib-lab doctor` against this machine with the default lab, its --json form, a bad lab
 * file, and `ipoib-lab cleanup` replaying the journal of a run killed with SIGKILL.
 */
import { expect } from 'chai';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main as ipoibLab } from '../../src/cli/ipoib-lab.js';
import type { Io } from '../../src/cli/run-command.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from '../../src/cli/exit-codes.js';
import type { DoctorReport } from '../../src/lab/doctor.js';
import { newRunId } from '../../src/lab/journal.js';

function captureIo(): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

const SIM_LAB = path.resolve('lab/sim.json');

describe('ipoib-lab doctor on this machine @cli @lab', function () {
  this.timeout(120_000);
  let report: DoctorReport;
  let jsonExit: number;

  before(async function () {
    const io = captureIo();
    jsonExit = await ipoibLab(['doctor', '--lab', SIM_LAB, '--json'], io);
    report = JSON.parse(io.stdout.join('\n')) as DoctorReport;
  });

  it('prints the report as JSON with every node, check and summary count @cli @lab', function () {
    expect(report).to.have.keys(['labFile', 'lab', 'fabric', 'ok', 'nodes', 'summary']);
    expect(report.labFile).to.equal(SIM_LAB);
    expect([report.lab, report.fabric]).to.deep.equal(['sim', 'sim']);
    expect(report.nodes.map((n) => [n.node, n.role, n.implementation, n.transport])).to.deep.equal([
      ['dut', 'dut', 'reference', 'local'],
      ['peer', 'peer', 'reference', 'local'],
    ]);
    for (const n of report.nodes) {
      expect(n).to.have.keys(['node', 'role', 'implementation', 'transport', 'ok', 'needed', 'caps', 'facts', 'checks']);
      expect(n.checks.map((c) => c.check)).to.include.members(['reachable', 'root', 'suite-tools', 'rdma-device', 'native-addon', 'tun', 'netns', 'tshark']);
      for (const c of n.checks) {
        expect(c).to.have.keys(['check', 'result', 'needed', 'detail', 'fix']);
        expect(c.needed, c.check).to.equal(n.needed.includes(c.check));
        expect(c.result, c.check).to.equal(n.caps.includes(c.check) ? 'ok' : c.needed ? 'fail' : 'missing');
        if (c.result !== 'ok') expect(c.fix, `fix for ${n.node} ${c.check}`).to.match(/\w{3,}/);
      }
    }
    const all = report.nodes.flatMap((n) => n.checks);
    expect(report.summary).to.deep.equal({
      nodes: 2,
      checks: all.length,
      ok: all.filter((c) => c.result === 'ok').length,
      failed: all.filter((c) => c.result === 'fail').length,
      missing: all.filter((c) => c.result === 'missing').length,
    });
  });

  it('exits 0 exactly when every check a node needs passed @cli @lab', function () {
    const everyNeededPassed = report.nodes.every((n) => n.needed.every((need) => n.checks.some((c) => c.check === need && c.result === 'ok')));
    expect(report.ok).to.equal(everyNeededPassed);
    expect(jsonExit).to.equal(everyNeededPassed ? EXIT_OK : EXIT_FAILURE);
  });

  it('prints a table that names what this machine lacks, with a fix, and the same exit code @cli @lab', async function () {
    const io = captureIo();
    const code = await ipoibLab(['doctor', '--lab', SIM_LAB], io);
    expect(code).to.equal(jsonExit);
    const lines = io.stdout;
    expect(lines[0]).to.equal(`lab sim (sim) from ${SIM_LAB}`);
    expect(lines[1]).to.match(/^NODE\s+CHECK\s+RESULT\s+FIX$/);
    for (const n of report.nodes) {
      for (const c of n.checks.filter((x) => x.result !== 'ok')) {
        const row = lines.find((l) => new RegExp(`^${n.node}\\s+${c.check}\\s`).test(l));
        expect(row, `${n.node} ${c.check}`).to.include(c.result === 'fail' ? 'FAIL: ' : 'missing (not needed): ').and.include(c.fix);
      }
    }
    if (!existsSync('/sys/class/infiniband')) {
      expect(lines.find((l) => /^dut\s+rdma-device\s/.test(l))).to.match(/missing \(not needed\): no RDMA device .*modprobe/);
    }
    expect(lines.at(-1)).to.match(new RegExp(`^2 nodes, ${report.summary.checks} checks: ${report.summary.ok} ok, ${report.summary.failed} failed, `));
  });
});

describe('ipoib-lab doctor and cleanup with a bad lab file @cli @lab', function () {
  let dir: string;
  beforeEach(function () {
    dir = mkdtempSync(path.join(tmpdir(), 'ipoib-lab-doctor-'));
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('exits 2 and names the file and the path of the problem @cli @lab', async function () {
    const file = path.join(dir, 'bad.json');
    writeFileSync(
      file,
      JSON.stringify({
        name: 'bad',
        fabric: { kind: 'sim' },
        nodes: [{ name: 'dut', role: 'boss', implementation: 'reference', transport: 'local', interface: 'ib0' }],
        partitions: [{ name: 'default', pkey: '0xffff' }],
      }),
    );
    for (const command of ['doctor', 'cleanup']) {
      const io = captureIo();
      expect(await ipoibLab([command, '--lab', file], io), command).to.equal(EXIT_USAGE);
      const err = io.stderr.join('\n');
      expect(err, command).to.include(`ipoib-lab: lab file ${file}: 2 problems:`).and.match(/\n {2}\$\.nodes\[0\]\.role: must be one of "dut", "peer", got "boss"/);
      expect(io.stdout, command).to.deep.equal([]);
    }
  });

  it('exits 2 for a file that does not exist or is not JSON @cli @lab', async function () {
    const broken = path.join(dir, 'broken.json');
    writeFileSync(broken, '{\n  "name": "x",\n}');
    const notJson = captureIo();
    expect(await ipoibLab(['doctor', '--lab', broken], notJson)).to.equal(EXIT_USAGE);
    expect(notJson.stderr.join('\n')).to.include(broken).and.match(/not valid JSON.*line 3/);
    const none = captureIo();
    expect(await ipoibLab(['doctor', '--lab', path.join(dir, 'none.json')], none)).to.equal(EXIT_USAGE);
    expect(none.stderr.join('\n')).to.include('cannot read the file (ENOENT)');
  });
});

function startJournalChild(env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx/esm', path.resolve('test/lab/fixtures/journal-child.ts')], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

function killWhenReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) child.kill('SIGKILL');
    });
    child.once('exit', (code, signal) => (signal === 'SIGKILL' ? resolve() : reject(new Error(`child exited (${code ?? signal}) before it was ready: ${err}`))));
  });
}

describe('ipoib-lab cleanup @cli @lab', function () {
  this.timeout(60_000);
  let dir: string;
  let work: string;
  let journalDir: string;
  let labFile: string;
  beforeEach(function () {
    dir = mkdtempSync(path.join(tmpdir(), 'ipoib-lab-cleanup-cli-'));
    work = path.join(dir, 'work');
    journalDir = path.join(dir, 'journal');
    mkdirSync(work);
    writeFileSync(path.join(work, 'kept'), 'kept content');
    labFile = path.join(dir, 'lab.json');
    // The journal child names its node "node"; so does this one-node lab.
    writeFileSync(
      labFile,
      JSON.stringify({
        name: 'cleanup',
        fabric: { kind: 'sim' },
        nodes: [{ name: 'node', role: 'dut', implementation: 'reference', transport: 'local', interface: 'ib0' }],
        partitions: [{ name: 'default', pkey: '0xffff' }],
      }),
    );
  });
  afterEach(function () {
    rmSync(dir, { recursive: true, force: true });
  });

  it('replays the journal of a run killed with SIGKILL, prints each undo and exits 0 @cli @lab', async function () {
    const runId = newRunId();
    await killWhenReady(startJournalChild({ WORK_DIR: work, JOURNAL_DIR: journalDir, RUN_ID: runId }));
    expect(readdirSync(work).sort(), 'the killed run left its changes').to.deep.equal(['created', 'dir', 'kept.moved']);

    const other = captureIo();
    expect(await ipoibLab(['cleanup', '--lab', labFile, '--journal-dir', journalDir, '--run-id', 'no-such-run'], other)).to.equal(EXIT_FAILURE);
    expect(other.stderr).to.deep.equal([`no node has an unfinished journal of run no-such-run in ${journalDir}`]);
    expect(readdirSync(journalDir), 'another run id leaves the journal alone').to.deep.equal([`${runId}.jsonl`]);

    const io = captureIo();
    const code = await ipoibLab(['cleanup', '--lab', labFile, '--journal-dir', journalDir, '--run-id', runId], io);
    expect(io.stderr).to.deep.equal([]);
    expect(code).to.equal(EXIT_OK);
    expect(io.stdout).to.deep.equal([
      `node: ${journalDir}/${runId}.jsonl (run ${runId}): 4 undos`,
      '  undone: move the kept file back',
      '  undone: remove the file in the folder',
      '  undone: remove the created folder',
      '  undone: remove the created file',
      'cleanup: 4 undone, 0 failed on 1 node',
    ]);
    expect(readdirSync(work)).to.deep.equal(['kept']);
    expect(readdirSync(journalDir)).to.deep.equal([]);

    const again = captureIo();
    expect(await ipoibLab(['cleanup', '--lab', labFile, '--journal-dir', journalDir], again)).to.equal(EXIT_OK);
    expect(again.stdout).to.deep.equal(['node: nothing to undo', 'cleanup: 0 undone, 0 failed on 1 node']);
  });

  it('exits 1 and prints the failure when an undo fails @cli @lab', async function () {
    const runId = newRunId();
    await killWhenReady(startJournalChild({ WORK_DIR: work, JOURNAL_DIR: journalDir, RUN_ID: runId }));
    rmSync(path.join(work, 'kept.moved')); // the undo "mv kept.moved kept" now fails
    const io = captureIo();
    expect(await ipoibLab(['cleanup', '--lab', labFile, '--journal-dir', journalDir], io)).to.equal(EXIT_FAILURE);
    expect(io.stdout.find((l) => l.includes('move the kept file back'))).to.match(/^ {2}FAILED: move the kept file back \(mv .*kept\.moved .*kept\): exit 1: mv: cannot stat/);
    expect(io.stdout.at(-1)).to.equal('cleanup: 3 undone, 1 failed on 1 node');
    expect(readdirSync(work)).to.deep.equal([]);
  });
});
