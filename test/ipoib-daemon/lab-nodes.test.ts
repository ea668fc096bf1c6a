/**
 * `ipoib-lab fabric up --nodes 2 --ipoib` end to end (root only): one ipoibd per node in its
 * own network namespace, the kernel pinging across the simulated fabric through the TUN data
 * plane both ways over IPv4 and v6, ipoibctl reaching each daemon by fabric and node, and
 * `fabric down` (also after a crash) removing daemons and namespaces. As a normal user, --ipoib
 * is refused with exit 1 and the reason.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main as ipoibLab } from '../../src/cli/ipoib-lab.js';
import { main as ipoibctl } from '../../src/cli/ipoibctl.js';
import { fabricPaths } from '../../src/fabric/sim/run-dir.js';
import { journalFile, labNamespace, readJournal } from '../../src/ipoib/daemon/lab-nodes.js';
import { runTool } from '../../src/util/run-tool.js';
import { skipWithReason } from '../helpers/skip.js';
import { PARTITIONS } from './daemon-fixture.js';

const FABRIC = `dn${process.pid.toString(36)}`;

function captureIo(): { out: (l: string) => void; err: (l: string) => void; stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

async function namespaces(): Promise<string[]> {
  const r = await runTool('ip', ['netns', 'list'], { timeoutMs: 10_000 });
  return r.stdout.split('\n').map((l) => l.split(' ')[0] ?? '').filter((n) => n.startsWith(`ipl-${FABRIC}-`));
}

async function ping(ns: string, dst: string): Promise<{ code: number; out: string }> {
  const r = await runTool('ip', ['netns', 'exec', ns, 'ping', '-c', '2', '-W', '3', dst], { timeoutMs: 20_000 });
  return { code: r.code, out: r.stdout + r.stderr };
}

function whyNot(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces are Linux only';
  if (process.getuid?.() !== 0) return 'needs root for network namespaces and TUN devices';
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing';
  if (spawnSync('ping', ['-V'], { stdio: 'ignore' }).error) return 'ping (iputils) is missing';
  return undefined;
}

describe('namespaced nodes from ipoib-lab fabric up --ipoib @ipoib-stack @cli @fabric @tun', function () {
  this.timeout(120_000);
  let base: string;
  let saved: string | undefined;

  before(function () {
    base = mkdtempSync(path.join(tmpdir(), 'ipoib-lab-nodes-'));
    saved = process.env.IPOIB_LAB_RUN_DIR;
    process.env.IPOIB_LAB_RUN_DIR = base;
  });
  after(async function () {
    if (whyNot() === undefined) await ipoibLab(['fabric', 'down', '--name', FABRIC], captureIo());
    if (saved === undefined) delete process.env.IPOIB_LAB_RUN_DIR;
    else process.env.IPOIB_LAB_RUN_DIR = saved;
    rmSync(base, { recursive: true, force: true });
  });

  it('refuses --ipoib as a normal user with exit 1, saying root is needed and user namespaces come later @ipoib-stack @cli @fabric @tun', async function () {
    if (process.getuid?.() !== 0 || spawnSync('setpriv', ['--version'], { stdio: 'ignore' }).error) {
      return skipWithReason(this, 'needs root and setpriv to run the command as another user');
    }
    const r = await runTool('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, path.resolve('bin/ipoib-lab.js'), 'fabric', 'up', '--name', FABRIC, '--ipoib'], {
      timeoutMs: 30_000,
      env: { ...process.env, IPOIB_LAB_RUN_DIR: path.join(tmpdir(), `ipoib-lab-nobody-${process.pid}`) },
    });
    expect(r.code, r.stderr).to.equal(1);
    expect(r.stderr).to.match(/need root/).and.to.match(/user namespace is a later step/);
  });

  it('starts two nodes that ping each other over IPv4 and v6 and through P_Key children, and fabric down removes them @ipoib-stack @cli @fabric @tun @icmp @ipv6 @pkey', async function () {
    const why = whyNot();
    if (why) return skipWithReason(this, why);
    const io = captureIo();
    const partitions = path.join(base, 'partitions.conf');
    writeFileSync(partitions, PARTITIONS);
    const code = await ipoibLab(['fabric', 'up', '--name', FABRIC, '--nodes', '2', '--ipoib', '--partitions', partitions], io);
    expect(code, io.stderr.join('\n')).to.equal(0);
    const [ns1, ns2] = [labNamespace(FABRIC, 'node1'), labNamespace(FABRIC, 'node2')];
    expect(await namespaces()).to.have.members([ns1, ns2]);

    for (const [ns, dst] of [[ns1, '192.0.2.2'], [ns2, '192.0.2.1'], [ns1, '2001:db8::2'], [ns2, '2001:db8::1']] as const) {
      const p = await ping(ns, dst);
      expect(p.code, `${ns} → ${dst}:\n${p.out}`).to.equal(0);
      expect(p.out).to.match(/2 packets transmitted, 2 received/);
    }

    const show = captureIo();
    expect(await ipoibctl(['--fabric', FABRIC, '--node', 'node2', 'show', 'ib0'], show)).to.equal(0);
    expect(show.stdout.join('\n')).to.match(/type 32 addr_len 20 carrier 1/).and.to.include('inet 192.0.2.2/24');

    // A child in partition 0x8001 on each node gets its own TUN device when brought up.
    for (const [node, n] of [['node1', 1], ['node2', 2]] as const) {
      const ctl = async (...args: string[]): Promise<void> => {
        const c = captureIo();
        expect(await ipoibctl(['--fabric', FABRIC, '--node', node, ...args], c), `${args.join(' ')}: ${c.stderr.join('\n')}`).to.equal(0);
      };
      await ctl('create_child', 'ib0', '0x8001');
      await ctl('up', 'ib0.8001', `192.0.3.${n}/24`);
    }
    const child = await ping(ns1, '192.0.3.2');
    expect(child.code, child.out).to.equal(0);
    const del = captureIo();
    expect(await ipoibctl(['--fabric', FABRIC, '--node', 'node1', 'delete_child', 'ib0', '0x8001'], del), del.stderr.join('\n')).to.equal(0);
    const gone = await runTool('ip', ['-n', ns1, 'link', 'show', 'ib0.8001'], { timeoutMs: 10_000 });
    expect(gone.code, 'the deleted child\'s TUN device is gone').to.not.equal(0);

    const pids = readJournal(fabricPaths(FABRIC))?.daemons.map((d) => d.pid) ?? [];
    expect(pids).to.have.length(2);
    const down = captureIo();
    expect(await ipoibLab(['fabric', 'down', '--name', FABRIC], down)).to.equal(0);
    expect(down.stdout.join('\n')).to.include('stopped 2 ipoibd, removed 2 network namespace(s)');
    expect(await namespaces()).to.deep.equal([]);
    for (const pid of pids) expect(existsSync(`/proc/${pid}`), `ipoibd ${pid} gone`).to.equal(false);
  });

  it('cleans the namespaces and daemons of a crashed run at the next fabric down @ipoib-stack @cli @fabric @tun', async function () {
    const why = whyNot();
    if (why) return skipWithReason(this, why);
    expect(await ipoibLab(['fabric', 'up', '--name', FABRIC, '--nodes', '2', '--ipoib'], captureIo())).to.equal(0);
    const p = fabricPaths(FABRIC);
    const journal = readJournal(p);
    const managerPid = Number(readFileSync(p.pidFile, 'utf8'));
    // The manager and node1's daemon die without cleaning anything.
    process.kill(managerPid, 'SIGKILL');
    process.kill(journal!.daemons[0]!.pid, 'SIGKILL');
    await new Promise((r) => setTimeout(r, 300));
    expect(existsSync(journalFile(p))).to.equal(true);
    const io = captureIo();
    expect(await ipoibLab(['fabric', 'down', '--name', FABRIC], io)).to.equal(0);
    expect(io.stdout.join('\n')).to.include('removed 2 network namespace(s)');
    expect(await namespaces()).to.deep.equal([]);
    for (const d of journal!.daemons) expect(existsSync(`/proc/${d.pid}`), `ipoibd ${d.pid} gone`).to.equal(false);
  });
});
