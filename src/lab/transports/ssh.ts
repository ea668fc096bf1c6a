/**
 * The ssh transport, over the ssh2 package: one connection per node, many channels on it.
 *
 * - Connecting (ssh-connect.ts): host keys checked against known_hosts on every
 *   (re)connection, a changed key a hard HostKeyMismatchError; key file or agent only, a
 *   refusal an AuthError.
 * - Every channel (command, SFTP, background process) takes a slot of a per-node bound below
 *   OpenSSH's MaxSessions; callers beyond it wait. One slot always stays free of background
 *   processes, so stop() and ordinary commands can still run.
 * - Keepalives detect a dead peer; when the connection drops (reboot, sshd restart), the next
 *   call reconnects, retrying refused or timed-out attempts for reconnectTimeoutMs. A command
 *   whose channel never opened is retried once on the new connection; one that was running
 *   when the connection dropped is reported, never silently re-run.
 * - Each command has a deadline: at it the command is signalled (through the channel, and by
 *   the pid every command reports first, since OpenSSH refuses signal requests on root
 *   logins), the channel is closed and CommandTimeout is thrown.
 * - argv is quoted once (remote-command.ts); `sudo -n` when the node says sudo and the user is
 *   not root. put()/get() use SFTP as the login user (no sudo).
 */
import type { Client, ClientChannel, SFTPWrapper } from 'ssh2';
import { CommandTimeout, StateError, TransportError } from '../../errors.js';
import { ChannelLimiter } from '../channel-limiter.js';
import type { SshSettings } from '../lab-file.js';
import { remoteCommand, remoteKillArgv } from '../remote-command.js';
import {
  type BackgroundProcess,
  checkArgv,
  checkEnv,
  DEFAULT_STOP_GRACE_MS,
  DEFAULT_TIMEOUT_MS,
  type FileTransferOptions,
  type RunOptions,
  type RunResult,
  type SpawnOptions,
  throwIfFailed,
  type Transport,
} from '../transport.js';
import { connectWithRetry } from './ssh-connect.js';
import { RemoteSession, signalChannel } from './ssh-session.js';

export interface SshTransportOptions {
  /** The node's name (for results and errors). */
  name: string;
  /** The node's ssh block, paths absolute (as loadLabFile returns it). */
  ssh: SshSettings;
  sudo?: boolean | undefined;
}

const DEFAULT_TRANSFER_TIMEOUT_MS = 120_000;
/** Deadline for the kill command sent after a timeout or in stop(). */
const KILL_TIMEOUT_MS = 10_000;
/** Retries of a channel sshd refused, 100, 200, 400 ms apart (see openChannel). */
const CHANNEL_REFUSAL_RETRIES = 3;

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** An error from a channel open that means the connection is gone, so the command never started. */
function isDeadConnection(e: unknown): boolean {
  return e instanceof Error && /not connected|no response from server/i.test(e.message);
}

export class SshTransport implements Transport {
  readonly name: string;
  private readonly ssh: SshSettings;
  private readonly useSudo: boolean;
  private readonly limiter: ChannelLimiter;
  private conn: Client | null = null;
  private connecting: Promise<Client> | null = null;
  private everConnected = false;
  private closed = false;
  private readonly live = new Set<SshBackground>();
  private connectCount = 0;
  /** Channel opens sshd refused and that were retried (0 when the bound is well below MaxSessions). */
  channelRefusals = 0;
  /** The last line accept-new appended to known_hosts, if any. */
  addedHostKey: string | null = null;

  constructor(o: SshTransportOptions) {
    this.name = o.name;
    this.ssh = o.ssh;
    this.useSudo = o.sudo === true && o.ssh.user !== 'root';
    this.limiter = new ChannelLimiter(o.ssh.maxChannels);
  }

  /** Creates the transport and connects now, so a bad key, host key or address fails early. */
  static async connect(o: SshTransportOptions): Promise<SshTransport> {
    const t = new SshTransport(o);
    await t.client();
    return t;
  }

  /** Connections made so far: 1 plus the reconnects. */
  get connections(): number {
    return this.connectCount;
  }

  /** Most channels that were open at once. */
  get peakChannels(): number {
    return this.limiter.peak;
  }

