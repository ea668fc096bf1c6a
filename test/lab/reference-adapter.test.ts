/**
 * The reference DUT adapter (ipoibctl --json through a node transport) against a running lab:
 * `ipoib-lab fabric up --nodes 2 --ipoib` (one ipoibd per node in its own network namespace),
 * one LocalTransport per namespace. Every method is checked against the same state read
 * another way: the TUN device through `ip -j link` in the namespace, the fabric manager's
 * status, ipoibctl's human output, ping and a file sent across. Root only; one lab for the
 * whole file. The answer checks (bad JSON, refusals on stderr only) run anywhere.
 */
import { expect } from 'chai';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { main as ipoibLab } from '../../src/cli/ipoib-lab.js';
import { parseCommand } from '../../src/cli/ipoibctl.js';
import { CommandFailedError, IpoibControlError, ParseError, Unsupported, UsageError } from '../../src/errors.js';
import { fabricPaths } from '../../src/fabric/sim/run-dir.js';
import { daemonPaths } from '../../src/ipoib/daemon/daemon-paths.js';
import { labNamespace } from '../../src/ipoib/daemon/lab-nodes.js';
import { NO_UNDO, type Undo } from '../../src/lab/adapters/dut.js';
import { IPOIB_ETHTOOL_COUNTERS } from '../../src/lab/adapters/ethtool-parsers.js';
import { parseIpLinkJson } from '../../src/lab/adapters/ip-json-parsers.js';
import { ReferenceIpoibAdapter } from '../../src/lab/adapters/reference-ipoib.js';
import { DeferStack } from '../../src/lab/defer-stack.js';
import { LocalTransport } from '../../src/lab/transports/local.js';
import { formatHwAddr, parseHwAddr } from '../../src/wire/ipoib-hwaddr.js';
import { parseIpv6 } from '../../src/wire/ip-text.js';
import { skipWithReason } from '../helpers/skip.js';
import { PARTITIONS } from '../ipoib-daemon/daemon-fixture.js';

const FABRIC = `h1${process.pid.toString(36)}`;
const NODES = ['node1', 'node2'] as const;
type NodeName = (typeof NODES)[number];
const IPOIBCTL_BIN = path.resolve('bin/ipoibctl.js');
/** The broadcast group of the default partition (P_Key 0xffff, link-local scope). */
const BROADCAST_MGID = 'ff12401bffff000000000000ffffffff';

function captureIo(): { out: (l: string) => void; err: (l: string) => void; stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (l) => stdout.push(l), err: (l) => stderr.push(l) };
}

function whyNot(): string | undefined {
  if (process.platform !== 'linux') return 'network namespaces are Linux only';
  if (process.getuid?.() !== 0) return 'needs root for network namespaces and TUN devices';
  if (!existsSync('/dev/net/tun')) return '/dev/net/tun is missing';
  for (const tool of ['ping', 'socat']) if (spawnSync(tool, ['-V'], { stdio: 'ignore' }).error) return `${tool} is missing`;
  return undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, test: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await test())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** What rejects, for chai: resolves to the error (fails when the promise resolves). */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected a rejection');
}

async function expectErrno(p: Promise<unknown>, code: string, op?: string): Promise<void> {
  const e = await rejection(p);
  expect(e, String(e)).to.be.instanceOf(IpoibControlError);
  expect((e as IpoibControlError).code, String(e)).to.equal(code);
  if (op !== undefined) expect((e as IpoibControlError).op).to.equal(op);
}

