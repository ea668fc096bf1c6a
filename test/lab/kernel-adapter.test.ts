/**
 * The kernel ib_ipoib adapter against a scripted Transport: the exact argv (and stdin) of every
 * command it runs, undos that put the previous value back, and the mapping of the kernel's
 * errors (stderr text, exit codes) to IpoibControlError errno names and Unsupported.
 */
import { expect } from 'chai';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { CommandFailedError, IpoibControlError, Unsupported } from '../../src/errors.js';
import { KernelIpoibAdapter } from '../../src/lab/adapters/kernel-ipoib.js';
import type { BackgroundProcess, RunOptions, RunResult, Transport } from '../../src/lab/transport.js';
import { throwIfFailed } from '../../src/lab/transport.js';
import { parseHwAddr } from '../../src/wire/ipoib-hwaddr.js';

const FIX = path.resolve('test/lab/fixtures/kernel');
const fixture = (name: string): string => readFileSync(path.join(FIX, name), 'utf8');

/** One expected command and what the node answers. */
interface Step {
  argv: string[];
  stdin?: string;
  code?: number;
  stdout?: string;
  stderr?: string;
}

/** A Transport that checks each command against a script, in order, and answers from it. */
class ScriptedTransport implements Transport {
  readonly name = 'dut1';
  readonly calls: { argv: string[]; stdin: string | undefined }[] = [];
  spawned: { argv: string[]; stopped: boolean; finish: (r: Partial<RunResult>) => void } | null = null;
  constructor(private readonly steps: Step[]) {}

  async run(argv: readonly string[], o: RunOptions = {}): Promise<RunResult> {
    const stdin = o.stdin === undefined ? undefined : o.stdin.toString();
    this.calls.push({ argv: [...argv], stdin });
    const step = this.steps.shift();
    if (step === undefined) throw new Error(`unscripted command: ${argv.join(' ')}`);
    expect([...argv], `command #${this.calls.length}`).to.deep.equal(step.argv);
    expect(stdin, `stdin of ${argv.join(' ')}`).to.equal(step.stdin);
    return { host: this.name, argv, code: step.code ?? 0, signal: null, stdout: step.stdout ?? '', stderr: step.stderr ?? '', durationMs: 1 };
  }

  async check(argv: readonly string[], o?: RunOptions): Promise<RunResult> {
    return throwIfFailed(await this.run(argv, o));
  }

  async put(): Promise<void> {}
  async get(): Promise<void> {}

  async spawn(argv: readonly string[]): Promise<BackgroundProcess> {
    let finish: (r: Partial<RunResult>) => void = () => {};
    const exited = new Promise<RunResult>((resolve) => {
      finish = (r) => resolve({ host: this.name, argv, code: 0, signal: null, stdout: '', stderr: '', durationMs: 1, ...r });
    });
    const rec = { argv: [...argv], stopped: false, finish };
    this.spawned = rec;
    return {
      host: this.name,
      argv,
      pid: 4242,
      exited,
      stop: async () => {
        rec.stopped = true;
        finish({ code: -1, signal: 'SIGTERM' });
        return exited;
      },
    };
  }

  async close(): Promise<void> {}

  /** Everything scripted was asked for. */
  done(): void {
    expect(this.steps.map((s) => s.argv.join(' ')), 'scripted commands never run').to.deep.equal([]);
  }
}

const noSleep = async (): Promise<void> => {};
function adapter(steps: Step[]): { t: ScriptedTransport; dut: KernelIpoibAdapter } {
  const t = new ScriptedTransport(steps);
  return { t, dut: new KernelIpoibAdapter(t, 'ib0', { sleep: noSleep, pollTries: 3 }) };
}

async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  return expect.fail('expected a rejection');
}

const cat = (p: string, stdout: string): Step => ({ argv: ['cat', p], stdout });
const missing = (p: string): Step => ({ argv: ['cat', p], code: 1, stderr: `cat: ${p}: No such file or directory\n` });
const tee = (p: string, stdin: string, fail?: string): Step =>
  fail === undefined ? { argv: ['tee', p], stdin, stdout: stdin } : { argv: ['tee', p], stdin, code: 1, stderr: `tee: ${p}: ${fail}\n` };

