/**
 * One end of an RC connection on a simulated port: the HcaPort RcQp over an RC QP that runs
 * in the port's native endpoint (native-rc.ts) and the CM connection that made it.
 *
 * - send(): one native post per message; when the native send queue is full, messages wait
 *   here, in order, and go out as completions make room.
 * - Messages that arrive before anyone subscribed to onMessage are kept for the first
 *   subscriber (a passive QP receives in RTR, before its owner has it).
 * - The QP going to ERROR by itself (retries exhausted, a NAK) reaches onError as an RcQpError;
 *   the failing send rejects with RcSendError carrying the status, the rest with 'flushed'.
 *   The QP then stays in ERROR until close().
 * - The connection ending (a DREQ from the peer, or close() here) moves the QP to ERROR, then
 *   RESET, and destroys it; pending sends reject with 'flushed'.
 */
import { ArgumentError, RcQpError, RcSendError, StateError } from '../../errors.js';
import type { RcConnectionAttributes, RcQp, RcQpState } from '../hca.js';
import type { CmConnection } from './cm-connection.js';
import type { RcPortEvent, RcQpCreateOptions, RcQpPath, RcQpSnapshot } from './native-rc.js';

/** What an RC QP needs of its port's RC side (SimRcPort implements it). */
export interface PortRc {
  createQp(o?: RcQpCreateOptions): number;
  modifyQp(qpn: number, to: RcQpState, path?: RcQpPath): void;
  postSend(qpn: number, wrId: number, message: Buffer): boolean;
  postRecv(qpn: number, count: number): number;
  destroyQp(qpn: number): void;
  qpInfo(qpn: number): RcQpSnapshot;
  qpns(): number[];
  close(): Promise<void>;
}

type Listener<T> = (value: T) => void;

function notify<T>(listeners: ReadonlySet<Listener<T>>, value: T): void {
  for (const cb of [...listeners]) {
    try {
      cb(value);
    } catch {
      // one subscriber's failure is not the transport's: the others still hear about it
    }
  }
}

function subscribe<T>(listeners: Set<Listener<T>>, cb: Listener<T>, op: string): () => void {
  if (typeof cb !== 'function') throw new ArgumentError(op, 'cb', cb, 'a function');
  listeners.add(cb);
  return () => listeners.delete(cb);
}

export class SimRcQp implements RcQp {
  private stateNow: RcQpState;
  private nextWrId = 1;
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private backlog: Array<{ wrId: number; message: Buffer }> = [];
  private readonly messageListeners = new Set<Listener<Buffer>>();
  private early: Buffer[] = [];
  private readonly errorListeners = new Set<Listener<Error>>();
  private readonly disconnectListeners = new Set<Listener<{ initiator: 'local' | 'remote' }>>();
  private conn: CmConnection | undefined;
  private unbind: Array<() => void> = [];
  private freed = false;
  private closing: Promise<void> | null = null;

  constructor(
    private readonly rc: PortRc,
    readonly qpn: number,
    private attrs: RcConnectionAttributes,
    state: RcQpState,
    /** Called once, when the QP is freed (the owner stops routing events to it). */
    private readonly onFreed: () => void,
  ) {
    this.stateNow = state;
  }

  get state(): RcQpState {
    return this.stateNow;
  }

  get attributes(): RcConnectionAttributes {
    return { ...this.attrs, remoteGid: Buffer.from(this.attrs.remoteGid), remotePrivateData: Buffer.from(this.attrs.remotePrivateData), localPrivateData: Buffer.from(this.attrs.localPrivateData) };
  }

  /**
   * Moves the QP during the handshake. The state is taken from here, not from the native
   * event of the same transition, which arrives later (it would make the state go back).
   */
  modify(to: RcQpState, path?: RcQpPath): void {
    this.rc.modifyQp(this.qpn, to, path);
    this.stateNow = to;
  }

  /** Ties the QP to its established CM connection: the connection's end frees the QP. */
  bind(conn: CmConnection, attrs: RcConnectionAttributes): void {
    this.conn = conn;
    this.attrs = attrs;
    this.unbind.push(conn.on('disconnected', (e) => this.ended(e.initiator)));
  }

