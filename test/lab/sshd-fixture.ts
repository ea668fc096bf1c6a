/**
 * A private OpenSSH sshd for the ssh transport tests: its own host key, a generated client key,
 * key authentication only, listening on 127.0.0.1 on a free port, everything in a temp dir.
 * It can be killed with all its session processes (a node "reboot") and started again with the
 * same keys and port. Needs root (sshd's privilege separation) and openssh-server installed.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

export const SSHD = '/usr/sbin/sshd';

export function sshdAvailable(): boolean {
  return existsSync(SSHD) && existsSync('/usr/bin/ssh-keygen');
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Resolves once something on the port sends an SSH banner. */
async function waitForBanner(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = new Socket();
      const done = (v: boolean) => {
        s.destroy();
        resolve(v);
      };
      s.setTimeout(1_000, () => done(false));
      s.once('error', () => done(false));
      s.once('data', (d: Buffer) => done(d.toString('latin1').startsWith('SSH-2.0')));
      s.connect(port, '127.0.0.1');
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`sshd did not answer on 127.0.0.1:${port} within ${timeoutMs} ms`);
}

/** Every descendant of `pid` (children first found, then theirs), read from /proc. */
function descendants(pid: number): number[] {
  const parentOf = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      parentOf.set(Number(entry), ppid);
    } catch {
      // exited while we looked
    }
  }
  const out: number[] = [];
  const queue = [pid];
  while (queue.length) {
    const p = queue.shift() as number;
    for (const [child, parent] of parentOf) if (parent === p) {
      out.push(child);
      queue.push(child);
    }
  }
  return out;
}

export interface SshdOptions {
  maxSessions?: number;
}

export class TestSshd {
  readonly dir: string;
  readonly hostKeyFile: string;
  readonly clientKeyFile: string;
  readonly home: string;
  port = 0;
  private proc: ChildProcess | null = null;

  private constructor(private readonly o: SshdOptions) {
    this.dir = mkdtempSync(path.join(tmpdir(), 'ipoib-lab-sshd-'));
    this.hostKeyFile = path.join(this.dir, 'host_ed25519');
    this.clientKeyFile = path.join(this.dir, 'client_ed25519');
    this.home = path.join(this.dir, 'home');
  }

  static async start(o: SshdOptions = {}): Promise<TestSshd> {
    const d = new TestSshd(o);
    try {
      await d.prepare();
      await d.launch();
    } catch (e) {
      await d.dispose();
      throw e;
    }
    return d;
  }

  private async prepare(): Promise<void> {
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ipoib-lab test host', '-f', this.hostKeyFile]);
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ipoib-lab test client', '-f', this.clientKeyFile]);
    mkdirSync(this.home, { mode: 0o700 });
    writeFileSync(path.join(this.dir, 'authorized_keys'), readFileSync(`${this.clientKeyFile}.pub`), { mode: 0o600 });
    this.port = await freePort();
    const config = [
      `Port ${this.port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${this.hostKeyFile}`,
      `PidFile ${path.join(this.dir, 'sshd.pid')}`,
      `AuthorizedKeysFile ${path.join(this.dir, 'authorized_keys')}`,
      'UsePAM no',
      'StrictModes no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      `MaxSessions ${this.o.maxSessions ?? 10}`,
      'Subsystem sftp internal-sftp',
      // An empty home: the login shell must not run this machine's rc files (root's .bashrc
      // may do slow things, like a pyenv rehash that takes a lock), so the tests measure the
      // transport, not the machine's shell setup.
      `SetEnv HOME=${this.home}`,
      process.env.SSHD_LOGLEVEL ? `LogLevel ${process.env.SSHD_LOGLEVEL}` : 'LogLevel ERROR',
    ].join('\n');
    writeFileSync(path.join(this.dir, 'sshd_config'), `${config}\n`);
    // sshd's privilege-separation directory, as the openssh-server package would create it.
    // Left in place afterwards: other sshd instances (a parallel test run) rely on it too.
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
  }

  /** Starts sshd (again) with the same keys and port. */
  async launch(): Promise<void> {
    const proc = spawn(SSHD, ['-D', '-e', '-f', path.join(this.dir, 'sshd_config')], { stdio: ['ignore', 'ignore', 'pipe'] });
    let log = '';
    proc.stderr?.on('data', (d: Buffer) => { log += d.toString(); if (process.env.SSHD_LOGLEVEL) process.stderr.write(d); });
    this.proc = proc;
    try {
      await waitForBanner(this.port, 10_000);
    } catch (e) {
      throw new Error(`${(e as Error).message}; sshd said: ${log.trim()}`);
    }
  }

  /** The known_hosts line for this sshd's real host key. */
  knownHostsLine(): string {
    const [type, b64] = readFileSync(`${this.hostKeyFile}.pub`, 'utf8').trim().split(/\s+/);
    return `[127.0.0.1]:${this.port} ${type} ${b64}`;
  }

  /** ssh-keygen's own fingerprint of the host key (the form HostKeyMismatchError reports). */
  hostFingerprint(): string {
    return execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${this.hostKeyFile}.pub`]).toString().split(/\s+/)[1] ?? '';
  }

  /** SIGKILL sshd and every session process it forked, as a crash or reboot would. */
  async kill(): Promise<void> {
    const proc = this.proc;
    if (!proc || proc.pid === undefined) return;
    this.proc = null;
    const exited = new Promise<void>((r) => (proc.exitCode !== null || proc.signalCode !== null ? r() : proc.once('exit', () => r())));
    for (const pid of [proc.pid, ...descendants(proc.pid)]) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await exited;
  }

  async dispose(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