describe('the reference DUT adapter over ipoibctl --json @ipoib-stack @lab @tun @cli', function () {
  this.timeout(60_000);
  const why = whyNot();
  let base: string;
  let savedRunDir: string | undefined;
  let labUp = false;
  const transports = new Map<NodeName, LocalTransport>();
  const duts = new Map<NodeName, ReferenceIpoibAdapter>();
  let cleanup = new DeferStack('reference-adapter test');

  const dut = (n: NodeName): ReferenceIpoibAdapter => duts.get(n)!;
  const node = (n: NodeName): LocalTransport => transports.get(n)!;
  const defer = (undo: Undo, what: string): void => cleanup.defer(undo, what);

  /** The TUN device as the node's kernel shows it. */
  async function kernelLink(n: NodeName, ifname: string): Promise<ReturnType<typeof parseIpLinkJson>[number] | null> {
    const r = await node(n).run(['ip', '-d', '-j', 'link', 'show', 'dev', ifname], { timeoutMs: 10_000 });
    if (r.code !== 0) return null;
    return parseIpLinkJson(r.stdout)[0] ?? null;
  }

  async function fabricPort(n: NodeName): Promise<{ lid: number; gid: Buffer }> {
    const io = captureIo();
    expect(await ipoibLab(['fabric', 'status', '--name', FABRIC, '--json'], io), io.stderr.join('\n')).to.equal(0);
    const s = JSON.parse(io.stdout.join('\n')) as { ports: Array<{ node: string; lid: number; gid: string }> };
    const p = s.ports.find((x) => x.node === n);
    expect(p, `${n} in the fabric status`).to.not.equal(undefined);
    return { lid: p!.lid, gid: parseIpv6(p!.gid) };
  }

  before(async function () {
    if (why) return;
    this.timeout(60_000);
    base = mkdtempSync(path.join(tmpdir(), 'ipoib-ref-adapter-'));
    savedRunDir = process.env.IPOIB_LAB_RUN_DIR;
    process.env.IPOIB_LAB_RUN_DIR = base;
    const partitions = path.join(base, 'partitions.conf');
    writeFileSync(partitions, PARTITIONS);
    labUp = true; // from here on, after() takes down whatever came up
    const io = captureIo();
    const code = await ipoibLab(['fabric', 'up', '--name', FABRIC, '--nodes', '2', '--ipoib', '--partitions', partitions], io);
    expect(code, io.stderr.join('\n')).to.equal(0);
    for (const n of NODES) {
      const t = new LocalTransport({ name: n, netns: labNamespace(FABRIC, n), sudo: false });
      transports.set(n, t);
      const { socket, logFile } = daemonPaths(fabricPaths(FABRIC), n);
      duts.set(n, new ReferenceIpoibAdapter(t, { ifname: 'ib0', ipoibctl: [process.execPath, IPOIBCTL_BIN, '--socket', socket], logFile }));
    }
    for (const n of NODES) await until(`${n} ib0 carrier`, () => dut(n).carrier());
  });

  afterEach(async function () {
    const stack = cleanup;
    cleanup = new DeferStack('reference-adapter test');
    await stack.run();
  });

  after(async function () {
    this.timeout(60_000);
    for (const t of transports.values()) await t.close();
    if (labUp) await ipoibLab(['fabric', 'down', '--name', FABRIC], captureIo());
    if (base === undefined) return;
    if (savedRunDir === undefined) delete process.env.IPOIB_LAB_RUN_DIR;
    else process.env.IPOIB_LAB_RUN_DIR = savedRunDir;
    rmSync(base, { recursive: true, force: true });
  });

  it('lists ib0 as the only interface and reads its link as the namespace netdev shows it: up, carrier after the join, mtu 2044 @mtu', async function () {
    if (why) return skipWithReason(this, why);
    const all = await dut('node1').interfaces();
    expect(all.map((i) => i.ifname)).to.deep.equal(['ib0']);
    const l = await dut('node1').link();
    expect(l).to.deep.include({ ifname: 'ib0', parent: null, mtu: 2044, up: true, carrier: true, operstate: 'UP', pkey: 0xffff, mode: 'datagram', umcast: false });
    expect(await dut('node1').carrier()).to.equal(true);
    expect(await dut('node1').mtu()).to.equal(2044);
    const k = await kernelLink('node1', 'ib0');
    expect(k, 'the TUN device ib0 in the namespace').to.not.equal(null);
    expect(k!.mtu).to.equal(l.mtu);
    expect(k!.flags).to.include.members(['UP', 'LOWER_UP']);
  });

  it('reports an address of flags 0x80 (connected mode offered) whose QPN and GID match ipoibctl show and the fabric status, and the broadcast address of P_Key 0xffff @hwaddr @fabric @pkey', async function () {
    if (why) return skipWithReason(this, why);
    const hw = await dut('node1').hwaddr();
    expect(hw.flags).to.equal(0x80);
    const port = await fabricPort('node1');
    expect(hw.gid.equals(port.gid), `GID ${hw.gid.toString('hex')} vs the fabric's ${port.gid.toString('hex')}`).to.equal(true);
    const socket = daemonPaths(fabricPaths(FABRIC), 'node1').socket;
    const human = await node('node1').check([process.execPath, IPOIBCTL_BIN, '--socket', socket, 'show', 'ib0']);
    const m = /link\/infiniband (\S+) brd (\S+)/.exec(human.stdout);
    expect(m, human.stdout).to.not.equal(null);
    const shown = parseHwAddr(m![1]!);
    expect(shown.qpn).to.equal(hw.qpn).and.to.be.greaterThan(0);
    expect(formatHwAddr(hw)).to.equal(m![1]);
    const brd = await dut('node1').broadcast();
    expect(formatHwAddr(brd)).to.equal(m![2]).and.to.equal('00:ff:ff:ff:ff:12:40:1b:ff:ff:00:00:00:00:00:00:ff:ff:ff:ff');
    expect(await rejection(dut('node1').setHwaddr(hw))).to.be.instanceOf(Unsupported).with.property('capability', 'set-hwaddr');
    expect(await rejection(dut('node1').setBroadcast(brd))).to.be.instanceOf(Unsupported).with.property('capability', 'set-broadcast');
  });

  it('creates and deletes P_Key children through create_child and delete_child, with EEXIST, ENOTUNIQ, EINVAL and ENODEV refusals @pkey', async function () {
    if (why) return skipWithReason(this, why);
    const d = dut('node1');
    const child = await d.createChildSysfs(0x8001);
    defer(child.undo, 'delete ib0.8001');
    expect(child.ifname).to.equal('ib0.8001');
    expect(await d.link('ib0.8001')).to.deep.include({ parent: 'ib0', pkey: 0x8001, up: false, carrier: false, operstate: 'DOWN' });
    // The value as written is compared with the stored (0x8000-ORed) P_Keys: 0x8001 again is not unique.
    await expectErrno(d.createChildSysfs(0x8001), 'ENOTUNIQ', 'ib0.create_child');
    await expectErrno(d.createChildSysfs(0), 'EINVAL', 'ib0.create_child');
    await expectErrno(d.deleteChildSysfs(0x1234), 'ENODEV', 'ib0.delete_child');

    // delete_child takes the stored P_Key; its undo makes the child again under the same name.
    const recreate = await d.deleteChildSysfs(0x8001);
    expect((await d.interfaces()).map((i) => i.ifname)).to.deep.equal(['ib0']);
    await recreate();

    // 1 is unique as written, names ib0.0001 and joins partition 0x8001; a second 1 finds the name taken.
    const one = await d.createChildSysfs(1);
    defer(one.undo, 'delete a child of P_Key 0x8001');
    expect(one.ifname).to.equal('ib0.0001');
    await expectErrno(d.createChildSysfs(1), 'EEXIST', 'ib0.create_child');
    const all = await d.interfaces();
    expect(all.map((i) => [i.ifname, i.pkey])).to.have.deep.members([['ib0', 0xffff], ['ib0.8001', 0x8001], ['ib0.0001', 0x8001]]);
    await cleanup.run();
    cleanup = new DeferStack('reference-adapter test');
    expect((await d.interfaces()).map((i) => i.ifname)).to.deep.equal(['ib0']);
  });

  it('creates and deletes children through link add and link del, with EEXIST and EINVAL refusals, and one in connected mode @pkey', async function () {
    if (why) return skipWithReason(this, why);
    const d = dut('node1');
    const c = await d.createChildNetlink({ name: 'h1c', pkey: 0x8001, umcast: true });
    defer(c.undo, 'link del h1c');
    expect(c.ifname).to.equal('h1c');
    await expectErrno(d.createChildNetlink({ name: 'h1c' }), 'EEXIST', 'ib0.newlink');
    await expectErrno(d.createChildNetlink({ pkey: 0 }), 'EINVAL');
    await expectErrno(d.createChildNetlink({ name: 'h1d' }, 'h1c'), 'EINVAL', 'h1c.newlink');
    const cm = await d.createChildNetlink({ name: 'h1e', mode: 'connected' });
    expect(await d.mode('h1e'), 'a netlink child made in connected mode').to.equal('connected');
    await cm.undo();
    // Unnamed: the first free ipoib%d, the parent's P_Key.
    const unnamed = await d.createChildNetlink({});
    defer(unnamed.undo, `link del ${unnamed.ifname}`);
    expect(unnamed.ifname).to.equal('ipoib0');
    const all = await d.interfaces();
    expect(all.map((i) => [i.ifname, i.parent, i.pkey, i.umcast])).to.have.deep.members([
      ['ib0', null, 0xffff, false],
      ['h1c', 'ib0', 0x8001, true],
      ['ipoib0', 'ib0', 0xffff, false],
    ]);

    const back = await d.deleteChildNetlink('h1c');
    await back();
    expect(await d.link('h1c')).to.deep.include({ parent: 'ib0', pkey: 0x8001, umcast: true });
    // dellink on a parent succeeds and changes nothing, so there is nothing to undo.
    expect(await d.deleteChildNetlink('ib0')).to.equal(NO_UNDO);
  });

  it('brings a child up with its own TUN device, gives it an address and pings across it @pkey @icmp', async function () {
    if (why) return skipWithReason(this, why);
    // node2's child is made with plain ipoibctl (up with an address), node1's through the adapter.
    const ctl2 = async (...args: string[]): Promise<void> => void (await node('node2').check([process.execPath, IPOIBCTL_BIN, '--socket', daemonPaths(fabricPaths(FABRIC), 'node2').socket, ...args]));
    const peerReady = (async () => {
      await ctl2('create_child', 'ib0', '0x8001');
      defer(() => ctl2('delete_child', 'ib0', '0x8001'), 'node2: delete ib0.8001');
      await ctl2('up', 'ib0.8001', '192.0.3.2/24');
    })();
    const d = dut('node1');
    const c = await d.createChildSysfs(0x8001);
    defer(c.undo, 'node1: delete ib0.8001');
    expect(await kernelLink('node1', 'ib0.8001'), 'no TUN device while down').to.equal(null);
    defer(await d.setUp(true, 'ib0.8001'), 'node1: ib0.8001 down');
    defer(await d.addAddress('192.0.3.1/24', 'ib0.8001'), 'node1: address off ib0.8001');
    const addrs = await d.addresses('ib0.8001');
    expect(addrs.map((a) => `${a.address}/${a.prefixLength}`)).to.include('192.0.3.1/24');
    await peerReady;
    await until('node1 ib0.8001 carrier', () => d.carrier('ib0.8001'));
    expect((await kernelLink('node1', 'ib0.8001'))?.flags, "the child's TUN device").to.include.members(['UP', 'LOWER_UP']);
    const p = await d.ping('192.0.3.2', { ifname: 'ib0.8001', count: 2, waitSeconds: 3 });
    expect(p.received, JSON.stringify(p)).to.equal(2);
    await cleanup.run();
    cleanup = new DeferStack('reference-adapter test');
    expect(await kernelLink('node1', 'ib0.8001'), 'the TUN device goes with the child').to.equal(null);
  });

  it('sets the mtu and its undo puts it back, on the stack and on the TUN device @mtu', async function () {
    if (why) return skipWithReason(this, why);
    const d = dut('node1');
    const undo = await d.setMtu(1500);
    defer(undo, 'mtu back');
    expect(await d.mtu()).to.equal(1500);
    await until('TUN device mtu 1500', async () => (await kernelLink('node1', 'ib0'))?.mtu === 1500, 3000);
    await expectErrno(d.setMtu(60), 'EINVAL', 'ib0.mtu');
    await undo();
    await until('TUN device mtu 2044', async () => (await kernelLink('node1', 'ib0'))?.mtu === 2044, 3000);
    expect(await d.mtu()).to.equal(2044);
  });

  it('sets umcast and its undo clears it; connected mode switches with an undo back to datagram, which needs no change', async function () {
    if (why) return skipWithReason(this, why);
    const d = dut('node1');
    const undo = await d.setUmcast(true);
    defer(undo, 'umcast back');
    expect(await d.umcast()).to.equal(true);
    await undo();
    expect(await d.umcast()).to.equal(false);
    const back = await d.setMode('connected');
    defer(back, 'datagram mode back');
    expect([await d.mode(), await d.mtu()]).to.deep.equal(['connected', 65_520]);
    await back();
    expect([await d.mode(), await d.mtu()]).to.deep.equal(['datagram', 2044]);
    expect(await d.setMode('datagram'), 'already datagram').to.equal(NO_UNDO);
  });

  it('sets the debug level with an undo, refuses the kernel-only levels, and shows in the log what a raised level lets through @multicast', async function () {
    if (why) return skipWithReason(this, why);
    const d = dut('node1');
    expect(await d.debugLevel('debug_level')).to.equal(0);
    const mcast = await rejection(d.debugLevel('mcast_debug_level'));
    expect(mcast, String(mcast)).to.be.instanceOf(Unsupported).with.property('capability', 'debug-level mcast_debug_level');
    // umcast on logs a line at the interface's own level: hidden at 0, shown above it.
    const quiet = await d.logMark();
    defer(await d.setUmcast(true), 'umcast back');
    await d.setUmcast(false);
    const atZero = await d.logSince(quiet);
    const undo = await d.setDebugLevel('debug_level', 3);
    defer(undo, 'debug level back');
    expect(await d.debugLevel('debug_level')).to.equal(3);
    const loud = await d.logMark();
    await d.setUmcast(true);
    await d.setUmcast(false);
    const raised = await d.logSince(loud);
    await undo();
    expect(await d.debugLevel('debug_level'), 'after the undo').to.equal(0);
    const umcastLine = (l: string): boolean => l.includes('ib0: ignoring multicast groups joined directly by userspace');
    expect(atZero.filter(umcastLine), `lines at level 0: ${atZero.join(' | ')}`).to.deep.equal([]);
    expect(raised.filter(umcastLine), `lines at level 3: ${raised.join(' | ')}`).to.have.length(1);
    expect(await d.setDebugLevel('debug_level', 0), 'already 0').to.equal(NO_UNDO);
  });

  it('pings across, sends a 1 MiB file intact, and then has the peer as neighbour and path in the dumps @icmp @multicast @mgid', async function () {
    if (why) return skipWithReason(this, why);
    const [a, b] = [dut('node1'), dut('node2')];
    const p = await a.ping('192.0.2.2', { count: 3, waitSeconds: 2 });
    expect(p.received, JSON.stringify(p)).to.equal(3);
    const file = await a.makeFile(1 << 20);
    defer(file.undo, 'remove the file');
    const rx = await b.receiveFile(5501);
    defer(rx.undo, 'stop the receiver');
    await until('receiver listening', async () => (await node('node2').run(['ss', '-Hltn', 'sport = :5501'])).stdout.includes('5501'), 5000);
    await a.sendFile(file.path, '192.0.2.2', 5501);
    const got = await rx.received;
    expect(got.bytes).to.equal(1 << 20);
    expect(got.sha256).to.equal(file.sha256);

    const peer = await b.hwaddr();
    const n = (await a.neighbours()).find((x) => x.ip === '192.0.2.2');
    expect(n, 'node2 in the neighbours').to.not.equal(undefined);
    expect(n!.state).to.deep.equal(['REACHABLE']);
    expect(formatHwAddr(n!.hwaddr!)).to.equal(formatHwAddr(peer));
    const port2 = await fabricPort('node2');
    const path2 = (await a.pathDump()).find((r) => r.dgid.equals(peer.gid));
    expect(path2, 'a path to node2').to.deep.include({ complete: true, dlid: port2.lid });
    const bcast = (await a.mcgDump()).find((r) => r.mgid.toString('hex') === BROADCAST_MGID);
    expect(bcast, 'the broadcast group').to.deep.include({ complete: true, sendOnly: false });
  });

  it('counts under the kernel ethtool names first, in its order', async function () {
    if (why) return skipWithReason(this, why);
    const c = await dut('node1').counters();
    expect(Object.keys(c).slice(0, IPOIB_ETHTOOL_COUNTERS.length)).to.deep.equal([...IPOIB_ETHTOOL_COUNTERS]);
    for (const [k, v] of Object.entries(c)) expect(Number.isSafeInteger(v) && v >= 0, `${k}=${v}`).to.equal(true);
    expect(c.tx_packets, 'ARP and joins at least').to.be.greaterThan(0);
  });

  it('flushes neighbours and paths, and the next ping resolves again @arp', async function () {
    if (why) return skipWithReason(this, why);
    const a = dut('node1');
    expect((await a.ping('192.0.2.2', { count: 1, waitSeconds: 2 })).received).to.equal(1);
    expect(await a.pathDump()).to.not.deep.equal([]);
    const undo = await a.flushNeighbours();
    await undo();
    expect(await a.neighbours()).to.deep.equal([]);
    expect(await a.pathDump()).to.deep.equal([]);
    const before = (await a.counters()).arp_requests_sent ?? 0;
    const p = await a.ping('192.0.2.2', { count: 2, waitSeconds: 2 });
    expect(p.received, JSON.stringify(p)).to.equal(2);
    expect((await a.counters()).arp_requests_sent, 'resolved again with ARP, not through a stale fast-path entry').to.be.greaterThan(before);
  });

  it('prints a refusal as JSON on stdout with --json, and the adapter raises its errno', async function () {
    if (why) return skipWithReason(this, why);
    const socket = daemonPaths(fabricPaths(FABRIC), 'node1').socket;
    const r = await node('node1').run([process.execPath, IPOIBCTL_BIN, '--socket', socket, '--json', 'create_child', 'ib0', '0']);
    expect(r.code).to.equal(1);
    expect(JSON.parse(r.stdout)).to.deep.include({ error: { command: 'create_child', code: 'EINVAL', op: 'ib0/create_child', message: 'P_Key 0 is outside 0x0001..0xffff or is 0x8000' } });
    expect(r.stderr).to.match(/^ipoibctl: create_child: EINVAL: /);
    await expectErrno(dut('node1').link('ib9'), 'ENODEV', 'ib9.link');
  });

  it('gives the same answers and refusals over the control socket through socat as through ipoibctl', async function () {
    if (why) return skipWithReason(this, why);
    const socket = daemonPaths(fabricPaths(FABRIC), 'node1').socket;
    const direct = new ReferenceIpoibAdapter(node('node1'), { ifname: 'ib0', socket });
    expect(await direct.link()).to.deep.equal(await dut('node1').link());
    expect(await direct.counters()).to.have.keys(Object.keys(await dut('node1').counters()));
    await expectErrno(direct.link('ib9'), 'ENODEV', 'ib9.link');
    await expectErrno(direct.createChildSysfs(0), 'EINVAL', 'ib0.create_child');
    const made = await direct.createChildSysfs(0x8001);
    cleanup.defer(made.undo);
    expect(made.ifname).to.equal('ib0.8001');
    expect((await dut('node1').interfaces()).map((i) => i.ifname)).to.include('ib0.8001');
    expect(() => new ReferenceIpoibAdapter(node('node1'), { ifname: 'ib0', socket, ipoibctl: ['x'] })).to.throw(/exactly one of ipoibctl/);
  });
});

