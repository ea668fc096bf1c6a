/**
 * Capability discovery and the doctor's judgement, against a scripted node: a fake transport
 * that answers the probes from a virtual file tree, a tool list, a uid and `ip -j link` JSON.
 */
import { expect } from 'chai';
import { TransportError } from '../../src/errors.js';
import { type Capability, type Discovery, discoverCapabilities } from '../../src/lab/capabilities.js';
import { EXISTING_PATHS_SCRIPT, READ_FILES_SCRIPT, TOOLS_SCRIPT } from '../../src/lab/doctor-probes.js';
import { judgeNode, neededCapabilities, runDoctor } from '../../src/lab/doctor.js';
import { renderDoctorTable } from '../../src/lab/doctor-table.js';
import type { FabricKind, LabFile, LabNode, LabPartition } from '../../src/lab/lab-file.js';
import type { BackgroundProcess, RunOptions, RunResult, Transport } from '../../src/lab/transport.js';

interface NodeScript {
  /** Regular files and their one-line content. */
  files?: Record<string, string>;
  /** Other existing paths (directories, device nodes). */
  paths?: string[];
  tools?: string[];
  /** The uid `id -u` prints, or "sudo-refused". */
  uid?: number | 'sudo-refused';
  /** `ip -d -j link show` entries. */
  links?: unknown[];
  unshareCode?: number;
  /** Every command fails to reach the node. */
  unreachable?: boolean;
}

function globRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('[^/]*')}$`);
}

/** A node that answers exactly the probes discovery makes; anything else is a test failure. */
class ScriptedTransport implements Transport {
  readonly calls: string[][] = [];
  closed = false;
  constructor(
    readonly name: string,
    private readonly s: NodeScript,
  ) {}

  private allPaths(): Set<string> {
    const all = new Set<string>(this.s.paths ?? []);
    for (const f of [...Object.keys(this.s.files ?? {}), ...(this.s.paths ?? [])]) {
      const parts = f.split('/');
      for (let i = 2; i <= parts.length; i++) all.add(parts.slice(0, i).join('/'));
    }
    return all;
  }

  private expand(globs: readonly string[], among: Iterable<string>): string[] {
    const list = [...among].sort();
    return globs.flatMap((g) => list.filter((p) => globRegExp(g).test(p)));
  }

  private answer(argv: readonly string[]): { code: number; stdout: string; stderr: string } {
    const ok = (stdout: string) => ({ code: 0, stdout, stderr: '' });
    const [cmd, flag, script, , ...args] = argv;
    if (cmd === 'uname') return ok('Linux 6.8.0-45-generic\n');
    if (cmd === 'id') return this.s.uid === 'sudo-refused' ? { code: 1, stdout: '', stderr: 'sudo: a password is required\n' } : ok(`${this.s.uid ?? 0}\n`);
    if (cmd === 'unshare') return { code: this.s.unshareCode ?? 0, stdout: '', stderr: this.s.unshareCode ? 'unshare: unshare failed: Operation not permitted\n' : '' };
    if (cmd === 'ip' && argv.join(' ') === 'ip -d -j link show') return ok(JSON.stringify(this.s.links ?? []));
    if (cmd === 'sh' && flag === '-c') {
      if (script === TOOLS_SCRIPT) return ok(args.filter((t) => (this.s.tools ?? []).includes(t)).map((t) => `${t}\n`).join(''));
      if (script === EXISTING_PATHS_SCRIPT) return ok(this.expand(args, this.allPaths()).map((p) => `${p}\n`).join(''));
      if (script === READ_FILES_SCRIPT) {
        const files = this.s.files ?? {};
        return ok(this.expand(args, Object.keys(files)).flatMap((f) => (files[f] ?? '').split('\n').filter(Boolean).map((l) => `${f}:${l}\n`)).join(''));
      }
    }
    throw new Error(`the scripted node has no answer for ${JSON.stringify(argv)}`);
  }

  async run(argv: readonly string[], _o?: RunOptions): Promise<RunResult> {
    this.calls.push([...argv]);
    if (this.s.unreachable) throw new TransportError(this.name, null, 'cannot connect to rack1-a:2222: connect ECONNREFUSED', 'Check host, port and that sshd runs on the node.');
    return { host: this.name, argv, signal: null, durationMs: 1, ...this.answer(argv) };
  }

  async check(argv: readonly string[], o?: RunOptions): Promise<RunResult> {
    const r = await this.run(argv, o);
    if (r.code !== 0) throw new Error(`${argv.join(' ')} exited ${r.code}`);
    return r;
  }

  async put(): Promise<void> {
    throw new Error('not scripted');
  }
  async get(): Promise<void> {
    throw new Error('not scripted');
  }
  async spawn(): Promise<BackgroundProcess> {
    throw new Error('not scripted');
  }
  async close(): Promise<void> {
    this.closed = true;
  }
}

const PORT = '/sys/class/infiniband/mlx5_0/ports/1';
const GID_TAIL = 'fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:0b:0c';
const BROADCAST = '00:ff:ff:ff:ff:12:40:1b:ff:ff:00:00:00:00:00:00:ff:ff:ff:ff';
const ALL_TOOLS = ['ip', 'ping', 'socat', 'sha256sum', 'ethtool', 'tcpdump'];

function ib0Link(flags: string): unknown {
  return {
    ifindex: 5,
    ifname: 'ib0',
    flags: ['BROADCAST', 'MULTICAST', 'UP', 'LOWER_UP'],
    mtu: 2044,
    operstate: 'UP',
    link_type: 'infiniband',
    address: `${flags}:00:01:07:${GID_TAIL}`,
    broadcast: BROADCAST,
    linkinfo: { info_kind: 'ipoib', info_data: { key: '0xffff', mode: 'datagram', umcast: '0000' } },
  };
}

/** An InfiniBand host: active port with an SM, ib_ipoib and ib0, debugfs mounted. */
function infinibandHost(over: { smLid?: string; rcFlags?: string; pkeys?: string[] } = {}): NodeScript {
  const pkeys = Object.fromEntries((over.pkeys ?? ['0xffff', '0x8001', '0x0000']).map((k, i) => [`${PORT}/pkeys/${i}`, k]));
  return {
    files: {
      [`${PORT}/state`]: '4: ACTIVE',
      [`${PORT}/link_layer`]: 'InfiniBand',
      [`${PORT}/lid`]: '0x5',
      [`${PORT}/sm_lid`]: over.smLid ?? '0x1',
      ...pkeys,
      '/proc/mounts': 'sysfs /sys sysfs rw 0 0\ndebugfs /sys/kernel/debug debugfs rw,relatime 0 0',
      '/sys/kernel/debug/ipoib/ib0_mcg': 'GID: ff12:401b:ffff:0:0:0:ffff:ffff',
    },
    paths: ['/sys/module/ib_ipoib'],
    tools: ALL_TOOLS,
    uid: 0,
    links: [ib0Link(over.rcFlags ?? '80')],
  };
}

/** A Soft-RoCE host: Ethernet link layer, no SM, only the default P_Key, no ib_ipoib. */
const RXE_HOST: NodeScript = {
  files: {
    '/sys/class/infiniband/rxe0/ports/1/state': '4: ACTIVE',
    '/sys/class/infiniband/rxe0/ports/1/link_layer': 'Ethernet',
    '/sys/class/infiniband/rxe0/ports/1/lid': '0x0',
    '/sys/class/infiniband/rxe0/ports/1/sm_lid': '0x0',
    '/sys/class/infiniband/rxe0/ports/1/pkeys/0': '0xffff',
    '/proc/mounts': 'sysfs /sys sysfs rw 0 0',
  },
  tools: ['ip', 'ping', 'socat', 'sha256sum'],
  uid: 1000,
};

function labNode(over: Partial<LabNode> = {}): LabNode {
  return { name: 'dut', role: 'dut', implementation: 'kernel', transport: 'local', sudo: false, hca: { device: 'mlx5_0', port: 1, gidIndex: 0 }, interface: 'ib0', addresses: [], ...over };
}

const SSH_NODE: Partial<LabNode> = {
  transport: 'ssh',
  ssh: {
    host: 'rack1-a',
    port: 2222,
    user: 'ipoib',
    identityFile: '/home/u/.ssh/id_ed25519',
    knownHosts: { file: '/home/u/lab/known_hosts', policy: 'strict' },
    keepaliveIntervalMs: 15_000,
    keepaliveCountMax: 3,
    maxChannels: 6,
    connectTimeoutMs: 10_000,
    reconnectTimeoutMs: 120_000,
  },
};

const PARTITIONS: LabPartition[] = [
  { name: 'default', pkey: '0xffff', ipoib: true },
  { name: 'storage', pkey: '0x8001', ipoib: true },
];

function lab(kind: FabricKind, nodes: LabNode[], partitions = PARTITIONS): LabFile {
  return { name: 'test', fabric: { kind }, nodes, partitions, capture: { method: 'none' } };
}

function missing(d: Discovery): Capability[] {
  return d.problems.map((p) => p.check);
}

function problem(d: Discovery, check: Capability): { detail: string; fix: string } {
  const p = d.problems.find((x) => x.check === check);
  expect(p, `a problem for ${check} in ${JSON.stringify(d.problems)}`).to.not.equal(undefined);
  return { detail: p?.detail ?? '', fix: p?.fix ?? '' };
}

describe('capability discovery on a scripted node @lab', function () {
  it('finds everything on an InfiniBand host with ib_ipoib, an SM and both partitions @lab', async function () {
    const t = new ScriptedTransport('dut', infinibandHost());
    const d = await discoverCapabilities(t, labNode(), { fabric: 'ib', partitions: PARTITIONS });
    expect([...d.caps].sort()).to.deep.equal(
      [
        'reachable',
        'root',
        'suite-tools',
        'ethtool',
        'tcpdump',
        'sniffer',
        'rdma-device',
        'port-active',
        'ib-link-layer',
        'sm-reachable',
        'partition-pkeys',
        'ib-ipoib',
        'ipoib-interface',
        'connected-mode',
        'debugfs',
      ].sort(),
    );
    expect(missing(d)).to.deep.equal(['ibdump']);
    expect(problem(d, 'ibdump').fix).to.match(/install ibdump/);
    expect(d.facts.kernel).to.equal('Linux 6.8.0-45-generic');
    expect(d.facts.rdmaDevices).to.deep.equal(['mlx5_0']);
    expect(d.facts.port).to.deep.equal({ device: 'mlx5_0', port: 1, state: 'ACTIVE', linkLayer: 'InfiniBand', lid: 5, smLid: 1, pkeys: [0xffff, 0x8001] });
    expect(d.facts.ipoibInterfaces).to.deep.equal([{ ifname: 'ib0', parent: null, pkey: '0xffff', mode: 'datagram', rc: true, carrier: true }]);
    expect(d.checks.map((c) => c.check)[0], 'checks come in table order').to.equal('reachable');
    expect(judgeNode(labNode(), lab('ib', [labNode()]), d).ok).to.equal(true);
  });

  it('reports a missing partition, a port without an SM and a datagram-only interface, each with its fix @lab @pkey', async function () {
    const t = new ScriptedTransport('dut', infinibandHost({ smLid: '0x0', rcFlags: '00', pkeys: ['0xffff'] }));
    const d = await discoverCapabilities(t, labNode(), { fabric: 'ib', partitions: PARTITIONS });
    expect(missing(d)).to.deep.equal(['ibdump', 'sm-reachable', 'partition-pkeys', 'connected-mode']);
    expect(problem(d, 'sm-reachable')).to.deep.include({ detail: 'SM LID 0x0000' });
    expect(problem(d, 'sm-reachable').fix).to.match(/opensm/);
    expect(problem(d, 'partition-pkeys').detail).to.equal('mlx5_0 port 1 lacks 0x8001 (storage); its table holds 0xffff');
    expect(problem(d, 'partition-pkeys').fix).to.include('storage=0x8001');
    expect(problem(d, 'connected-mode').fix).to.match(/ipoib_enhanced=0/);
    const judged = judgeNode(labNode(), lab('ib', [labNode()]), d);
    expect(judged.ok, 'an SM and the partitions are needed on ib').to.equal(false);
    expect(judged.checks.filter((c) => c.result === 'fail').map((c) => c.check)).to.deep.equal(['sm-reachable', 'partition-pkeys']);
    expect(judged.checks.find((c) => c.check === 'connected-mode')?.result, 'connected mode is optional').to.equal('missing');
  });

  it('sees a Soft-RoCE node: Ethernet link layer, no SM, no kernel IPoIB, no root @lab', async function () {
    const node = labNode({ name: 'rxe', implementation: 'reference', hca: { device: 'rxe0', port: 1, gidIndex: 1 }, interface: 'ipoib0' });
    const t = new ScriptedTransport('rxe', RXE_HOST);
    const d = await discoverCapabilities(t, node, { fabric: 'rxe', partitions: [PARTITIONS[0] as LabPartition] });
    expect([...d.caps].sort()).to.deep.equal(['partition-pkeys', 'port-active', 'rdma-device', 'reachable', 'suite-tools']);
    expect(problem(d, 'ib-link-layer').detail).to.equal('rxe0 port 1 link layer Ethernet (RoCE or rxe: no kernel IPoIB, no SM or SA)');
    expect(problem(d, 'sm-reachable').detail).to.equal('not an InfiniBand port');
    expect(problem(d, 'ib-ipoib').fix).to.match(/modprobe ib_ipoib/);
    expect(problem(d, 'root')).to.deep.equal({ detail: 'uid 1000', fix: 'set "sudo": true for this node in the lab file (the user needs passwordless sudo), or run as root' });
    expect(missing(d), 'no interface probes for the reference implementation').to.not.include('ipoib-interface');
    expect(t.calls.some((c) => c[0] === 'ip'), 'the kernel adapter was not asked').to.equal(false);
    const judged = judgeNode(node, lab('rxe', [node], [PARTITIONS[0] as LabPartition]), d);
    expect(judged.needed).to.include('root').and.not.include('ib-link-layer');
    expect(judged.ok, 'root is needed on rxe').to.equal(false);
  });

  it('says what to load on a node without RDMA devices, and asks no port questions it cannot answer @lab', async function () {
    const t = new ScriptedTransport('dut', { files: { '/proc/mounts': 'sysfs /sys sysfs rw 0 0' }, tools: ALL_TOOLS, uid: 'sudo-refused' });
    const d = await discoverCapabilities(t, labNode({ sudo: true }), { fabric: 'ib', partitions: PARTITIONS });
    expect(missing(d)).to.deep.equal(['root', 'ibdump', 'rdma-device', 'port-active', 'ib-link-layer', 'sm-reachable', 'partition-pkeys', 'ib-ipoib', 'ipoib-interface', 'connected-mode', 'debugfs']);
    expect(problem(d, 'rdma-device')).to.deep.include({ detail: 'no RDMA device (/sys/class/infiniband is empty or missing)' });
    expect(problem(d, 'rdma-device').fix).to.match(/modprobe mlx5_ib/);
    expect(problem(d, 'port-active')).to.deep.equal({ detail: 'no port 1 on mlx5_0', fix: 'make an RDMA device available first (see rdma-device)' });
    expect(problem(d, 'root').detail).to.equal('sudo -n refused: sudo: a password is required');
    expect(problem(d, 'root').fix).to.include('NOPASSWD');
    expect(problem(d, 'ipoib-interface').fix).to.equal('modprobe ib_ipoib (on an InfiniBand port)');
  });

  it('names the device the node has when the lab file names another @lab', async function () {
    const t = new ScriptedTransport('dut', infinibandHost());
    const d = await discoverCapabilities(t, labNode({ hca: { device: 'mlx4_0', port: 1, gidIndex: 0 } }), { fabric: 'ib', partitions: PARTITIONS });
    expect(problem(d, 'rdma-device')).to.deep.equal({ detail: 'no device mlx4_0; the node has mlx5_0', fix: 'set hca.device in the lab file to one of mlx5_0 (see rdma link show)' });
  });

  it('reports an unreachable node with the transport error and a fix naming host, port and the host key scan @lab', async function () {
    const t = new ScriptedTransport('dut', { unreachable: true });
    const d = await discoverCapabilities(t, labNode(SSH_NODE), { fabric: 'ib', partitions: PARTITIONS });
    expect(d.caps.size).to.equal(0);
    expect(d.problems).to.have.length(1);
    expect(problem(d, 'reachable').detail).to.equal('dut: cannot connect to rack1-a:2222: connect ECONNREFUSED. Check host, port and that sshd runs on the node.');
    expect(problem(d, 'reachable').fix).to.include('(rack1-a:2222)').and.include('ssh-keyscan -p 2222 rack1-a >> /home/u/lab/known_hosts');
    expect(t.calls, 'nothing is tried after the first failure').to.have.length(1);
  });

  it('checks what the simulated lab needs: the addon, the virtual network device and namespaces @lab', async function () {
    const t = new ScriptedTransport('dut', { paths: [], tools: ['ip', 'ping', 'sha256sum', 'tshark'], uid: 0, unshareCode: 1 });
    const node = labNode({ implementation: 'reference' });
    delete node.hca;
    const d = await discoverCapabilities(t, node, {
      fabric: 'sim',
      loadAddon: () => Promise.reject(new Error('no build of the addon in native/build')),
    });
    expect(missing(d)).to.deep.equal(['suite-tools', 'ethtool', 'tcpdump', 'ibdump', 'sniffer', 'rdma-device', 'native-addon', 'tun', 'netns']);
    expect(problem(d, 'suite-tools')).to.deep.equal({ detail: 'missing: socat', fix: 'install socat on the node (apt-get install / dnf install)' });
    expect(problem(d, 'native-addon')).to.deep.include({ detail: 'no build of the addon in native/build' });
    expect(problem(d, 'native-addon').fix).to.match(/npm run build:native/);
    expect(problem(d, 'tun').fix).to.match(/modprobe tun/);
    expect(problem(d, 'netns').detail).to.equal('unshare --net failed: unshare: unshare failed: Operation not permitted');
    expect(d.caps.has('tshark')).to.equal(true);
    const judged = judgeNode(node, lab('sim', [node]), d);
    expect(judged.checks.filter((c) => c.result === 'fail').map((c) => c.check)).to.deep.equal(['suite-tools', 'native-addon', 'tun', 'netns']);
    expect(judged.checks.find((c) => c.check === 'rdma-device')?.result).to.equal('missing');
  });
});

describe('doctor over a lab of scripted nodes @lab', function () {
  it('needs per kind of lab and implementation exactly the documented capabilities @lab', function () {
    const sim = labNode({ implementation: 'reference' });
    expect(neededCapabilities(sim, lab('sim', [sim]))).to.deep.equal(['reachable', 'root', 'suite-tools', 'native-addon', 'tun', 'netns']);
    expect(neededCapabilities(labNode({ ...SSH_NODE, implementation: 'reference' }), lab('sim', []))).to.not.include('native-addon');
    expect(neededCapabilities(labNode({ implementation: 'reference' }), lab('rxe', []))).to.deep.equal(['reachable', 'root', 'suite-tools', 'rdma-device', 'port-active', 'partition-pkeys']);
    expect(neededCapabilities(labNode(), lab('ib', []))).to.deep.equal([
      'reachable',
      'root',
      'suite-tools',
      'rdma-device',
      'port-active',
      'ib-link-layer',
      'sm-reachable',
      'partition-pkeys',
      'ib-ipoib',
      'ipoib-interface',
    ]);
  });

  it('checks nodes in parallel, bounds each one, and fails the lab for the node that did not answer @lab', async function () {
    const good = labNode({ name: 'good' });
    const silent = labNode({ name: 'silent', role: 'peer', ...SSH_NODE });
    const refused = labNode({ name: 'refused', role: 'peer' });
    const opened: ScriptedTransport[] = [];
    const started = Date.now();
    const report = await runDoctor(lab('ib', [good, silent, refused]), '/labs/rack.json', {
      nodeTimeoutMs: 300,
      open: async (n) => {
        if (n.name === 'silent') return new Promise<never>(() => undefined);
        if (n.name === 'refused') throw new TransportError('refused', null, 'cannot connect to 10.0.0.9:22: connect EHOSTUNREACH', 'Check host, port and that sshd runs on the node.');
        const t = new ScriptedTransport(n.name, infinibandHost());
        opened.push(t);
        return t;
      },
    });
    expect(Date.now() - started, 'bounded by the per-node time, not summed').to.be.below(2_000);
    expect(report.ok).to.equal(false);
    expect(report.nodes.map((n) => [n.node, n.ok])).to.deep.equal([
      ['good', true],
      ['silent', false],
      ['refused', false],
    ]);
    const silentRow = report.nodes[1]?.checks;
    expect(silentRow).to.deep.equal([
      {
        check: 'reachable',
        result: 'fail',
        needed: true,
        detail: 'silent: no answer within 300 ms. Check that the node is up and its transport settings are right.',
        fix: 'Check host and port (rack1-a:2222) and that sshd runs there (ssh -p 2222 ipoib@rack1-a true); for a first contact record the host key after checking its fingerprint: ssh-keyscan -p 2222 rack1-a >> /home/u/lab/known_hosts.',
      },
    ]);
    expect(report.nodes[2]?.checks[0]?.detail).to.match(/EHOSTUNREACH/);
    expect(opened.every((t) => t.closed), 'transports are closed').to.equal(true);
    expect(report.summary).to.deep.equal({ nodes: 3, checks: 18, ok: 15, failed: 2, missing: 1 });

    const table = renderDoctorTable(report);
    expect(table[0]).to.equal('lab test (ib) from /labs/rack.json');
    expect(table[1]).to.match(/^NODE\s+CHECK\s+RESULT\s+FIX$/);
    expect(table.find((l) => l.startsWith('silent'))).to.match(/^silent\s+reachable\s+FAIL: silent: no answer within 300 ms.*ssh-keyscan -p 2222 rack1-a/);
    expect(table.find((l) => l.startsWith('good ') && l.includes('ibdump'))).to.match(/missing \(not needed\): not installed\s+install ibdump/);
    expect(table.at(-1)).to.equal('3 nodes, 18 checks: 15 ok, 2 failed, 1 missing but not needed; not ready: silent, refused');
  });
});