  /** The live connection, connecting (or reconnecting) first when there is none. */
  private async client(): Promise<Client> {
    if (this.closed) throw new StateError(`SshTransport(${this.name}).run`, 'closed');
    if (this.conn) return this.conn;
    if (!this.connecting) {
      const budget = this.everConnected ? this.ssh.reconnectTimeoutMs : this.ssh.connectTimeoutMs;
      this.connecting = connectWithRetry(this.name, this.ssh, budget, {
        onClose: (c) => {
          if (this.conn === c) this.conn = null;
        },
        cancelled: () => this.closed,
      })
        .then(({ client: c, addedHostKey }) => {
          if (addedHostKey) this.addedHostKey = addedHostKey;
          if (this.closed) {
            c.end();
            throw new StateError(`SshTransport(${this.name}).run`, 'closed');
          }
          this.conn = c;
          this.everConnected = true;
          this.connectCount += 1;
          return c;
        })
        .finally(() => {
          this.connecting = null;
        });
    }
    return this.connecting;
  }

  /**
   * Opens a channel. The command has not started when this fails, so two retries are safe:
   * once on a new connection when the old one turns out dead, and a few times, briefly, when
   * sshd refuses the channel ("open failure"): sshd frees a closed session's slot lazily, so a
   * channel opened right after another closed can be refused although the count is within
   * MaxSessions.
   */
  private async openChannel<T>(argv: readonly string[], open: (c: Client, cb: (err: Error | undefined, ch: T) => void) => void): Promise<{ conn: Client; channel: T }> {
    let reconnected = false;
    let refusals = 0;
    for (;;) {
      const conn = await this.client();
      try {
        const channel = await new Promise<T>((resolve, reject) => open(conn, (err, ch) => (err ? reject(err) : resolve(ch))));
        return { conn, channel };
      } catch (e) {
        const dead = this.conn !== conn || isDeadConnection(e);
        if (dead && !reconnected) {
          reconnected = true;
          if (this.conn === conn) {
            this.conn = null;
            conn.end();
          }
          continue;
        }
        if (!dead && /open failure/i.test((e as Error).message) && refusals < CHANNEL_REFUSAL_RETRIES) {
          refusals += 1;
          this.channelRefusals += 1;
          await sleep(100 * 2 ** (refusals - 1));
          continue;
        }
        throw new TransportError(
          this.name,
          argv,
          `could not open an SSH channel: ${(e as Error).message}`,
          'If this says "Channel open failure", the node allows fewer sessions than maxChannels (lower it, or raise MaxSessions in sshd_config).',
          { cause: e },
        );
      }
    }
  }

  /** Opens an exec channel for `argv` (wrapped by remoteCommand) and starts following it. */
  private async startSession(argv: readonly string[], o: SpawnOptions): Promise<{ conn: Client; session: RemoteSession }> {
    const command = remoteCommand(argv, { sudo: this.useSudo, env: o.env, cwd: o.cwd });
    const release = await this.limiter.acquire();
    try {
      const { conn, channel } = await this.openChannel<ClientChannel>(argv, (c, cb) => c.exec(command, cb));
      return { conn, session: new RemoteSession(channel, release) };
    } catch (e) {
      release();
      throw e;
    }
  }

  /**
   * Ends a session's command: a signal request (OpenSSH honours it for non-root logins), the
   * channel closed (which frees its slot), then a kill by pid through a new channel for the
   * cases the request did not reach (root logins, processes sudo started as root). Used by
   * run() at a timeout and by background processes' stop().
   */
  async terminate(session: RemoteSession, sig: 'TERM' | 'KILL', closeChannel: boolean): Promise<void> {
    signalChannel(session.ch, sig);
    if (closeChannel && !session.closed) {
      session.ch.close();
      await Promise.race([session.ended, sleep(2_000)]);
    }
    const pid = await Promise.race([session.pid, sleep(0).then(() => null)]);
    if (pid === null || !Number.isInteger(pid) || this.closed) return;
    await this.run(remoteKillArgv(pid, sig), { timeoutMs: KILL_TIMEOUT_MS }).catch(() => undefined);
  }

