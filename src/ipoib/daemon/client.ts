/**
 * The client side of the ipoibd control protocol: one connection, requests matched to answers
 * by id. Answers that fail validation reject the request instead of being trusted.
 */
import net from 'node:net';
import { DaemonRequestError, FabricRunError } from '../../errors.js';
import { LineSplitter, describeZodError, encodeLine, parseLine } from '../../fabric/sim/control-protocol.js';
import { type DaemonCall, daemonResponseSchema } from './protocol.js';

export { DaemonRequestError };

const DEFAULT_TIMEOUT_MS = 10_000;

export class DaemonClient {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private closedError: Error | undefined;

  private constructor(private readonly s: net.Socket) {
    s.setEncoding('utf8');
    const splitter = new LineSplitter(
      (line) => this.onLine(line),
      (why) => this.failAll(new FabricRunError(`ipoibd answered badly: ${why}`)),
    );
    s.on('data', (c: string) => splitter.push(c));
    s.on('error', (e) => this.failAll(e));
    s.on('close', () => this.failAll(new FabricRunError('ipoibd closed the connection')));
  }

  static connect(socketPath: string, timeoutMs = 3000): Promise<DaemonClient> {
    return new Promise((resolve, reject) => {
      const s = net.connect(socketPath);
      const t = setTimeout(() => {
        s.destroy();
        reject(new FabricRunError(`no answer from ipoibd at ${socketPath} within ${timeoutMs} ms`));
      }, timeoutMs);
      s.once('connect', () => {
        clearTimeout(t);
        resolve(new DaemonClient(s));
      });
      s.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(t);
        reject(new FabricRunError(`cannot reach ipoibd at ${socketPath}: ${e.code ?? e.message} (is it running?)`));
      });
    });
  }

  /** Sends one request; resolves with its result, rejects with DaemonRequestError on an error answer. */
  request<T = unknown>(call: DaemonCall, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<T> {
    return this.send(encodeLine({ ...call, id: this.nextId }), timeoutMs) as Promise<T>;
  }

  /**
   * Sends raw text (tests use it to send malformed requests), ended by a newline unless
   * `terminate` is false; resolves with the next answer, parsed but not validated.
   */
  sendRaw(line: string, terminate = true, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<unknown> {
    return new Promise((resolve, reject) => {
      if (this.closedError) return reject(this.closedError);
      const t = setTimeout(() => reject(new Error('no answer')), timeoutMs);
      this.rawWaiters.push((v) => {
        clearTimeout(t);
        resolve(v);
      });
      this.s.write(terminate && !line.endsWith('\n') ? `${line}\n` : line);
    });
  }

  private readonly rawWaiters: Array<(v: unknown) => void> = [];

  private send(line: string, timeoutMs: number): Promise<unknown> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      if (this.closedError) return reject(this.closedError);
      const t = setTimeout(() => {
        this.waiting.delete(id);
        reject(new FabricRunError(`ipoibd did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, {
        resolve: (v) => {
          clearTimeout(t);
          resolve(v);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
      this.s.write(line);
    });
  }

  private onLine(line: string): void {
    const parsed = parseLine(line);
    if ('error' in parsed) return this.failAll(new FabricRunError(`ipoibd answered with ${parsed.error}`));
    const raw = this.rawWaiters.shift();
    if (raw) return raw(parsed.value);
    const checked = daemonResponseSchema.safeParse(parsed.value);
    if (!checked.success) return this.failAll(new FabricRunError(`ipoibd answered badly: ${describeZodError(checked.error)}`));
    const m = checked.data;
    const w = m.id === null ? undefined : this.waiting.get(m.id);
    if (!w || m.id === null) return;
    this.waiting.delete(m.id);
    if (m.ok) w.resolve(m.result);
    else w.reject(new DaemonRequestError(m.error));
  }

  private failAll(e: Error): void {
    this.closedError ??= e;
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
  }

  close(): void {
    this.s.destroy();
  }
}
