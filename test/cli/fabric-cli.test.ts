/**
 * `ipoib-lab fabric` as a user runs it: a background manager started by `up`, inspected by
 * `status`, refused a second time, recovered after a crash (SIGKILL), stopped by `down`.
 */
import { expect } from 'chai';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { runTool, type ToolResult } from '../../src/util/run-tool.js';
import { processAlive } from '../../src/fabric/sim/run-dir.js';
import { EXIT_FAILURE, EXIT_USAGE } from '../../src/cli/exit-codes.js';

describe('ipoib-lab fabric up/status/down @cli @fabric', function () {
  this.timeout(60_000);
  let runDir: string;
  const name = `cli${process.pid}`;
  const cli = (...args: string[]): Promise<ToolResult> =>
    runTool(process.execPath, [path.resolve('bin/ipoib-lab.js'), 'fabric', ...args], {
      timeoutMs: 30_000,
      env: { ...process.env, IPOIB_LAB_RUN_DIR: runDir },
    });

  before(function () {
    runDir = mkdtempSync(path.join(tmpdir(), 'ipoib-lab-cli-'));
  });
  after(async function () {
    await cli('down', '--name', name);
    rmSync(runDir, { recursive: true, force: true });
  });

  it('starts a fabric, shows it, refuses a second one, survives a crash and stops it @cli @fabric @pkey', async function () {
    const up = await cli('up', '--nodes', '2', '--name', name, '--partitions', 'lab/partitions/two-partitions.conf');
    expect(up.code, up.stderr + up.stdout).to.equal(0);
    expect(up.stdout).to.match(/is up: manager pid \d+, SM at LID 1, nodes node1, node2/);
    const dir = path.join(runDir, `fabric-${name}`);
    expect(statSync(dir).mode & 0o777, 'run directory is owner-only').to.equal(0o700);
    expect(statSync(path.join(dir, 'manager.sock')).mode & 0o777, 'socket is owner-only').to.equal(0o600);

    const st = await cli('status', '--name', name, '--json');
    expect(st.code, st.stderr).to.equal(0);
    const s = JSON.parse(st.stdout) as { sm: { running: boolean }; ports: Array<{ node: string; lid: number; pkeys: number[] }>; groups: Array<{ mgid: string }> };
    expect(s.sm.running).to.equal(true);
    expect(s.ports.map((p) => [p.node, p.lid])).to.deep.equal([['sm', 1], ['node1', 2], ['node2', 3]]);
    expect(s.groups.map((g) => g.mgid), 'broadcast groups of both ipoib partitions').to.include.members(['ff12:401b:ffff::ffff:ffff', 'ff12:401b:8001::ffff:ffff']);

    const table = await cli('status', '--name', name);
    expect(table.stdout).to.match(/NODE\s+LID\s+STATE/).and.to.match(/ff12:401b:ffff::ffff:ffff\s+0xc000/);

    const again = await cli('up', '--name', name);
    expect(again.code, 'second up refused').to.equal(EXIT_FAILURE);
    expect(again.stderr).to.match(/already up/);

    const pid = Number(readFileSync(path.join(dir, 'manager.pid'), 'utf8'));
    process.kill(pid, 'SIGKILL');
    for (let i = 0; i < 100 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 20));
    const dead = await cli('status', '--name', name);
    expect(dead.code).to.equal(EXIT_FAILURE);
    expect(dead.stderr).to.match(/not running/);

    const up2 = await cli('up', '--nodes', '1', '--name', name);
    expect(up2.code, up2.stderr).to.equal(0);
    expect(up2.stdout).to.match(/cleaning up after a manager that is gone/);

    const down = await cli('down', '--name', name);
    expect(down.code, down.stderr).to.equal(0);
    expect(existsSync(dir), 'run directory removed').to.equal(false);
    const down2 = await cli('down', '--name', name);
    expect(down2.stdout).to.match(/not up; nothing to do/);
  });

  it('rejects bad arguments and bad partitions files before starting anything @cli @fabric @pkey', async function () {
    const badNodes = await cli('up', '--nodes', '0', '--name', name);
    expect(badNodes.code).to.equal(EXIT_USAGE);
    expect(badNodes.stderr).to.match(/--nodes must be an integer 1\.\.64/);
    const badName = await cli('up', '--name', 'Bad Name');
    expect(badName.code).to.equal(EXIT_USAGE);
    const file = path.join(runDir, 'bad.conf');
    await import('node:fs').then((fs) => fs.writeFileSync(file, 'Default=0x7fff, ipoib : ALL=full ;\nlab=0x8001, mtu=9 : ALL=full ;\n'));
    const badFile = await cli('up', '--name', name, '--partitions', file);
    expect(badFile.code).to.equal(EXIT_FAILURE);
    expect(badFile.stderr).to.match(/line 2, column \d+/);
    expect(existsSync(path.join(runDir, `fabric-${name}`)), 'nothing started').to.equal(false);
  });
});