const LINKS = JSON.parse(fixture('ip-link-all.json')) as { ifname: string }[];
/** `ip -d -j link show` output holding the named entries of the fixture (plus extra entries). */
function linksJson(names: string[], extra: object[] = []): string {
  return JSON.stringify([...LINKS.filter((l) => names.includes(l.ifname)), ...extra]);
}
function renamed(from: string, to: string, patch: object = {}): object {
  const l = LINKS.find((x) => x.ifname === from);
  return { ...l, ifname: to, ...patch };
}
const ALL = ['ip', '-d', '-j', 'link', 'show'];
const dev = (n: string): string[] => [...ALL, 'dev', n];
const gone = (n: string): Step => ({ argv: ['ip', '-j', 'link', 'show', 'dev', n], code: 1, stderr: `Device "${n}" does not exist.\n` });
const IB0_ADDR_NO_RC = '00:00:00:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:1b:2c\n';
const IB0_ADDR_RC = '80:00:00:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:1b:2c\n';

describe('kernel adapter: mode over sysfs and netlink @lab', function () {
  it('switches to connected with "connected\\n" through tee, and the undo restores mode and MTU @lab @mtu', async function () {
    const { t, dut } = adapter([
      cat('/sys/class/net/ib0/mode', 'datagram\n'),
      cat('/sys/class/net/ib0/mtu', '1500\n'),
      tee('/sys/class/net/ib0/mode', 'connected\n'),
    ]);
    const undo = await dut.setMode('connected');
    expect(t.calls.map((c) => c.argv[0])).to.deep.equal(['cat', 'cat', 'tee']);
    t['steps'].push(
      cat('/sys/class/net/ib0/mode', 'connected\n'),
      cat('/sys/class/net/ib0/mtu', '65520\n'),
      tee('/sys/class/net/ib0/mode', 'datagram\n'),
      cat('/sys/class/net/ib0/mtu', '2044\n'),
      cat('/sys/class/net/ib0/mtu', '2044\n'),
      { argv: ['ip', 'link', 'set', 'dev', 'ib0', 'mtu', '1500'] },
    );
    await undo();
    t.done();
  });

  it('does nothing when the mode is already the one asked for @lab', async function () {
    const { t, dut } = adapter([cat('/sys/class/net/ib0/mode', 'connected\n'), cat('/sys/class/net/ib0/mtu', '65520\n')]);
    const undo = await dut.setMode('connected');
    await undo();
    expect(t.calls).to.have.length(2);
    t.done();
  });

  it('raises Unsupported(connected-mode) when EINVAL comes from an address without the 0x80 flag @lab', async function () {
    const { t, dut } = adapter([
      cat('/sys/class/net/ib0/mode', 'datagram\n'),
      cat('/sys/class/net/ib0/mtu', '2044\n'),
      tee('/sys/class/net/ib0/mode', 'connected\n', 'Invalid argument'),
      cat('/sys/class/net/ib0/address', IB0_ADDR_NO_RC),
    ]);
    const e = await rejection(dut.setMode('connected'));
    expect(e).to.be.instanceOf(Unsupported);
    expect((e as Unsupported).capability).to.equal('connected-mode');
    t.done();
  });

  it('keeps EINVAL as an IpoibControlError when the address does have the 0x80 flag @lab', async function () {
    const { t, dut } = adapter([
      cat('/sys/class/net/ib0/mode', 'datagram\n'),
      cat('/sys/class/net/ib0/mtu', '2044\n'),
      tee('/sys/class/net/ib0/mode', 'connected\n', 'Invalid argument'),
      cat('/sys/class/net/ib0/address', IB0_ADDR_RC),
    ]);
    const e = await rejection(dut.setMode('connected'));
    expect(e).to.be.instanceOf(IpoibControlError);
    expect((e as IpoibControlError).code).to.equal('EINVAL');
    expect((e as IpoibControlError).op).to.equal('ib0.mode');
    t.done();
  });

  it('reads the mode of a netlink child, which has no sysfs mode file, from iproute2 -d @lab', async function () {
    const { t, dut } = adapter([missing('/sys/class/net/ib0.8001/mode'), { argv: dev('ib0.8001'), stdout: linksJson(['ib0.8001']) }]);
    expect(await dut.mode('ib0.8001')).to.equal('connected');
    t.done();
  });

  it('sets the mode of a netlink child through iproute2 link set … type ipoib mode @lab', async function () {
    const child = linksJson(['lab9']);
    const { t, dut } = adapter([
      missing('/sys/class/net/lab9/mode'),
      { argv: dev('lab9'), stdout: child },
      cat('/sys/class/net/lab9/mtu', '2044\n'),
      { argv: dev('lab9'), stdout: child },
      { argv: ['ip', 'link', 'set', 'dev', 'lab9', 'type', 'ipoib', 'mode', 'connected'] },
    ]);
    await dut.setMode('connected', { ifname: 'lab9' });
    t.done();
  });

  it('refuses netlink mode changes on a parent before Linux 5.10 with Unsupported, and reads uname -r once @lab', async function () {
    const parent = fixture('ip-link-parent-pre510.json');
    const { t, dut } = adapter([
      cat('/sys/class/net/ib0/mode', 'datagram\n'),
      cat('/sys/class/net/ib0/mtu', '4092\n'),
      { argv: dev('ib0'), stdout: parent },
      { argv: ['uname', '-r'], stdout: '5.4.0-150-generic\n' },
      cat('/sys/class/net/ib0/umcast', '0\n'),
      { argv: dev('ib0'), stdout: parent },
    ]);
    const e = await rejection(dut.setMode('connected', { via: 'netlink' }));
    expect(e).to.be.instanceOf(Unsupported);
    expect((e as Unsupported).capability).to.equal('netlink-parent');
    const e2 = await rejection(dut.setUmcast(true, { via: 'netlink' }));
    expect((e2 as Unsupported).capability).to.equal('netlink-parent');
    expect(t.calls.filter((c) => c.argv[0] === 'uname')).to.have.length(1);
    t.done();
  });

  it('uses netlink on a parent from Linux 5.10 on @lab', async function () {
    const { t, dut } = adapter([
      cat('/sys/class/net/ib0/mode', 'datagram\n'),
      cat('/sys/class/net/ib0/mtu', '2044\n'),
      { argv: dev('ib0'), stdout: linksJson(['ib0']) },
      { argv: ['uname', '-r'], stdout: '6.1.0-13-amd64\n' },
      { argv: ['ip', 'link', 'set', 'dev', 'ib0', 'type', 'ipoib', 'mode', 'connected'] },
    ]);
    await dut.setMode('connected', { via: 'netlink' });
    t.done();
  });
});

