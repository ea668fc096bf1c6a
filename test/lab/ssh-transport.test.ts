/**
 * The ssh transport against a real OpenSSH sshd that each test starts for itself on 127.0.0.1
 * (test/lab/sshd-fixture.ts) and stops in `finally`. Root only: sshd's privilege separation
 * needs it. The sshd runs on this machine, so the tests can look at the "remote" processes
 * directly in /proc.
 */
import { expect } from 'chai';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Context } from 'mocha';
import { AuthError, CommandFailedError, CommandTimeout, HostKeyMismatchError, TransportError, UnknownHostKeyError } from '../../src/errors.js';
import type { SshSettings } from '../../src/lab/lab-file.js';
import { SshTransport } from '../../src/lab/transports/ssh.js';
import { requireToolOrSkip, skipWithReason } from '../helpers/skip.js';
import { processGone, waitUntil } from './process-state.js';
import { sshdAvailable, type SshdOptions, TestSshd } from './sshd-fixture.js';

async function gate(ctx: Context): Promise<void> {
  if (process.getuid?.() !== 0) await skipWithReason(ctx, 'the private sshd needs root (privilege separation)');
  await requireToolOrSkip(ctx, 'sshd', sshdAvailable(), 'install openssh-server (.ci/run does)');
}

/** Starts an sshd, runs `body`, always stops the sshd and closes the transports `body` made. */
async function withSshd(o: SshdOptions, body: (d: TestSshd, open: (s?: Partial<SshSettings>) => Promise<SshTransport>) => Promise<void>): Promise<void> {
  const d = await TestSshd.start(o);
  const opened: SshTransport[] = [];
  try {
    await body(d, async (s = {}) => {
      const t = await SshTransport.connect({ name: 'node1', ssh: settings(d, s) });
      opened.push(t);
      return t;
    });
  } finally {
    await Promise.allSettled(opened.map((t) => t.close()));
    await d.dispose();
  }
}

function settings(d: TestSshd, s: Partial<SshSettings>): SshSettings {
  const knownHosts = path.join(d.dir, 'known_hosts');
  if (!s.knownHosts) writeFileSync(knownHosts, `${d.knownHostsLine()}\n`);
  return {
    host: '127.0.0.1',
    port: d.port,
    user: 'root',
    identityFile: d.clientKeyFile,
    knownHosts: { file: knownHosts, policy: 'strict' },
    keepaliveIntervalMs: 5_000,
    keepaliveCountMax: 3,
    maxChannels: 6,
    connectTimeoutMs: 5_000,
    reconnectTimeoutMs: 15_000,
    ...s,
  };
}

