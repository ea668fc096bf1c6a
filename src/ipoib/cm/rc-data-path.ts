/**
 * Who carries the IPoIB frames of an interface's RC connections once they are up. The
 * connection manager (cm-manager.ts) makes and ends connections; a data path moves their
 * frames:
 * - `attach(qp)`: the QP's received messages (IPoIB frames) go to the interface from now on;
 *   called for every connection in RTS, active (sending) and passive (receiving) alike;
 * - `detach(qp)`: stop, before the manager closes the QP;
 * - `send(qp, frame)`: one frame on an attached active QP; throws when the QP refuses it;
 * - `received(qp)`: how many messages arrived on it so far (what idle reaping watches).
 * A data path reports a QP that failed (send completion error, QP in ERROR) through the
 * manager's rcFailed().
 *
 * JsRcDataPath is the one an interface starts with: the fabric's RcQp API (send, onMessage),
 * everything in JavaScript. A native data plane (IpoibNode) installs its own, so frames on an
 * established connection never cross into JavaScript.
 */
import type { RcQp } from '../../fabric/hca.js';
import type { IpoibCounters } from '../counters.js';

export interface RcDataPath {
  attach(qp: RcQp): void;
  detach(qp: RcQp): void;
  send(qp: RcQp, frame: Buffer): void;
  received(qp: RcQp): number;
}

export interface JsRcDataPathEnv {
  readonly counters: IpoibCounters;
  /** An IPoIB frame that arrived on a connection. */
  deliver(frame: Buffer): void;
  /** A send on `qp` completed with an error: the connection is to be torn down. */
  failed(qp: RcQp, detail: string): void;
}

interface Attached {
  received: number;
  off: () => void;
}

export class JsRcDataPath implements RcDataPath {
  private readonly attached = new Map<RcQp, Attached>();

  constructor(private readonly env: JsRcDataPathEnv) {}

  attach(qp: RcQp): void {
    if (this.attached.has(qp)) return;
    const a: Attached = { received: 0, off: () => undefined };
    this.attached.set(qp, a);
    a.off = qp.onMessage((m) => {
      a.received++;
      this.env.deliver(m);
    });
  }

  detach(qp: RcQp): void {
    const a = this.attached.get(qp);
    if (!a) return;
    this.attached.delete(qp);
    a.off();
  }

  send(qp: RcQp, frame: Buffer): void {
    // Counted when posted, as the kernel counts a CM send at post time.
    this.env.counters.inc('tx_packets');
    this.env.counters.inc('tx_bytes', frame.length);
    qp.send(frame).catch((e: unknown) => {
      // 'flushed' sends die with a connection torn down for another reason: not a new failure.
      const status = (e as { status?: unknown }).status;
      if (status === 'flushed' || !this.attached.has(qp)) return;
      this.env.counters.inc('tx_errors');
      this.env.failed(qp, e instanceof Error ? e.message : String(e));
    });
  }

  received(qp: RcQp): number {
    return this.attached.get(qp)?.received ?? 0;
  }
}
