/**
 * One exec channel of the ssh transport, from open to close: collects stdout and stderr,
 * picks the pid line that remoteCommand() makes the remote side print first, records the exit
 * status, and releases the channel slot once the server has closed the channel too.
 */
import type { ClientChannel } from 'ssh2';
import { PID_MARKER } from '../remote-command.js';
import { OutputBuffer } from './output.js';

export interface SessionEnd {
  /** Whether the server reported an exit status or signal (false: the channel just closed). */
  exited: boolean;
  code: number | null;
  signal: string | null;
  stdout: string;
  stderr: string;
}

/**
 * Sends a signal request on a session channel. ssh2's public `signal()` is silent once our side
 * sent EOF (every command gets EOF on stdin); the protocol allows signals until the channel
 * closes, so go one level down when needed. OpenSSH refuses the request on root logins, which
 * is why the pid is known as well.
 */
export function signalChannel(ch: ClientChannel, sig: string): void {
  const inner = ch as unknown as {
    outgoing?: { id?: number; state?: string };
    _client?: { _protocol?: { signal?: (id: number, s: string) => void } };
  };
  const id = inner.outgoing?.id;
  const state = inner.outgoing?.state;
  const protocol = inner._client?._protocol;
  try {
    if ((state === 'open' || state === 'eof') && id !== undefined && typeof protocol?.signal === 'function') protocol.signal(id, sig);
    else ch.signal(sig);
  } catch {
    // channel already gone
  }
}

export class RemoteSession {
  /** The command's pid on the node, or null when the channel closed before it was printed. */
  readonly pid: Promise<number | null>;
  /** Resolves when the channel has closed (and the slot is released). Never rejects. */
  readonly ended: Promise<SessionEnd>;
  private readonly stdout = new OutputBuffer();
  private readonly stderr = new OutputBuffer();
  private head: Buffer | null = Buffer.alloc(0); // bytes before the pid line; null once it was seen
  private isClosed = false;

  constructor(
    readonly ch: ClientChannel,
    release: () => void,
  ) {
    let setPid: (p: number | null) => void = () => undefined;
    this.pid = new Promise((r) => {
      setPid = r;
    });
    let code: number | null = null;
    let signal: string | null = null;
    let exited = false;
    ch.on('data', (chunk: Buffer) => {
      if (this.head === null) return this.stdout.push(chunk);
      this.head = Buffer.concat([this.head, chunk]);
      this.scanHead(setPid);
    });
    ch.stderr.on('data', this.stderr.push);
    ch.on('exit', (c: number | null, sig?: string) => {
      exited = true;
      code = c;
      signal = sig ?? null;
    });
    this.ended = new Promise((resolve) => {
      ch.once('close', () => {
        this.isClosed = true;
        release();
        if (this.head !== null) {
          this.stdout.push(this.head);
          this.head = null;
          setPid(null);
        }
        resolve({ exited, code, signal, stdout: this.stdout.text(), stderr: this.stderr.text() });
      });
    });
  }

  /** Lines before the marker (a chatty login script) are kept as output. */
  private scanHead(setPid: (p: number | null) => void): void {
    for (;;) {
      const head = this.head;
      if (head === null) return;
      const nl = head.indexOf(0x0a);
      if (nl < 0) return;
      const line = head.subarray(0, nl).toString('latin1');
      const rest = head.subarray(nl + 1);
      if (line.startsWith(PID_MARKER)) {
        this.head = null;
        this.stdout.push(rest);
        setPid(Number.parseInt(line.slice(PID_MARKER.length), 10));
        return;
      }
      this.stdout.push(head.subarray(0, nl + 1));
      this.head = rest;
    }
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Output so far (for a CommandTimeout). */
  partial(): { stdout: string; stderr: string } {
    return { stdout: this.stdout.text(), stderr: this.stderr.text() };
  }
}