  async run(argv: readonly string[], o: RunOptions = {}): Promise<RunResult> {
    checkArgv('run', argv);
    checkEnv('run', o.env);
    const timeoutMs = o.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const { conn, session } = await this.startSession(argv, o);
    const started = performance.now();
    session.ch.end(o.stdin);
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), timeoutMs);
    });
    const end = await Promise.race([session.ended, timedOut]);
    clearTimeout(timer);
    if (end === 'timeout') {
      const { stdout, stderr } = session.partial();
      await this.terminate(session, 'KILL', true);
      throw new CommandTimeout(this.name, argv, timeoutMs, stdout, stderr);
    }
    if (!end.exited && this.conn !== conn) {
      throw new TransportError(
        this.name,
        argv,
        'the connection dropped while the command ran; its outcome is unknown',
        'The node may have rebooted or sshd restarted; the next command reconnects. Repeat this one only if that is safe.',
      );
    }
    return { host: this.name, argv, code: end.code ?? -1, signal: end.signal, stdout: end.stdout, stderr: end.stderr, durationMs: performance.now() - started };
  }

  async check(argv: readonly string[], o?: RunOptions): Promise<RunResult> {
    return throwIfFailed(await this.run(argv, o));
  }

  async spawn(argv: readonly string[], o: SpawnOptions = {}): Promise<BackgroundProcess> {
    checkArgv('spawn', argv);
    checkEnv('spawn', o.env);
    if (this.live.size + 1 >= this.limiter.max) {
      throw new TransportError(
        this.name,
        argv,
        `${this.live.size} background processes already hold channels and maxChannels is ${this.limiter.max}; one slot stays free for commands`,
        'Stop a background process first, or raise ssh.maxChannels (at most 9).',
      );
    }
    const { session } = await this.startSession(argv, o);
    const started = performance.now();
    session.ch.end();
    const pid = await session.pid;
    const exited = session.ended.then(
      (end): RunResult => ({ host: this.name, argv, code: end.code ?? -1, signal: end.signal, stdout: end.stdout, stderr: end.stderr, durationMs: performance.now() - started }),
    );
    if (pid === null) {
      const r = await exited;
      throw new TransportError(this.name, argv, `the background process ended before it started (exit ${r.code}): ${r.stderr.trim()}`, 'Check that the program exists on the node.');
    }
    const bg = new SshBackground(this, argv, pid, session, exited);
    this.live.add(bg);
    void exited.then(() => this.live.delete(bg));
    return bg;
  }

  private async withSftp(op: 'put' | 'get', argv: string[], timeoutMs: number, fn: (sftp: SFTPWrapper) => Promise<void>): Promise<void> {
    const release = await this.limiter.acquire();
    try {
      const { channel: sftp } = await this.openChannel<SFTPWrapper>(argv, (c, cb) => c.sftp(cb));
      const closed = new Promise<void>((r) => sftp.once('close', () => r()));
      let timer: NodeJS.Timeout | undefined;
      try {
        await Promise.race([
          fn(sftp),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new CommandTimeout(this.name, argv, timeoutMs)), timeoutMs);
          }),
        ]);
      } catch (e) {
        if (e instanceof TransportError) throw e;
        throw new TransportError(this.name, argv, `${op} failed: ${(e as Error).message}`, 'Check both paths and that the login user may read/write them (SFTP runs without sudo).', { cause: e });
      } finally {
        clearTimeout(timer);
        sftp.end();
        await Promise.race([closed, sleep(2_000)]);
      }
    } finally {
      release();
    }
  }

  async put(localPath: string, remotePath: string, o: FileTransferOptions = {}): Promise<void> {
    await this.withSftp('put', ['sftp-put', localPath, remotePath], o.timeoutMs ?? DEFAULT_TRANSFER_TIMEOUT_MS, (sftp) =>
      new Promise<void>((resolve, reject) => sftp.fastPut(localPath, remotePath, (err) => (err ? reject(err) : resolve()))),
    );
  }

  async get(remotePath: string, localPath: string, o: FileTransferOptions = {}): Promise<void> {
    await this.withSftp('get', ['sftp-get', remotePath, localPath], o.timeoutMs ?? DEFAULT_TRANSFER_TIMEOUT_MS, (sftp) =>
      new Promise<void>((resolve, reject) => sftp.fastGet(remotePath, localPath, (err) => (err ? reject(err) : resolve()))),
    );
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await Promise.allSettled([...this.live].map((bg) => bg.stop()));
    this.closed = true;
    await this.connecting?.catch(() => undefined);
    const c = this.conn;
    this.conn = null;
    if (c) {
      const gone = new Promise<void>((r) => c.once('close', () => r()));
      c.end();
      await Promise.race([gone, sleep(2_000)]);
    }
  }
}

/** A process started by SshTransport.spawn(): its channel stays open (and holds a slot) until it exits. */
class SshBackground implements BackgroundProcess {
  constructor(
    private readonly transport: SshTransport,
    readonly argv: readonly string[],
    readonly pid: number,
    private readonly session: RemoteSession,
    readonly exited: Promise<RunResult>,
  ) {}

  get host(): string {
    return this.transport.name;
  }

  async stop(o: { graceMs?: number } = {}): Promise<RunResult> {
    const graceMs = o.graceMs ?? DEFAULT_STOP_GRACE_MS;
    const gone = (ms: number) => Promise.race([this.exited.then(() => true), sleep(ms).then(() => false)]);
    if (this.session.closed) return this.exited;
    await this.transport.terminate(this.session, 'TERM', false);
    if (!(await gone(graceMs))) {
      await this.transport.terminate(this.session, 'KILL', false);
      if (!(await gone(graceMs))) this.session.ch.close();
    }
    return this.exited;
  }
}
