/**
 * The qemu Soft-RoCE lab (lab/qemu/, src/lab/qemu/).
 *
 * The first group is fast and runs everywhere: the checked-in lab file, the VM command line,
 * the rdma-core output parsers and the journalled VM stop.
 *
 * The end-to-end case builds (or reuses) the VM image, boots two VMs under TCG, brings rxe0 up,
 * runs the verbs pingpong and deploys the reference stack into both over SSH: several minutes
 * on 2 cores, a few more when the image is not cached. It needs root and the host tools
 * (qemu-system-x86, qemu-utils, debootstrap), and runs only with IPOIB_QEMU_LAB=1 or in CI (CI
 * set): a developer's `npm test` stays quick, while CI exercises the lab wherever the machine
 * has the tools, since the acceptance is measured there. Without the tools it skips
 * with the reason, in CI too, because .ci/run does not install them (yet).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as allure from 'allure-js-commons';
import { expect } from 'chai';
import { runBase } from '../../src/fabric/sim/run-dir.js';
import { DeferStack } from '../../src/lab/defer-stack.js';
import { loadLabFile } from '../../src/lab/lab-file-load.js';
import { runQemuLab } from '../../src/lab/qemu/bring-up.js';
import { qemuHostProblems } from '../../src/lab/qemu/host.js';
import { ensureImage, type QemuImage } from '../../src/lab/qemu/image.js';
import { DEFAULT_SSH_PORTS, defaultQemuLabFile, QEMU_LAB_NODES, RMEM_DEFAULT_BYTES, RXE_GID_INDEX, teardownQemuLab } from '../../src/lab/qemu/lab.js';
import { CHECKED_IN_LAB_FILE, qemuLabPaths } from '../../src/lab/qemu/paths.js';
import { parseGidTable, parseIbvDevinfo } from '../../src/lab/qemu/rxe.js';
import { qemuArgv, vmStopArgv } from '../../src/lab/qemu/vm.js';
import { LocalTransport } from '../../src/lab/transports/local.js';
import { skipWithReason } from '../helpers/skip.js';

const DEVINFO = `hca_id:\trxe0
\ttransport:\t\t\tInfiniBand (0)
\tfw_ver:\t\t\t\t0.0.0
\tnode_guid:\t\t\t5054:00ff:fe1b:0001
\tphys_port_cnt:\t\t\t1
\t\tport:\t1
\t\t\tstate:\t\t\tPORT_ACTIVE (4)
\t\t\tmax_mtu:\t\t4096 (5)
\t\t\tactive_mtu:\t\t1024 (3)
\t\t\tsm_lid:\t\t\t0
\t\t\tport_lid:\t\t0
\t\t\tlink_layer:\t\tEthernet
`;

const GIDS = `0 fe80:0000:0000:0000:5054:00ff:fe1b:0001 RoCE v2
1 0000:0000:0000:0000:0000:ffff:c633:6401 RoCE v2
2 0000:0000:0000:0000:0000:0000:0000:0000 none
`;

function fakeImage(dir: string): QemuImage {
  return {
    dir,
    kernel: `${dir}/vmlinuz`,
    initrd: `${dir}/initrd.img`,
    disk: `${dir}/rootfs.qcow2`,
    manifest: { key: 'k', suite: 'bookworm', kernel: '6.1', node: 'v20', packages: [], rootUsedMiB: 1, rootSizeMiB: 2, qcow2Bytes: 3, buildSeconds: 4, builtAt: '' },
    cached: true,
    durationMs: 0,
  };
}

/** The value after `flag` in argv. */
const after = (argv: string[], flag: string, nth = 0): string => {
  const at = argv.flatMap((a, i) => (a === flag ? [i] : []))[nth];
  return at === undefined ? '' : (argv[at + 1] ?? '');
};

