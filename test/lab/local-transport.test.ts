/**
 * The local transport: argv without a shell, exit codes as results, check() throwing, the
 * timeout killing the command and what it started, background processes, file copies, and
 * commands inside a network namespace (root only).
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { CommandFailedError, CommandTimeout, StateError } from '../../src/errors.js';
import { LocalTransport } from '../../src/lab/transports/local.js';
import { skipWithReason } from '../helpers/skip.js';
import { processGone, waitUntil } from './process-state.js';

describe('local transport @lab', function () {
  this.timeout(20_000);
  let dir: string;
  let t: LocalTransport;
  beforeEach(function () {
    dir = mkdtempSync(path.join(tmpdir(), 'ipoib-lab-local-'));
    t = new LocalTransport({ name: 'here' });
  });
  afterEach(async function () {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('returns a non-zero exit as a result, with both outputs, and never throws for it @lab', async function () {
    const r = await t.run(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r).to.deep.include({ host: 'here', code: 3, signal: null, stdout: 'out\n', stderr: 'err\n' });
    expect(r.argv).to.deep.equal(['sh', '-c', 'echo out; echo err >&2; exit 3']);
    expect(r.durationMs).to.be.greaterThan(0);
    const missing = await t.run(['ipoib-lab-no-such-program']);
    expect(missing.code).to.equal(127);
    expect(missing.stderr).to.match(/command not found/);
  });

  it('check() throws CommandFailedError naming host, command, code and stderr @lab', async function () {
    const err = await t.check(['sh', '-c', 'echo broken >&2; exit 2']).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(CommandFailedError);
    const e = err as CommandFailedError;
    expect([e.host, e.code, e.stderr]).to.deep.equal(['here', 2, 'broken\n']);
    expect(e.message).to.equal('here: sh -c "echo broken >&2; exit 2" exited with 2: broken');
    expect((await t.check(['true'])).code).to.equal(0);
  });

  it('passes argv without a shell, with stdin, environment and working directory @lab', async function () {
    expect((await t.run(['echo', '$(id) `id` ; *'])).stdout).to.equal('$(id) `id` ; *\n');
    expect((await t.run(['cat'], { stdin: 'fed through stdin' })).stdout).to.equal('fed through stdin');
    const r = await t.run(['sh', '-c', 'printf "%s %s" "$PWD" "$LAB_VAR"'], { env: { LAB_VAR: 'v 1' }, cwd: dir });
    expect(r.stdout).to.equal(`${dir} v 1`);
  });

  it('kills a command at its timeout together with what it started @lab', async function () {
    const pidFile = path.join(dir, 'grandchild');
    const started = Date.now();
    const err = await t.run(['sh', '-c', `echo before; sleep 30 & echo $! > ${pidFile}; wait`], { timeoutMs: 400 }).catch((e: unknown) => e);
    expect(err).to.be.instanceOf(CommandTimeout);
    const e = err as CommandTimeout;
    expect([e.host, e.timeoutMs, e.stdout]).to.deep.equal(['here', 400, 'before\n']);
    expect(Date.now() - started, 'rejected at the deadline, not when sleep ends').to.be.lessThan(5_000);
    const grandchild = Number(readFileSync(pidFile, 'utf8'));
    expect(await waitUntil(() => processGone(grandchild), 2_000), `the backgrounded sleep (pid ${grandchild}) is gone`).to.equal(true);
  });

  it('starts and stops a background process, and close() stops what is left @lab', async function () {
    const bg = await t.spawn(['sh', '-c', 'echo started; exec sleep 30']);
    expect(bg.pid).to.be.a('number');
    const execd = () => {
      try {
        return readFileSync(`/proc/${bg.pid}/cmdline`, 'latin1').startsWith('sleep');
      } catch {
        return false;
      }
    };
    expect(await waitUntil(execd, 3_000), 'the shell printed and became sleep').to.equal(true);
    const r = await bg.stop({ graceMs: 1_000 });
    expect(r.signal).to.equal('SIGTERM');
    expect(r.stdout).to.equal('started\n');
    expect(processGone(bg.pid)).to.equal(true);

    const left = await t.spawn(['sleep', '30']);
    await t.close();
    expect(await waitUntil(() => processGone(left.pid), 3_000), 'close() stopped it').to.equal(true);
    await t.run(['true']).then(
      () => expect.fail('run after close'),
      (e: unknown) => expect(e).to.be.instanceOf(StateError),
    );
  });

  it('copies files with put and get @lab', async function () {
    const a = path.join(dir, 'a');
    writeFileSync(a, 'payload');
    await t.put(a, path.join(dir, 'b'));
    await t.get(path.join(dir, 'b'), path.join(dir, 'c'));
    expect(readFileSync(path.join(dir, 'c'), 'utf8')).to.equal('payload');
  });

  it('runs a command inside a network namespace @lab', async function () {
    if (process.getuid?.() !== 0) await skipWithReason(this, 'creating a network namespace needs root');
    const ns = `ipoib-lab-t${process.pid}`;
    execFileSync('ip', ['netns', 'add', ns]);
    try {
      const inside = new LocalTransport({ name: 'ns-node', netns: ns });
      expect(inside.commandLine(['x'])).to.deep.equal(['ip', 'netns', 'exec', ns, 'x']);
      const links = JSON.parse((await inside.check(['ip', '-j', 'addr'])).stdout) as { ifname: string }[];
      expect(links.map((l) => l.ifname), 'a fresh namespace holds only loopback').to.deep.equal(['lo']);
      const here = JSON.parse((await t.check(['ip', '-j', 'addr'])).stdout) as { ifname: string }[];
      expect(here.length, 'outside, this machine has more than loopback').to.be.greaterThan(1);
      await inside.close();
    } finally {
      execFileSync('ip', ['netns', 'del', ns]);
    }
  });
});