describe('kernel adapter: child interfaces through create_child and netlink @lab @pkey', function () {
  it('creates ib0.8001 by writing 0x8001 to create_child, and the undo writes delete_child and waits for it to go @lab @pkey', async function () {
    const { t, dut } = adapter([
      { argv: ALL, stdout: linksJson(['lo', 'ib0']) },
      tee('/sys/class/net/ib0/create_child', '0x8001\n'),
      { argv: ALL, stdout: linksJson(['lo', 'ib0', 'ib0.8001']) },
    ]);
    const child = await dut.createChildSysfs(0x8001);
    expect(child.ifname).to.equal('ib0.8001');
    t['steps'].push(
      { argv: ALL, stdout: linksJson(['lo', 'ib0', 'ib0.8001']) },
      tee('/sys/class/net/ib0/delete_child', '0x8001\n'),
      { argv: ['ip', '-j', 'link', 'show', 'dev', 'ib0.8001'], stdout: '[]' },
      gone('ib0.8001'),
    );
    await child.undo();
    t.done();
  });

  it('names a child made with pkey 1 ib0.0001 on current kernels and deletes it with the 0x8000 bit set @lab @pkey', async function () {
    const made = renamed('ib0.8001', 'ib0.0001');
    const { t, dut } = adapter([
      { argv: ALL, stdout: linksJson(['ib0']) },
      tee('/sys/class/net/ib0/create_child', '0x0001\n'),
      { argv: ALL, stdout: linksJson(['ib0'], [made]) },
      { argv: ALL, stdout: linksJson(['ib0'], [made]) },
      tee('/sys/class/net/ib0/delete_child', '0x8001\n'),
      gone('ib0.0001'),
    ]);
    const child = await dut.createChildSysfs(1);
    expect(child.ifname).to.equal('ib0.0001');
    await child.undo();
    t.done();
  });

  it('finds the child under the ORed name that older kernels gave (pkey 1 → ib0.8001) @lab @pkey', async function () {
    const { t, dut } = adapter([
      { argv: ALL, stdout: linksJson(['ib0']) },
      tee('/sys/class/net/ib0/create_child', '0x0001\n'),
      { argv: ALL, stdout: linksJson(['ib0', 'ib0.8001']) },
    ]);
    expect((await dut.createChildSysfs(1)).ifname).to.equal('ib0.8001');
    t.done();
  });

  it('maps create_child errors: Name not unique → ENOTUNIQ, File exists → EEXIST, Invalid argument → EINVAL @lab @pkey', async function () {
    const cases: [string, string][] = [
      ['Name not unique on network', 'ENOTUNIQ'],
      ['File exists', 'EEXIST'],
      ['Invalid argument', 'EINVAL'],
    ];
    for (const [text, code] of cases) {
      const { t, dut } = adapter([{ argv: ALL, stdout: linksJson(['ib0', 'ib0.8001']) }, tee('/sys/class/net/ib0/create_child', '0x8001\n', text)]);
      const e = await rejection(dut.createChildSysfs(0x8001));
      expect(e, text).to.be.instanceOf(IpoibControlError);
      expect((e as IpoibControlError).code, text).to.equal(code);
      expect((e as IpoibControlError).op, text).to.equal('ib0.create_child');
      t.done();
    }
  });

  it('passes an errno it does not know (EPERM) on as CommandFailedError @lab', async function () {
    const { t, dut } = adapter([{ argv: ALL, stdout: linksJson(['ib0']) }, tee('/sys/class/net/ib0/create_child', '0x8002\n', 'Operation not permitted')]);
    const e = await rejection(dut.createChildSysfs(0x8002));
    expect(e).to.be.instanceOf(CommandFailedError);
    expect((e as CommandFailedError).code).to.equal(1);
    t.done();
  });

  it('maps delete_child of an unknown P_Key to ENODEV and rejects P_Keys beyond 16 bits before running anything @lab @pkey', async function () {
    const { t, dut } = adapter([{ argv: ALL, stdout: linksJson(['ib0']) }, tee('/sys/class/net/ib0/delete_child', '0x0001\n', 'No such device')]);
    const e = await rejection(dut.deleteChildSysfs(1));
    expect((e as IpoibControlError).code).to.equal('ENODEV');
    const bad = await rejection(dut.createChildSysfs(0x10000));
    expect((bad as Error).name).to.equal('ArgumentError');
    expect(t.calls).to.have.length(2);
    t.done();
  });

  it('deletes a legacy child and its undo recreates it under the same name @lab @pkey', async function () {
    const made = renamed('ib0.8001', 'ib0.0001');
    const { t, dut } = adapter([
      { argv: ALL, stdout: linksJson(['ib0'], [made]) },
      tee('/sys/class/net/ib0/delete_child', '0x8001\n'),
      gone('ib0.0001'),
      { argv: ALL, stdout: linksJson(['ib0']) },
      tee('/sys/class/net/ib0/create_child', '0x0001\n'),
      { argv: ALL, stdout: linksJson(['ib0'], [made]) },
    ]);
    const undo = await dut.deleteChildSysfs(0x8001);
    await undo();
    t.done();
  });

  it('reads a child P_Key from sysfs when iproute2 -d shows no ipoib info (before 5.10) @lab @pkey', async function () {
    const bare = (n: string, link?: string): object => ({ ...renamed('ib0', n), linkinfo: undefined, ...(link ? { link } : {}) });
    const { t, dut } = adapter([
      { argv: ALL, stdout: JSON.stringify([bare('ib0'), bare('ib0.8002', 'ib0')]) },
      cat('/sys/class/net/ib0.8002/pkey', '0x8002\n'),
      tee('/sys/class/net/ib0/delete_child', '0x8002\n'),
      gone('ib0.8002'),
    ]);
    await dut.deleteChildSysfs(0x8002);
    t.done();
  });

  it('creates a netlink child with the exact iproute2 link add argv, and the undo deletes it @lab @pkey', async function () {
    const { t, dut } = adapter([
      { argv: ['ip', 'link', 'add', 'link', 'ib0', 'name', 'lab9', 'type', 'ipoib', 'pkey', '0x8009', 'mode', 'datagram', 'umcast', '0'] },
      { argv: dev('lab9'), stdout: linksJson(['lab9']) },
      { argv: ['ip', 'link', 'del', 'dev', 'lab9'] },
    ]);
    const child = await dut.createChildNetlink({ name: 'lab9', pkey: 0x8009, mode: 'datagram', umcast: false });
    expect(child.ifname).to.equal('lab9');
    await child.undo();
    t.done();
  });

  it('finds the kernel-chosen name of an unnamed netlink child @lab', async function () {
    const made = renamed('lab9', 'ipoib0');
    const { t, dut } = adapter([
      { argv: ALL, stdout: linksJson(['ib0']) },
      { argv: ['ip', 'link', 'add', 'link', 'ib0', 'type', 'ipoib'] },
      { argv: ALL, stdout: linksJson(['ib0'], [made]) },
    ]);
    expect((await dut.createChildNetlink({})).ifname).to.equal('ipoib0');
    t.done();
  });

  it('deletes a netlink child and its undo re-adds it with the same P_Key, mode and umcast @lab @pkey', async function () {
    const { t, dut } = adapter([
      { argv: dev('ib0.8001'), stdout: linksJson(['ib0.8001']) },
      { argv: ['ip', 'link', 'del', 'dev', 'ib0.8001'] },
      { argv: ['ip', 'link', 'add', 'link', 'ib0', 'name', 'ib0.8001', 'type', 'ipoib', 'pkey', '0x8001', 'mode', 'connected', 'umcast', '1'] },
    ]);
    const undo = await dut.deleteChildNetlink('ib0.8001');
    await undo();
    t.done();
  });

  it('maps a netlink add on a missing parent to ENODEV @lab', async function () {
    const { t, dut } = adapter([
      { argv: ['ip', 'link', 'add', 'link', 'ib7', 'name', 'x', 'type', 'ipoib'], code: 1, stderr: 'Cannot find device "ib7"\n' },
    ]);
    const e = await rejection(dut.createChildNetlink({ name: 'x' }, 'ib7'));
    expect((e as IpoibControlError).code).to.equal('ENODEV');
    t.done();
  });
});