describe('the reference DUT adapter reading answers @ipoib-stack @lab @cli', function () {
  this.timeout(20_000);
  const local = new LocalTransport({ name: 'here' });
  /** An adapter whose "ipoibctl" is a node one-liner: the answers are whatever the script prints. */
  const scripted = (script: string): ReferenceIpoibAdapter => new ReferenceIpoibAdapter(local, { ifname: 'ib0', ipoibctl: [process.execPath, '-e', script, '--'] });

  after(async function () {
    await local.close();
  });

  it('raises ParseError naming the command for an answer that is not JSON or does not fit', async function () {
    const notJson = await rejection(scripted('console.log("hello")').mtu());
    expect(notJson).to.be.instanceOf(ParseError).with.property('command', 'ipoibctl --json mtu ib0');
    const wrong = await rejection(scripted('console.log(JSON.stringify({ kind: "mtu", ifname: "ib0", mtu: "big" }))').mtu());
    expect(wrong).to.be.instanceOf(ParseError).with.property('command', 'ipoibctl --json mtu ib0');
    expect((wrong as ParseError).where).to.equal('$.mtu');
  });

  it('reads a refusal from the stderr line when stdout has no JSON, and leaves unknown errnos as command failures', async function () {
    const refused = scripted('process.stderr.write("ipoibctl: create_child: ENOTUNIQ: P_Key 0x8001 is already used\\n"); process.exitCode = 1');
    await expectErrno(refused.createChildSysfs(0x8001), 'ENOTUNIQ', 'ib0.create_child');
    const other = scripted('process.stderr.write("ipoibctl: show: EPROTO: bad request\\n"); process.exitCode = 1');
    expect(await rejection(other.link())).to.be.instanceOf(CommandFailedError);
    // No daemon: ipoibctl says EIO (not the socket's ENOENT, which would read as a missing sysfs file).
    const absent = new ReferenceIpoibAdapter(local, { ifname: 'ib0', ipoibctl: [process.execPath, IPOIBCTL_BIN, '--socket', path.join(tmpdir(), `h1-absent-${process.pid}.sock`)] });
    const e = await rejection(absent.link());
    expect(e).to.be.instanceOf(CommandFailedError);
    expect(JSON.parse((e as CommandFailedError).stdout)).to.have.nested.property('error.code', 'EIO');
  });
});

