/**
 * The one interface every way of reaching a lab node implements (local, local in a network
 * namespace, ssh): run a command, check a command, copy files both ways, start a background
 * process, close. Commands are argv arrays, never shell text; each transport quotes in exactly
 * one place if a shell is in the way at all.
 *
 * run() resolves for every exit code (a non-zero exit is a result, not an error) and rejects
 * only when the command could not be carried out: TransportError (node unreachable, channel
 * refused, connection lost) or CommandTimeout (killed at its deadline). check() is run() plus
 * CommandFailedError for a non-zero exit.
 */
import { ArgumentError, CommandFailedError } from '../errors.js';

/** Every command has a deadline; this is it when the caller gives none. */
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Default time a background process gets between SIGTERM and SIGKILL in stop(). */
export const DEFAULT_STOP_GRACE_MS = 2_000;

export interface RunOptions {
  /** Kill the command after this long and reject with CommandTimeout (default 30 s). */
  timeoutMs?: number;
  /** Written to the command's standard input, which is then closed (it is closed at once without). */
  stdin?: string | Buffer;
  /** Extra environment variables for the command (added to the node's environment). */
  env?: Readonly<Record<string, string>>;
  /** Working directory on the node. */
  cwd?: string;
}

export type SpawnOptions = Omit<RunOptions, 'timeoutMs' | 'stdin'>;

export interface RunResult {
  /** The node's name. */
  host: string;
  argv: readonly string[];
  /** Exit code; -1 when the process ended by a signal (see `signal`). */
  code: number;
  /** Name of the signal that ended the process (e.g. "SIGTERM"), or null. */
  signal: string | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** A process started with spawn(): it runs until it exits or stop() ends it. */
export interface BackgroundProcess {
  readonly host: string;
  readonly argv: readonly string[];
  /** Its process id on the node (as seen in the node's pid namespace). */
  readonly pid: number;
  /** Resolves when it has exited, with everything it wrote. Never rejects for an exit code. */
  readonly exited: Promise<RunResult>;
  /** SIGTERM, then SIGKILL after graceMs (default 2 s) if it is still there; resolves when it is gone. */
  stop(o?: { graceMs?: number }): Promise<RunResult>;
}

export interface FileTransferOptions {
  /** Deadline for the whole transfer (default 120 s). */
  timeoutMs?: number;
}

export interface Transport {
  /** The node's name in the lab file; every result and error carries it. */
  readonly name: string;
  run(argv: readonly string[], o?: RunOptions): Promise<RunResult>;
  /** run(), but a non-zero exit rejects with CommandFailedError. */
  check(argv: readonly string[], o?: RunOptions): Promise<RunResult>;
  /** Copies a local file to the node. */
  put(localPath: string, remotePath: string, o?: FileTransferOptions): Promise<void>;
  /** Copies a file from the node to this machine. */
  get(remotePath: string, localPath: string, o?: FileTransferOptions): Promise<void>;
  /** Starts a background process; stop it (or close() the transport) when done. */
  spawn(argv: readonly string[], o?: SpawnOptions): Promise<BackgroundProcess>;
  /** Stops what spawn() started that still runs, and releases the connection. Idempotent. */
  close(): Promise<void>;
}

/** Throws CommandFailedError unless the result is a zero exit. */
export function throwIfFailed(r: RunResult): RunResult {
  if (r.code !== 0) throw new CommandFailedError(r.host, r.argv, r.code, r.stdout, r.stderr);
  return r;
}

/** Shared argument checks, so every transport refuses the same things the same way. */
export function checkArgv(op: string, argv: readonly string[]): void {
  if (!Array.isArray(argv) || argv.length === 0) throw new ArgumentError(op, 'argv', argv, 'a non-empty array of strings');
  for (const [i, a] of argv.entries()) {
    if (typeof a !== 'string' || a.includes('\0')) throw new ArgumentError(op, `argv[${i}]`, a, 'a string without NUL characters');
  }
}

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

export function checkEnv(op: string, env: Readonly<Record<string, string>> | undefined): void {
  for (const [k, v] of Object.entries(env ?? {})) {
    if (!ENV_NAME.test(k)) throw new ArgumentError(op, 'env', k, 'variable names of letters, digits and "_", not starting with a digit');
    if (typeof v !== 'string' || v.includes('\0')) throw new ArgumentError(op, `env.${k}`, v, 'a string without NUL characters');
  }
}

/** `env K=V ...` prefix for commands whose environment a wrapper (sudo, a remote shell) would otherwise drop. */
export function envPrefix(env: Readonly<Record<string, string>> | undefined): string[] {
  const entries = Object.entries(env ?? {});
  return entries.length ? ['env', ...entries.map(([k, v]) => `${k}=${v}`)] : [];
}