describe('ssh transport against a real sshd @lab @ssh', function () {
  this.timeout(60_000);

  it('logs in with a key and runs commands: exit codes are results, check() throws @lab @ssh', async function () {
    await gate(this);
    await withSshd({}, async (_d, open) => {
      const t = await open();
      const r = await t.run(['sh', '-c', 'id -u; echo "$1" >&2; exit 5', 'sh', "it's $HOME; `x`"]);
      expect(r).to.deep.include({ host: 'node1', code: 5, stdout: '0\n', stderr: "it's $HOME; `x`\n", signal: null });
      expect((await t.run(['cat'], { stdin: 'to stdin' })).stdout).to.equal('to stdin');
      const err = await t.check(['false']).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(CommandFailedError);
      expect((err as CommandFailedError).code).to.equal(1);
      expect(t.connections).to.equal(1);
    });
  });

  it('refuses a key sshd does not accept with AuthError @lab @ssh', async function () {
    await gate(this);
    await withSshd({}, async (d, open) => {
      const other = path.join(d.dir, 'other_ed25519');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', other]);
      const err = await open({ identityFile: other }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(AuthError);
      expect((err as AuthError).user).to.equal('root');
      expect((err as AuthError).methods).to.deep.equal(['publickey']);
    });
  });

  it('refuses a host whose key differs from known_hosts, naming both fingerprints @lab @ssh', async function () {
    await gate(this);
    await withSshd({}, async (d, open) => {
      const fake = path.join(d.dir, 'fake_host');
      execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', fake]);
      const [type, b64] = readFileSync(`${fake}.pub`, 'utf8').split(/\s+/);
      const file = path.join(d.dir, 'pinned');
      writeFileSync(file, `[127.0.0.1]:${d.port} ${type} ${b64}\n`);
      const fakeFp = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${fake}.pub`]).toString().split(/\s+/)[1];
      const err = await open({ knownHosts: { file, policy: 'accept-new' } }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(HostKeyMismatchError);
      const e = err as HostKeyMismatchError;
      expect(e.expected).to.deep.equal([fakeFp]);
      expect(e.presented).to.equal(d.hostFingerprint());
      expect(e.host).to.equal(`node1 ([127.0.0.1]:${d.port})`);
      expect(readFileSync(file, 'utf8'), 'accept-new never overwrites a changed key').to.equal(`[127.0.0.1]:${d.port} ${type} ${b64}\n`);
    });
  });

  it('trusts a line hashed by ssh-keygen -H, and refuses an unknown host under strict @lab @ssh', async function () {
    await gate(this);
    await withSshd({}, async (d, open) => {
      const file = path.join(d.dir, 'hashed');
      writeFileSync(file, `${d.knownHostsLine()}\n`);
      execFileSync('ssh-keygen', ['-H', '-f', file], { stdio: 'ignore' });
      expect(readFileSync(file, 'utf8')).to.match(/^\|1\|/);
      const t = await open({ knownHosts: { file, policy: 'strict' } });
      expect((await t.check(['echo', 'ok'])).stdout).to.equal('ok\n');
      const err = await open({ knownHosts: { file: path.join(d.dir, 'empty'), policy: 'strict' } }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(UnknownHostKeyError);
      expect((err as UnknownHostKeyError).presented).to.equal(d.hostFingerprint());
    });
  });

  it('records an unknown host under accept-new, and the recorded key then passes strict @lab @ssh', async function () {
    await gate(this);
    await withSshd({}, async (d, open) => {
      const file = path.join(d.dir, 'new', 'known_hosts');
      const t = await open({ knownHosts: { file, policy: 'accept-new' } });
      expect(t.addedHostKey).to.equal(d.knownHostsLine());
      expect(readFileSync(file, 'utf8')).to.equal(`${d.knownHostsLine()}\n`);
      const strict = await open({ knownHosts: { file, policy: 'strict' } });
      expect((await strict.check(['true'])).code).to.equal(0);
      expect(strict.addedHostKey).to.equal(null);
    });
  });

  it('kills a command at its timeout and closes its channel @lab @ssh', async function () {
    await gate(this);
    await withSshd({}, async (d, open) => {
      const t = await open();
      const pidFile = path.join(d.dir, 'remote.pid');
      const started = Date.now();
      // 3 s leaves a loaded 2-core CI machine time to start the remote shell before the deadline.
      const err = await t.run(['sh', '-c', `echo $$ > ${pidFile}; echo partial; exec sleep 30`], { timeoutMs: 3_000 }).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(CommandTimeout);
      expect((err as CommandTimeout).stdout).to.equal('partial\n');
      expect(Date.now() - started, 'killed at the deadline, long before sleep 30 ends').to.be.lessThan(15_000);
      const pid = Number(readFileSync(pidFile, 'utf8'));
      expect(await waitUntil(() => processGone(pid), 3_000), `remote sleep (pid ${pid}) is gone`).to.equal(true);
      expect((await t.check(['echo', 'still usable'])).stdout).to.equal('still usable\n');
    });
  });

  it('runs 20 commands at once within the default bound of 6 channels, none refused @lab @ssh', async function () {
    await gate(this);
    await withSshd({}, async (_d, open) => {
      const t = await open();
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => t.run(['sh', '-c', `sleep 0.2; echo ${i}`])));
      expect(results.map((r) => r.stdout)).to.deep.equal(Array.from({ length: 20 }, (_, i) => `${i}\n`));
      expect(results.every((r) => r.code === 0)).to.equal(true);
      expect(t.peakChannels, 'the bound was reached and never passed').to.equal(6);
      expect(t.channelRefusals, 'sshd refused no channel').to.equal(0);
    });
  });

  it('reports channels sshd keeps refusing, so a bound above MaxSessions shows @lab @ssh', async function () {
    await gate(this);
    await withSshd({ maxSessions: 3 }, async (_d, open) => {
      const loose = await open({ maxChannels: 9 });
      const outcomes = await Promise.allSettled(Array.from({ length: 9 }, () => loose.run(['sleep', '2'])));
      const refused = outcomes.filter((o) => o.status === 'rejected').map((o) => (o as PromiseRejectedResult).reason as unknown);
      expect(refused.length, 'channels beyond MaxSessions are refused').to.be.greaterThan(0);
      expect(refused[0]).to.be.instanceOf(TransportError);
      expect((refused[0] as TransportError).message).to.match(/could not open an SSH channel: .*open failure/i);
      expect(outcomes.filter((o) => o.status === 'fulfilled').length, 'the ones within MaxSessions ran').to.be.greaterThan(0);
    });
  });

  it('reconnects after sshd is killed and restarted, and reports the command the drop cut off @lab @ssh', async function () {
    await gate(this);
    await withSshd({}, async (d, open) => {
      const t = await open();
      expect((await t.check(['echo', 'before'])).stdout).to.equal('before\n');
      const pidFile = path.join(d.dir, 'cut-off.pid');
      const cutOff = t.run(['sh', '-c', `echo $$ > ${pidFile}; exec sleep 10`]).catch((e: unknown) => e);
      expect(await waitUntil(() => existsSync(pidFile), 5_000), 'the command runs on the node').to.equal(true);
      await d.kill();
      const err = await cutOff;
      expect(err).to.be.instanceOf(TransportError);
      expect(err).to.not.be.instanceOf(CommandTimeout);
      expect((err as TransportError).message).to.match(/connection dropped while the command ran/);

      const next = t.run(['echo', 'after']); // sshd is still down: the transport retries
      setTimeout(() => void d.launch(), 700);
      const r = await next;
      expect(r.stdout).to.equal('after\n');
      expect(t.connections).to.equal(2);
    });
  });

  it('copies a file there and back with SFTP, byte for byte @lab @ssh', async function () {
    await gate(this);
    await withSshd({}, async (d, open) => {
      const t = await open();
      const data = randomBytes(3 * 1024 * 1024 + 17);
      const local = path.join(d.dir, 'payload');
      writeFileSync(local, data);
      const remote = path.join(d.dir, 'remote-copy');
      await t.put(local, remote);
      const remoteSum = (await t.check(['sha256sum', remote])).stdout.split(' ')[0];
      const back = path.join(d.dir, 'back');
      await t.get(remote, back);
      const sum = (b: Buffer) => createHash('sha256').update(b).digest('hex');
      expect(remoteSum).to.equal(sum(data));
      expect(sum(readFileSync(back))).to.equal(sum(data));
      const err = await t.get(path.join(d.dir, 'no-such-file'), back).catch((e: unknown) => e);
      expect(err).to.be.instanceOf(TransportError);
      expect((err as TransportError).message).to.match(/get failed/);
    });
  });

  it('starts a background process and stops it @lab @ssh', async function () {
    await gate(this);
    await withSshd({}, async (_d, open) => {
      const t = await open({ maxChannels: 3 });
      const bg = await t.spawn(['sh', '-c', 'echo up; exec sleep 30']);
      expect(bg.pid).to.be.a('number');
      expect(processGone(bg.pid)).to.equal(false);
      const second = await t.spawn(['sleep', '30']);
      const refused = await t.spawn(['sleep', '30']).catch((e: unknown) => e);
      expect(refused, 'one channel stays free for commands').to.be.instanceOf(TransportError);
      expect((await t.check(['echo', 'room'])).stdout).to.equal('room\n');
      const r = await bg.stop({ graceMs: 1_000 });
      expect(r.stdout).to.equal('up\n');
      expect(r.signal).to.equal('SIGTERM');
      expect(await waitUntil(() => processGone(bg.pid), 2_000)).to.equal(true);
      await t.close();
      expect(await waitUntil(() => processGone(second.pid), 3_000), 'close() stops the rest').to.equal(true);
    });
  });
});