describe('ipoibctl command lines the reference adapter adds @ipoib-stack @cli', function () {
  it('parses neigh IF flush and addr add|del CIDR dev IF into their requests, and refuses other forms', function () {
    expect(parseCommand(['neigh', 'ib0'])).to.deep.equal({ cmd: 'neigh', ifname: 'ib0' });
    expect(parseCommand(['neigh', 'ib0', 'flush'])).to.deep.equal({ cmd: 'neigh_flush', ifname: 'ib0' });
    expect(parseCommand(['addr', 'add', '192.0.2.9/24', 'dev', 'ib0'])).to.deep.equal({ cmd: 'addr_add', ifname: 'ib0', address: '192.0.2.9/24' });
    expect(parseCommand(['addr', 'del', 'fd00::9/64', 'dev', 'ib0.8001'])).to.deep.equal({ cmd: 'addr_del', ifname: 'ib0.8001', address: 'fd00::9/64' });
    for (const argv of [['neigh', 'ib0', 'show'], ['addr', 'add', '192.0.2.9/24', 'ib0'], ['addr', 'flush', 'dev', 'ib0'], ['addr', 'add', '192.0.2.9/24', 'dev', 'ib0', 'x']]) {
      expect(() => parseCommand(argv), argv.join(' ')).to.throw(UsageError);
    }
  });
});
