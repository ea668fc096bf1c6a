/**
 * The host's group memberships: parsers for /proc/net/igmp and /proc/net/igmp6 on samples
 * written from the kernel's documented line layouts, the stack-managed group filter, and the
 * observer's reconcile against a fake source and sink.
 */
import { expect } from 'chai';
import { ArgumentError, ParseError } from '../../src/errors.js';
import {
  type GroupSink,
  type HostMembership,
  HostMembershipObserver,
  isStackManagedGroup,
  netnsFile,
  parseProcIgmp,
  parseProcIgmp6,
  procMembershipSource,
} from '../../src/ipoib/host-memberships.js';

// /proc/net/igmp: a header, then per device "IDX\tNAME(padded to 10): COUNT(5) QUERIER(7)" and per
// group "\t\t\t\tWORD USERS(5) RUNNING:TIMER\t\tREPORTER". WORD is the network-order address read
// as a host integer: on a little-endian host 224.0.0.1 (e0 00 00 01) prints 010000E0 and
// 239.1.2.3 (ef 01 02 03) prints 030201EF.
const IGMP_LE = [
  'Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter',
  '1\tlo        :     1      V3',
  '\t\t\t\t010000E0     1 0:00000000\t\t0',
  '7\tib0       :     2      V2',
  '\t\t\t\t030201EF     2 1:0000001A\t\t1',
  '\t\t\t\t010000E0     1 0:00000000\t\t0',
  '',
].join('\n');

// The same table from a big-endian host: the word is the address in order.
const IGMP_BE = IGMP_LE.replace('030201EF', 'EF010203').replaceAll('010000E0', 'E0000001');

// /proc/net/igmp6: "IDX(-4) NAME(-15) ADDR(32 hex) USERS(5) FLAGS(08X) TIMER".
const IGMP6 = [
  '1    lo              ff020000000000000000000000000001     1 0000000C 0',
  '7    ib0             ff0200000000000000000001ff000001     1 00000004 0',
  '7    ib0             ff020000000000000000000000000001     1 0000000C 0',
  '7    ib0             ff010000000000000000000000000001     1 00000008 0',
  '7    ib0             ff050000000000000000000000010003     2 00000004 120',
  '',
].join('\n');

function parseErrorOf(fn: () => unknown): ParseError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ParseError) return e;
    throw e;
  }
  throw new Error('no ParseError');
}

describe('host multicast memberships: /proc/net/igmp @ipoib-stack @multicast', function () {
  it('parses device and group lines into rows in little-endian host order @ipoib-stack @multicast', function () {
    expect(parseProcIgmp(IGMP_LE, 'LE')).to.deep.equal([
      { ifindex: 1, ifname: 'lo', family: 4, group: '224.0.0.1', users: 1 },
      { ifindex: 7, ifname: 'ib0', family: 4, group: '239.1.2.3', users: 2 },
      { ifindex: 7, ifname: 'ib0', family: 4, group: '224.0.0.1', users: 1 },
    ]);
  });

  it('parses the big-endian form to the same groups @ipoib-stack @multicast', function () {
    expect(parseProcIgmp(IGMP_BE, 'BE').map((r) => r.group)).to.deep.equal(['224.0.0.1', '239.1.2.3', '224.0.0.1']);
  });

  it('accepts a table with only the header (no devices) @ipoib-stack @multicast', function () {
    expect(parseProcIgmp('Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter\n', 'LE')).to.deep.equal([]);
  });

  it('rejects a missing or wrong header with a ParseError naming line 1 @ipoib-stack @multicast', function () {
    const e = parseErrorOf(() => parseProcIgmp(IGMP_LE.split('\n').slice(1).join('\n'), 'LE'));
    expect(e.command).to.equal('/proc/net/igmp');
    expect(e.where).to.equal('line 1');
    expect(parseErrorOf(() => parseProcIgmp('', 'LE')).where).to.equal('line 1');
  });

  it('rejects a group line before any device line @ipoib-stack @multicast', function () {
    const text = ['Idx\tDevice    : Count Querier\tGroup    Users Timer\tReporter', '\t\t\t\t010000E0     1 0:00000000\t\t0'].join('\n');
    const e = parseErrorOf(() => parseProcIgmp(text, 'LE'));
    expect(e.where).to.equal('line 2');
    expect(e.expected).to.match(/device line before/);
  });

  it('rejects a truncated group line, a short word and a garbage line, naming the line @ipoib-stack @multicast', function () {
    const lines = IGMP_LE.split('\n');
    for (const bad of ['\t\t\t\t030201EF     2', '\t\t\t\t0201EF     2 1:0000001A\t\t1', 'not a line']) {
      const copy = [...lines];
      copy[4] = bad;
      const e = parseErrorOf(() => parseProcIgmp(copy.join('\n'), 'LE'));
      expect(e.where, bad).to.equal('line 5');
      expect(e.got, bad).to.equal(bad);
    }
  });

  it('rejects a group word that is not a multicast address in the given byte order @ipoib-stack @multicast', function () {
    // 010000E0 read big-endian is 1.0.0.224: not 224/4.
    const e = parseErrorOf(() => parseProcIgmp(IGMP_LE, 'BE'));
    expect(e.where).to.equal('line 3');
    expect(e.got).to.equal('010000E0');
  });

  it('rejects ifindex 0 @ipoib-stack @multicast', function () {
    const e = parseErrorOf(() => parseProcIgmp(IGMP_LE.replace('7\tib0', '0\tib0'), 'LE'));
    expect(e.where).to.equal('line 4');
    expect(e.got).to.equal('0');
  });
});