describe('kernel adapter: MTU, umcast, addresses and link state @lab @mtu', function () {
  it('sets the MTU with iproute2 link set and the undo puts the old one back @lab @mtu', async function () {
    const { t, dut } = adapter([cat('/sys/class/net/ib0/mtu', '2044\n'), { argv: ['ip', 'link', 'set', 'dev', 'ib0', 'mtu', '1500'] }]);
    const undo = await dut.setMtu(1500);
    t['steps'].push(cat('/sys/class/net/ib0/mtu', '1500\n'), { argv: ['ip', 'link', 'set', 'dev', 'ib0', 'mtu', '2044'] });
    await undo();
    t.done();
  });

  it('maps an MTU the kernel refuses to EINVAL @lab @mtu', async function () {
    const { t, dut } = adapter([
      cat('/sys/class/net/ib0/mtu', '2044\n'),
      { argv: ['ip', 'link', 'set', 'dev', 'ib0', 'mtu', '70'], code: 2, stderr: 'RTNETLINK answers: Invalid argument\n' },
    ]);
    const e = await rejection(dut.setMtu(70));
    expect((e as IpoibControlError).code).to.equal('EINVAL');
    expect((e as IpoibControlError).op).to.equal('ib0.mtu');
    t.done();
  });

  it('sets umcast with "1\\n" through tee and the undo writes "0\\n" @lab', async function () {
    const { t, dut } = adapter([cat('/sys/class/net/ib0/umcast', '0\n'), tee('/sys/class/net/ib0/umcast', '1\n')]);
    const undo = await dut.setUmcast(true);
    t['steps'].push(cat('/sys/class/net/ib0/umcast', '1\n'), tee('/sys/class/net/ib0/umcast', '0\n'));
    await undo();
    t.done();
  });

  it('sets umcast of a netlink child through iproute2 link set … type ipoib umcast @lab', async function () {
    const child = linksJson(['lab9']);
    const { t, dut } = adapter([
      missing('/sys/class/net/lab9/umcast'),
      { argv: dev('lab9'), stdout: child },
      { argv: dev('lab9'), stdout: child },
      { argv: ['ip', 'link', 'set', 'dev', 'lab9', 'type', 'ipoib', 'umcast', '1'] },
    ]);
    await dut.setUmcast(true, { ifname: 'lab9' });
    t.done();
  });

  it('maps a hardware address change on an interface that is up to EBUSY @lab @hwaddr', async function () {
    const addr = parseHwAddr('80:00:00:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:1b:2d');
    const { t, dut } = adapter([
      cat('/sys/class/net/ib0/address', IB0_ADDR_RC),
      {
        argv: ['ip', 'link', 'set', 'dev', 'ib0', 'address', '80:00:00:48:fe:80:00:00:00:00:00:00:00:02:c9:03:00:0a:1b:2d'],
        code: 2,
        stderr: 'RTNETLINK answers: Device or resource busy\n',
      },
    ]);
    const e = await rejection(dut.setHwaddr(addr));
    expect((e as IpoibControlError).code).to.equal('EBUSY');
    t.done();
  });

  it('changes the broadcast address and the undo restores the old one @lab @hwaddr', async function () {
    const old = '00:ff:ff:ff:ff:12:40:1b:ff:ff:00:00:00:00:00:00:ff:ff:ff:ff';
    const wanted = '00:ff:ff:ff:ff:15:40:1b:ff:ff:00:00:00:00:00:00:ff:ff:ff:ff';
    const { t, dut } = adapter([cat('/sys/class/net/ib0/broadcast', `${old}\n`), { argv: ['ip', 'link', 'set', 'dev', 'ib0', 'broadcast', wanted] }]);
    const undo = await dut.setBroadcast(parseHwAddr(wanted));
    t['steps'].push(cat('/sys/class/net/ib0/broadcast', `${wanted}\n`), { argv: ['ip', 'link', 'set', 'dev', 'ib0', 'broadcast', old] });
    await undo();
    t.done();
  });

  it('reports carrier from LOWER_UP and brings a link up with an undo that takes it down @lab', async function () {
    const { t, dut } = adapter([
      { argv: dev('lab9'), stdout: linksJson(['lab9']) },
      { argv: dev('ib0'), stdout: linksJson(['ib0']) },
      { argv: dev('lab9'), stdout: JSON.stringify([renamed('lab9', 'lab9', { flags: ['BROADCAST', 'MULTICAST'] })]) },
      { argv: ['ip', 'link', 'set', 'dev', 'lab9', 'up'] },
    ]);
    expect(await dut.carrier('lab9')).to.equal(false);
    expect(await dut.carrier()).to.equal(true);
    const undo = await dut.setUp(true, 'lab9');
    t['steps'].push({ argv: dev('lab9'), stdout: linksJson(['lab9']) }, { argv: ['ip', 'link', 'set', 'dev', 'lab9', 'down'] });
    await undo();
    t.done();
  });

  it('lists only infiniband links as interfaces, with parent, P_Key and mode @lab @pkey', async function () {
    const { t, dut } = adapter([{ argv: ALL, stdout: fixture('ip-link-all.json') }]);
    const ifs = await dut.interfaces();
    expect(ifs.map((i) => [i.ifname, i.parent, i.pkey, i.mode, i.carrier])).to.deep.equal([
      ['ib0', null, 0xffff, 'datagram', true],
      ['ib0.8001', 'ib0', 0x8001, 'connected', true],
      ['lab9', 'ib0', 0x8009, 'datagram', false],
    ]);
    t.done();
  });

  it('reads addresses, adds one with an undo that removes it, and maps EEXIST @lab', async function () {
    const { t, dut } = adapter([
      { argv: ['ip', '-j', 'addr', 'show', 'dev', 'ib0'], stdout: fixture('ip-addr.json') },
      { argv: ['ip', 'addr', 'add', '10.20.0.5/24', 'dev', 'ib0'] },
      { argv: ['ip', 'addr', 'del', '10.20.0.5/24', 'dev', 'ib0'] },
      { argv: ['ip', 'addr', 'add', '10.20.0.1/24', 'dev', 'ib0'], code: 2, stderr: 'RTNETLINK answers: File exists\n' },
    ]);
    const a = await dut.addresses();
    expect(a.map((x) => `${x.address}/${x.prefixLength}`)).to.deep.equal(['10.20.0.1/24', 'fd00:20::1/64', 'fe80::202:c903:a:1b2c/64']);
    expect(a[1]?.tentative).to.equal(true);
    await (await dut.addAddress('10.20.0.5/24'))();
    expect(((await rejection(dut.addAddress('10.20.0.1/24'))) as IpoibControlError).code).to.equal('EEXIST');
    t.done();
  });

  it('reads neighbours and flushes them @lab', async function () {
    const { t, dut } = adapter([
      { argv: ['ip', '-j', 'neigh', 'show', 'dev', 'ib0'], stdout: fixture('ip-neigh.json') },
      { argv: ['ip', 'neigh', 'flush', 'dev', 'ib0'] },
    ]);
    const n = await dut.neighbours();
    expect(n.map((x) => [x.ip, x.hwaddr?.qpn ?? null, x.state])).to.deep.equal([
      ['10.20.0.2', 0x52, ['REACHABLE']],
      ['10.20.0.9', null, ['FAILED']],
      ['fe80::202:c903:a:4410', 0x52, ['STALE']],
    ]);
    await (await dut.flushNeighbours())();
    t.done();
  });
});

