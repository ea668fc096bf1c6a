/**
 * A transport that keeps a transcript of every command it runs, for a test's evidence: the
 * harness wraps each node's transport in one and attaches the transcript to the test's report,
 * so a verdict can be traced to the commands and answers behind it.
 */
import { type BackgroundProcess, type FileTransferOptions, type RunOptions, type RunResult, type SpawnOptions, type Transport, throwIfFailed } from './transport.js';

export interface TranscriptEntry {
  startedAt: Date;
  host: string;
  argv: readonly string[];
  /** What the command got on standard input, when text (cut like the output). */
  stdin?: string;
  code: number | null;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** Set when the command could not be carried out (timeout, transport failure). */
  error?: string;
}

/** Output beyond this many characters per stream is cut in the transcript (the command still gets all of it). */
const KEEP_CHARS = 4000;

function cut(s: string): string {
  return s.length <= KEEP_CHARS ? s : `${s.slice(0, KEEP_CHARS)}\n… (${s.length - KEEP_CHARS} more characters)`;
}

export class RecordingTransport implements Transport {
  private entries: TranscriptEntry[] = [];

  constructor(private readonly inner: Transport) {}

  get name(): string {
    return this.inner.name;
  }

  async run(argv: readonly string[], o?: RunOptions): Promise<RunResult> {
    const startedAt = new Date();
    const t0 = performance.now();
    try {
      const r = await this.inner.run(argv, o);
      this.entries.push({ startedAt, host: r.host, argv, ...(typeof o?.stdin === 'string' ? { stdin: cut(o.stdin) } : {}), code: r.code, stdout: cut(r.stdout), stderr: cut(r.stderr), durationMs: r.durationMs });
      return r;
    } catch (e) {
      this.entries.push({ startedAt, host: this.name, argv, code: null, stdout: '', stderr: '', durationMs: performance.now() - t0, error: (e as Error).message });
      throw e;
    }
  }

  async check(argv: readonly string[], o?: RunOptions): Promise<RunResult> {
    return throwIfFailed(await this.run(argv, o));
  }

  put(localPath: string, remotePath: string, o?: FileTransferOptions): Promise<void> {
    return this.inner.put(localPath, remotePath, o);
  }

  get(remotePath: string, localPath: string, o?: FileTransferOptions): Promise<void> {
    return this.inner.get(remotePath, localPath, o);
  }

  spawn(argv: readonly string[], o?: SpawnOptions): Promise<BackgroundProcess> {
    this.entries.push({ startedAt: new Date(), host: this.name, argv, code: null, stdout: '', stderr: '', durationMs: 0, error: 'started in the background' });
    return this.inner.spawn(argv, o);
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  /** Returns the transcript so far and starts a new one. */
  drain(): TranscriptEntry[] {
    const e = this.entries;
    this.entries = [];
    return e;
  }
}

/** The transcript as text, one block per command. */
export function formatTranscript(entries: readonly TranscriptEntry[]): string {
  return entries
    .map((e) => {
      const head = `[${e.startedAt.toISOString()}] ${e.host}$ ${e.argv.join(' ')}${e.stdin ? `\n(stdin) ${e.stdin.trimEnd()}` : ''}`;
      const tail = e.error ? `  !! ${e.error}` : `  -> exit ${e.code} in ${e.durationMs.toFixed(0)} ms`;
      const out = e.stdout.trim() ? `\n${e.stdout.trimEnd()}` : '';
      const err = e.stderr.trim() ? `\n(stderr) ${e.stderr.trimEnd()}` : '';
      return `${head}${out}${err}\n${tail}`;
    })
    .join('\n\n');
}