describe('host multicast memberships: /proc/net/igmp6 @ipoib-stack @multicast @ipv6', function () {
  it('parses every line into canonical ipv6 group text @ipoib-stack @multicast @ipv6', function () {
    expect(parseProcIgmp6(IGMP6)).to.deep.equal([
      { ifindex: 1, ifname: 'lo', family: 6, group: 'ff02::1', users: 1 },
      { ifindex: 7, ifname: 'ib0', family: 6, group: 'ff02::1:ff00:1', users: 1 },
      { ifindex: 7, ifname: 'ib0', family: 6, group: 'ff02::1', users: 1 },
      { ifindex: 7, ifname: 'ib0', family: 6, group: 'ff01::1', users: 1 },
      { ifindex: 7, ifname: 'ib0', family: 6, group: 'ff05::1:3', users: 2 },
    ]);
  });

  it('accepts an empty file @ipoib-stack @multicast @ipv6', function () {
    expect(parseProcIgmp6('')).to.deep.equal([]);
  });

  it('rejects short addresses, missing columns and non-multicast addresses, naming the line @ipoib-stack @multicast @ipv6', function () {
    const cases: Array<[string, RegExp]> = [
      ['7    ib0             ff05000000000000000000000001000     2 00000004 0', /HEX32/],
      ['7    ib0             ff050000000000000000000000010003     2', /HEX32/],
      ['7    ib0             fe800000000000000000000000000001     1 00000004 0', /multicast/],
      ['x    ib0             ff050000000000000000000000010003     2 00000004 0', /HEX32/],
    ];
    for (const [bad, expected] of cases) {
      const e = parseErrorOf(() => parseProcIgmp6(`${IGMP6.split('\n')[0] ?? ''}\n${bad}\n`));
      expect(e.command, bad).to.equal('/proc/net/igmp6');
      expect(e.where, bad).to.equal('line 2');
      expect(e.expected, bad).to.match(expected);
    }
  });

  it('rejects ifindex 0 @ipoib-stack @multicast @ipv6', function () {
    const e = parseErrorOf(() => parseProcIgmp6('0    ib0             ff050000000000000000000000010003     2 00000004 0\n'));
    expect(e.where).to.equal('line 1');
  });
});

describe('host multicast memberships: groups the stack manages itself @ipoib-stack @multicast @ipv6', function () {
  it('leaves all-hosts, all-nodes, solicited-node and interface-local ipv6 groups to the stack @ipoib-stack @multicast @ipv6', function () {
    const managed = ['224.0.0.1', 'ff02::1', 'ff02::1:ff00:1', 'ff02::1:ffab:cdef', 'ff01::1', 'ff01::1234', 'ff00::5'];
    const host = ['239.1.2.3', '224.0.0.251', '224.0.0.2', 'ff02::2', 'ff02::fb', 'ff05::1:3', 'ff02::1:fe00:1', 'ff12::1'];
    expect(managed.filter((g) => !isStackManagedGroup(g)), 'managed').to.deep.equal([]);
    expect(host.filter((g) => isStackManagedGroup(g)), 'host groups').to.deep.equal([]);
  });

  it('maps a namespace name to its file under /run/netns and keeps a path @ipoib-stack @multicast', function () {
    expect(netnsFile('n1')).to.equal('/run/netns/n1');
    expect(netnsFile('/proc/123/ns/net')).to.equal('/proc/123/ns/net');
    expect(netnsFile('')).to.equal('');
  });

  it("reads this host's own /proc files without a parse error @ipoib-stack @multicast", async function () {
    if (process.platform !== 'linux') this.skip();
    const rows = await procMembershipSource('')();
    // Every Linux host with IPv4 holds 224.0.0.1 on its loopback once lo is up.
    expect(rows.some((r) => r.ifname === 'lo' && r.group === '224.0.0.1'), JSON.stringify(rows)).to.equal(true);
  });
});

class FakeSink implements GroupSink {
  readonly calls: string[] = [];
  failJoin = new Set<string>();
  joinGroup(ip: string): void {
    if (this.failJoin.has(ip)) throw new Error(`no ${ip}`);
    this.calls.push(`join ${ip}`);
  }
  leaveGroup(ip: string): void {
    this.calls.push(`leave ${ip}`);
  }
}