describe('kernel adapter: ethtool, debugfs and traffic @lab', function () {
  it('reads counters with ethtool -S and raises Unsupported(ethtool) when ethtool is missing @lab', async function () {
    const { t, dut } = adapter([
      { argv: ['ethtool', '-S', 'ib0'], stdout: fixture('ethtool-S.txt') },
      { argv: ['ethtool', '-S', 'ib0'], code: 127, stderr: 'sh: 1: ethtool: not found\n' },
    ]);
    expect((await dut.counters())['rx_dropped']).to.equal(3);
    expect(((await rejection(dut.counters())) as Unsupported).capability).to.equal('ethtool');
    t.done();
  });

  it('reads driver info, features and coalescing, and sets coalescing with an undo @lab', async function () {
    const { t, dut } = adapter([
      { argv: ['ethtool', '-i', 'ib0'], stdout: fixture('ethtool-i.txt') },
      { argv: ['ethtool', '-k', 'ib0'], stdout: fixture('ethtool-k-datagram.txt') },
      { argv: ['ethtool', '-c', 'ib0'], stdout: fixture('ethtool-c.txt') },
      { argv: ['ethtool', '-C', 'ib0', 'rx-usecs', '3', 'rx-frames', '8'] },
    ]);
    expect((await dut.driverInfo()).driver).to.equal('ib_ipoib');
    expect((await dut.features())['vlan-challenged']?.fixed).to.equal(true);
    const undo = await dut.setCoalesce({ rxUsecs: 3, rxFrames: 8 });
    t['steps'].push(
      { argv: ['ethtool', '-c', 'ib0'], stdout: fixture('ethtool-c.txt').replace('rx-usecs: 10', 'rx-usecs: 3').replace('rx-frames: 16', 'rx-frames: 8') },
      { argv: ['ethtool', '-C', 'ib0', 'rx-usecs', '10', 'rx-frames', '16'] },
    );
    await undo();
    t.done();
  });

  it('maps an out-of-range coalescing value to EINVAL @lab', async function () {
    const { t, dut } = adapter([
      { argv: ['ethtool', '-c', 'ib0'], stdout: fixture('ethtool-c.txt') },
      { argv: ['ethtool', '-C', 'ib0', 'rx-usecs', '70000', 'rx-frames', '8'], code: 1, stderr: 'Cannot set device coalesce parameters: Invalid argument\n' },
    ]);
    expect(((await rejection(dut.setCoalesce({ rxUsecs: 70000, rxFrames: 8 }))) as IpoibControlError).code).to.equal('EINVAL');
    t.done();
  });

  it('reads the _mcg and _path dumps and raises Unsupported(debugfs) when they are missing @lab @multicast', async function () {
    const { t, dut } = adapter([
      cat('/sys/kernel/debug/ipoib/ib0_mcg', fixture('ib0_mcg.txt')),
      cat('/sys/kernel/debug/ipoib/ib0.8001_path', fixture('ib0_path.txt')),
      missing('/sys/kernel/debug/ipoib/ib0_path'),
    ]);
    expect((await dut.mcgDump()).map((r) => r.sendOnly)).to.deep.equal([false, false, true]);
    expect((await dut.pathDump('ib0.8001')).map((r) => r.rateMbps)).to.deep.equal([100000, 2500, null]);
    expect(((await rejection(dut.pathDump())) as Unsupported).capability).to.equal('debugfs');
    t.done();
  });

  it('pings through the interface: replies, no replies (exit 1) as a result, exit 2 as an error @lab', async function () {
    const argv = ['ping', '-n', '-c', '3', '-W', '1', '-I', 'ib0', '-s', '2000', '-M', 'do', '10.20.0.2'];
    const { t, dut } = adapter([
      { argv, stdout: fixture('ping-ok.txt') },
      { argv: ['ping', '-n', '-c', '3', '-W', '1', '-I', 'ib0', '10.20.0.9'], code: 1, stdout: fixture('ping-lost.txt') },
      { argv: ['ping', '-n', '-c', '3', '-W', '1', '-I', 'ib0', 'nowhere'], code: 2, stderr: 'ping: nowhere: Name or service not known\n' },
    ]);
    expect((await dut.ping('10.20.0.2', { size: 2000, dontFragment: true })).received).to.equal(3);
    expect((await dut.ping('10.20.0.9')).received).to.equal(0);
    expect(await rejection(dut.ping('nowhere'))).to.be.instanceOf(CommandFailedError);
    t.done();
  });

  it('makes, receives and sends a checksummed file with socat, sha256sum and stat @lab', async function () {
    const sum = 'a'.repeat(64);
    const { t, dut } = adapter([
      { argv: ['mktemp', '/tmp/ipoib-lab-xfer.XXXXXX'], stdout: '/tmp/ipoib-lab-xfer.A1\n' },
      { argv: ['dd', 'if=/dev/urandom', 'of=/tmp/ipoib-lab-xfer.A1', 'bs=65536', 'count=100000', 'iflag=count_bytes,fullblock', 'status=none'] },
      { argv: ['sha256sum', '/tmp/ipoib-lab-xfer.A1'], stdout: `${sum}  /tmp/ipoib-lab-xfer.A1\n` },
      { argv: ['stat', '-c', '%s', '/tmp/ipoib-lab-xfer.A1'], stdout: '100000\n' },
      { argv: ['socat', '-u', 'FILE:/tmp/ipoib-lab-xfer.A1', 'TCP6:[fd00:20::2]:5001'] },
      { argv: ['mktemp', '/tmp/ipoib-lab-xfer.XXXXXX'], stdout: '/tmp/ipoib-lab-xfer.B2\n' },
      { argv: ['sha256sum', '/tmp/ipoib-lab-xfer.B2'], stdout: `${sum}  /tmp/ipoib-lab-xfer.B2\n` },
      { argv: ['stat', '-c', '%s', '/tmp/ipoib-lab-xfer.B2'], stdout: '100000\n' },
      { argv: ['rm', '-f', '/tmp/ipoib-lab-xfer.B2'] },
    ]);
    const f = await dut.makeFile(100000);
    expect(f).to.deep.include({ path: '/tmp/ipoib-lab-xfer.A1', bytes: 100000, sha256: sum });
    await dut.sendFile(f.path, 'fd00:20::2', 5001);
    const rx = await dut.receiveFile(5001);
    expect(t.spawned?.argv).to.deep.equal(['socat', '-u', 'TCP4-LISTEN:5001,reuseaddr', 'CREATE:/tmp/ipoib-lab-xfer.B2']);
    t.spawned?.finish({ code: 0 });
    expect((await rx.received).sha256).to.equal(sum);
    await rx.undo();
    expect(t.spawned?.stopped).to.equal(true);
    t.done();
  });
});

