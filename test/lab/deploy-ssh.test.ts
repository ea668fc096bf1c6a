/**
 * Deployment end to end against the private sshd of the ssh transport tests (deploy-fixture.ts):
 * the "node" is this machine reached over ssh as root, its home a temp folder; the stack is a
 * snapshot of this checkout. Root only. Building the addon on the node is in
 * deploy-build.test.ts (it takes half a minute or more).
 *
 * ipoibd started over ssh joins a small sim fabric that `ipoib-lab fabric up` (prefix dpl)
 * brings up with its own run directory; the daemon runs without --netns (no TUN device), so
 * its TUN data plane is not part of what these tests show.
 */
import { expect } from 'chai';
import { existsSync, mkdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { main } from '../../src/cli/ipoib-lab.js';
import type { Io } from '../../src/cli/run-command.js';
import { DeployError, DeployVersionMismatchError } from '../../src/errors.js';
import { DeferStack } from '../../src/lab/defer-stack.js';
import { daemonStatus, startDaemon, stopDaemon } from '../../src/lab/deploy/daemon.js';
import { deployStack } from '../../src/lab/deploy/install.js';
import { type InstallationVersion, formatStackVersion } from '../../src/lab/deploy/version.js';
import { NodeJournal, newRunId } from '../../src/lab/journal.js';
import { cleanupJournal } from '../../src/lab/journal-cleanup.js';
import { runTool } from '../../src/util/run-tool.js';
import { type DeployFixture, deployFixtureRuns, gate, openDeployFixture } from './deploy-fixture.js';
import { processGone, waitUntil } from './process-state.js';

function captureIo(): Io & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

const CLI = path.resolve('bin/ipoib-lab.js');

/** A lab file whose one ssh node (node1, implementation reference) is the fixture's sshd. */
function writeLab(fx: DeployFixture): string {
  const { settings } = fx;
  const file = path.join(fx.work, 'lab.json');
  const ssh = { host: '127.0.0.1', port: settings.port, user: 'root', identityFile: settings.identityFile, knownHosts: { file: settings.knownHosts.file } };
  const node = { name: 'node1', role: 'dut', implementation: 'reference', transport: 'ssh', ssh, interface: 'ib0', deploy: { dir: '~/.ipoib-lab' } };
  writeFileSync(file, JSON.stringify({ name: 'dpl', fabric: { kind: 'sim' }, partitions: [{ name: 'default', pkey: '0xffff' }], nodes: [node] }));
  return file;
}

describe('ipoib-lab deploy over ssh to a private sshd @lab @ssh', function () {
  this.timeout(60_000);
  const fabric = `dpl${process.pid}`;
  let fx: DeployFixture | undefined;
  let work = '';
  let runDir = '';
  let fabricUp = false;

  const fabricCli = (...args: string[]) => runTool(process.execPath, [CLI, 'fabric', ...args], { timeoutMs: 30_000, env: { ...process.env, IPOIB_LAB_RUN_DIR: runDir } });

  before(async function () {
    if (!deployFixtureRuns()) return;
    this.timeout(120_000);
    fx = await openDeployFixture();
    work = fx.work;
    runDir = path.join(work, 'run');
    mkdirSync(runDir, { mode: 0o700 });
  });

  after(async function () {
    this.timeout(60_000);
    if (fabricUp) await fabricCli('down', '--name', fabric);
    await fx?.dispose();
  });

  it('installs over ssh shipping the local addon; the node runs it at this version; a second deploy is a no-op @lab @ssh', async function () {
    await gate(this);
    const { t: node, local: stack, sshd } = fx as DeployFixture;
    const progress: string[] = [];
    const first = await deployStack(node, { local: stack, progress: (l) => progress.push(l) });
    const release = path.join(sshd.home, '.ipoib-lab/releases', stack.name);
    expect(first).to.deep.include({ node: 'node1', outcome: 'installed', addon: 'shipped', release, version: stack.version });
    expect(first.bytesCopied).to.be.greaterThan(1e6);
    expect(progress.join('\n')).to.match(/shipping the local addon: same CPU/).and.to.match(/verifying/);

    for (const f of ['bin/ipoibd.js', 'bin/ipoibctl.js', 'src/cli/ipoibd.ts', 'native/build/Release/ipoib_native.node', 'node_modules/tsx/package.json', 'deploy-stamp.json', '.deployed.json']) {
      expect(existsSync(path.join(release, f)), f).to.equal(true);
    }
    for (const f of ['test', 'suites', 'reports', '.git', 'node_modules/typescript', 'native/build/CMakeCache.txt']) expect(existsSync(path.join(release, f)), f).to.equal(false);
    expect(readlinkSync(path.join(sshd.home, '.ipoib-lab/current'))).to.equal(`releases/${stack.name}`);

    const printed = await node.check(['node', `${release}/bin/ipoib-lab.js`, 'deploy', '--print-version'], { timeoutMs: 60_000 });
    const seen = JSON.parse(printed.stdout) as InstallationVersion;
    expect(seen.stack, 'the node recomputes the same tree hash').to.deep.equal(stack.version);
    expect(seen.native.loaded, JSON.stringify(seen.native)).to.equal(true);
    expect((await node.check(['node', `${release}/bin/ipoib-lab.js`, '--version'], { timeoutMs: 60_000 })).stdout.trim()).to.equal(stack.version.version);

    const second = await deployStack(node, { local: stack });
    expect(second).to.deep.include({ outcome: 'already-installed', addon: 'shipped', release, bytesCopied: 0 });
    expect(second.durationMs, `no-op took ${second.durationMs.toFixed(0)} ms, the install ${first.durationMs.toFixed(0)} ms`).to.be.below(2_000);
  });

  it('starts ipoibd over ssh on a sim fabric, it answers ipoibctl, stops with SIGTERM; the journal and deploy --stop stop the ones left @lab @ssh @fabric', async function () {
    await gate(this);
    const { t: node, local: stack, sshd } = fx as DeployFixture;
    const env = { IPOIB_LAB_RUN_DIR: runDir };
    const journalDir = path.join(work, 'journal');
    const journal = await NodeJournal.open(node, { runId: newRunId(), dir: journalDir });
    const cleanup = new DeferStack('deploy over ssh');

    try {
      // Before the fabric is up: ipoibd exits at once, and the start says why with its log.
      const early = await startDaemon(node, { fabric, fabricNode: 'node1', env, expected: stack.version, journal, stack: cleanup }).catch((e: unknown) => e);
      expect(early).to.be.instanceOf(DeployError);
      expect((early as Error).message).to.match(/ipoibd \(pid \d+\) exited during start; its log ends:\n.*fabric dpl\d+ is not up/s);
      expect(journal.open, 'its journal entry is closed').to.equal(0);

      const up = await fabricCli('up', '--name', fabric, '--nodes', '2');
      expect(up.code, up.stderr + up.stdout).to.equal(0);
      fabricUp = true;

      const d = await startDaemon(node, { fabric, fabricNode: 'node1', env, expected: stack.version, journal, stack: cleanup, ifname: 'ib0', addresses: ['192.0.2.1/24'] });
      expect(d).to.deep.include({ node: 'node1', fabric, fabricNode: 'node1', version: stack.version, release: path.join(sshd.home, '.ipoib-lab/releases', stack.name) });
      expect(processGone(d.pid), 'ipoibd runs').to.equal(false);
      expect(readlinkSync(`/proc/${d.pid}/cwd`), 'from the deployed release').to.equal(d.release);
      expect(readFileSync(`/proc/${d.pid}/cmdline`, 'utf8').split('\0')).to.include.members(['bin/ipoibd.js', '--fabric', fabric, '--node', 'node1']);
      const show = await node.check(['node', `${d.release}/bin/ipoibctl.js`, '--fabric', fabric, '--node', 'node1', '--json', 'show'], { env, timeoutMs: 30_000 });
      expect(show.stdout).to.contain('ib0');

      const status = await daemonStatus(node, { expected: stack.version });
      expect(status.installed?.versionMatches).to.equal(true);
      expect(status.daemons).to.have.length(1);
      expect(status.daemons[0]).to.deep.include({ fabric, fabricNode: 'node1', pid: d.pid, running: true, versionMatches: true });

      const over = await deployStack(node, { local: stack, addon: 'build' }).catch((e: unknown) => e);
      expect(over, 'no reinstall under a running daemon').to.be.instanceOf(DeployError);
      expect((over as Error).message).to.match(new RegExp(`ipoibd \\(pid ${d.pid}\\) runs from .*which reinstalling would replace.*deploy --stop`));

      const stopped = await stopDaemon(node, { fabric, fabricNode: 'node1' });
      expect(stopped).to.deep.include({ pid: d.pid, wasRunning: true, signal: 'SIGTERM' });
      expect(await waitUntil(() => processGone(d.pid), 5_000), 'ipoibd is gone').to.equal(true);
      expect(existsSync(d.pidFile) || existsSync(d.stateFile), 'pid and state files removed').to.equal(false);
      expect(readFileSync(d.logFile, 'utf8')).to.match(/SIGTERM: leaving groups and stopping/);
      expect((await daemonStatus(node)).daemons).to.deep.equal([]);

      // A run killed before it stopped its daemon: the journal on the node stops it.
      const left = await startDaemon(node, { fabric, fabricNode: 'node2', env, expected: stack.version, journal, stack: cleanup });
      const replay = await cleanupJournal(node, { dir: journalDir, force: true });
      const undone = replay.journals.flatMap((j) => j.undone);
      expect(undone.map((u) => [u.description, u.code])).to.deep.include([`stop ipoibd ${fabric}/node2 on node1 (${left.pidFile})`, 0]);
      expect(await waitUntil(() => processGone(left.pid), 5_000), 'the journal stopped it').to.equal(true);

      // The command line stops what a start left, and closes its journal entry.
      const again = await startDaemon(node, { fabric, fabricNode: 'node1', env, expected: stack.version, journal, stack: cleanup });
      const io = captureIo();
      expect(await main(['deploy', '--stop', '--fabric', fabric, '--lab', writeLab(fx as DeployFixture)], io), io.stderr.join('\n')).to.equal(0);
      expect(io.stdout).to.deep.equal([`node1: ipoibd ${fabric}/node1 pid ${again.pid} stopped (SIGTERM)`]);
      expect(await waitUntil(() => processGone(again.pid), 5_000)).to.equal(true);
      expect(readFileSync(journal.file, 'utf8')).to.contain(`"kind":"done","id":${again.journalEntry}`);
    } finally {
      await cleanup.run();
    }
  });

  it('refuses to start a release of another version and reports it in --status, naming both versions @lab @ssh @cli', async function () {
    await gate(this);
    const { t: node, local: stack, sshd } = fx as DeployFixture;
    const other = { ...stack.version, treeHash: 'f'.repeat(64) };
    const journal = await NodeJournal.open(node, { runId: newRunId(), dir: path.join(work, 'journal') });
    const err = await startDaemon(node, { fabric, fabricNode: 'node1', expected: other, journal }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(DeployVersionMismatchError);
    expect((err as Error).message).to.contain(formatStackVersion(stack.version)).and.to.contain('tree ffffffffffff');
    expect(journal.open, 'nothing journalled for a start that was refused').to.equal(0);
    expect(await journal.close()).to.equal(true);
    expect((await daemonStatus(node, { expected: other })).installed?.versionMatches).to.equal(false);

    // The command line, with the node's marker made to name another tree.
    const lab = writeLab(fx as DeployFixture);
    const marker = path.join(sshd.home, '.ipoib-lab/releases', stack.name, '.deployed.json');
    const original = readFileSync(marker, 'utf8');
    writeFileSync(marker, original.replace(stack.version.treeHash, '0'.repeat(64)));
    try {
      const status = captureIo();
      expect(await main(['deploy', '--status', '--lab', lab], status), status.stderr.join('\n')).to.equal(1);
      expect(status.stderr.join('\n')).to.match(/node1: installed 0\.1\.0 \(.*tree 000000000000\) at .* but this tree is \d+\.\d+\.\d+ \(.*tree [0-9a-f]{12}\) \(run ipoib-lab deploy\)/);
      const start = captureIo();
      expect(await main(['deploy', '--start', '--fabric', fabric, '--lab', lab, '--journal-dir', path.join(work, 'journal')], start)).to.equal(1);
      expect(start.stderr.join('\n')).to.match(/node1: FAILED: the installed stack is version 0\.1\.0 \(.*tree 000000000000\), this controller's tree is .*Run `ipoib-lab deploy`/);
    } finally {
      writeFileSync(marker, original);
    }
  });
});
