/**
 * ipoibd as a process: SIGTERM makes it leave its groups (the SA's member lists show it gone)
 * and exit 0; a SIGKILLed daemon's socket is cleaned by the next start; a second daemon never
 * takes over a live one's socket; logs carry timestamps.
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main as ipoibd } from '../../src/cli/ipoibd.js';
import { DaemonLab, exitOf, until } from './daemon-fixture.js';

const NODE1_LID = 2;

describe('ipoibd process lifecycle @ipoib-stack @cli', function () {
  this.timeout(60_000);
  let lab: DaemonLab;

  beforeEach(async function () {
    lab = await DaemonLab.start();
  });
  afterEach(async function () {
    await lab?.close();
  });

  const membersOf = async (lid: number): Promise<string[]> =>
    (await lab.status()).groups.filter((g) => g.members.some((m) => m.lid === lid)).map((g) => g.mgid);

  it('leaves every group on SIGTERM and exits 0 @ipoib-stack @cli @multicast @sa', async function () {
    const d = lab.spawnDaemon('node1', ['--address', '192.0.2.1/24']);
    await lab.waitForSocket('node1');
    await until('node1 in the broadcast group', async () => (await membersOf(NODE1_LID)).includes('ff12:401b:ffff::ffff:ffff'));
    d.kill('SIGTERM');
    expect(await exitOf(d)).to.equal(0);
    expect(await membersOf(NODE1_LID)).to.deep.equal([]);
    expect(existsSync(lab.socketOf('node1')), 'socket removed').to.equal(false);
    expect(d.stderrText()).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z ipoibd\[node1\]: SIGTERM: leaving groups and stopping$/m);
  });

  it('sends an SA leave for each group it joined when stopped in process @ipoib-stack @cli @multicast @sa', async function () {
    const d = await lab.daemon('node1');
    await until('carrier', () => d.parent.carrier);
    const joined = d.parent.multicastGroups().filter((g) => g.joined).length;
    expect(joined).to.be.greaterThan(0);
    await d.stop();
    expect(d.parent.stats().mcast_leaves).to.equal(joined);
    expect(await membersOf(NODE1_LID)).to.deep.equal([]);
  });

  it('removes the socket a SIGKILLed daemon left and starts again @ipoib-stack @cli', async function () {
    const first = lab.spawnDaemon('node1');
    await lab.waitForSocket('node1');
    first.kill('SIGKILL');
    expect(await exitOf(first)).to.equal('SIGKILL');
    expect(existsSync(lab.socketOf('node1')), 'a killed daemon leaves its socket').to.equal(true);
    const second = lab.spawnDaemon('node1');
    await lab.waitForSocket('node1');
    const r = await lab.ctl('node1', 'show', 'ib0');
    expect(r.code, r.err).to.equal(0);
    expect(r.out).to.match(/^ib0: <BROADCAST,MULTICAST,UP/m);
    second.kill('SIGTERM');
    expect(await exitOf(second)).to.equal(0);
  });

  it('refuses to start beside a live daemon on the same socket, which keeps serving @ipoib-stack @cli', async function () {
    await lab.daemon('node1');
    const second = lab.spawnDaemon('node1');
    expect(await exitOf(second)).to.equal(1);
    expect(second.stderrText()).to.match(/another ipoibd is serving .*ipoibd-node1\.sock/);
    expect((await lab.ctl('node1', 'pkey', 'ib0')).out).to.equal('0xffff');
  });

  it('exits 1 with a clear message when the named fabric is not up, and 2 without --node @ipoib-stack @cli @fabric', async function () {
    const base = mkdtempSync(path.join(tmpdir(), 'ipoibd-none-'));
    const saved = process.env.IPOIB_LAB_RUN_DIR;
    process.env.IPOIB_LAB_RUN_DIR = base;
    try {
      const err: string[] = [];
      const io = { out: () => undefined, err: (l: string) => err.push(l) };
      expect(await ipoibd(['--fabric', 'nothere', '--node', 'node1'], io)).to.equal(1);
      expect(err.join('\n')).to.match(/^ipoibd: fabric nothere is not up/);
      expect(await ipoibd(['--fabric', 'nothere'], io)).to.equal(2);
    } finally {
      if (saved === undefined) delete process.env.IPOIB_LAB_RUN_DIR;
      else process.env.IPOIB_LAB_RUN_DIR = saved;
      rmSync(base, { recursive: true, force: true });
    }
  });
});