describe('qemu Soft-RoCE lab: lab file, VM command line, parsers, VM stop @lab', function () {
  it('the checked-in lab/qemu-rxe.json is what the lab writes for the default ports, and the lab-file validator accepts it @lab', async function () {
    const onDisk = JSON.parse(readFileSync(CHECKED_IN_LAB_FILE, 'utf8')) as unknown;
    expect(onDisk).to.deep.equal(defaultQemuLabFile());
    const lab = await loadLabFile(CHECKED_IN_LAB_FILE);
    expect(lab.fabric.kind).to.equal('rxe');
    expect(lab.nodes.map((n) => [n.name, n.role, n.implementation, n.transport, n.ssh?.host, n.ssh?.port, n.ssh?.user, n.ssh?.knownHosts.policy, n.hca?.device, n.hca?.gidIndex])).to.deep.equal([
      ['dut', 'dut', 'reference', 'ssh', '127.0.0.1', DEFAULT_SSH_PORTS[0], 'root', 'strict', 'rxe0', RXE_GID_INDEX],
      ['peer', 'peer', 'reference', 'ssh', '127.0.0.1', DEFAULT_SSH_PORTS[1], 'root', 'strict', 'rxe0', RXE_GID_INDEX],
    ]);
    // `~` resolves to where the lab's default cache keeps the key and the pinned host key.
    expect(lab.nodes[0]?.ssh?.identityFile).to.equal(qemuLabPaths({}).identityFile);
    expect(lab.nodes[0]?.ssh?.knownHosts.file).to.equal(qemuLabPaths({}).knownHostsFile);
    expect(qemuLabPaths({}, '/home/x').identityFile).to.equal('/home/x/.cache/ipoib-lab/qemu/ssh/id_ed25519');
  });

  it('each VM boots the cached image as a snapshot under TCG with a capped translation cache, its login port forwarded on 127.0.0.1 only, the user network restricted, and the eth1 links crossed @lab', function () {
    const image = fakeImage('/c/images/k');
    const argv = QEMU_LAB_NODES.map((n, i) =>
      qemuArgv({ name: n.name, image, memoryMiB: 512, tbSizeMiB: 128, sshPort: 47221 + i, link: { localPort: 5000 + i, remotePort: 5001 - i }, eth1Mac: n.eth1Mac, pidFile: `/r/${n.name}.pid`, consoleLog: `/r/${n.name}.log` }),
    );
    for (const [i, a] of argv.entries()) {
      expect(after(a, '-accel')).to.equal('tcg,tb-size=128');
      expect(after(a, '-m')).to.equal('512');
      expect(after(a, '-drive')).to.equal('file=/c/images/k/rootfs.qcow2,if=none,id=disk,format=qcow2,snapshot=on');
      expect(after(a, '-netdev', 0)).to.equal(`user,id=mgmt,restrict=on,hostfwd=tcp:127.0.0.1:${47221 + i}-:22`);
      expect(after(a, '-netdev', 1)).to.match(new RegExp(`^dgram,id=link,local.type=inet,local.host=127\\.0\\.0\\.1,local.port=${5000 + i},remote.type=inet,remote.host=127\\.0\\.0\\.1,remote.port=${5001 - i}$`));
      expect(a).to.include('-daemonize').and.to.include('-nodefaults');
      expect(a).to.not.include('-enable-kvm');
    }
    const macs = argv.map((a) => /mac=([0-9a-f:]+)/.exec(after(a, '-device', 2))?.[1]);
    expect(new Set(macs).size, `eth1 MACs ${macs.join(' ')}`).to.equal(2);
  });

  it('ibv_devinfo and the rxe0 GID table are read as rdma-core and sysfs print them @lab', function () {
    expect(parseIbvDevinfo(DEVINFO)).to.deep.equal([{ port: 1, state: 'PORT_ACTIVE', activeMtuBytes: 1024, linkLayer: 'Ethernet' }]);
    expect(parseGidTable(GIDS)).to.deep.equal([
      { index: 0, gid: 'fe80:0000:0000:0000:5054:00ff:fe1b:0001', type: 'RoCE v2' },
      { index: 1, gid: '0000:0000:0000:0000:0000:ffff:c633:6401', type: 'RoCE v2' },
    ]);
  });

  it('the journalled VM stop signals only a process whose command line names its pid file, and is idempotent @lab', async function () {
    this.timeout(30_000);
    const dir = mkdtempSync(path.join(tmpdir(), 'qemu-stop-'));
    const host = new LocalTransport({ name: 'qemu-host' });
    const ours = spawn('sh', ['-c', 'sleep 60; :', path.join(dir, 'vm.pid')], { detached: true, stdio: 'ignore' });
    const stranger = spawn('sleep', ['60'], { detached: true, stdio: 'ignore' });
    const killGroup = (pid: number | undefined) => {
      try {
        if (pid !== undefined) process.kill(-pid, 'SIGKILL');
      } catch {
        // gone
      }
    };
    try {
      writeFileSync(path.join(dir, 'vm.pid'), `${ours.pid}\n`);
      writeFileSync(path.join(dir, 'other.pid'), `${stranger.pid}\n`);
      const stranded = await host.run(vmStopArgv(path.join(dir, 'other.pid'), 500), { timeoutMs: 10_000 });
      expect(stranded.stdout.trim()).to.equal(`not-running ${stranger.pid}`);
      expect(() => process.kill(stranger.pid as number, 0), 'a pid whose command line lacks the pid file is left alone').to.not.throw();
      const stopped = await host.run(vmStopArgv(path.join(dir, 'vm.pid'), 500), { timeoutMs: 10_000 });
      expect(stopped.stdout.trim()).to.equal(`stopped ${ours.pid} TERM`);
      expect(existsSync(path.join(dir, 'vm.pid'))).to.equal(false);
      const again = await host.run(vmStopArgv(path.join(dir, 'vm.pid'), 500), { timeoutMs: 10_000 });
      expect(again.stdout.trim()).to.equal('not-running');
    } finally {
      killGroup(ours.pid);
      killGroup(stranger.pid);
      await host.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('qemu Soft-RoCE lab end to end @lab @ssh', function () {
  it('builds or reuses the image, boots two VMs to SSH, brings rxe0 ACTIVE, passes ibv_ud_pingpong and ibv_rc_pingpong, deploys the reference stack at this version over ssh, and tears it all down @lab @ssh', async function () {
    const problems = qemuHostProblems();
    if (problems.length) await skipWithReason(this, problems.join('; '));
    if (!process.env.CI && process.env.IPOIB_QEMU_LAB !== '1') await skipWithReason(this, 'slow (minutes under TCG): runs with IPOIB_QEMU_LAB=1 or in CI');
    this.timeout(45 * 60_000);

    // Its own run directory and ports, so a lab brought up by hand (npm run lab:qemu:up) is left alone; the image cache is shared.
    const paths = qemuLabPaths({ ...process.env, IPOIB_QEMU_RUN_DIR: path.join(runBase(), 'qemu-rxe-test') });
    const rmemBefore = readFileSync('/proc/sys/net/core/rmem_default', 'utf8').trim();
    const stack = new DeferStack('qemu lab end to end');
    const progress: string[] = [];
    let pids: number[] = [];
    try {
      const started = performance.now();
      const run = await runQemuLab({ stack, paths, sshPorts: [47321, 47322], deploy: true, progress: (l) => progress.push(`[${((performance.now() - started) / 1000).toFixed(1)} s] ${l}`) });
      pids = run.state.vms.map((v) => v.pid);

      expect(run.image.manifest.packages).to.include.members(['linux-image-amd64', 'rdma-core', 'ibverbs-utils', 'rdmacm-utils', 'perftest', 'iproute2', 'openssh-server', 'g++', 'cmake', 'make', 'python3']);
      expect(run.image.manifest.node).to.equal(process.version);
      expect(readFileSync('/proc/sys/net/core/rmem_default', 'utf8').trim()).to.equal(String(Math.max(RMEM_DEFAULT_BYTES, Number(rmemBefore))));
      for (const r of run.rxe) {
        expect(r.devinfo, r.node).to.deep.include({ port: 1, state: 'PORT_ACTIVE', linkLayer: 'Ethernet', activeMtuBytes: 1024 });
        expect(r.ipv4GidIndex, `${r.node} GIDs ${JSON.stringify(r.gids)}`).to.equal(RXE_GID_INDEX);
      }
      expect(run.smoke.map((s) => [s.kind, s.iterations])).to.deep.equal([['ud', 100], ['rc', 100]]);
      expect(run.deployed.map((d) => d.node).sort()).to.deep.equal(['dut', 'peer']);
      for (const d of run.deployed) {
        expect(d.result.addon, d.node).to.equal('shipped');
        expect(d.nodeVersion, d.node).to.deep.equal(run.localVersion);
      }
      for (const m of run.memory) expect(m.rssBytes, `${m.name} resident`).to.be.within(1, 1.2 * 2 ** 30);

      // restrict=on: the VM reaches nothing through its user-mode network, not even the host.
      const dut = run.transports.get('dut');
      const out = await dut?.run(['socat', '-u', 'OPEN:/dev/null', 'TCP:10.0.2.2:22,connect-timeout=3'], { timeoutMs: 20_000 });
      expect(out?.code, 'a TCP connection from the VM to the host gateway').to.not.equal(0);

      const cached = await ensureImage({ cacheDir: paths.cacheDir });
      expect(cached.cached).to.equal(true);

      const t = run.timings;
      const measured = {
        image: { key: run.image.manifest.key, cached: t.imageCached, ms: Math.round(t.imageMs), cachedCheckMs: Math.round(cached.durationMs), qcow2Bytes: run.image.manifest.qcow2Bytes, buildSeconds: run.image.manifest.buildSeconds },
        bootToSshMs: Math.round(t.bootToSshMs),
        rxeMs: Math.round(t.rxeMs),
        pingpong: run.smoke.map((s) => ({ kind: s.kind, usecPerIter: s.usecPerIter, ms: Math.round(s.durationMs) })),
        deployMs: Math.round(t.deployMs ?? 0),
        totalMs: Math.round(t.totalMs),
        memory: run.memory,
      };
      await allure.attachment('qemu lab measurements', JSON.stringify(measured, null, 2), 'application/json');
      await allure.attachment('qemu lab progress', progress.join('\n'), 'text/plain');
    } finally {
      await stack.run();
    }
    expect(existsSync(paths.runDir), 'run directory after teardown').to.equal(false);
    expect(readFileSync('/proc/sys/net/core/rmem_default', 'utf8').trim(), 'net.core.rmem_default after teardown').to.equal(rmemBefore);
    for (const pid of pids) expect(existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(paths.runDir), `VM pid ${pid} after teardown`).to.equal(false);
    expect((await teardownQemuLab(paths)).found, 'a second teardown finds nothing').to.equal(false);
  });
});
