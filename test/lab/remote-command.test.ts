/**
 * The remote command line is quoted once and arrives as the same argv: checked by handing the
 * line to a real POSIX shell, as sshd does. Also the channel bound the ssh transport uses.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { ArgumentError } from '../../src/errors.js';
import { ChannelLimiter } from '../../src/lab/channel-limiter.js';
import { PID_MARKER, remoteCommand, remoteKillArgv, shellQuote } from '../../src/lab/remote-command.js';

/** What a login shell does with the line: runs it; our probe prints each argument NUL-terminated. */
function throughShell(line: string): { pidLine: string; args: string[] } {
  const out = execFileSync('/bin/sh', ['-c', line], { encoding: 'utf8' });
  const nl = out.indexOf('\n');
  return { pidLine: out.slice(0, nl), args: out.slice(nl + 1).split('\0').slice(0, -1) };
}

const NASTY = ['plain', '', ' spaced  out ', "it's", '"double"', '$HOME', '`id`', '$(id)', 'a;b', 'a|b', 'x\ny', '\\', '*', '~', '-n', '#', '!', '{a,b}', 'é ü', '%', 'a=b'];

describe('remote command lines @lab @ssh', function () {
  it('delivers every argument verbatim through a shell, after the pid line @lab @ssh', function () {
    const { pidLine, args } = throughShell(remoteCommand(['printf', '%s\\0', ...NASTY]));
    expect(pidLine).to.match(new RegExp(`^${PID_MARKER}\\d+$`));
    expect(args).to.deep.equal(NASTY);
  });

  it('quotes only where needed @lab @ssh', function () {
    expect(shellQuote('ip-addr_1/x.y:z,a=b@c%d+e')).to.equal('ip-addr_1/x.y:z,a=b@c%d+e');
    expect(shellQuote('')).to.equal("''");
    expect(shellQuote("it's")).to.equal(`'it'\\''s'`);
    expect(shellQuote('~')).to.equal("'~'");
  });

  it('adds the environment, working directory and sudo in that one place @lab @ssh', function () {
    const line = remoteCommand(['sh', '-c', 'printf "%s|%s" "$PWD" "$GREETING"'], { env: { GREETING: "hi 'there'" }, cwd: '/tmp' });
    expect(execFileSync('/bin/sh', ['-c', line], { encoding: 'utf8' }).split('\n')[1]).to.equal("/tmp|hi 'there'");
    expect(remoteCommand(['id'], { sudo: true })).to.match(/^exec sudo -n -- sh -c /);
  });

  it('refuses what no command line can carry @lab @ssh', function () {
    expect(() => remoteCommand([])).to.throw(ArgumentError, /argv must be a non-empty array/);
    expect(() => remoteCommand(['echo', 'a\0b'])).to.throw(ArgumentError, /argv\[1\] must be a string without NUL/);
    expect(() => remoteCommand(['env'], { env: { 'BAD-NAME': 'x' } })).to.throw(ArgumentError, /env must be variable names/);
  });

  it('kills by process group, and by pid when the process leads none @lab @ssh', function () {
    const argv = remoteKillArgv(4242, 'TERM');
    expect(argv.slice(0, 2)).to.deep.equal(['sh', '-c']);
    expect(argv.slice(3)).to.deep.equal(['sh', '4242', 'TERM']);
  });
});

describe('channel bound @lab @ssh', function () {
  it('admits up to the bound, queues the rest in order and tracks the peak @lab @ssh', async function () {
    const limiter = new ChannelLimiter(2);
    const order: number[] = [];
    const r1 = await limiter.acquire();
    const r2 = await limiter.acquire();
    expect(limiter.inUse).to.equal(2);
    const third = limiter.acquire().then((r) => (order.push(3), r));
    const fourth = limiter.acquire().then((r) => (order.push(4), r));
    await new Promise((r) => setImmediate(r));
    expect(order, 'nobody beyond the bound got in').to.deep.equal([]);
    expect(limiter.waiting).to.equal(2);
    r1();
    r1(); // a second release of the same slot changes nothing
    const r3 = await third;
    await new Promise((r) => setImmediate(r));
    expect(order).to.deep.equal([3]);
    expect(limiter.inUse).to.equal(2);
    r2();
    const r4 = await fourth;
    expect(order).to.deep.equal([3, 4]);
    r3();
    r4();
    expect(limiter.inUse).to.equal(0);
    expect(limiter.peak).to.equal(2);
    expect(() => new ChannelLimiter(0)).to.throw(ArgumentError);
  });
});
