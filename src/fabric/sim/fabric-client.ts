/**
 * A connection to a fabric manager's control socket: requests with a timeout, pushed events,
 * and answers to the manager's own requests (a port owner reports its counters).
 */
import net from 'node:net';
import { FabricRunError } from '../../errors.js';
import {
  type ControlRequest,
  type ManagerEvent,
  type RoutesMessage,
  LineSplitter,
  encodeLine,
  ownerRequestSchema,
  parseLine,
  responseSchema,
} from './control-protocol.js';

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;

type RequestBody = ControlRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export interface FabricClientOptions {
  /** Answers the manager's `counters` request (port owners only). */
  counters?: () => unknown;
  /** Installs routing tables the manager sends (port owners only). */
  onRoutes?: (routes: RoutesMessage) => void;
  connectTimeoutMs?: number;
}

export class FabricClient {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private readonly listeners = new Set<(e: ManagerEvent) => void>();
  private readonly closeListeners = new Set<() => void>();
  private closed = false;

  private constructor(
    private readonly socket: net.Socket,
    readonly socketPath: string,
    private readonly o: FabricClientOptions,
  ) {
    socket.setEncoding('utf8');
    const splitter = new LineSplitter(
      (line) => this.onLine(line),
      (why) => this.fail(new FabricRunError(`fabric manager sent a bad line: ${why}`)),
    );
    socket.on('data', (chunk: string) => splitter.push(chunk));
    socket.on('error', (e) => this.fail(new FabricRunError(`fabric manager connection: ${e.message}`)));
    socket.on('close', () => this.fail(new FabricRunError('fabric manager closed the connection')));
  }

  static connect(socketPath: string, o: FabricClientOptions = {}): Promise<FabricClient> {
    const timeoutMs = o.connectTimeoutMs ?? 5_000;
    return new Promise((resolve, reject) => {
      const socket = net.createConnection(socketPath);
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new FabricRunError(`no answer from the fabric manager at ${socketPath} within ${timeoutMs} ms`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new FabricClient(socket, socketPath, o));
      });
      socket.once('error', (e: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        const hint = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? ' (is the fabric up? try: ipoib-lab fabric up)' : '';
        reject(new FabricRunError(`cannot reach the fabric manager at ${socketPath}: ${e.code ?? e.message}${hint}`));
      });
    });
  }

  /** Sends a request; resolves with its result, rejects with the manager's error or on timeout. */
  request<T = unknown>(body: RequestBody, timeoutMs = DEFAULT_REQUEST_TIMEOUT_MS): Promise<T> {
    if (this.closed) return Promise.reject(new FabricRunError('fabric manager connection is closed'));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new FabricRunError(`fabric manager did not answer '${body.op}' within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, timer });
      this.socket.write(encodeLine({ id, ...body }));
    });
  }

  onEvent(cb: (e: ManagerEvent) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  onClose(cb: () => void): () => void {
    this.closeListeners.add(cb);
    return () => this.closeListeners.delete(cb);
  }

  close(): void {
    if (this.closed) return;
    this.socket.end();
    this.fail(new FabricRunError('fabric manager connection is closed'));
  }

  private onLine(line: string): void {
    const parsed = parseLine(line);
    if ('error' in parsed) return;
    const v = parsed.value as Record<string, unknown>;
    if (typeof v.event === 'string') {
      for (const l of this.listeners) l(v as unknown as ManagerEvent);
      return;
    }
    const ownerReq = ownerRequestSchema.safeParse(v);
    if (ownerReq.success) {
      const r = ownerReq.data;
      try {
        const result = r.op === 'counters' ? (this.o.counters?.() ?? null) : (this.o.onRoutes?.(r.routes), true);
        this.socket.write(encodeLine({ id: r.id, ok: true, result }));
      } catch (e) {
        this.socket.write(encodeLine({ id: r.id, ok: false, error: (e as Error).message }));
      }
      return;
    }
    const res = responseSchema.safeParse(v);
    if (!res.success) return;
    const p = this.pending.get(res.data.id);
    if (!p) return;
    this.pending.delete(res.data.id);
    clearTimeout(p.timer);
    if (res.data.ok) p.resolve(res.data.result);
    else p.reject(new FabricRunError(res.data.error));
  }

  private fail(e: Error): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(e);
    }
    this.pending.clear();
    this.socket.destroy();
    for (const cb of this.closeListeners) cb();
  }
}
