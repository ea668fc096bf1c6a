/**
 * The local transport: commands run on this machine with child_process and an argv array
 * (never a shell), optionally inside a network namespace (`ip netns exec NS`) and through
 * `sudo -n` when the node says sudo and we are not root.
 *
 * Each command gets its own process group, so a timeout or stop() signals the command and
 * everything it started (no orphans). Through sudo the command runs as root, where we may not
 * signal it directly: SIGTERM goes first (sudo relays it), SIGKILL follows.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { copyFile } from 'node:fs/promises';
import { CommandTimeout, StateError, TransportError } from '../../errors.js';
import {
  type BackgroundProcess,
  checkArgv,
  checkEnv,
  DEFAULT_STOP_GRACE_MS,
  DEFAULT_TIMEOUT_MS,
  envPrefix,
  type FileTransferOptions,
  type RunOptions,
  type RunResult,
  type SpawnOptions,
  throwIfFailed,
  type Transport,
} from '../transport.js';
import { OutputBuffer } from './output.js';

export interface LocalTransportOptions {
  /** The node's name (for results and errors). */
  name: string;
  /** Run every command in this network namespace. */
  netns?: string | undefined;
  /** Prefix commands with `sudo -n` unless already root. */
  sudo?: boolean | undefined;
}

/** Time between SIGTERM and SIGKILL when a timed-out command runs through sudo. */
const SUDO_KILL_GRACE_MS = 1_000;

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal); // the whole group: the command and its children
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

interface Started {
  child: ChildProcess;
  started: number;
  stdout: OutputBuffer;
  stderr: OutputBuffer;
  /** Resolves with the result when the process has exited and its pipes are closed. */
  done: Promise<RunResult>;
}

export class LocalTransport implements Transport {
  readonly name: string;
  private readonly netns: string | undefined;
  private readonly useSudo: boolean;
  private readonly live = new Set<LocalBackground>();
  private closed = false;

  constructor(o: LocalTransportOptions) {
    this.name = o.name;
    this.netns = o.netns;
    this.useSudo = o.sudo === true && process.getuid?.() !== 0;
  }

  /** The argv actually executed for `argv`: [sudo -n --] [ip netns exec NS] [env K=V...] argv. */
  commandLine(argv: readonly string[], env?: Readonly<Record<string, string>>): string[] {
    return [
      ...(this.useSudo ? ['sudo', '-n', '--'] : []),
      ...(this.netns ? ['ip', 'netns', 'exec', this.netns] : []),
      // sudo resets the environment, so variables travel on the command line there.
      ...(this.useSudo ? envPrefix(env) : []),
      ...argv,
    ];
  }

  private start(op: string, argv: readonly string[], o: SpawnOptions, stdin: string | Buffer | undefined): Started {
    if (this.closed) throw new StateError(`LocalTransport(${this.name}).${op}`, 'closed');
    checkArgv(op, argv);
    checkEnv(op, o.env);
    const [file, ...args] = this.commandLine(argv, o.env);
    const started = performance.now();
    const child = spawn(file as string, args, {
      detached: true, // own process group, see the module comment
      stdio: 'pipe',
      ...(o.cwd ? { cwd: o.cwd } : {}),
      env: this.useSudo || !o.env ? process.env : { ...process.env, ...o.env },
    });
    const stdout = new OutputBuffer();
    const stderr = new OutputBuffer();
    child.stdout?.on('data', stdout.push);
    child.stderr?.on('data', stderr.push);
    child.stdin?.on('error', () => undefined); // EPIPE when the command does not read its input
    child.stdin?.end(stdin);
    const done = new Promise<RunResult>((resolve) => {
      const result = (code: number, signal: string | null, extraErr = ''): RunResult => ({
        host: this.name,
        argv,
        code,
        signal,
        stdout: stdout.text(),
        stderr: stderr.text() + extraErr,
        durationMs: performance.now() - started,
      });
      child.once('error', (e: NodeJS.ErrnoException) => {
        // A program that is not there is an exit status, as a shell (and so ssh) reports it.
        if (e.code === 'ENOENT') resolve(result(127, null, `${file}: command not found\n`));
        else if (e.code === 'EACCES') resolve(result(126, null, `${file}: permission denied\n`));
        else resolve(result(-1, null, `${file}: ${e.message}\n`));
      });
      child.once('close', (code, signal) => resolve(result(code ?? -1, signal)));
    });
    return { child, started, stdout, stderr, done };
  }

  private kill(child: ChildProcess, graceMs: number): void {
    if (!this.useSudo) return signalGroup(child, 'SIGKILL');
    signalGroup(child, 'SIGTERM');
    setTimeout(() => signalGroup(child, 'SIGKILL'), graceMs).unref();
  }

  async run(argv: readonly string[], o: RunOptions = {}): Promise<RunResult> {
    const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const s = this.start('run', argv, o, o.stdin);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        this.kill(s.child, SUDO_KILL_GRACE_MS);
        reject(new CommandTimeout(this.name, argv, timeoutMs, s.stdout.text(), s.stderr.text()));
      }, timeoutMs);
    });
    try {
      return await Promise.race([s.done, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  async check(argv: readonly string[], o?: RunOptions): Promise<RunResult> {
    return throwIfFailed(await this.run(argv, o));
  }

  async spawn(argv: readonly string[], o: SpawnOptions = {}): Promise<BackgroundProcess> {
    const s = this.start('spawn', argv, o, undefined);
    if (s.child.pid === undefined) {
      const r = await s.done;
      throw new TransportError(this.name, argv, `could not start: ${r.stderr.trim()}`, 'Check that the program exists on this machine.');
    }
    const bg = new LocalBackground(this.name, argv, s, (child, graceMs) => this.kill(child, graceMs));
    this.live.add(bg);
    void bg.exited.then(() => this.live.delete(bg));
    return bg;
  }

  async put(localPath: string, remotePath: string, o?: FileTransferOptions): Promise<void> {
    await this.copy(localPath, remotePath, o);
  }

  async get(remotePath: string, localPath: string, o?: FileTransferOptions): Promise<void> {
    await this.copy(remotePath, localPath, o);
  }

  /** Same machine, same files (a network namespace does not change the filesystem). */
  private async copy(from: string, to: string, o?: FileTransferOptions): Promise<void> {
    if (this.useSudo) {
      await this.check(['cp', '--', from, to], { timeoutMs: o?.timeoutMs ?? 120_000 });
      return;
    }
    try {
      await copyFile(from, to);
    } catch (e) {
      throw new TransportError(this.name, ['cp', from, to], `copy failed: ${(e as Error).message}`, 'Check both paths and their permissions.', { cause: e });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.live].map((bg) => bg.stop()));
  }
}

class LocalBackground implements BackgroundProcess {
  readonly pid: number;
  readonly exited: Promise<RunResult>;

  constructor(
    readonly host: string,
    readonly argv: readonly string[],
    private readonly s: Started,
    private readonly killer: (child: ChildProcess, graceMs: number) => void,
  ) {
    this.pid = s.child.pid as number;
    this.exited = s.done;
  }

  async stop(o: { graceMs?: number } = {}): Promise<RunResult> {
    const graceMs = o.graceMs ?? DEFAULT_STOP_GRACE_MS;
    signalGroup(this.s.child, 'SIGTERM');
    const timer = setTimeout(() => this.killer(this.s.child, SUDO_KILL_GRACE_MS), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }
}