describe('kernel adapter: debug levels and the kernel log @lab', function () {
  const LEVEL = '/sys/module/ib_ipoib/parameters/debug_level';
  const MCAST_LEVEL = '/sys/module/ib_ipoib/parameters/mcast_debug_level';

  it('reads a debug level from the module parameter, writes it through tee, and the undo puts the old one back @lab', async function () {
    const { t, dut } = adapter([cat(MCAST_LEVEL, '0\n'), cat(MCAST_LEVEL, '0\n'), tee(MCAST_LEVEL, '2\n')]);
    expect(await dut.debugLevel('mcast_debug_level')).to.equal(0);
    const undo = await dut.setDebugLevel('mcast_debug_level', 2);
    t['steps'].push(cat(MCAST_LEVEL, '2\n'), tee(MCAST_LEVEL, '0\n'));
    await undo();
    t.done();
  });

  it('does nothing when the level is already the one asked for, and refuses a negative level before running anything @lab', async function () {
    const { t, dut } = adapter([cat(LEVEL, '1\n')]);
    const undo = await dut.setDebugLevel('debug_level', 1);
    await undo();
    expect((await rejection(dut.setDebugLevel('debug_level', -1))) as Error).to.have.property('name', 'ArgumentError');
    t.done();
  });

  it('raises Unsupported(debug-level …) naming the config option when the parameter is missing @lab', async function () {
    const { t, dut } = adapter([missing('/sys/module/ib_ipoib/parameters/data_debug_level')]);
    const e = (await rejection(dut.debugLevel('data_debug_level'))) as Unsupported;
    expect(e).to.be.instanceOf(Unsupported);
    expect(e.capability).to.equal('debug-level data_debug_level');
    expect(e.detail).to.include('CONFIG_INFINIBAND_IPOIB_DEBUG_DATA');
    t.done();
  });

  it('marks the end of dmesg and returns only the lines after it, same-timestamp lines included @lab', async function () {
    const before = '[   10.000001] ib0: up\n[   12.500000] ib0: a\n[   12.500000] ib0: b\n';
    const after = `${before}[   12.500000] ib0: c\n[   13.000000] ib0: joining MGID ff12:401b:ffff::1\n`;
    const { t, dut } = adapter([{ argv: ['dmesg'], stdout: before }, { argv: ['dmesg'], stdout: after }]);
    const mark = await dut.logMark();
    expect(await dut.logSince(mark)).to.deep.equal(['ib0: c', 'ib0: joining MGID ff12:401b:ffff::1']);
    t.done();
  });

  it('reads everything after an empty log, and raises Unsupported(dut-log) when dmesg is refused @lab', async function () {
    const { t, dut } = adapter([
      { argv: ['dmesg'], stdout: '' },
      { argv: ['dmesg'], stdout: '[    1.000000] first\n' },
      { argv: ['dmesg'], code: 1, stderr: 'dmesg: read kernel buffer failed: Operation not permitted\n' },
    ]);
    const mark = await dut.logMark();
    expect(await dut.logSince(mark)).to.deep.equal(['first']);
    expect(((await rejection(dut.logMark())) as Unsupported).capability).to.equal('dut-log');
    t.done();
  });
});