  send(message: Buffer): Promise<void> {
    if (!Buffer.isBuffer(message)) return Promise.reject(new ArgumentError('RcQp.send', 'message', message, 'a Buffer'));
    if (this.freed) return Promise.reject(new StateError('RcQp.send', 'closed'));
    const wrId = this.nextWrId++;
    return new Promise<void>((resolve, reject) => {
      this.pending.set(wrId, { resolve, reject });
      if (this.backlog.length > 0 || !this.post(wrId, message)) this.backlog.push({ wrId, message });
    });
  }

  onMessage(cb: (message: Buffer) => void): () => void {
    const off = subscribe(this.messageListeners, cb, 'RcQp.onMessage');
    const early = this.early;
    this.early = [];
    for (const m of early) notify(this.messageListeners, m);
    return off;
  }

  onError(cb: (error: Error) => void): () => void {
    return subscribe(this.errorListeners, cb, 'RcQp.onError');
  }

  onDisconnect(cb: (e: { initiator: 'local' | 'remote' }) => void): () => void {
    return subscribe(this.disconnectListeners, cb, 'RcQp.onDisconnect');
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      const conn = this.conn;
      const wasConnected = conn !== undefined && conn.state === 'ESTABLISHED';
      // The DREQ goes out now; its DREP (or its retries running out) is the CM's business.
      if (wasConnected) void conn.disconnect().catch(() => {});
      this.free();
      if (wasConnected) notify(this.disconnectListeners, { initiator: 'local' });
    })();
    return this.closing;
  }

  /** An event of this QP from the port's RC side. */
  onEvent(e: RcPortEvent): void {
    if (this.freed) return;
    switch (e.type) {
      case 'send': {
        const p = this.pending.get(e.wrId);
        if (!p) return;
        this.pending.delete(e.wrId);
        if (e.status === 'success') p.resolve();
        else p.reject(new RcSendError(this.qpn, e.status));
        this.drainBacklog();
        return;
      }
      case 'recv':
        if (e.status !== 'success') return; // flushed or too long: the state change says why
        if (this.messageListeners.size === 0) this.early.push(e.message);
        else notify(this.messageListeners, e.message);
        return;
      case 'state':
        if (e.reason === 'modify') return; // our own transition, already recorded by modify()
        this.stateNow = e.to;
        if (e.to === 'ERROR') {
          this.flushBacklog();
          notify(this.errorListeners, new RcQpError(this.qpn, e.reason, e.detail));
        }
        return;
    }
  }

  /** Frees the QP without telling the peer (a handshake that failed, or the port closing). */
  abandon(): void {
    this.free();
  }

  private ended(initiator: 'local' | 'remote'): void {
    if (this.freed) return;
    this.free();
    notify(this.disconnectListeners, { initiator });
  }

  private free(): void {
    if (this.freed) return;
    this.freed = true;
    for (const off of this.unbind.splice(0)) off();
    // ERROR flushes, RESET empties, then the QP goes; its flush events find nobody, so pending
    // sends are failed here.
    for (const to of ['ERROR', 'RESET'] as const) {
      try {
        this.rc.modifyQp(this.qpn, to);
      } catch {
        // already gone with its port
      }
    }
    try {
      this.rc.destroyQp(this.qpn);
    } catch {
      // already gone with its port
    }
    this.stateNow = 'RESET';
    this.flushBacklog();
    const err = (): RcSendError => new RcSendError(this.qpn, 'flushed');
    for (const p of this.pending.values()) p.reject(err());
    this.pending.clear();
    this.onFreed();
  }

  /** Posts one send; false when the native send queue is full. A refusal fails that send alone. */
  private post(wrId: number, message: Buffer): boolean {
    try {
      return this.rc.postSend(this.qpn, wrId, message);
    } catch (e) {
      this.pending.get(wrId)?.reject(e instanceof Error ? e : new Error(String(e)));
      this.pending.delete(wrId);
      return true;
    }
  }

  private drainBacklog(): void {
    while (this.backlog.length > 0 && this.stateNow === 'RTS') {
      const head = this.backlog[0];
      if (head === undefined || !this.post(head.wrId, head.message)) return;
      this.backlog.shift();
    }
  }

  private flushBacklog(): void {
    const waiting = this.backlog;
    this.backlog = [];
    for (const w of waiting) {
      this.pending.get(w.wrId)?.reject(new RcSendError(this.qpn, 'flushed'));
      this.pending.delete(w.wrId);
    }
  }
}