const row = (ifname: string, group: string): HostMembership => ({ ifindex: ifname === 'ib0' ? 7 : 1, ifname, family: group.includes(':') ? 6 : 4, group, users: 1 });

describe('host multicast memberships: the observer reconciles with the interface @ipoib-stack @multicast @ipv6', function () {
  let rows: HostMembership[];
  let failure: Error | undefined;
  let reads: number;
  const source = (): Promise<HostMembership[]> => {
    reads++;
    return failure ? Promise.reject(failure) : Promise.resolve([...rows]);
  };
  beforeEach(function () {
    rows = [row('lo', '224.0.0.1'), row('ib0', '224.0.0.1'), row('ib0', 'ff02::1'), row('ib0', 'ff02::1:ff00:1')];
    failure = undefined;
    reads = 0;
  });

  it('joins a group the host joined on its device once, and leaves it when the host leaves @ipoib-stack @multicast @ipv6', async function () {
    const sink = new FakeSink();
    const obs = new HostMembershipObserver({ source, ifname: 'ib0', sink });
    await obs.poll();
    expect(sink.calls, 'only stack-managed groups: nothing to do').to.deep.equal([]);
    rows.push(row('ib0', '239.1.2.3'), row('ib0', 'ff05::1:3'), row('eth9', '239.9.9.9'));
    await obs.poll();
    await obs.poll();
    expect(sink.calls).to.deep.equal(['join 239.1.2.3', 'join ff05::1:3']);
    expect(obs.joined()).to.deep.equal(['239.1.2.3', 'ff05::1:3']);
    rows = rows.filter((r) => r.group !== '239.1.2.3');
    await obs.poll();
    expect(sink.calls.slice(2)).to.deep.equal(['leave 239.1.2.3']);
    expect(obs.joined()).to.deep.equal(['ff05::1:3']);
    await obs.stop();
    expect(sink.calls.slice(3), 'stop leaves what it joined').to.deep.equal(['leave ff05::1:3']);
  });

  it('changes nothing when a read fails, and logs the failure once @ipoib-stack @multicast', async function () {
    const sink = new FakeSink();
    const lines: string[] = [];
    const obs = new HostMembershipObserver({ source, ifname: 'ib0', sink, log: (l) => lines.push(l) });
    rows.push(row('ib0', '239.1.2.3'));
    await obs.poll();
    failure = new ParseError('/proc/net/igmp', 'line 2', 'something');
    await obs.poll();
    await obs.poll();
    expect(sink.calls).to.deep.equal(['join 239.1.2.3']);
    expect(lines.filter((l) => l.includes('failed'))).to.have.length(1);
    await obs.stop(false);
    expect(sink.calls, 'stop(false) leaves nothing').to.deep.equal(['join 239.1.2.3']);
  });

  it('retries a join the sink refused on the next poll @ipoib-stack @multicast', async function () {
    const sink = new FakeSink();
    sink.failJoin.add('239.1.2.3');
    const obs = new HostMembershipObserver({ source, ifname: 'ib0', sink });
    rows.push(row('ib0', '239.1.2.3'));
    await obs.poll();
    expect(obs.joined()).to.deep.equal([]);
    sink.failJoin.clear();
    await obs.poll();
    expect(sink.calls).to.deep.equal(['join 239.1.2.3']);
    await obs.stop();
  });

  it('polls on its own at the interval and stops polling after stop() @ipoib-stack @multicast', async function () {
    const sink = new FakeSink();
    const obs = new HostMembershipObserver({ source, ifname: 'ib0', sink, intervalMs: 5 });
    rows.push(row('ib0', '239.1.2.3'));
    obs.start();
    const deadline = Date.now() + 2000;
    while (reads < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    expect(reads, 'polled repeatedly').to.be.at.least(3);
    expect(sink.calls).to.deep.equal(['join 239.1.2.3']);
    await obs.stop();
    const after = reads;
    await new Promise((r) => setTimeout(r, 30));
    expect(reads, 'no poll after stop').to.equal(after);
    expect(sink.calls).to.deep.equal(['join 239.1.2.3', 'leave 239.1.2.3']);
  });

  it('does not join what a poll in flight at stop() read @ipoib-stack @multicast', async function () {
    const sink = new FakeSink();
    let release: (() => void) | undefined;
    const slow = (): Promise<HostMembership[]> => new Promise((resolve) => (release = () => resolve([row('ib0', '239.1.2.3')])));
    const obs = new HostMembershipObserver({ source: slow, ifname: 'ib0', sink });
    const polling = obs.poll();
    const stopping = obs.stop();
    release?.();
    await Promise.all([polling, stopping]);
    expect(sink.calls).to.deep.equal([]);
  });

  it('rejects a poll interval below 1 ms @ipoib-stack @multicast', function () {
    for (const ms of [0, -1, Number.NaN]) {
      expect(() => new HostMembershipObserver({ source, ifname: 'ib0', sink: new FakeSink(), intervalMs: ms }), String(ms)).to.throw(ArgumentError, /intervalMs/);
    }
  });
});
